#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kaio-timeout: 900
# Debian's fio, unchanged, with --ioengine=posixaio (glibc's <aio.h>) under
# LD_PRELOAD of libkaio-posix (../lib/posix) on kaio. Each run is one TAP
# case; it passes when fio exits 0 with err=0, every block is verified
# (--verify=crc32c; the randread run reads back a file a first job wrote
# with checksums), and kaio's module-wide 'submitted' counter (debugfs) grew
# by at least the I/Os fio issued: kaio served them.
# Environment: KAIO_EXT4_DIR, KAIO_FIO (default /usr/bin/fio).
top=$(cd "$(dirname "$0")/.." && pwd)
LIB=$top/lib/posix/libkaio-posix.so.1
FIO=${KAIO_FIO:-/usr/bin/fio}
STATS=/sys/kernel/debug/kaio/stats
TMP=${TMPDIR:-/tmp}/kaio-posix-fio.$$
FILE=${KAIO_EXT4_DIR:-/mnt/ext4}/kaio-posix-fio

# name rw direct iodepth
RUNS='
ext4-randread-buffered-qd16 randread 0 16
ext4-randwrite-buffered-qd16 randwrite 0 16
ext4-randread-direct-qd32 randread 1 32
ext4-randwrite-direct-qd8 randwrite 1 8
'

submitted() {
	awk '$1 == "submitted:" { print $2; f = 1 } END { if (!f) print -1 }' "$STATS" 2>/dev/null || echo -1
}

if [ ! -x "$FIO" ]; then
	echo "1..0 # SKIP $FIO not found"
	exit 4
fi
if [ ! -c /dev/kaio ] || [ ! -f "$LIB" ]; then
	echo "1..0 # SKIP no /dev/kaio or no $LIB"
	exit 4
fi
echo "# $("$FIO" --version) --ioengine=posixaio, LD_PRELOAD=$LIB"
echo "1..$(echo "$RUNS" | grep -c .)"
i=0
failed=0
while read -r name rw direct qd; do
	[ -n "$name" ] || continue
	i=$((i + 1))
	case $rw in
	randread) jobs="--name=fill --rw=write --do_verify=0 --name=$name --stonewall --rw=randread" ;;
	*) jobs="--name=$name --rw=$rw --do_verify=1" ;;
	esac
	before=$(submitted)
	# shellcheck disable=SC2086 # the job list is meant to split
	KAIO_POSIX_DEBUG=1 LD_PRELOAD=$LIB timeout 300 "$FIO" --ioengine=posixaio \
		--filename="$FILE" --direct="$direct" --iodepth="$qd" --bs=4k --size=4m \
		--verify=crc32c --verify_fatal=1 --randseed=42 --runtime=120 \
		$jobs >"$TMP.out" 2>&1
	rc=$?
	after=$(submitted)
	rm -f "$FILE"
	issued=$(sed -n 's/.*issued rwts: total=\([0-9]*\),\([0-9]*\),\([0-9]*\).*/\1 \2 \3/p' "$TMP.out" |
		awk '{ n += $1 + $2 + $3 } END { print n + 0 }')
	why=
	[ $rc = 0 ] || why="fio exit status $rc"
	grep -q "err= *[1-9]" "$TMP.out" && why="${why:+$why; }fio reported err"
	grep -qi "verify.*fail\|bad magic\|crc32c.*mismatch" "$TMP.out" && why="${why:+$why; }verify failed"
	grep -q "libkaio-posix: backend kaio" "$TMP.out" || why="${why:+$why; }library not on kaio"
	[ "$issued" -gt 0 ] || why="${why:+$why; }fio issued no I/O"
	[ "$before" -ge 0 ] && [ $((after - before)) -ge "$issued" ] ||
		why="${why:+$why; }kaio submitted $before -> $after for $issued I/Os"
	echo "# $name: issued $issued, kaio submitted $before -> $after"
	if [ -z "$why" ]; then
		echo "ok $i $name"
	else
		sed 's/^/# fio: /' "$TMP.out"
		echo "not ok $i $name # $why"
		failed=1
	fi
done <<EOR
$RUNS
EOR
rm -f "$TMP.out"
exit $failed
