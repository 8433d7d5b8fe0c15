# Shared helpers of the guest runner, sourced by /init and check.sh (busybox
# ash). Every result goes to the console as one line
#	KAIO-RESULT: ok|not ok|skip <name>[ # reason]
# which run-guest.sh counts on the host.

# What in dmesg means the kernel is unhappy (module or otherwise).
KAIO_DMESG_BAD='BUG:|WARNING:|Oops|general protection|kaio.*(error|leak)'

result() { # result ok|"not ok"|skip NAME [REASON]
	if [ -n "${3:-}" ]; then
		echo "KAIO-RESULT: $1 $2 # $3"
	else
		echo "KAIO-RESULT: $1 $2"
	fi
}

# dmesg_check NAME: read and clear the kernel log; a bad line is a failed
# case "NAME: dmesg clean" and the whole log is shown for debugging. A clean
# log adds no case (it would only inflate the pass count).
dmesg_check() {
	# The boot log repeats the kernel command line, whose kaio.* words
	# (kaio.filter=...) must not count as a kaio message.
	dmesg -c 2>&1 | grep -v 'ommand line:' >/tmp/kaio.dmesg
	if grep -qE "$KAIO_DMESG_BAD" /tmp/kaio.dmesg; then
		echo "# ---- dmesg after $1 ----"
		sed 's/^/# dmesg: /' /tmp/kaio.dmesg
		echo "# ---- end of dmesg ----"
		result "not ok" "$1: dmesg clean" "$(grep -m1 -E "$KAIO_DMESG_BAD" /tmp/kaio.dmesg | cut -c1-160)"
		return 1
	fi
	return 0
}

# finish: the end of every mode: kaio must unload cleanly (no leaked
# references, requests or contexts) and leave nothing in dmesg.
finish() {
	if grep -q '^kaio ' /proc/modules; then
		if rmmod kaio >/tmp/kaio.rmmod 2>&1; then
			result ok "rmmod kaio"
		else
			cat /tmp/kaio.rmmod
			grep '^kaio ' /proc/modules
			result "not ok" "rmmod kaio" "$(head -n1 /tmp/kaio.rmmod)"
		fi
	fi
	dmesg_check "final" || true
}

# drop_caches: write back, then empty the page cache, dentries and inodes, so
# the next read of a file goes to the device (tests do the same by writing 3
# to /proc/sys/vm/drop_caches as root).
drop_caches() {
	sync && echo 3 >/proc/sys/vm/drop_caches
}

# io_us DEV: microseconds one 4 KiB O_DIRECT read of DEV spends in the
# device, from the block layer's tracepoints (block_rq_issue to
# block_rq_complete). Wall-clock timing from the shell cannot tell: starting
# a process under TCG costs tens of ms. Uses the main trace buffer (a tracefs
# instance would be private, but creating one takes ~2 s under TCG) and
# leaves it empty with the two events off, as after boot.
io_us() {
	local t=/sys/kernel/tracing dev e
	dev=$(tr : , <"/sys/class/block/${1#/dev/}/dev") || return 1
	echo >"$t/trace"
	for e in issue complete; do echo 1 >"$t/events/block/block_rq_$e/enable"; done
	dd if="$1" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null
	for e in issue complete; do echo 0 >"$t/events/block/block_rq_$e/enable"; done
	awk -v dev="$dev" '
		{ for (f = 1; f < NF; f++) if ($(f + 1) ~ /^block_rq_/ && $(f + 2) == dev) break }
		f == NF { next }
		$(f + 1) == "block_rq_issue:" && !t0 { t0 = $f + 0 }
		$(f + 1) == "block_rq_complete:" && t0 { printf "%d\n", ($f - t0) * 1000000; exit }
	' "$t/trace"
	echo >"$t/trace"
}
