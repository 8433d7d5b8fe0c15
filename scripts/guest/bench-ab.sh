#!/bin/sh
# kaio.bench_ab=1 (scripts/bench-ab.sh): two builds of kaio.ko, /kaio/ab/base.ko
# and /kaio/ab/new.ko, measured in this one guest run, interleaved: each
# repetition loads one, runs the rows, unloads it and loads the other (the
# order rotated every repetition), with native AIO run right after kaio in
# each run as a yardstick for the guest's speed at that moment. One change
# measured alone, as issue 13 asks, with the host's noise hitting both.
# Output: KAIO-AB: VARIANT {kaio-bench run JSON} per engine run.
# Sourced by bench.sh (lib.sh, the KAIO_* variables, $B, $RUNTIME, $REPEAT
# and $ROWS are set).
AB=/kaio/ab
EXT4=$KAIO_EXT4_DIR/kaio-bench.dat

ab_load() {
	rmmod kaio 2>/dev/null
	if ! insmod "$AB/$1.ko"; then
		result "not ok" "bench ab" "insmod $1.ko failed"
		return 1
	fi
	for i in 0 1 2 3 4 5 6 7 8 9; do
		[ -c /dev/kaio ] && return 0
		sleep 0.2
	done
	result "not ok" "bench ab" "no /dev/kaio after insmod $1.ko"
	return 1
}

ab_row() {
	id=$1 v=$2
	shift 2
	case "$id" in
	$ROWS) ;;
	*) return 0 ;;
	esac
	$B --label "$id" --repeat 1 --runtime "$RUNTIME" --engines kaio,libaio "$@" |
		sed -n "s/^{\"kaio_bench\":1,\"kind\":\"run\"/KAIO-AB: $v &/p"
}

echo "# ==== running bench-ab ===="
# The files first, so no variant's first run pays their layout.
$B --engines psync --file "$EXT4" --size 128m --runtime 0.1 --warmup 0 --no-json >/dev/null
failed=
r=1
while [ $r -le "$REPEAT" ]; do
	if [ $((r % 2)) = 1 ]; then order="base new"; else order="new base"; fi
	for v in $order; do
		ab_load $v || { failed=1; break 2; }
		ab_row raw-qd1 $v --file "$KAIO_RAW_DEV" --direct --qd 1
		ab_row raw-qd32 $v --file "$KAIO_RAW_DEV" --direct --qd 32
		ab_row ext4-cold-qd32 $v --file "$EXT4" --size 128m --qd 32 --cache cold
		ab_row ext4-warm-qd1 $v --file "$EXT4" --size 64m --qd 1 --cache warm
		ab_row ext4-warm-qd32 $v --file "$EXT4" --size 64m --qd 32 --cache warm
		dmesg_check "bench ab $v" || failed=1
	done
	r=$((r + 1))
done
rmmod kaio 2>/dev/null
[ -z "$failed" ] && result ok "bench ab"
