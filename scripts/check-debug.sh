#!/usr/bin/env bash
# make check-debug: the guest suite of make check (the short kaio-fuzz and
# kaio-stress runs included) on a debug build of the guest's kernel, with
# lockdep, DEBUG_ATOMIC_SLEEP, KASAN, kmemleak and debugobjects, which
# Debian's kernel has none of. scripts/debug-kernel.sh builds that kernel
# once per machine into build/debug/; kaio.ko is built against it from a copy
# of the module's sources in build/debug/kaio-src/ (module/kaio.ko, the
# build of make check, is left alone).
#
# Judged like make check, plus: a lockdep splat, KASAN report, sleep in
# atomic context or debugobjects warning fails the program it happened in
# (the guest reads dmesg after each, scripts/guest/lib.sh); after rmmod kaio,
# kmemleak must find nothing unreferenced since the setup, and lockdep must
# still be on.
#
# Usage: scripts/check-debug.sh [check|shell|run|fuzz] [extra kernel cmdline ...]
# Runs what is built (make all first: make check-debug does). Console in
# build/debug/guest-MODE.log; the last line is "N passed, M failed[, K skipped]".
# KAIO_GUEST_TIMEOUT overrides the host-side limit (check: 6 h).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
mode=${1:-check}
[ $# -gt 0 ] && shift
D=$top/build/debug

scripts/debug-kernel.sh
KREL=$(cat "$D/kernel/include/config/kernel.release")

# ---- kaio.ko against the debug kernel ----------------------------------------
# A copy with the sources' times kept (cp -p), so kbuild recompiles only what
# changed since the last run; -g so that the reports' kaio frames can be
# decoded on the host (faddr2line build/debug/kaio-src/module/kaio.ko ...),
# the guest gets a stripped copy.
KSRC=$D/kaio-src
mkdir -p "$KSRC/module" "$KSRC/uapi/linux"
exec 9>"$D/.kaio-src.lock"
flock 9
rm -f "$KSRC"/module/*.[ch]
cp -p Kbuild VERSION "$KSRC/"
cp -p module/Kbuild module/*.c module/*.h "$KSRC/module/"
rm -f "$KSRC/module/kaio.mod.c" # kbuild's, from module/
cp -p uapi/linux/kaio.h "$KSRC/uapi/linux/"
echo "check-debug.sh: building kaio.ko for $KREL in $KSRC"
nice -n 19 make -C "$D/kernel" M="$KSRC" KCFLAGS=-g -j"$(nproc)" modules
exec 9>&-

# ---- the guest ------------------------------------------------------------------
# The same initramfs as make check's but for this kernel: its own modules
# (null_blk, ext4, xfs, dm-*) and kaio.ko, in build/debug/initramfs.cpio.
export KVER=$KREL
export KAIO_GUEST_KERNEL=$D/kernel/arch/x86/boot/bzImage
export KAIO_GUEST_MODROOT=$D/modroot
export KAIO_GUEST_KO=$KSRC/module/kaio.ko
export KAIO_INITRAMFS=$D/initramfs.cpio
export KAIO_GUEST_LOGDIR=${KAIO_GUEST_LOGDIR:-$D}
# kasan_multi_shot: KASAN reports every bad access, not only the first of
# the boot (which would hide those of later programs).
words=(kasan_multi_shot)
# no5lvl: QEMU's -cpu max offers LA57, and 6.1's identify_cpu() clears the
# boot CPU's capabilities (LA57 included) and sets them again with irqs
# on; KASAN's shadow bounds follow pgtable_l5_enabled(), so an interrupt
# in that window reports every 5-level address as a wild access, by the
# thousand, before init runs (seen once, under TCG on a busy host). Four
# levels are what Debian's guest gets on most machines anyway.
words+=(no5lvl)
if [ "$mode" = check ]; then
	# KASAN and lockdep under TCG: the kernel side runs several times
	# slower than on Debian's kernel.
	export KAIO_GUEST_TIMEOUT=${KAIO_GUEST_TIMEOUT:-21600}
	words+=(kaio.timeout=3600)
	# The project's programs only: libaio's harness (libaio-tests) copies
	# gigabytes and sets up a hundred thousand contexts, hours under
	# KASAN. Add kaio.testdir=libaio-tests to run it here.
	words+=(kaio.testdir=tests)
	# kaio_compat_safety's ten huge requests at 128 MiB instead of 768:
	# under KASAN and lockdep the first 768 MiB buffered write (allocating
	# writes inside io_submit, as native AIO's) took 318 s of the case's
	# 480 s on kaio, and the case ran out of time. At 128 MiB the first
	# write takes 28.3 s on kaio, 26.6 s on native AIO (35.7 s and 35.4 s
	# for all ten): the time is the debug kernel's. make check runs the
	# full size; here the case is there for lockdep and KASAN.
	words+=(kaio.huge_mb=128)
fi
exec scripts/run-guest.sh "$mode" "${words[@]}" "$@"
