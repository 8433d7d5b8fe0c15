#!/bin/sh
# kaio.bench_probe=1: after the matrix (or alone, with kaio.bench_rows=none),
# the measurements behind the analysis in Documentation/performance.md:
#  1. where the time inside kaio's SUBMIT goes on cold buffered reads at QD32:
#     per SUBMIT ioctl, its duration, how long the submitter was switched
#     out and who ran instead (raw_syscalls + sched_switch + kaio_submit);
#  2. why buffered xfs writes go to kaio's workers: the return values of
#     the NOWAIT path's checks (kretprobes) around each kaio_punt;
#  3. with perf in the guest (KAIO_GUEST_BINS=/usr/bin/perf when building
#     the image), CPU by task for O_DIRECT QD1 on kaio and on native AIO:
#     how much runs in kernel workers; 4. the hottest kernel functions of
#     kaio, io_uring and native AIO on O_DIRECT QD1 and on warm and cold
#     ext4 reads.
# Sourced by bench.sh (lib.sh, the KAIO_* variables and $B are set).
T=/sys/kernel/tracing
F=$KAIO_EXT4_DIR/kaio-probe.dat
W=$KAIO_XFS_DIR/kaio-probe.dat
$B --engines psync --file "$F" --size 64m --runtime 0.1 --warmup 0 --no-json >/dev/null
$B --engines psync --file "$W" --size 64m --rw write --runtime 0.1 --warmup 0 --no-json >/dev/null
quiet() { grep -v '^#\|^engine\|^   \|^{'; }

echo "# ==== running bench-probe ===="
echo "KAIO-PROBE: 1. SUBMIT windows, kaio, ext4 cold 4 KiB random reads, QD32"
echo 16384 >$T/buffer_size_kb
echo >$T/trace
echo 'id == 16' >$T/events/raw_syscalls/sys_enter/filter
echo 'id == 16' >$T/events/raw_syscalls/sys_exit/filter
ev="raw_syscalls/sys_enter raw_syscalls/sys_exit sched/sched_switch kaio/kaio_submit"
for e in $ev; do echo 1 >$T/events/$e/enable; done
$B --engines kaio --file "$F" --qd 32 --cache cold --runtime 1.5 --warmup 0 --no-json | quiet
for e in $ev; do echo 0 >$T/events/$e/enable; done
# Each ioctl of kaio-bench that contained kaio_submit events is a SUBMIT.
awk '
	function ts(   i) { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) return substr($i, 1, length($i) - 1) + 0; return -1 }
	/sys_enter: NR 16/ && $1 ~ /^kaio-bench/ { t0 = ts(); subs = 0; off = 0; inside = 1; next }
	/kaio_submit:/ && inside { subs++; next }
	/sched_switch:/ {
		if (inside && $0 ~ /prev_comm=kaio-bench/) { out = ts(); next }
		if (inside && out && $0 ~ /next_comm=kaio-bench/) { off += ts() - out; out = 0; next }
		if (inside && out && match($0, /next_comm=[^ ]*/)) { w = substr($0, RSTART + 10, RLENGTH - 10); sub(/[:\/][0-9]+$/, "", w); sub(/[0-9]+$/, "", w); who[w]++ }
		next
	}
	/sys_exit: NR 16/ && $1 ~ /^kaio-bench/ && inside {
		d = ts() - t0; inside = 0
		if (subs > 0) { n++; dur[n] = d; offc[n] = off; bat[n] = subs; tot += d; totoff += off; reqs += subs }
	}
	END {
		for (i = 2; i <= n; i++) { v = dur[i]; o = offc[i]; b = bat[i]; for (j = i - 1; j >= 1 && dur[j] > v; j--) { dur[j+1] = dur[j]; offc[j+1] = offc[j]; bat[j+1] = bat[j] } dur[j+1] = v; offc[j+1] = o; bat[j+1] = b }
		if (!n) { print "KAIO-PROBE: no SUBMIT seen"; exit }
		printf "KAIO-PROBE: %d SUBMIT calls, %d requests, %.1f ms inside SUBMIT, of which %.1f ms (%.0f%%) switched out\n", n, reqs, tot * 1000, totoff * 1000, 100 * totoff / tot
		p = int(n * 0.5); if (p < 1) p = 1
		printf "KAIO-PROBE: p50 call %.2f ms (%d requests, %.2f ms switched out)\n", dur[p] * 1000, bat[p], offc[p] * 1000
		p = int(n * 0.99 + 0.999); if (p > n) p = n
		printf "KAIO-PROBE: p99 call %.2f ms (%d requests, %.2f ms switched out)\n", dur[p] * 1000, bat[p], offc[p] * 1000
		printf "KAIO-PROBE: ran while a SUBMIT was switched out:"; for (w in who) printf " %s=%d", w, who[w]; printf "\n"
	}' $T/trace
