#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kaio-timeout: 2400
# libaio's own test harness (Debian's libaio source, harness/, built
# unmodified against the system's libaio-dev: tests/libaio-harness/Makefile)
# in the guest, every case, as KTAP lines check.sh counts. Installed in
# tests/ under the names of the runs:
#   kaio_libaio_harness_ext4           on kaio: kaio's libaio.so.1 (../lib/compat)
#   kaio_libaio_harness_xfs            first in LD_LIBRARY_PATH, no rebuild:
#                                      how a user runs an existing program
#   kaio_libaio_harness_fallback_ext4  the same library with kaio.ko unloaded
#                                      (rmmod for the run, insmod after it):
#                                      native AIO through the fallback; the
#                                      cases in FALLBACK_NOT_RUN are reported
#                                      as skipped
#   kaio_libaio_harness_native_{ext4,xfs}  (not installed by make: a
#                                      reference run by hand) the system's
#                                      libaio on native AIO
# on $KAIO_EXT4_DIR or $KAIO_XFS_DIR.
#
# What the harness's `make check` does, in a fresh directory on that file
# system (the cases use paths relative to it):
#   testdir/rofile, wofile, rwfile   "test\n", modes 400, 200, 600
#   cases/N.p                        run one after another, judged as its
#                                    runtests.sh judges: exit status 0 passes,
#                                    3 is a skip, anything else fails
#   case 10 (ENOSPC)                 with its ext2-enospc.img loop-mounted
#                                    (-t ext2) on testdir.enospc
#   case 8 (ext2 size limit)         with a fresh 10 MiB ext2.img (mke2fs -F
#                                    -b 4096) loop-mounted on testdir.ext2
# Both images are files in that directory, as in the harness's own run.
# Every built case runs, in numeric order: Debian's `make check` leaves out
# case 23 (a debian/patches change, because it failed on other
# architectures); here it runs like the others.
#
# kaio runs: the library resolves to kaio's (checked with the loader), kaio.ko
# is loaded (where /dev/kaio does not open the library would quietly use
# native AIO), and fs.aio-nr stays 0 while a case runs (a native context
# fails the case); each case's output ends with the number of requests kaio
# took meanwhile, and with the most native contexts seen.
#
# Each case runs in a session of its own under a time limit, so that a hung
# case (and the children it forked) is killed and reported, and the cases
# after it still run. Under TCG a kaio run takes ~25 min (cases 6, 11, 14
# and 18 take minutes each; Documentation/compat.md has the times), hence
# check.sh's limit for it on line 3.
# Environment: KAIO_EXT4_DIR, KAIO_XFS_DIR; KAIO_TEST_TIMEOUT (this
# program's limit, from check.sh: no case gets more than what is left of it,
# less a margin); KAIO_HARNESS_CASE_TIMEOUT (seconds per case, default
# 900); KAIO_HARNESS_CASES (case numbers to run, default all).

top=$(cd "$(dirname "$0")/.." && pwd)
name=$(basename "$0")
H=$top/libexec/libaio-harness
KAIO_LIBDIR=$top/lib/compat
KAIO_STATS=/sys/kernel/debug/kaio/stats
AIO_NR=/proc/sys/fs/aio-nr

case $name in
*_native_*) backend=native ;;
*_fallback_*) backend=fallback ;;
*) backend=kaio ;;
esac
case $name in
*_ext4) fs=ext4 fsdir=${KAIO_EXT4_DIR:-} ;;
*_xfs) fs=xfs fsdir=${KAIO_XFS_DIR:-} ;;
*)
	echo "$name: install me as kaio_libaio_harness_[native_]ext4 or _xfs" >&2
	exit 2
	;;
esac

# kaio.ko back as /init loaded it, after a fallback run unloaded it (reload
# set), for the programs after this one.
reload_kaio() {
	[ -n "${reload:-}" ] || return 0
	reload=
	insmod /kaio/kaio.ko || { echo "# cannot load kaio.ko again after the fallback run"; return 1; }
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -c /dev/kaio ] && return 0
		sleep 0.2
	done
	echo "# kaio.ko loaded again but no /dev/kaio"
	return 1
}

bail() {
	echo "Bail out! $*"
	reload_kaio
	exit 1
}

# The fallback run leaves out the cases that take minutes under TCG on
# either AIO (each is I/O or setup/destroy in bulk, nothing the fallback
# does differently from the quick ones; Documentation/compat.md has the
# times): they are in the summary as skipped, with the reason.
FALLBACK_NOT_RUN="6 11 14 18 20"

uptime_s() { cut -d' ' -f1 /proc/uptime; }
t_start=$(uptime_s)
budget=${KAIO_TEST_TIMEOUT:-2400}
case_limit=${KAIO_HARNESS_CASE_TIMEOUT:-900}

