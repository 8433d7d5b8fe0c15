#!/usr/bin/env bash
# Boot the kaio test guest in QEMU (TCG; KVM hangs on these machines) with
# Debian's 6.1 kernel and build/initramfs.cpio, and judge the result.
#
# Usage: scripts/run-guest.sh check|run|fuzz|bench|shell [extra kernel cmdline ...]
#   check  run every test program in the guest (build/guest/tests, then
#          libaio's harness in build/guest/libaio-tests), parse the
#          KAIO-RESULT lines, print the failures and as the last line
#          "N passed, M failed[, K skipped]". Hard limit 80 min (about 50
#          under TCG on an idle 2-core machine, most of it the harness).
#   run    run /kaio/bin/kaio-demo in the guest and show its output. 10 min.
#   fuzz   check with only kaio_fuzz and kaio_stress, in their long form
#          (kaio.fuzz=long: several seeds, tens of thousands of iterations;
#          kaio.fuzz_seeds=1,2 kaio.fuzz_iterations=N narrow it). 90 min.
#   bench  the benchmark matrix (scripts/guest/bench.sh), booted without
#          slub_debug and with the TSC as clock; `make bench` (scripts/bench.sh)
#          runs it and writes build/bench/performance.md. 60 min (it
#          takes ~16, an estimate from one run).
#   shell  interactive busybox shell in the prepared guest (Ctrl-A x quits).
# Extra cmdline examples: kaio.lat_ns=20000  kaio.filter='kaio_ring*'
#   kaio.timeout=120  kaio.slow_lat_ns=50000000 (slow devices, default 500 ms).
#   kaio.repeat=20 (each matched program 20 times: hunting a rare race).
#   kaio.huge_mb=128 (kaio_compat_safety's huge requests; default 768).
#   kaio.harness_cases=4,5 (with kaio.testdir=libaio-tests: only those cases).
#   kaio.load=demand (nothing loads kaio.ko: its first open does; needs an
#   image with KAIO_GUEST_KO_DIR, as scripts/deb-check.sh makes).
#   KAIO_GUEST_TIMEOUT=<s> overrides the host-side limit.
# A guest that has not reached kaio.ko ("KAIO: loading kaio.ko") within
#   KAIO_GUEST_BOOT_LIMIT s (default 600; it takes 30 to 90) hung before any
#   kaio code ran: under TCG the 6.1 guest sometimes loses its timer tick
#   while null_blk and the file systems are set up (rcu stall, soft lockup
#   in /init). It is killed and booted again, at most twice; the hung
#   console is kept as guest-<mode>.hung-N.log and the output says so.
# Another kernel (make check-debug, scripts/check-debug.sh): KAIO_GUEST_KERNEL
#   is the image to boot, KVER its release; KAIO_INITRAMFS, KAIO_GUEST_KO and
#   KAIO_GUEST_MODROOT go to scripts/mkinitramfs.sh; KAIO_GUEST_LOGDIR holds
#   the console log and summary (default build/).
# The console is kept in build/guest-<mode>.log. Exit status is non-zero on
# any failed case, on a guest crash/panic/timeout (no KAIO-DONE), or when no
# case ran at all.
set -euo pipefail

mode=${1:-}
case "$mode" in
check) limit=${KAIO_GUEST_TIMEOUT:-4800} ;;
run) limit=${KAIO_GUEST_TIMEOUT:-600} ;;
fuzz) limit=${KAIO_GUEST_TIMEOUT:-5400} ;;
bench) limit=${KAIO_GUEST_TIMEOUT:-3600} ;;
shell) limit=${KAIO_GUEST_TIMEOUT:-86400} ;;
*)
	sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
	exit 2
	;;
esac
shift

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
KVER=$(scripts/kver.sh)
VMLINUZ=/boot/vmlinuz-$KVER
INITRD=${KAIO_INITRAMFS:-build/initramfs.cpio}
LOGDIR=${KAIO_GUEST_LOGDIR:-build}
LOG=$LOGDIR/guest-$mode.log

