#!/bin/sh
# kaio.mode=bench: the benchmark matrix of Documentation/performance.md, run
# by /init after setup (devices, file systems, kaio.ko), with the KAIO_*
# device variables in the environment. Every engine runs in this one guest,
# interleaved per repetition (kaio-bench rotates the order), because TCG is
# noisy and only runs made close together compare.
# Takes ~16 min of TCG in all (an estimate: one full run took 929 s, ~5 min
# for kaio-bench's rows and ~10 for the 11 fio rows: 5 engines x 5
# repetitions of 1.5 s each, plus ~1 s of fio start-up per run).
#
# Output for the host (scripts/bench-report.py reads the console):
#   kaio-bench's table lines and its {"kaio_bench":...} JSON lines;
#   KAIO-BENCH-FIO: {...}       one per fio run: fio's JSON plus kaio's
#                               submitted delta and the busy jiffies;
#   KAIO-BENCH-DESC: ID text    what a fio row does;
#   KAIO-BENCH-MACHINE: k=v     what the guest is;
#   KAIO-BENCH-STATS: ID name=value ...   /sys/kernel/debug/kaio/stats
#                               deltas over each row;
#   KAIO-RESULT lines, one per row: ok if it ran and moved no error.
# Kernel command line knobs:
#   kaio.bench_runtime=S   seconds per run (default 1.5)
#   kaio.bench_repeat=N    repetitions of each engine, fio's too (default 5)
#   kaio.bench_rows=GLOB   only rows whose id matches (default: all)
#   kaio.bench_fio=0       skip the fio rows (ids fio-*)
#   kaio.bench_probe=1     then the probes behind the analysis (bench-probe.sh,
#                          bench-probe-posix.sh, bench-probe-compat.sh);
#                          =posix or =compat: that one alone
#   kaio.bench_ab=1        instead of the matrix, two builds of kaio.ko side
#                          by side (bench-ab.sh; scripts/bench-ab.sh)
. /kaio/rig/lib.sh

B=/kaio/bin/kaio-bench
COMPAT=/kaio/lib/compat
# libkaio-posix: glibc's <aio.h> served by kaio (issue 14), preloaded.
POSIXLIB=/kaio/lib/posix/libkaio-posix.so.1
RUNTIME=1.5 REPEAT=5 FIO_REPEAT= ROWS='*' FIO=1 PROBE=0 AB=0
for w in $(cat /proc/cmdline); do
	case "$w" in
	kaio.bench_runtime=*) RUNTIME=${w#*=} ;;
	kaio.bench_repeat=*) REPEAT=${w#*=} ;;
	kaio.bench_rows=*) ROWS=${w#*=} ;;
	kaio.bench_fio=*) FIO=${w#*=} ;;
	kaio.bench_probe=*) PROBE=${w#*=} ;;
	kaio.bench_ab=*) AB=${w#*=} ;;
	esac
done
FIO_REPEAT=${FIO_REPEAT:-$REPEAT}
ENGINES=kaio,kaio-posix,libaio,io_uring,posixaio,psync
STATS=/sys/kernel/debug/kaio/stats

echo "KAIO-BENCH-MACHINE: kernel=$(uname -r)"
echo "KAIO-BENCH-MACHINE: guest_cpus=$(nproc)"
echo "KAIO-BENCH-MACHINE: guest_mem_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
echo "KAIO-BENCH-MACHINE: guest_cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "KAIO-BENCH-MACHINE: null_blk_completion_ns=$(cat /sys/module/null_blk/parameters/completion_nsec)"
echo "KAIO-BENCH-MACHINE: slow_null_blk_completion_ns=$KAIO_SLOW_LAT_NS"
echo "KAIO-BENCH-MACHINE: clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "KAIO-BENCH-MACHINE: slab_debug=$(cd /sys/kernel/slab/kmalloc-256 2>/dev/null && for f in sanity_checks red_zone poison store_user; do printf '%s:%s,' $f "$(cat $f)"; done)"
echo "KAIO-BENCH-MACHINE: cmdline=$(cat /proc/cmdline)"
echo "KAIO-BENCH-MACHINE: runtime=$RUNTIME repeat=$REPEAT fio_repeat=$FIO_REPEAT"

# The module-wide counters as "name=value" words (gauges included).
stats_words() {
	[ -r $STATS ] && awk -F':[ \t]*' 'NF == 2 { printf "%s=%s ", $1, $2 }' $STATS
}
# ID BEFORE AFTER: the counters that moved over a row.
stats_delta() {
	echo "$2" "$3" | awk -v id="$1" '{
		n = NF / 2
		for (i = 1; i <= n; i++) { split($i, a, "="); before[a[1]] = a[2] }
		line = ""
		for (i = n + 1; i <= NF; i++) {
			split($i, a, "=")
			if (a[2] != before[a[1]]) line = line " " a[1] "=" (a[2] - before[a[1]])
		}
		print "KAIO-BENCH-STATS: " id line
	}'
}