[ -n "$fsdir" ] && [ -d "$fsdir" ] || bail "no $fs directory (KAIO_$(echo $fs | tr a-z A-Z)_DIR)"
[ -d "$H/cases" ] || bail "$H/cases missing: tests/libaio-harness was not built"
cases=${KAIO_HARNESS_CASES:-$(cd "$H/cases" && ls -- *.p | sed 's/\.p$//' | sort -n)}
set -- $cases
[ $# -gt 0 ] || bail "no case programs in $H/cases"

# The library each run must get: checked through the loader itself, as
# ldd would with this environment.
case $backend in
kaio)
	[ -f "$KAIO_LIBDIR/libaio.so.1" ] || bail "$KAIO_LIBDIR/libaio.so.1 missing: userlib/compat was not built"
	# Where /dev/kaio does not open, kaio's library quietly uses native
	# AIO: make sure it opens (the cases run as root). During each case
	# fs.aio-nr must stay 0 (no native context at all), see run_case.
	grep -q '^kaio ' /proc/modules && [ -c /dev/kaio ] ||
		bail "kaio.ko is not loaded (no /dev/kaio): kaio's libaio.so.1 would run on native AIO"
	LIBPATH=$KAIO_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	;;
fallback)
	[ -f "$KAIO_LIBDIR/libaio.so.1" ] || bail "$KAIO_LIBDIR/libaio.so.1 missing: userlib/compat was not built"
	# The same library on a guest without kaio.ko: it must fall back to
	# native AIO for every context. kaio.ko is loaded again at the end,
	# as /init loads it, for the programs after this one.
	rmmod kaio || bail "cannot unload kaio.ko for the fallback run"
	[ ! -e /dev/kaio ] || bail "/dev/kaio is still there after rmmod kaio"
	reload=1
	LIBPATH=$KAIO_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	;;
native)
	LIBPATH=${LD_LIBRARY_PATH:-}
	;;
esac
lib=$(LD_TRACE_LOADED_OBJECTS=1 LD_LIBRARY_PATH=$LIBPATH "$H/cases/$1.p" 2>&1 |
	awk '$1 == "libaio.so.1" { print $3 }')