# Boot the uncompressed vmlinux through its PVH entry point rather than the
# bzImage: QEMU then skips the real-mode setup and the in-guest xz
# decompression, which under TCG cost ~5 s of every boot. It is the same
# kernel, extracted once per installed version; the bzImage is the fallback.
guest_kernel() {
	local out=build/vmlinux-$KVER off
	if [ ! -s "$out" ] || [ "$VMLINUZ" -nt "$out" ]; then
		mkdir -p build
		exec 8>build/.vmlinux.lock
		flock 8
		if [ ! -s "$out" ] || [ "$VMLINUZ" -nt "$out" ]; then
			rm -f "$out"
			for off in $(LC_ALL=C grep -abo $'\xfd7zXZ' "$VMLINUZ" | cut -d: -f1); do
				tail -c +$((off + 1)) "$VMLINUZ" | xz -dc >"$out.tmp" 2>/dev/null || true
				if [ "$(head -c4 "$out.tmp" 2>/dev/null)" = $'\x7fELF' ] &&
					readelf -n "$out.tmp" 2>/dev/null | grep -qE 'Xen.*(0x00000012|PHYS32_ENTRY)'; then
					mv "$out.tmp" "$out"
					break
				fi
			done
			rm -f "$out.tmp"
		fi
		exec 8>&-
	fi
	if [ -s "$out" ]; then echo "$out"; else echo "$VMLINUZ"; fi
}

scripts/mkinitramfs.sh
if [ -n "${KAIO_GUEST_KERNEL:-}" ]; then
	KERNEL=$KAIO_GUEST_KERNEL
	[ -r "$KERNEL" ] || { echo "run-guest.sh: cannot read $KERNEL" >&2; exit 1; }
else
	[ -r "$VMLINUZ" ] || { echo "run-guest.sh: cannot read $VMLINUZ" >&2; exit 1; }
	KERNEL=$(guest_kernel)
fi

# cryptomgr.notests: the crypto self-tests are ~2 s of TCG boot and test
# nothing kaio depends on. no_timer_check: on a loaded host TCG delivers the
# IO-APIC timer's first ticks late and the boot-time check panics ("IO-APIC
# + timer doesn't work!"); the check only guards broken real hardware.
# fuzz is check mode in the guest, with the fuzz wrappers' knob; the
# filter is a glob matching kaio_fuzz and kaio_stress only.
gmode=$mode
if [ "$mode" = fuzz ]; then
	gmode=check
	set -- 'kaio.filter=kaio_[fs][ut][zr]*' kaio.fuzz=long kaio.timeout=4800 "$@"
fi
# bench measures the kernel as shipped: slub_debug=- undoes FZPU (the later
# one wins), and the TSC replaces TCG's HPET, whose every read is an exit
# to QEMU (TCG's CPU claims no constant_tsc, so the kernel would not pick
# the TSC by itself; tsc=reliable also skips the clocksource watchdog).
if [ "$mode" = bench ]; then
	set -- slub_debug=- clocksource=tsc tsc=reliable "$@"
fi
cmdline="console=ttyS0 panic=-1 oops=panic slub_debug=FZPU quiet cryptomgr.notests no_timer_check kaio.mode=$gmode $*"
qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 4G
	-nographic -nodefaults -serial mon:stdio -no-reboot -no-user-config
	-kernel "$KERNEL" -initrd "$INITRD" -append "$cmdline")

if [ "$mode" = shell ]; then
	echo "run-guest.sh: guest shell; Ctrl-A x kills QEMU, 'exit' powers off"
	exec timeout --foreground "$limit" "${qemu[@]}"
fi