# BEFORE AFTER: the counters that moved, as a JSON object.
stats_json() {
	echo "$1" "$2" | awk '{
		n = NF / 2
		for (i = 1; i <= n; i++) { split($i, a, "="); before[a[1]] = a[2] }
		line = ""
		for (i = n + 1; i <= NF; i++) {
			split($i, a, "=")
			if (a[2] != before[a[1]]) line = line sprintf("%s\"%s\":%d", line == "" ? "" : ",", a[1], a[2] - before[a[1]])
		}
		print "{" line "}"
	}'
}

# row ID kaio-bench-options...: one row of the matrix, every engine.
row() {
	id=$1
	shift
	case "$id" in
	$ROWS) ;;
	*) return 0 ;;
	esac
	echo "# ==== running bench-$id ===="
	echo "KAIO-BENCH-TIME: $id start $(cut -d' ' -f1 /proc/uptime)"
	echo "KAIO-BENCH-CMD: $id kaio-bench --label $id --repeat $REPEAT --runtime $RUNTIME --engines $ENGINES $*"
	before=$(stats_words)
	$B --label "$id" --repeat "$REPEAT" --runtime "$RUNTIME" --engines $ENGINES "$@"
	rc=$?
	stats_delta "$id" "$before" "$(stats_words)"
	echo "KAIO-BENCH-TIME: $id end $(cut -d' ' -f1 /proc/uptime)"
	if [ $rc -eq 0 ]; then
		result ok "bench $id"
	else
		result "not ok" "bench $id" "kaio-bench exit status $rc"
	fi
	dmesg_check "bench $id" || true
}