case $backend:$lib in
kaio:"$KAIO_LIBDIR/libaio.so.1" | fallback:"$KAIO_LIBDIR/libaio.so.1") ;;
native:/*) [ "${lib#"$top"/}" = "$lib" ] || bail "native run would load $lib" ;;
*) bail "$backend run would load libaio.so.1 from '${lib:-nowhere}'" ;;
esac

work=$fsdir/kaio-libaio-harness.$backend.$$
tmp=/tmp/kaio-libaio-harness.$$
rm -rf "$work"
mkdir -p "$work/testdir" "$work/testdir.enospc" "$work/testdir.ext2" || bail "cannot make $work"
cd "$work" || bail "cannot cd to $work"
for f in rofile:400 wofile:200 rwfile:600; do
	echo "test" >"testdir/${f%:*}" && chmod "${f#*:}" "testdir/${f%:*}" ||
		bail "cannot make testdir/${f%:*}"
done
cp "$H/ext2-enospc.img" . || bail "cannot copy ext2-enospc.img"

echo "TAP version 13"
echo "1..$#"
echo "# libaio $(cat "$H/version" 2>/dev/null) harness on $backend ($fs): libaio.so.1 => $lib"
echo "# in $work; $(df -k . | awk 'NR == 2 { printf "%d MiB free", $4 / 1024 }')"

# The loop devices for cases 8 and 10 (a module in Debian's kernel).
need_loop() {
	[ -e /dev/loop-control ] && return 0
	modprobe loop 2>&1 && for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -e /dev/loop-control ] && return 0
		sleep 0.2
	done
	[ -e /dev/loop-control ]
}

# What extracheck does around cases 10 and 8; output and status of the
# commands, as part of the case's output. mnt is what to unmount after.
prepare() { # N
	mnt=
	case $1 in
	10)
		need_loop && mount -o loop -t ext2 ext2-enospc.img testdir.enospc 2>&1 &&
			mnt=testdir.enospc
		;;
	8)
		rm -f ext2.img
		need_loop && dd if=/dev/zero bs=1M count=10 of=ext2.img 2>&1 &&
			/usr/sbin/mke2fs -F -b 4096 ext2.img 2>&1 &&
			mount -o loop -t ext2 ext2.img testdir.ext2 2>&1 && mnt=testdir.ext2
		;;
	esac
}

# run_case N LIMIT: cases/N.p in its own session (a hung case and its
# children are killed together), output in $tmp.out; sets rc, or how it
# ended when it did not. Deadlines come from /proc/uptime, read without a
# fork: under TCG a loop turn costs far more than its sleep.
pgid=
now() { read -r up _ </proc/uptime; up=${up%.*}; }
run_case() {
	rm -f "$tmp.rc" "$tmp.pgid"
	(
		[ $backend != native ] && export LD_LIBRARY_PATH="$LIBPATH"
		# $0 of the inner shell is where it leaves its pid (= pgid)
		setsid sh -c 'echo $$ >"$0"; exec "$1"' "$tmp.pgid" "$H/cases/$1.p" \
			</dev/null >>"$tmp.out" 2>&1
		echo $? >"$tmp.rc"
	) &
	now
	kill_at=$((up + $2)) give_up=$((up + $2 + 30)) how= aio_nr_max=0
	while [ ! -e "$tmp.rc" ]; do
		[ -z "$pgid" ] && [ -s "$tmp.pgid" ] && read -r pgid <"$tmp.pgid"
		# busybox's read takes a byte at a time, and a sysctl file gives
		# nothing past offset 0: one digit, enough to tell 0 from more
		read -r anr <$AIO_NR
		if [ "${anr:-0}" != 0 ]; then
			anr=$(cat $AIO_NR)
			[ "$anr" -gt $aio_nr_max ] && aio_nr_max=$anr
		fi
		now
		if [ -z "$how" ] && [ "$up" -ge $kill_at ]; then
			how="timed out after $2s (killed)"
			[ -n "$pgid" ] && kill -KILL -"$pgid" 2>/dev/null
		elif [ "$up" -ge $give_up ]; then
			how="timed out after $2s and could not be killed in 30s (stuck in the kernel)"
			return
		fi
		sleep 0.1
	done
	wait
	read -r rc <"$tmp.rc"
	# whatever the case forked and left behind would run into the next
	[ -z "$pgid" ] && [ -s "$tmp.pgid" ] && read -r pgid <"$tmp.pgid"
	[ -n "$pgid" ] && kill -KILL -"$pgid" 2>/dev/null
	pgid=
}

# kaio's module-wide count of requests submitted (debugfs), -1 if none.
kaio_submitted() {
	awk '$1 == "submitted:" { print $2; f = 1 } END { if (!f) print -1 }' $KAIO_STATS 2>/dev/null || echo -1
}

# check.sh's watchdog (SIGTERM to this program's group) does not reach a
# case in its own session: take it down too.
trap '[ -n "$pgid" ] && kill -KILL -"$pgid" 2>/dev/null; echo "# killed while running cases/$n.p"; cd / && rm -rf "$work" "$tmp".*; reload_kaio; exit 1' TERM INT

k=0 failed=0 stuck=
for n in "$@"; do
	k=$((k + 1))
	if [ $backend = fallback ] && [ -z "${KAIO_HARNESS_CASES:-}" ]; then
		case " $FALLBACK_NOT_RUN " in
		*" $n "*)
			echo "ok $k cases/$n.p # SKIP not in the fallback run: minutes under TCG; runs on kaio in kaio_libaio_harness_ext4 and _xfs"
			continue
			;;
		esac
	fi
	if [ -n "$stuck" ]; then
		echo "not ok $k cases/$n.p # not run: cases/$stuck.p is stuck in the kernel"
		failed=$((failed + 1))
		continue
	fi
	t0=$(uptime_s)
	left=$(awk -v a="$t_start" -v b="$t0" -v t="$budget" 'BEGIN { printf "%d", t - (b - a) - 20 }')
	limit=$case_limit
	[ "$left" -lt "$limit" ] && limit=$left
	[ "$limit" -lt 1 ] && limit=1
	: >"$tmp.out"
	rc= how=
	prepare "$n" >>"$tmp.out"
	prep=$?
	if [ $prep -ne 0 ]; then
		how="preparing it failed (status $prep), as make check would stop"
	else
		s0=$(kaio_submitted)
		run_case "$n" "$limit"
		s1=$(kaio_submitted)
		echo "kaio: $((s1 - s0)) requests submitted; fs.aio-nr (native AIO contexts) at most $aio_nr_max" >>"$tmp.out"
		# The library falls back to native AIO where /dev/kaio does not
		# open: a kaio run must never have a native context.
		[ $backend = kaio ] && [ $aio_nr_max -gt 0 ] && [ -z "$how" ] &&
			how="ran on native AIO (fs.aio-nr was $aio_nr_max), not on kaio"
		[ $backend = fallback ] && [ "$s1" != -1 ] && [ -z "$how" ] &&
			how="kaio.ko was loaded while the case ran"
	fi
	[ -n "$mnt" ] && { umount -d "$mnt" >>"$tmp.out" 2>&1 || echo "umount $mnt failed" >>"$tmp.out"; }
	t1=$(uptime_s)
	sed 's/^/# /' "$tmp.out"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	echo "# cases/$n.p: ${how:-exit status $rc}, ${secs}s"
	if [ -n "$how" ]; then
		echo "not ok $k cases/$n.p # $how"
		failed=$((failed + 1))
		case $how in *stuck*) stuck=$n ;; esac
	elif [ "$rc" = 0 ]; then
		echo "ok $k cases/$n.p"
	elif [ "$rc" = 3 ]; then
		echo "ok $k cases/$n.p # SKIP exit status 3"
	else
		echo "not ok $k cases/$n.p # exit status $rc"
		failed=$((failed + 1))
	fi
done

rm -f "$tmp".*
if [ -z "$stuck" ]; then
	cd / && rm -rf "$work"
fi
echo "# $backend ($fs): $((k - failed)) of $k cases passed or skipped"
reload_kaio || exit 1
[ $failed -eq 0 ]
