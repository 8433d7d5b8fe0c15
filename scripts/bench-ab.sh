#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Measure one change to the module alone: the kaio.ko of BASE (a git
# revision, or a built .ko) against NEW's (the same; default module/kaio.ko
# as built now), in one
# guest run, loaded in turn (scripts/guest/bench-ab.sh), each run of kaio
# followed by native AIO on the same workload as the yardstick of the
# guest's speed. Prints per row the medians of each variant and new/base.
#
# Usage: scripts/bench-ab.sh BASE [NEW] [extra kernel cmdline ...]
#   kaio.bench_repeat=N (default 7), kaio.bench_runtime=S (default 1.5),
#   kaio.bench_rows=GLOB (raw-qd1 raw-qd32 ext4-cold-qd32 ext4-warm-qd1
#   ext4-warm-qd32; default all).
# Console: build/ab/guest-bench.log. Takes ~1 min per repetition.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
base=${1:?usage: scripts/bench-ab.sh BASE-REV-or-KO [cmdline ...]}
shift
kver=$(scripts/kver.sh)
ab=$top/build/ab
img=$top/build/guest/ab
mkdir -p "$ab" "$img"
trap 'rm -rf "$img"' EXIT

new=module/kaio.ko
case "${1:-}" in
kaio.* | "") ;;
*) new=$1 && shift ;;
esac

# ko REV-or-FILE DEST: the module of a revision, built in a worktree.
ko() {
	if [ -f "$1" ]; then
		cp "$1" "$2"
		return
	fi
	local rev src
	rev=$(git rev-parse --verify "$1^{commit}")
	src=$ab/src-$rev
	git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
	git worktree add --detach "$src" "$rev" >/dev/null 2>&1
	make -C "/lib/modules/$kver/build" M="$src" modules >"$ab/build-$rev.log" 2>&1 ||
		{ echo "bench-ab: building $1 failed, see $ab/build-$rev.log" >&2; exit 1; }
	cp "$src/module/kaio.ko" "$2"
	git worktree remove --force "$src"
}
ko "$base" "$img/base.ko"
[ -f "$new" ] || git rev-parse --verify -q "$new^{commit}" >/dev/null ||
	{ echo "bench-ab: $new: no such module or revision (make module?)" >&2; exit 1; }
ko "$new" "$img/new.ko"

KAIO_GUEST_LOGDIR=$ab scripts/run-guest.sh bench kaio.bench_ab=1 kaio.bench_repeat=7 "$@" >/dev/null || {
	echo "bench-ab: the guest run failed, see $ab/guest-bench.log" >&2
	exit 1
}
python3 - "$ab/guest-bench.log" <<'PY'
import json, statistics as st, sys
runs = {}
for line in open(sys.argv[1], errors="replace"):
    if not line.startswith("KAIO-AB: "):
        continue
    variant, js = line[9:].split(" ", 1)
    r = json.loads(js)
    runs.setdefault((r["label"], variant, r["engine"]), []).append(r)
rows = sorted({k[0] for k in runs}, key=lambda l: list(k[0] for k in runs).index(l))
med = lambda xs: st.median(xs) if xs else float("nan")
print("%-16s %-5s %9s %9s %9s %10s %10s" % ("row", "kaio", "IOPS", "vs-libaio", "busy/op", "cpu/op", "sub-p99"))
for row in rows:
    out = {}
    for v in ("base", "new"):
        k, n = runs.get((row, v, "kaio"), []), runs.get((row, v, "libaio"), [])
        ratio = [a["iops"] / b["iops"] for a, b in zip(k, n) if b["iops"]]
        out[v] = (med([a["iops"] for a in k]), med(ratio), med([a["busy_us_per_op"] for a in k]),
                  med([a["cpu_us_per_op"] for a in k]), med([a["submit_p99_us"] for a in k]), len(k))
        print("%-16s %-5s %9.0f %9.3f %9.2f %10.2f %10.1f  (n=%d)" % ((row, v) + out[v]))
    b, n = out["base"], out["new"]
    print("%-16s %-5s %9.3f %9.3f %9.3f %10.3f %10.3f" % (row, "n/b", n[0] / b[0], n[1] / b[1], n[2] / b[2], n[3] / b[3], n[4] / b[4]))
PY
