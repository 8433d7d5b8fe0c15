#!/bin/sh
# kaio.mode=check: run every executable in /kaio/tests (sorted by name) and
# turn its output into KAIO-RESULT lines for the host. Sourced environment:
# KAIO_* device variables from /init, KAIO_TEST_TIMEOUT (seconds per program),
# KAIO_TEST_FILTER (shell glob on program names). A test script that needs
# longer says so in its first 40 lines: "# kaio-timeout: SECONDS" (the larger
# of that and KAIO_TEST_TIMEOUT applies, and the program gets it as its
# KAIO_TEST_TIMEOUT); libaio's harness runs do.
#
# Cases are counted from the program's output:
#   kselftest TAP   ok N name / not ok N name / ok N [name] # SKIP reason
#                   (lines starting with '#' are ignored, except "#  RUN x"
#                   which names the next result when the harness omits it)
#   GoogleTest      [       OK ] S.N (..) / [  FAILED  ] S.N (..) / [  SKIPPED ] S.N (..)
# A program that printed no case lines is one case by its exit status (4 =
# KSFT_SKIP is a skip). A non-zero exit while no counted case failed, a
# timeout, or a dmesg hit (BUG/WARNING/Oops/...) are failed cases too.
. /kaio/rig/lib.sh

T=${KAIO_TEST_TIMEOUT:-600}
FILTER=${KAIO_TEST_FILTER:-*}
# The directories under /kaio whose programs run, in this order: tests (the
# project's own), then libaio-tests (libaio's harness, tests/libaio-harness).
# kaio.testdir=NAME[,NAME] runs only those (check-libaio, check-debug).
TESTDIRS=$(echo "${KAIO_TEST_DIR:-tests,libaio-tests}" | tr , ' ')
# kaio.repeat=N: each program N times in a row, for a race seen once in many
# runs; every run's cases count.
REPEAT=${KAIO_TEST_REPEAT:-1}
export GTEST_COLOR=no

# Watch one program: kill its whole process group when it runs too long, and
# after it exits kill whatever it left behind (that would keep the output pipe
# open). If it cannot be killed, a task is stuck in the kernel: dump the
# blocked tasks and end the run with a failure rather than hang until the
# host's timeout.
watchdog() { # NAME LIMIT
	t=$2
	i=0
	lim=$((t * 5))
	while [ ! -e /tmp/kaio.rc ]; do
		if [ $i -eq $lim ]; then
			echo "# kaio: $1 still running after ${t}s; killing it"
			: >/tmp/kaio.timedout
			kill -TERM -"$(cat /tmp/kaio.pgid)" 2>/dev/null
		elif [ $i -eq $((lim + 10)) ]; then
			kill -KILL -"$(cat /tmp/kaio.pgid)" 2>/dev/null
		elif [ $i -eq $((lim + 150)) ]; then
			echo "# kaio: $1 did not die 30s after SIGKILL: stuck in the kernel"
			echo w >/proc/sysrq-trigger
			dmesg | tail -n 200 | sed 's/^/# dmesg: /'
			result "not ok" "$1" "timed out after ${t}s and could not be killed (task stuck in kernel)"
			echo "KAIO-DONE"
			poweroff -f
		fi
		sleep 0.2
		i=$((i + 1))
	done
	[ -s /tmp/kaio.pgid ] && kill -KILL -"$(cat /tmp/kaio.pgid)" 2>/dev/null
	return 0
}

