#!/usr/bin/env bash
# `make bench`: boot the guest in bench mode (scripts/guest/bench.sh runs the
# matrix there: kaio, native AIO, io_uring, POSIX aio and psync side by side,
# plus the fio matrix: the real client on kaio's libaio.so.1 and on its
# peers), then print the tables of ratios to the best peer and write the
# report, build/bench/performance.md and its plot performance.png, from the
# console log. The tree is left alone: only `make bench PUBLISH=1`
# (KAIO_BENCH_PUBLISH=1 here) copies the report of a complete, default run
# to Documentation/performance.md and .png, the published numbers.
#
# Usage: scripts/bench.sh [extra kernel cmdline ...]
#   kaio.bench_runtime=S   seconds per run (default 1.5)
#   kaio.bench_repeat=N    repetitions per engine, fio too (default 5)
#   kaio.bench_rows=GLOB   only some rows (e.g. 'ext4-*', 'fio-*')
#   kaio.bench_fio=0       skip the fio rows
#   kaio.bench_probe=1     then the probes behind the analysis (tracepoints,
#                          kretprobes; perf too if the image has it:
#                          KAIO_GUEST_BINS=/usr/bin/perf scripts/bench.sh ...)
#   kaio.lat_ns=N          null_blk latency (default 100000)
# The first five make a partial or non-default run: its report is written,
# but it is never published.
# KAIO_BENCH_DOC=path writes the report there instead (the plot beside it,
# as path's name with .png).
# The console is kept in build/guest-bench.log; scripts/bench-report.py
# build/guest-bench.log reprints the table from it.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

doc=${KAIO_BENCH_DOC:-build/bench/performance.md}
published=Documentation/performance.md
publish=${KAIO_BENCH_PUBLISH:-}
if [ "$publish" = 0 ]; then
	publish=
fi
partial=0
for w in "$@"; do
	case "$w" in
	kaio.bench_rows=* | kaio.bench_fio=0 | kaio.bench_runtime=* | kaio.bench_repeat=* | kaio.lat_ns=*) partial=1 ;;
	esac
done
# Said before the run, not after its quarter of an hour.
if [ -n "$publish" ] && [ $partial = 1 ]; then
	echo "bench.sh: PUBLISH=1 is for a complete run with the default settings; a partial or non-default run ($*) must not replace the published numbers" >&2
	exit 2
fi
mkdir -p "$(dirname "$doc")"
# What this run wrote is newer than this.
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT

# The report and its plot, if this run wrote them, to the published place.
publish_report() { # REPORT PUBLISHED
	local from=$1 to=$2
	if [ ! "$from" -nt "$stamp" ]; then
		echo "bench.sh: no report from this run; $to not published" >&2
		return 1
	fi
	if [ "$(realpath -m "$from")" = "$(realpath -m "$to")" ]; then
		echo "bench.sh: published $to (written there)"
		return 0
	fi
	cp "$from" "$to"
	# No plot this time (gnuplot missing): the report says so and links none.
	if [ "${from%.*}.png" -nt "$stamp" ]; then
		cp "${from%.*}.png" "${to%.*}.png"
	fi
	echo "bench.sh: published $from to $to"
}

# The slow device at 20 ms, whatever the test modes' default is: the
# slow-ext4 row needs the device to dominate a request's TCG CPU cost, not
# seconds per batch. A kaio.slow_lat_ns given here comes later and wins.
t0=$(date +%s)
rc=0
scripts/run-guest.sh bench kaio.slow_lat_ns=20000000 "$@" || rc=$?
wall=$(($(date +%s) - t0))

# The command that makes this report again, as the report shows it; what
# changes the image is part of it too.
if [ $# -eq 0 ] && [ -z "${KAIO_GUEST_BINS:-}" ]; then
	command="make bench${publish:+ PUBLISH=1}"
else
	command="scripts/bench.sh${*:+ $*}"
	if [ -n "$publish" ]; then
		command="KAIO_BENCH_PUBLISH=1 $command"
	fi
	if [ -n "${KAIO_GUEST_BINS:-}" ]; then
		command="KAIO_GUEST_BINS=$KAIO_GUEST_BINS $command"
	fi
fi
echo
echo "==== kaio benchmark (wall ${wall}s) ===="
report=(python3 scripts/bench-report.py build/guest-bench.log --wall "$wall" --command "$command")
# Only a guest run that ended well replaces the report.
if [ $rc -eq 0 ]; then
	report+=(--doc "$doc")
else
	echo "bench.sh: the guest run failed; $doc left as it was" >&2
fi
"${report[@]}" || rc=$?
if [ -n "$publish" ]; then
	publish_report "$doc" "$published" || rc=$?
fi
exit $rc
