#!/bin/sh
# kaio.bench_probe=1 or =compat (this probe alone): where fio's libaio
# engine on kaio's drop-in spends what the same engine on native AIO does
# not, system call by system call (probe 6). Two workloads: ext4 warm 4 KiB
# random reads at QD1 (every read completes inside the submit call) and
# null_blk O_DIRECT 4 KiB random reads at QD32 (completions in interrupts).
# For each engine: IOPS without perf (twice, interleaved), then one run
# under `perf record -a -g` and the time per request, in µs of CPU, inside
# the entry points below (inclusive: what they call included), from
# perf's children view: samples × period / requests.
# Sourced by bench.sh (lib.sh, the KAIO_* variables and $B are set).
PF=$KAIO_EXT4_DIR/kaio-probe.dat
[ "$(stat -c %s "$PF" 2>/dev/null || echo 0)" -ge 67108864 ] ||
	$B --engines psync --file "$PF" --size 64m --runtime 0.1 --warmup 0 --no-json >/dev/null
dd if="$PF" of=/dev/null bs=1M count=64 2>/dev/null
c_env() {
	case $1 in
	kaio-compat) echo "LD_LIBRARY_PATH=$COMPAT fio --ioengine=libaio" ;;
	libaio) echo "LD_LIBRARY_PATH= fio --ioengine=libaio" ;;
	esac
}
c_ios() {
	grep -m1 '"total_ios"' /tmp/fio.json | tr -dc 0-9
}
# The entry points, then what they are made of (both engines' names).
SYMS="__x64_sys_io_submit __x64_sys_io_getevents __x64_sys_ioctl security_file_ioctl kaio_ctx_ioctl lookup_ioctx kaio_submit kaio_getevents_wait io_submit_one kaio_submit_one aio_read aio_prep_rw kaio_rw_prep import_single_range rw_verify_area kaio_rw_charge_pin kaio_req_get_submitter kaio_req_issue kaio_ring_activate kaio_req_alloc kmem_cache_alloc read_events kaio_ring_copy_events aio_read_events filemap_read blkdev_read_iter __blkdev_direct_IO_async kaio_rw_pin internal_get_user_pages_fast kaio_rw_dirty_pages bio_iov_iter_get_pages bio_set_pages_dirty set_page_dirty_lock fget kaio_req_put iocb_put"
echo "# ==== running bench-probe-compat ===="
if ! command -v perf >/dev/null 2>&1; then
	echo "KAIO-PROBE: 6. skipped: no perf in the guest (KAIO_GUEST_BINS=/usr/bin/perf)"
	result ok "bench probe compat"
	return 0 2>/dev/null || exit 0
fi
echo -1 >/proc/sys/kernel/perf_event_paranoid
echo 0 >/proc/sys/kernel/kptr_restrict
copts="--name=probe --bs=4k --rw=randread --time_based --output-format=json --output=/tmp/fio.json"
for w in warm-qd1 direct-qd32; do
	case $w in
	warm-qd1) wopts="$copts --filename=$PF --direct=0 --size=64m --invalidate=0 --iodepth=1" ;;
	direct-qd32) wopts="$copts --filename=$KAIO_RAW_DEV --direct=1 --iodepth=32" ;;
	esac
	echo "KAIO-PROBE: 6. fio libaio engine, $w: drop-in (kaio-compat) against native AIO (libaio)"
	for e in kaio-compat libaio kaio-compat libaio; do
		rm -f /tmp/fio.json
		# shellcheck disable=SC2046,SC2086 # word lists
		env $(c_env $e) $wopts --runtime=2s >/dev/null 2>&1
		echo "KAIO-PROBE:   $w $e: $(c_ios) requests in 2 s without perf"
	done
	for e in kaio-compat libaio; do
		rm -f /tmp/fio.json
		# shellcheck disable=SC2046,SC2086
		perf record -a -g -F 2000 -o /tmp/perf.data -- env $(c_env $e) $wopts --runtime=2s >/dev/null 2>&1
		ios=$(c_ios)
		# Total samples of the fio threads, and each entry point's share.
		perf report -i /tmp/perf.data --stdio --children --comms fio --sort sym -g none 2>/dev/null >/tmp/perf.txt
		total=$(perf report -i /tmp/perf.data --stdio --comms fio --sort comm 2>/dev/null | awk '/^# Samples:/ { v = $3; if (v ~ /K$/) v = v * 1000; print int(v); exit }')
		all=$(perf report -i /tmp/perf.data --stdio --sort comm 2>/dev/null | awk '/^# Samples:/ { v = $3; if (v ~ /K$/) v = v * 1000; print int(v); exit }')
		awk -v e="$w $e" -v ios="${ios:-0}" -v total="${total:-0}" -v all="${all:-0}" -v syms="$SYMS" '
			BEGIN { n = split(syms, s, " "); for (i = 1; i <= n; i++) want[s[i]] = i }
			/^ *[0-9.]+% +[0-9.]+% / && ($NF in want) { child[$NF] = $1 + 0 }
			END {
				if (ios <= 0) { print "KAIO-PROBE:   " e ": no fio result"; exit }
				# 2000 Hz: one sample is 500 us of CPU.
				line = sprintf("%s: %d requests, fio threads %.1f us/request (all samples %.1f):", e, ios, total * 500 / ios, all * 500 / ios)
				for (i = 1; i <= n; i++) if (s[i] in child)
					line = line sprintf(" %s %.2f;", s[i], child[s[i]] / 100 * total * 500 / ios)
				print "KAIO-PROBE:   " line
			}' /tmp/perf.txt
	done
done
rm -f /tmp/perf.data /tmp/perf.txt
result ok "bench probe compat"