count() { # NAME < output: print KAIO-RESULT lines, counts to /tmp/kaio.counts
	awk -v prog="$1" '
	function res(kind, name, why) {
		sub(/^global\./, "", name)
		if (why != "") why = " # " why
		print "KAIO-RESULT: " kind " " prog ": " name why
	}
	function gname(line,   s, i) {
		s = substr(line, 14)
		i = index(s, " (");    if (i) s = substr(s, 1, i - 1)
		i = index(s, ", where"); if (i) s = substr(s, 1, i - 1)
		return s
	}
	BEGIN { np = nf = ns = 0; run = "" }
	{ sub(/\r$/, "") }
	/^# +RUN +/ { run = $0; sub(/^# +RUN +/, "", run); sub(/ *\.\.\.$/, "", run); next }
	/^1\.\.0 *# *[Ss][Kk][Ii][Pp]/ { why = $0; sub(/^[^#]*# *[Ss][Kk][Ii][Pp] */, "", why)
		res("skip", "(all)", why); ns++; next }
	/^#/ { next }
	/^(not )?ok [0-9]+/ {
		notok = ($1 == "not"); num = notok ? $3 : $2
		line = $0; sub(/^(not )?ok [0-9]+ ?/, "", line)
		name = line; dir = ""
		i = index(line, "# ")
		if (i) { dir = substr(line, i + 2); name = substr(line, 1, i - 1) }
		sub(/ +$/, "", name)
		if (name == "") name = run
		if (name == "") name = "case " num
		run = ""
		d = toupper(substr(dir, 1, 4))
		if (d == "SKIP") { ns++; sub(/^[Ss][Kk][Ii][Pp] */, "", dir); res("skip", name, dir) }
		else if (!notok) { np++; res("ok", name, d == "XFAI" ? "XFAIL" : "") }
		else { nf++; res("not ok", name, "") }
		next
	}
	/^\[       OK \] / { np++; res("ok", gname($0), ""); next }
	/^\[  FAILED  \] .* \(/ { nf++; res("not ok", gname($0), ""); next }
	/^\[  SKIPPED \] .* \(/ { ns++; res("skip", gname($0), ""); next }
	END { print np, nf, ns > "/tmp/kaio.counts" }
	'
}

# limit_of NAME: the program's time limit (see the top).
limit_of() {
	own=
	[ "$(head -c2 "$TD/$1")" = "#!" ] &&
		own=$(head -n 40 "$TD/$1" | sed -n 's/^# kaio-timeout: *\([0-9][0-9]*\) *$/\1/p' | head -n1)
	if [ -n "$own" ] && [ "$own" -gt "$T" ]; then echo "$own"; else echo "$T"; fi
}

run_one() { # NAME
	name=$1
	tl=$(limit_of "$name")
	out=/tmp/kaio.out
	rm -f /tmp/kaio.rc /tmp/kaio.pgid /tmp/kaio.timedout /tmp/kaio.counts
	echo "# ==== running $name ===="
	start=$(cut -d' ' -f1 /proc/uptime)
	watchdog "$name" "$tl" &
	wpid=$!
	# setsid: the program leads its own process group, so the watchdog
	# can kill it together with its children.
	{
		cd /tmp && KAIO_TEST_TIMEOUT=$tl setsid sh -c 'echo $$ >/tmp/kaio.pgid; exec "$@"' sh "$TD/$name" </dev/null 2>&1
		echo $? >/tmp/kaio.rc
	} | tee "$out"
	wait $wpid
	rc=$(cat /tmp/kaio.rc 2>/dev/null || echo 255)
	end=$(cut -d' ' -f1 /proc/uptime)
	echo "# ==== $name: exit status $rc, $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')s ===="

	count "$name" <"$out"
	set -- $(cat /tmp/kaio.counts 2>/dev/null || echo 0 0 0)
	np=$1 nf=$2 ns=$3
	if [ -e /tmp/kaio.timedout ]; then
		result "not ok" "$name" "timed out after ${tl}s (killed)"
	elif [ $((np + nf + ns)) -eq 0 ]; then
		case $rc in
		0) result ok "$name" ;;
		4) result skip "$name" "exit status 4 (KSFT_SKIP)" ;;
		*) result "not ok" "$name" "exit status $rc" ;;
		esac
	elif [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "$nf" = 0 ]; then
		result "not ok" "$name" "exit status $rc although no case failed"
	fi
	dmesg_check "$name" || true
}

dmesg -c >/dev/null
n=0
for dir in $TESTDIRS; do
	TD=/kaio/$dir
	for name in $(ls $TD 2>/dev/null | LC_ALL=C sort); do
		[ -f "$TD/$name" ] && [ -x "$TD/$name" ] || continue
		case "$name" in $FILTER) ;; *) continue ;; esac
		r=0
		while [ $r -lt "$REPEAT" ]; do
			n=$((n + 1))
			r=$((r + 1))
			[ "$REPEAT" -gt 1 ] && echo "# ==== $name: run $r of $REPEAT ===="
			run_one "$name"
		done
	done
done
if [ $n -eq 0 ]; then
	result "not ok" "tests" "no test program in /kaio/{$(echo $TESTDIRS | tr ' ' ,)} matches '$FILTER'"
fi
finish
