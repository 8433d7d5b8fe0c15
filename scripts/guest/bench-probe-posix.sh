#!/bin/sh
# kaio.bench_probe=1 or =posix (this probe alone): where fio's posixaio
# engine on libkaio-posix spends what the libaio engine on kaio's drop-in
# does not, and the drop-in what native AIO (fio's libaio engine on the
# system's libaio) does not, on the row where the gap is widest (ext4, warm cache, 4 KiB
# random reads, QD1: every read completes inside the submit call).
#  5a. system calls per request, by name (strace -c -f over the whole fio
#      run, divided by its requests; fio's own start-up calls included,
#      a few hundred against tens of thousands of requests);
#  5b. with perf in the guest, IOPS without strace, then the hottest
#      functions, user space included (all CPUs, % of samples, idle left
#      out); the same on null_blk O_DIRECT.
# Sourced by bench.sh (lib.sh, the KAIO_* variables and $B are set).
PF=$KAIO_EXT4_DIR/kaio-probe.dat
$B --engines psync --file "$PF" --size 64m --runtime 0.1 --warmup 0 --no-json >/dev/null
dd if="$PF" of=/dev/null bs=1M count=64 2>/dev/null
popts="--name=probe --filename=$PF --bs=4k --rw=randread --direct=0 --size=64m --invalidate=0 --iodepth=1 --time_based --output-format=json --output=/tmp/fio.json"
# probe_env ENGINE: the environment and fio engine the matrix gives ENGINE.
probe_env() {
	case $1 in
	kaio-compat) echo "LD_LIBRARY_PATH=$COMPAT fio --ioengine=libaio" ;;
	kaio-posix) echo "LD_LIBRARY_PATH= LD_PRELOAD=$POSIXLIB fio --ioengine=posixaio" ;;
	libaio) echo "LD_LIBRARY_PATH= fio --ioengine=libaio" ;;
	esac
}
probe_ios() {
	grep -m1 '"total_ios"' /tmp/fio.json | tr -dc 0-9
}

echo "# ==== running bench-probe-posix ===="
if command -v strace >/dev/null 2>&1; then
	echo "KAIO-PROBE: 5a. system calls per request, fio ext4 warm 4 KiB random reads QD1 (strace -c -f)"
	for e in kaio-compat kaio-posix libaio; do
		rm -f /tmp/fio.json
		# shellcheck disable=SC2046,SC2086 # word lists
		strace -f -c -o /tmp/strace.out env $(probe_env $e) $popts --runtime=3s >/dev/null 2>&1
		ios=$(probe_ios)
		awk -v e=$e -v ios="${ios:-0}" '
			$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { n = $4; c[$NF] = n; tot += n }
			END {
				if (ios <= 0) { print "KAIO-PROBE:   " e ": no fio result"; exit }
				line = sprintf("%s: %d requests, %.2f calls per request:", e, ios, tot / ios)
				for (k in c) if (c[k] / ios >= 0.05) line = line sprintf(" %s %.2f", k, c[k] / ios)
				print "KAIO-PROBE:   " line
			}' /tmp/strace.out
	done
	rm -f /tmp/strace.out
else
	echo "KAIO-PROBE: 5a. skipped: no strace in the guest (KAIO_GUEST_BINS=/usr/bin/strace)"
fi
if command -v perf >/dev/null 2>&1; then
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	echo 0 >/proc/sys/kernel/kptr_restrict
	warm_opts=$popts
	direct_opts=$(echo "$popts" | sed "s|--filename=[^ ]*|--filename=$KAIO_RAW_DEV|; s|--direct=0|--direct=1|; s|--invalidate=0||")
	for w in warm direct; do
		case $w in
		warm) wopts=$warm_opts desc="ext4 warm" ;;
		direct) wopts=$direct_opts desc="null_blk O_DIRECT" ;;
		esac
		echo "KAIO-PROBE: 5b. perf: IOPS, then the hottest functions, fio $desc 4 KiB random reads QD1 (all CPUs, % of samples, idle left out)"
		for e in kaio-compat kaio-posix libaio kaio-compat kaio-posix libaio; do
			rm -f /tmp/fio.json
			# shellcheck disable=SC2046,SC2086
			env $(probe_env $e) $wopts --runtime=2s >/dev/null 2>&1
			echo "KAIO-PROBE:   $w $e: $(probe_ios) requests in 2 s without perf"
		done
		for e in kaio-compat kaio-posix libaio; do
			# shellcheck disable=SC2046,SC2086
			perf record -a -o /tmp/perf.data -- env $(probe_env $e) $wopts --runtime=2s >/dev/null 2>&1
			perf report -i /tmp/perf.data --stdio --sort dso,sym 2>/dev/null | awk -v e="$w $e" '
				/%/ && $0 !~ /^#/ && !/default_idle|native_safe_halt|acpi_idle|cpuidle|do_idle|pv_native_safe_halt/ && n < 24 { d = $2; sub(/^.*\//, "", d); line = line sprintf(" %s:%s %s;", d, $NF, $1); n++ }
				END { print "KAIO-PROBE:   " e ":" line }'
			perf report -i /tmp/perf.data --stdio --comms fio --sort dso 2>/dev/null | awk -v e="$w $e" '
				/%/ && $0 !~ /^#/ && n < 8 { d = $0; sub(/^ *[0-9.]+% */, "", d); sub(/^.*\//, "", d); line = line sprintf(" %s %s;", d, $1); n++ }
				END { print "KAIO-PROBE:   " e ", threads of fio, by object:" line }'
		done
	done
	rm -f /tmp/perf.data
else
	echo "KAIO-PROBE: 5b. skipped: no perf in the guest (KAIO_GUEST_BINS=/usr/bin/perf)"
fi
result ok "bench probe posix"
