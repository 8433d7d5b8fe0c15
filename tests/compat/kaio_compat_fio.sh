#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Debian's fio, unchanged, with --ioengine=libaio on kaio: LD_LIBRARY_PATH at
# kaio's libaio.so.1 (Documentation/compat.md). Installed as
# tests/kaio_compat_fio; the library is in ../lib/compat.
#
# Each run is one TAP case. It passes when
#   - fio exits 0 with err=0 everywhere; every block written is verified
#     (--verify=crc32c), and read runs read back a file a first job wrote
#     with checksums, so every block read is verified too;
#   - kaio's module-wide 'submitted' counter (debugfs) grew by at least the
#     I/Os fio issued: kaio did them;
#   - native AIO was never used: /proc/sys/fs/aio-nr, sampled while fio runs,
#     stayed 0.
# Every workload, buffered and O_DIRECT, ext4, xfs and the raw null_blk
# device, and queue depths 1, 8 and 64 each appear at least once; two runs
# reap from the ring in user space (fio's userspace_reap), one batches
# submissions, one runs two threads with a context each.
#
# The runs named *-fallback are kaio's libaio.so.1 where /dev/kaio is missing
# (KAIO_COMPAT_DEVICE names a node that is not there): the library falls back
# to native AIO, so there kaio's counter must not move and fs.aio-nr must be
# seen non-zero; one of them reaps the native ring in user space.
#
# Environment: KAIO_EXT4_DIR, KAIO_XFS_DIR, KAIO_RAW_DEV (overwritten),
# KAIO_FIO (default /usr/bin/fio).

top=$(cd "$(dirname "$0")/.." && pwd)
LIBDIR=$top/lib/compat
FIO=${KAIO_FIO:-/usr/bin/fio}
STATS=/sys/kernel/debug/kaio/stats
AIO_NR=/proc/sys/fs/aio-nr
TMP=${TMPDIR:-/tmp}/kaio-compat-fio.$$

# name target rw direct iodepth [fio options...]
# target: ext4, xfs (one file), xfs-dir (a file per job), raw
RUNS='
ext4-randread-buffered-qd1 ext4 randread 0 1
ext4-randwrite-direct-qd8 ext4 randwrite 1 8
ext4-randrw-buffered-qd64 ext4 randrw 0 64
ext4-randread-direct-qd64-userspace-reap ext4 randread 1 64 --userspace_reap=1 --iodepth_batch_complete_min=0
xfs-randwrite-buffered-qd1 xfs randwrite 0 1
xfs-randread-direct-qd8 xfs randread 1 8
xfs-randrw-direct-qd64 xfs randrw 1 64
xfs-randread-buffered-qd64 xfs randread 0 64
xfs-randrw-buffered-qd8-2-threads xfs-dir randrw 0 8 --numjobs=2 --thread
raw-randwrite-direct-qd64 raw randwrite 1 64
raw-randread-buffered-qd8-batched raw randread 0 8 --iodepth_batch_submit=8 --iodepth_batch_complete_min=4
raw-randrw-buffered-qd1 raw randrw 0 1
raw-randread-direct-qd1-userspace-reap raw randread 1 1 --userspace_reap=1 --iodepth_batch_complete_min=0
ext4-randrw-buffered-qd8-fallback ext4 randrw 0 8
xfs-randread-direct-qd8-userspace-reap-fallback xfs randread 1 8 --userspace_reap=1 --iodepth_batch_complete_min=0
'

stat_submitted() {
	awk '$1 == "submitted:" { print $2; found = 1 } END { if (!found) print -1 }' "$STATS" 2>/dev/null || echo -1
}

# Sample fs.aio-nr until $TMP.done appears; non-zero values go to $TMP.aionr.
watch_aio_nr() {
	while [ ! -e "$TMP.done" ]; do
		v=$(cat "$AIO_NR")
		[ "$v" = 0 ] || echo "$v" >>"$TMP.aionr"
		sleep 0.05
	done
}

