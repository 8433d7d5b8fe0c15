# Shared helpers of the guest runner, sourced by /init and check.sh (busybox
# ash). Every result goes to the console as one line
#	KAIO-RESULT: ok|not ok|skip <name>[ # reason]
# which run-guest.sh counts on the host.

# What in dmesg means the kernel is unhappy (module or otherwise). The debug
# kernel of make check-debug reports through the same words (lockdep's
# "WARNING: possible circular locking dependency", "BUG: KASAN: ...", "BUG:
# sleeping function called from invalid context", debugobjects' WARNING),
# except lockdep's "INFO: trying to register non-static key" (a lock used
# uninitialised) and debugobjects running out of memory ("ODEBUG: ...").
KAIO_DMESG_BAD='BUG:|WARNING:|Oops|general protection|kaio.*(error|leak)|non-static key|ODEBUG:'

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
# references, requests or contexts) and leave nothing in dmesg; on the debug
# kernel, kmemleak must find nothing and lockdep must still be on.
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
	kmemleak_check
	lockdep_check
	dmesg_check "final" || true
}

# ---- debug kernel (make check-debug); no-ops on Debian's kernel ----------
KMEMLEAK=/sys/kernel/debug/kmemleak

# kmemleak_scan: two scans: kmemleak reports an object only when its contents
# did not change since the previous scan, so a new leak shows in the second
# (one scan after a deliberate leak found nothing). Slow: ~1 min each
# under TCG.
kmemleak_scan() {
	echo scan >$KMEMLEAK && echo scan >$KMEMLEAK
}

# kmemleak_reset: after the setup, before any test: scan, then forget what
# was found, so that objects the boot and the setup left looking
# unreferenced (kmemleak's false positives there) are not blamed on kaio.
kmemleak_reset() {
	[ -e $KMEMLEAK ] || return 0
	sleep 5 # objects younger than 5 s are not reported, so not forgotten
	if kmemleak_scan && echo clear >$KMEMLEAK; then
		echo "KAIO: kmemleak: baseline taken at $(cut -d' ' -f1 /proc/uptime)s uptime"
	else
		result "not ok" "kmemleak: baseline" "cannot scan: kmemleak disabled itself (see dmesg)"
	fi
}

# kmemleak_check: after rmmod kaio, every object kmemleak finds unreferenced
# since kmemleak_reset fails the case, not only those whose allocation
# backtrace names kaio: a reference kaio takes and never drops (a file, a
# page, an mm) leaks an object the rest of the kernel allocated, with no kaio
# frame in its backtrace, and kaio's own frames print as bare addresses once
# the module is gone. What else ran meanwhile was the tests' own syscalls.
kmemleak_check() {
	local n k
	[ -e $KMEMLEAK ] || return 0
	sleep 6 # kmemleak does not report objects younger than 5 s
	if ! kmemleak_scan; then
		result "not ok" "kmemleak: no leaks" "cannot scan: kmemleak disabled itself (see dmesg)"
		return 0
	fi
	cat $KMEMLEAK >/tmp/kaio.kmemleak
	n=$(grep -c '^unreferenced object' /tmp/kaio.kmemleak)
	if [ "$n" -eq 0 ]; then
		result ok "kmemleak: no leaks"
		return 0
	fi
	echo "# ---- kmemleak: $n unreferenced objects ----"
	sed 's/^/# kmemleak: /' /tmp/kaio.kmemleak
	echo "# ---- end of kmemleak ----"
	# Entries with a frame in kaio: "[kaio]", or a bare address (in no
	# loaded module: kaio's, after the rmmod).
	k=$(awk '/^unreferenced object/ { e++ } /\[kaio\]|\] 0x[0-9a-f]+$/ { k[e] = 1 }
		END { n = 0; for (i in k) n++; print n }' /tmp/kaio.kmemleak)
	result "not ok" "kmemleak: no leaks" "$n unreferenced objects ($k allocated in kaio); first: $(grep -m1 '^unreferenced object' /tmp/kaio.kmemleak)"
}

# lockdep_check: lockdep turns itself off for good after its first report
# (or when a table fills up); from then on nothing was checked.
lockdep_check() {
	[ -r /proc/lockdep_stats ] || return 0
	if awk '$1 == "debug_locks:" { on = $2 } END { exit on != 1 }' /proc/lockdep_stats; then
		result ok "lockdep: on to the end"
	else
		result "not ok" "lockdep: on to the end" "lockdep turned itself off (after a report or a full table: see the log); what ran after went unchecked"
	fi
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

# demand_nodes: kaio.load=demand's setup, as a Debian 12 boot does it before
# anything opens /dev/kaio, with the real tools, not the busybox applets:
# kmod static-nodes lists the devname aliases of the module tree
# (modules.devname) in tmpfiles.d format (systemd's kmod-static-nodes
# service), each node is made from it as systemd-tmpfiles would (mode 0600
# from the list), then systemd-udevd starts with the rules in the image and
# gives each static node its rule's mode (OPTIONS+="static_node=NAME"); it
# keeps running, so it also sees kaio.ko's device appear. /sbin/modprobe
# becomes kmod's, which the kernel runs for request_module(). Each step is
# a result.
demand_nodes() {
	local kmod=/usr/bin/kmod udevd=/usr/lib/systemd/systemd-udevd list=/run/static-nodes.conf
	local type path mode uid gid age arg n=0
	if [ ! -x $kmod ] || [ ! -x $udevd ]; then
		result "not ok" "demand: static nodes" "$kmod or $udevd not in the image"
		return 0
	fi
	ln -sf $kmod /usr/sbin/modprobe
	if ! $kmod static-nodes --format=tmpfiles --output=$list; then
		result "not ok" "demand: static nodes" "kmod static-nodes failed"
		return 0
	fi
	sed 's/^/# static-nodes: /' $list
	while read -r type path mode uid gid age arg; do
		case "$type" in
		c* | b*) ;;
		*) continue ;;
		esac
		[ -e "$path" ] && continue
		mkdir -p "$(dirname "$path")"
		mknod -m "$mode" "$path" "${type%%!*}" "${arg%%:*}" "${arg#*:}" && n=$((n + 1))
	done <$list
	result ok "demand: static nodes" "$n made from modules.devname by kmod static-nodes"
	if $udevd --daemon; then
		/usr/bin/udevadm settle -t 30 2>/dev/null
		result ok "demand: systemd-udevd started"
	else
		result "not ok" "demand: systemd-udevd started"
	fi
}