echo "run-guest.sh: booting $KERNEL (TCG), mode $mode, limit ${limit}s, log $LOG"
t0=$(date +%s)
# A private log while running: another run of the same mode in this tree
# must not mix into the console being judged.
mkdir -p "$LOGDIR"
tmplog=$(mktemp "$LOGDIR/guest-$mode.XXXXXX.log")
pidfile=$tmplog.pid
boot_limit=${KAIO_GUEST_BOOT_LIMIT:-600}
hung=0
set +e
while :; do
	# No stdin: QEMU must not wait on (or eat) the terminal. The guest
	# powers off itself; timeout -k is the backstop for a hung guest.
	rm -f "$pidfile"
	(
		timeout -k 10 "$limit" "${qemu[@]}" -pidfile "$pidfile" </dev/null 2>&1 | tee "$tmplog"
		exit "${PIPESTATUS[0]}"
	) &
	qjob=$!
	tb=$(date +%s) hung_now=0
	# Until kaio.ko is about to load, a hang is the guest's own.
	while kill -0 "$qjob" 2>/dev/null && ! grep -aq '^KAIO: loading kaio.ko' "$tmplog"; do
		if [ $(($(date +%s) - tb)) -ge "$boot_limit" ]; then
			kill "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null
			hung_now=1
			break
		fi
		sleep 2
	done
	wait "$qjob"
	qrc=$?
	if [ "$hung_now" = 1 ]; then
		hung=$((hung + 1))
		cp -f "$tmplog" "$LOGDIR/guest-$mode.hung-$hung.log"
		echo
		echo "run-guest.sh: the guest hung before loading kaio.ko (${boot_limit}s; nothing of kaio ran); console kept in $LOGDIR/guest-$mode.hung-$hung.log"
		if [ "$hung" -lt 3 ]; then
			echo "run-guest.sh: booting again ($((hung + 1)) of 3)"
			continue
		fi
	fi
	break
done
rm -f "$pidfile"
set -e
t1=$(date +%s)
mv -f "$tmplog" "$LOG"

# ---- judge ----------------------------------------------------------------
console=$(tr -d '\r' <"$LOG")
results=$(grep -ao 'KAIO-RESULT: .*' <<<"$console" | sed 's/^KAIO-RESULT: //' || true)
extra=()
last_prog=$(grep -ao '# ==== running [^ ]* ====' <<<"$console" | tail -n1 | awk '{print $4}' || true)
during=${last_prog:+ while running $last_prog}

if ! grep -q '^KAIO-DONE' <<<"$console"; then
	panic=$(grep -a -m1 -o 'Kernel panic - not syncing.*' <<<"$console" || true)
	oops=$(grep -a -m1 -E 'BUG:|BUG at|Oops|general protection|WARNING:|usercopy:|Unable to handle|invalid opcode' <<<"$console" |
		sed 's/^\[[ 0-9.]*\] //' || true)
	if [ "$hung_now" = 1 ]; then
		extra+=("not ok guest: hung before loading kaio.ko, $hung boots of 3 (a TCG guest that never reached kaio)")
	elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		extra+=("not ok guest: timed out after ${limit}s$during (no KAIO-DONE)")
	elif [ -n "$panic" ]; then
		extra+=("not ok guest: kernel panic$during: ${panic#Kernel panic - not syncing: }${oops:+ [first: $oops]}")
	else
		extra+=("not ok guest: ended without KAIO-DONE$during (qemu exit status $qrc)")
	fi
fi
# Host-side results of this make check (scripts/static-checks.sh), passed
# explicitly so that a stale file never counts.
if [ "$mode" = check ] && [ -r "${KAIO_STATIC_RESULTS:-}" ]; then
	results=$(printf '%s\n%s' "$results" "$(cat "$KAIO_STATIC_RESULTS")")
fi
if [ -z "$results" ] && [ ${#extra[@]} -eq 0 ]; then
	extra+=("not ok guest: no test results at all")
fi

pass=$(grep -c '^ok ' <<<"$results" || true)
skip=$(grep -c '^skip ' <<<"$results" || true)
fail=$(grep -c '^not ok ' <<<"$results" || true)
fail=$((fail + ${#extra[@]}))

boot=$(grep -ao 'KAIO-BOOT: init started at [0-9.]*' <<<"$console" | awk '{print $NF}' || true)
setup=$(grep -ao 'KAIO: setup done at [0-9.]*' <<<"$console" | awk '{print $NF}' || true)
echo
echo "==== kaio guest $mode: wall $((t1 - t0))s, /init at ${boot:-?}s, setup done at ${setup:-?}s (guest uptime) ===="
grep '^not ok ' <<<"$results" || true
for e in "${extra[@]}"; do echo "$e"; done
[ "$hung" -gt 0 ] && echo "run-guest.sh: $hung boot(s) of this run hung before kaio.ko was loaded ($LOGDIR/guest-$mode.hung-*.log)"
summary="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && summary="$summary, $skip skipped"
printf '%s\n' "$summary" >"$LOGDIR/guest-$mode.summary"
echo "$summary"
[ "$fail" -eq 0 ]