# run_fio NAME TARGET RW DIRECT IODEPTH [options]: fio's output in $TMP.out
run_fio() {
	name=$1 target=$2 rw=$3 direct=$4 qd=$5
	shift 5
	case $target in
	ext4) where="--filename=$KAIO_EXT4_DIR/kaio-compat-fio" ;;
	xfs) where="--filename=$KAIO_XFS_DIR/kaio-compat-fio" ;;
	xfs-dir) where="--directory=$KAIO_XFS_DIR" ;;
	raw) where="--filename=$KAIO_RAW_DEV" ;;
	esac
	# Reads check what a first job wrote with checksums; writes verify
	# themselves after the write phase.
	case $rw in
	randread) jobs="--name=fill --rw=write --do_verify=0 --name=$name --stonewall --rw=randread" ;;
	*) jobs="--name=$name --rw=$rw --do_verify=1" ;;
	esac
	rm -f "$TMP.done" "$TMP.aionr"
	watch_aio_nr &
	watcher=$!
	# shellcheck disable=SC2086 # word splitting of the option lists is meant
	LD_LIBRARY_PATH=$LIBDIR timeout 300 "$FIO" --ioengine=libaio $where \
		--direct="$direct" --iodepth="$qd" --bs=4k --size=4m \
		--verify=crc32c --verify_fatal=1 --randseed=42 --runtime=120 \
		"$@" $jobs >"$TMP.out" 2>&1
	rc=$?
	: >"$TMP.done"
	wait $watcher
	rm -f "$KAIO_EXT4_DIR/kaio-compat-fio" "$KAIO_XFS_DIR/kaio-compat-fio" \
		"$KAIO_XFS_DIR/$name".*
	return $rc
}

# I/Os fio issued, all jobs: the sum of "issued rwts: total=R,W,T,..."
issued() {
	sed -n 's/.*issued rwts: total=\([0-9]*\),\([0-9]*\),\([0-9]*\).*/\1 \2 \3/p' "$TMP.out" |
		awk '{ n += $1 + $2 + $3 } END { print n + 0 }'
}

n=$(echo "$RUNS" | grep -c .)
if [ ! -x "$FIO" ]; then
	echo "1..0 # SKIP $FIO not found"
	exit 4
fi
if [ ! -c /dev/kaio ] || [ ! -f "$LIBDIR/libaio.so.1" ]; then
	echo "1..0 # SKIP no /dev/kaio or no $LIBDIR/libaio.so.1"
	exit 4
fi
echo "# $("$FIO" --version) on $LIBDIR/libaio.so.1"
echo "1..$n"
i=0
failed=0
echo "$RUNS" | grep . | {
while read -r name target rw direct qd extra; do
	i=$((i + 1))
	case $target in
	ext4) need=$KAIO_EXT4_DIR ;;
	xfs | xfs-dir) need=$KAIO_XFS_DIR ;;
	raw) need=$KAIO_RAW_DEV ;;
	esac
	if [ -z "$need" ] || [ ! -e "$need" ]; then
		echo "ok $i $name # SKIP $target not available"
		continue
	fi
	case $name in
	*-fallback)
		fallback=1
		export KAIO_COMPAT_DEVICE=/nonexistent/kaio
		;;
	*)
		fallback=0
		unset KAIO_COMPAT_DEVICE
		;;
	esac
	before=$(stat_submitted)
	t0=$(cut -d' ' -f1 /proc/uptime)
	# shellcheck disable=SC2086
	run_fio "$name" "$target" "$rw" "$direct" "$qd" $extra
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	after=$(stat_submitted)
	ios=$(issued)
	why=
	if [ $rc != 0 ]; then
		why="fio exit status $rc"
	elif grep -q 'err= *[1-9]' "$TMP.out"; then
		why="fio reported an error"
	elif [ "$ios" -eq 0 ]; then
		why="fio issued no I/O"
	elif [ "$before" -lt 0 ] || [ "$after" -lt 0 ]; then
		why="no 'submitted' counter in $STATS"
	elif [ $fallback = 1 ]; then
		if [ $((after - before)) != 0 ]; then
			why="kaio submitted $((after - before)) requests where the library was to fall back to native AIO"
		elif [ ! -s "$TMP.aionr" ]; then
			why="fs.aio-nr stayed 0: the fallback did not use native AIO"
		elif [ "$(cat $AIO_NR)" != 0 ]; then
			why="fs.aio-nr is $(cat $AIO_NR) after fio exited"
		fi
	elif [ $((after - before)) -lt "$ios" ]; then
		why="kaio submitted $((after - before)) requests, fio issued $ios"
	elif [ -s "$TMP.aionr" ]; then
		why="native AIO used: fs.aio-nr was $(sort -n "$TMP.aionr" | tail -n1)"
	elif [ "$(cat $AIO_NR)" != 0 ]; then
		why="fs.aio-nr is $(cat $AIO_NR)"
	fi
	iops=$(sed -n 's/^ *\(read\|write\): IOPS=\([^,]*\),.*/\1 \2/p' "$TMP.out" | tr '\n' ' ')
	echo "# $name: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s, fio issued $ios I/Os, kaio submitted $((after - before))$([ $fallback = 1 ] && echo ", fs.aio-nr up to $(sort -n "$TMP.aionr" 2>/dev/null | tail -n1)"); IOPS: $iops"
	if [ -z "$why" ]; then
		echo "ok $i $name"
	else
		sed 's/^/# fio: /' "$TMP.out"
		echo "not ok $i $name # $why"
		failed=$((failed + 1))
	fi
done
rm -f "$TMP".*
[ $failed = 0 ]
}
