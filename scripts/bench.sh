#!/usr/bin/env bash
# `make bench`: boot the guest in bench mode (scripts/guest/bench.sh runs the
# matrix there: kaio, native AIO, io_uring, POSIX aio and psync side by side,
# plus the fio matrix: the real client on kaio's libaio.so.1 and on its
# peers), then print the tables of ratios to the best peer and write
# Documentation/performance.md and its plot from the console log.
#
# Usage: scripts/bench.sh [extra kernel cmdline ...]
#   kaio.bench_runtime=S   seconds per run (default 1.5)
#   kaio.bench_repeat=N    repetitions per engine, fio too (default 5)
#   kaio.bench_rows=GLOB   only some rows (e.g. 'ext4-*', 'fio-*'); the
#                          document is then not rewritten unless
#                          KAIO_BENCH_DOC is set
#   kaio.bench_fio=0       skip the fio rows
#   kaio.bench_probe=1     then the probes behind the analysis (tracepoints,
#                          kretprobes; perf too if the image has it:
#                          KAIO_GUEST_BINS=/usr/bin/perf scripts/bench.sh ...)
#   kaio.lat_ns=N          null_blk latency (default 100000)
# KAIO_BENCH_DOC=path writes the document there instead (or anyway).
# The console is kept in build/guest-bench.log; scripts/bench-report.py
# build/guest-bench.log reprints the table from it.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

doc=Documentation/performance.md
partial=0
for w in "$@"; do
	case "$w" in
	kaio.bench_rows=* | kaio.bench_fio=0 | kaio.bench_runtime=* | kaio.bench_repeat=* | kaio.lat_ns=*) partial=1 ;;
	esac
done
if [ -n "${KAIO_BENCH_DOC:-}" ]; then
	doc=$KAIO_BENCH_DOC
elif [ $partial = 1 ]; then
	doc= # a partial or non-default run must not replace the published numbers
fi

# The slow device at 20 ms, whatever the test modes' default is: the
# slow-ext4 row needs the device to dominate a request's TCG CPU cost, not
# seconds per batch. A kaio.slow_lat_ns given here comes later and wins.
t0=$(date +%s)
rc=0
scripts/run-guest.sh bench kaio.slow_lat_ns=20000000 "$@" || rc=$?
wall=$(($(date +%s) - t0))

command="make bench"
[ $# -gt 0 ] && command="scripts/bench.sh $*"
# What changes the image is part of the command too.
[ -n "${KAIO_GUEST_BINS:-}" ] && command="KAIO_GUEST_BINS=$KAIO_GUEST_BINS ${command/#make bench/scripts/bench.sh}"
echo
echo "==== kaio benchmark (wall ${wall}s) ===="
report=(python3 scripts/bench-report.py build/guest-bench.log --wall "$wall" --command "$command")
# Only a complete run replaces the document.
if [ -n "$doc" ] && [ $rc -eq 0 ]; then
	report+=(--doc "$doc")
elif [ -n "$doc" ]; then
	echo "bench.sh: the guest run failed; $doc left as it was" >&2
fi
"${report[@]}" || rc=$?
exit $rc