echo >$T/trace
echo 0 >$T/events/raw_syscalls/sys_enter/filter
echo 0 >$T/events/raw_syscalls/sys_exit/filter

echo "KAIO-PROBE: 2. xfs buffered 4 KiB random writes, QD32: what the NOWAIT attempt returned"
for p in 'kiocb_modified' 'xfs_file_write_checks' 'xfs_file_buffered_write' 'xfs_ilock_nowait' 'balance_dirty_pages_ratelimited_flags'; do
	echo "r:kaio_probe_$p $p ret=\$retval" >>$T/kprobe_events 2>/dev/null ||
		echo "KAIO-PROBE: no kretprobe on $p"
done
for e in kprobes kaio/kaio_punt kaio/kaio_submit; do echo 1 >$T/events/$e/enable; done
$B --engines kaio --file "$W" --size 64m --rw write --qd 32 --cache warm --runtime 1 --warmup 0 --no-json | quiet
for e in kprobes kaio/kaio_punt kaio/kaio_submit; do echo 0 >$T/events/$e/enable; done
grep '^ *kaio-bench' $T/trace | awk '
	{ for (i = 1; i <= NF; i++) {
		if ($i == "kaio_submit:") s++
		if ($i == "kaio_punt:") p++
		if ($i ~ /^kaio_probe_.*:$/) for (j = i; j <= NF; j++) if ($j ~ /^ret=/) { r = $j; if (r ~ /fffffff5$/) r = "-EAGAIN"; c[substr($i, 12, length($i) - 12) " " r]++ }
	} }
	END {
		printf "KAIO-PROBE: %d writes submitted, %d punted to a worker\n", s, p
		for (k in c) printf "KAIO-PROBE:   %s returned %s: %d\n", substr(k, 1, index(k, " ") - 1), substr(k, index(k, " ") + 1), c[k]
	}' | sort
echo >$T/trace
echo >$T/kprobe_events

if command -v perf >/dev/null 2>&1; then
	# Probe 2's writes are still being written back: not in the samples.
	sync
	sleep 2
	echo "KAIO-PROBE: 3. perf: CPU by task, O_DIRECT 4 KiB random reads at QD1 (samples of all CPUs, idle left out)"
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	echo 0 >/proc/sys/kernel/kptr_restrict
	for e in kaio libaio; do
		perf record -a -o /tmp/perf.data -- $B --engines $e --file "$KAIO_RAW_DEV" --size 64m --direct --qd 1 --runtime 2 --no-json 2>&1 | quiet | grep -v '^\[ perf'
		perf report -i /tmp/perf.data --stdio --sort comm 2>/dev/null | awk -v e=$e '
			/%/ && $2 != "swapper" { c = $2; if (c ~ /^kworker\/u/) c = "kworker/u (unbound)"; else if (c ~ /^kworker/) c = "kworker (per-CPU)"; else sub(/\/[0-9]+$/, "", c); t[c] += $1 }
			END { line = ""; for (c in t) line = line sprintf(" %s %.1f%%", c, t[c]); print "KAIO-PROBE:   " e ":" line }'
	done
	rm -f /tmp/perf.data
	echo "KAIO-PROBE: 4. perf: hottest functions, O_DIRECT QD1, ext4 warm and cold 4 KiB random reads at QD32 (all CPUs, % of samples, idle left out)"
	for w in direct warm cold; do
		for e in kaio io_uring libaio; do
			case $w in
			direct) args="--file $KAIO_RAW_DEV --size 64m --direct --qd 1" ;;
			*) args="--file $F --size 64m --qd 32 --cache $w" ;;
			esac
			perf record -a -o /tmp/perf.data -- $B --engines $e $args --runtime 2 --no-json 2>&1 | quiet | grep -v '^\[ perf'
			perf report -i /tmp/perf.data --stdio --sort sym 2>/dev/null | awk -v e=$e -v w=$w '
				/%/ && $0 !~ /^#/ && !/default_idle|native_safe_halt|acpi_idle|cpuidle|do_idle|pv_native_safe_halt/ && n < 16 { line = line sprintf(" %s %s;", $NF, $1); n++ }
				END { print "KAIO-PROBE:   " w " " e ":" line }'
		done
	done
	rm -f /tmp/perf.data
else
	echo "KAIO-PROBE: 3. skipped: no perf in the guest (build the image with KAIO_GUEST_BINS=/usr/bin/perf)"
fi
result ok "bench probe"
dmesg_check "bench probe" || true