# fio's pretty-printed JSON less the objects the report never reads (the
# trim and sync directions, the histograms, lat_ns: ~10 KB less per run on a
# slow serial console). Each dropped object is followed by another member,
# so its own trailing comma goes with it and the JSON stays valid.
fio_json_trim() {
	awk '
		skip == "" && /^ *"(trim|sync|lat_ns|iodepth_level|iodepth_submit|iodepth_complete|latency_ns|latency_us|latency_ms)" : \{$/ {
			match($0, /^ */); skip = substr($0, 1, RLENGTH); next
		}
		skip != "" { if ($0 == skip "}," || $0 == skip "}") skip = ""; next }
		/^\{/ { started = 1 }
		started
	'
}

# Busy jiffies of all CPUs (/proc/stat: all but idle and iowait), as
# kaio-bench counts them: nothing else runs in the guest, so the delta over a
# fio run charges the engine with everything it caused, kworkers included.
busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

FIO_ENGINES="kaio-compat kaio-posix libaio io_uring posixaio psync"

# fio_row ID FILE CACHE QD JOBS DESC fio-options...: one fio row, every
# engine interleaved per repetition: fio's libaio engine on kaio's
# libaio.so.1 (LD_LIBRARY_PATH; the subject) and on native AIO, io_uring,
# posixaio (one job each, JOBS jobs at iodepth QD/JOBS) and psync (QD jobs:
# its only way to have QD requests in flight). CACHE: cold drops the page
# cache before each run (each job reads its own slice of the file, so no
# job finds another's blocks cached), warm reads the file once before the
# row, keep does nothing. The kaio SUBMIT count over each run shows which
# kernel path served it.
fio_row() {
	id=$1 file=$2 cache=$3 qd=$4 jobs=$5 desc=$6
	shift 6
	case "fio-$id" in
	$ROWS) ;;
	*) return 0 ;;
	esac
	echo "# ==== running bench-fio-$id ===="
	echo "KAIO-BENCH-TIME: fio-$id start $(cut -d' ' -f1 /proc/uptime)"
	echo "KAIO-BENCH-DESC: fio-$id $desc"
	engines=$FIO_ENGINES
	if [ ! -e $COMPAT/libaio.so.1 ]; then
		echo "# bench: $COMPAT/libaio.so.1 not built; fio's libaio engine runs on native AIO only"
		engines=$(echo $engines | sed 's/kaio-compat //')
	fi
	if [ ! -e $POSIXLIB ]; then
		echo "# bench: $POSIXLIB not built; no fio posixaio on kaio"
		engines=$(echo $engines | sed 's/kaio-posix //')
	fi
	async="--iodepth=$((qd / jobs)) --numjobs=$jobs"
	sync="--iodepth=1 --numjobs=$qd"
	if [ "$cache" = cold ]; then
		# Disjoint slices, so a job never reads what another cached.
		mib=$(echo "$*" | sed -n 's/.*--size=\([0-9]*\)m.*/\1/p')
		async="$async --size=$((mib / jobs))m --offset_increment=$((mib / jobs))m"
		sync="$sync --size=$((mib / qd))m --offset_increment=$((mib / qd))m"
	fi
	echo "KAIO-BENCH-CMD: fio-$id [LD_LIBRARY_PATH=$COMPAT | LD_PRELOAD=$POSIXLIB] fio --ioengine=libaio|io_uring|posixaio --filename=$file $* $async; fio --ioengine=psync --filename=$file $* $sync"
	if [ "$cache" = warm ]; then
		mib=$(echo "$*" | sed -n 's/.*--size=\([0-9]*\)m.*/\1/p')
		dd if="$file" of=/dev/null bs=1M count="$mib" 2>/dev/null
	fi
	failed=
	r=1
	while [ $r -le "$FIO_REPEAT" ]; do
		# Rotate the order each repetition, as kaio-bench does.
		order=$(echo $engines | awk -v r=$r '{ for (i = 0; i < NF; i++) printf "%s ", $((i + r - 1) % NF + 1) }')
		for e in $order; do
			[ "$cache" = cold ] && drop_caches
			st0=$(stats_words)
			busy0=$(busy_ticks)
			case $e in
			kaio-compat) LD_LIBRARY_PATH=$COMPAT fio --ioengine=libaio --filename="$file" --output=/tmp/fio.json "$@" $async ;;
			# fio's posixaio engine, unchanged, on libkaio-posix.
			kaio-posix) LD_LIBRARY_PATH= LD_PRELOAD=$POSIXLIB fio --ioengine=posixaio --filename="$file" --output=/tmp/fio.json "$@" $async ;;
			psync) LD_LIBRARY_PATH= fio --ioengine=psync --filename="$file" --output=/tmp/fio.json "$@" $sync ;;
			*) LD_LIBRARY_PATH= fio --ioengine=$e --filename="$file" --output=/tmp/fio.json "$@" $async ;;
			esac >/tmp/fio.out 2>&1
			frc=$?
			busy1=$(busy_ticks)
			st1=$(stats_words)
			if [ $frc -ne 0 ] || [ ! -s /tmp/fio.json ]; then
				sed 's/^/# fio: /' /tmp/fio.out
				failed="$e exit status $frc"
				continue
			fi
			# The module's counters over the run: which kernel path
			# served it, and where its retries ran.
			kstats=$(stats_json "$st0" "$st1")
			ksub=$(echo "$kstats" | sed -n 's/.*"submitted":\([0-9-]*\).*/\1/p')
			printf 'KAIO-BENCH-FIO: {"id":"%s","engine":"%s","rep":%d,"kaio_submitted":%d,"kaio_stats":%s,"busy_ticks":%d,"clk_tck":100,"fio":' \
				"$id" "$e" "$r" "${ksub:-0}" "$kstats" $((busy1 - busy0))
			# fio's JSON on one line (the console is read line by
			# line), without the sections that say nothing here.
			fio_json_trim </tmp/fio.json | tr -d '\n\t'
			echo "}"
			rm -f /tmp/fio.json
		done
		r=$((r + 1))
	done
	echo "KAIO-BENCH-TIME: fio-$id end $(cut -d' ' -f1 /proc/uptime)"
	if [ -z "$failed" ]; then
		result ok "bench fio-$id"
	else
		result "not ok" "bench fio-$id" "$failed"
	fi
	dmesg_check "bench fio-$id" || true
}

if [ "$AB" != 0 ]; then
	. /kaio/rig/bench-ab.sh
	exit 0
fi

EXT4=$KAIO_EXT4_DIR/kaio-bench.dat
XFS=$KAIO_XFS_DIR/kaio-bench.dat

# The matrix. The ext4 file is 128 MiB: a cold run reads each block at most
# once (kaio-bench --once, the default for cold reads), and at TCG speed a
# 2 s run reads a few MiB at random or some tens sequentially. Warm runs and
# writes use its first 64 MiB (xfs: a 64 MiB file), which stay cached.
row raw-qd1 --file "$KAIO_RAW_DEV" --direct --qd 1
row raw-qd32 --file "$KAIO_RAW_DEV" --direct --qd 32
row ext4-cold-qd32 --file "$EXT4" --size 128m --qd 32 --cache cold
row ext4-warm-qd32 --file "$EXT4" --size 64m --qd 32 --cache warm
row xfs-write-qd32 --file "$XFS" --size 64m --rw write --qd 32 --cache warm
row ext4-seq-1m --file "$EXT4" --size 128m --bs 1m --pattern seq --qd 8 --cache cold
# The cold row again on the slow device (kaio.slow_lat_ns, 20 ms): under TCG
# a request's CPU cost is of the order of the fast device's 100 us, which
# hides what blocking costs; here the device dominates, as it does on real
# hardware. 16 MiB: a run reads at most a few thousand blocks.
row slow-ext4-cold-qd32 --file "$KAIO_SLOW_EXT4_DIR/kaio-bench.dat" --size 16m --qd 32 --cache cold

# fio 3.33 (Debian's, unchanged) on the same kinds of workload: the real
# client of kaio's libaio.so.1. fadvise_hint is fio's default (random: no
# readahead), as kaio-bench does; --invalidate=0 where the cache must stay
# warm (fio's default drops it at each job's start). slat is fio's time
# inside the submit call.
if [ "$FIO" != 0 ]; then
	# The files, if no kaio-bench row made them (kaio.bench_rows='fio-*'):
	# written once, so no run pays fio's layout.
	for f in "$EXT4:128" "$XFS:64"; do
		[ "$(stat -c %s "${f%:*}" 2>/dev/null || echo 0)" -ge $((${f#*:} * 1048576)) ] ||
			dd if=/dev/zero of="${f%:*}" bs=1M count=${f#*:} conv=fsync 2>/dev/null
	done
	# fio wants whole units: the runtime in milliseconds.
	common="--name=bench --bs=4k --runtime=$(awk -v r="$RUNTIME" 'BEGIN { printf "%dms", r * 1000 }') --output-format=json --group_reporting --slat_percentiles=1 --clat_percentiles=1"
	rr="$common --rw=randread"
	fio_row raw-qd1 "$KAIO_RAW_DEV" keep 1 1 "null_blk, O_DIRECT 4 KiB random read, QD1" $rr --direct=1 --time_based
	fio_row raw-qd32 "$KAIO_RAW_DEV" keep 32 1 "null_blk, O_DIRECT 4 KiB random read, QD32" $rr --direct=1 --time_based
	# Cold: at most 128 MiB read once (no time_based), as kaio-bench --once.
	fio_row ext4-cold-qd1 "$EXT4" cold 1 1 "ext4, buffered 4 KiB random read, cold cache, QD1" $rr --direct=0 --size=128m --invalidate=1
	fio_row ext4-cold-qd32 "$EXT4" cold 32 1 "ext4, buffered 4 KiB random read, cold cache, QD32" $rr --direct=0 --size=128m --invalidate=1
	fio_row ext4-warm-qd1 "$EXT4" warm 1 1 "ext4, buffered 4 KiB random read, warm cache, QD1" $rr --direct=0 --size=64m --invalidate=0 --time_based
	fio_row ext4-warm-qd32 "$EXT4" warm 32 1 "ext4, buffered 4 KiB random read, warm cache, QD32" $rr --direct=0 --size=64m --invalidate=0 --time_based
	fio_row ext4-warm-qd32-2t "$EXT4" warm 32 2 "ext4, buffered 4 KiB random read, warm cache, QD32 from two threads (2 jobs at iodepth 16; psync 32 jobs)" $rr --direct=0 --size=64m --invalidate=0 --time_based
	fio_row ext4-write-qd32 "$EXT4" warm 32 1 "ext4, buffered 4 KiB random write, warm cache, QD32" $common --rw=randwrite --direct=0 --size=64m --invalidate=0 --time_based
	fio_row xfs-write-qd32 "$XFS" warm 32 1 "xfs, buffered 4 KiB random write, warm cache, QD32" $common --rw=randwrite --direct=0 --size=64m --invalidate=0 --time_based
	# No file system on the raw device (the check mode overwrites it too);
	# its last 256 MiB only, to bound what null_blk allocates.
	fio_row raw-write-qd32 "$KAIO_RAW_DEV" keep 32 1 "null_blk (last 256 MiB), O_DIRECT 4 KiB random write, QD32" $common --rw=randwrite --direct=1 --offset=768m --size=256m --time_based
	fio_row ext4-randrw-qd32 "$EXT4" warm 32 1 "ext4, buffered 4 KiB random 70% read / 30% write, warm cache, QD32" $common --rw=randrw --rwmixread=70 --direct=0 --size=64m --invalidate=0 --time_based
fi

case $PROBE in
0) ;;
posix) . /kaio/rig/bench-probe-posix.sh ;;
compat) . /kaio/rig/bench-probe-compat.sh ;;
*)
	. /kaio/rig/bench-probe.sh
	. /kaio/rig/bench-probe-posix.sh
	. /kaio/rig/bench-probe-compat.sh
	;;
esac
