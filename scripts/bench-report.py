#!/usr/bin/env python3
"""Turn the console of a `make bench` guest run into the benchmark report.

Usage: scripts/bench-report.py LOG [--doc Documentation/performance.md]
                               [--wall SECONDS] [--command TEXT]

Reads what scripts/guest/bench.sh printed (kaio-bench's JSON lines,
KAIO-BENCH-FIO/-MACHINE/-STATS/-CMD/-TIME lines), prints the table of IOPS
ratios to the best peer with the targets, and with --doc writes
Documentation/performance.md from scratch, with a PNG plot beside it made by
gnuplot. The hand-written analysis is scripts/bench-analysis.md, included
as it is. Only the standard library: it runs on the host, never in the guest.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

ENGINES = ["kaio", "kaio-posix", "libaio", "io_uring", "posixaio", "psync"]
PEERS = ["libaio", "io_uring", "posixaio", "psync"]
ENGINE_NAMES = {
    "kaio": "kaio",
    "kaio-posix": "POSIX aio on kaio",
    "libaio": "native AIO",
    "io_uring": "io_uring",
    "posixaio": "POSIX aio",
    "psync": "psync",
}
FIO_ENGINES = ["kaio-compat", "kaio-posix", "libaio", "io_uring", "posixaio", "psync"]
# kaio's own engines under fio: never peers, and the only ones that may move
# kaio's submitted counter.
FIO_KAIO = ["kaio-compat", "kaio-posix"]
FIO_PEERS = ["libaio", "io_uring", "posixaio", "psync"]
FIO_NAMES = {
    "kaio-compat": "fio libaio on kaio (drop-in libaio.so.1)",
    "kaio-posix": "fio posixaio on kaio (libkaio-posix, LD_PRELOAD)",
    "libaio": "fio libaio on native AIO",
    "io_uring": "fio io_uring",
    "posixaio": "fio posixaio",
    "psync": "fio psync",
}
FIO_SHORT = {"kaio-compat": "kaio drop-in", "kaio-posix": "posixaio on kaio", "libaio": "native AIO", "io_uring": "io_uring",
             "posixaio": "posixaio", "psync": "psync"}


def parse_log(path):
    runs, fio, machine, stats, cmds, times, results, probes = [], [], {}, {}, {}, {}, [], []
    descs = {}
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace").replace("\r", "")
    for line in text.splitlines():
        if line.startswith('{"kaio_bench":'):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a console message
            if obj.get("kind") == "run":
                runs.append(obj)
        elif line.startswith("KAIO-BENCH-FIO: "):
            try:
                fio.append(json.loads(line[len("KAIO-BENCH-FIO: "):]))
            except json.JSONDecodeError:
                pass
        elif line.startswith("KAIO-BENCH-MACHINE: "):
            key, _, value = line[len("KAIO-BENCH-MACHINE: "):].partition("=")
            machine[key] = value
        elif line.startswith("KAIO-BENCH-STATS: "):
            words = line[len("KAIO-BENCH-STATS: "):].split()
            if words:
                stats[words[0]] = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        elif line.startswith("KAIO-BENCH-CMD: "):
            key, _, value = line[len("KAIO-BENCH-CMD: "):].partition(" ")
            cmds[key] = value
        elif line.startswith("KAIO-BENCH-DESC: "):
            key, _, value = line[len("KAIO-BENCH-DESC: "):].partition(" ")
            descs[key] = value
        elif line.startswith("KAIO-BENCH-TIME: "):
            words = line.split()
            if len(words) == 4:
                times.setdefault(words[1], {})[words[2]] = float(words[3])
        elif line.startswith("KAIO-RESULT: "):
            results.append(line[len("KAIO-RESULT: "):])
        elif line.startswith("KAIO-PROBE: "):
            probes.append(line[len("KAIO-PROBE: "):])
    return runs, fio, machine, stats, cmds, times, results, probes, descs


def describe(run):
    """A row's workload in words, from kaio-bench's JSON."""
    f = run["file"]
    if f.startswith("/dev/"):
        where = "null_blk " + os.path.basename(f)
    elif "/slow-" in f:
        where = ("ext4" if "ext4" in f else "xfs") + " on the slow null_blk"
    elif "/ext4" in f:
        where = "ext4"
    elif "/xfs" in f:
        where = "xfs"
    else:
        where = f
    bs = run["bs"]
    size = f"{bs // 1048576} MiB" if bs % 1048576 == 0 else f"{bs // 1024} KiB"
    mode = "O_DIRECT" if run["direct"] else "buffered"
    pattern = ("random " if run["pattern"] == "rand" else "sequential ") + run["rw"]
    cache = {"cold": ", cold cache", "warm": ", warm cache"}.get(run["cache"], "")
    return f"{where}, {mode} {size} {pattern}{cache}, QD{run['qd']}"


def med(values):
    return statistics.median(values) if values else float("nan")


class Row:
    """One row of the matrix: every engine's repetitions."""

    def __init__(self, label, runs):
        self.label = label
        self.runs = runs
        self.first = runs[0]
        self.desc = describe(self.first)
        self.engines = [e for e in ENGINES if any(r["engine"] == e for r in runs)]
        self.by_engine = {e: [r for r in runs if r["engine"] == e] for e in self.engines}
        self.median = {e: med([r["iops"] for r in rs]) for e, rs in self.by_engine.items()}
        peers = [e for e in self.engines if e in PEERS]
        self.best = max(peers, key=lambda e: self.median[e]) if peers else None
        self.errors = sum(r["errors"] for r in runs)

    def metric(self, engine, key):
        return med([r[key] for r in self.by_engine.get(engine, []) if r.get(key) is not None])

    def ratio(self, engine):
        if not self.best or self.median[self.best] <= 0:
            return float("nan")
        return self.median[engine] / self.median[self.best]

    def ratio_range(self, engine):
        """The same ratio per repetition: an engine's run against the best
        peer's run of that repetition (made minutes apart at most)."""
        out = []
        reps = sorted({r["rep"] for r in self.runs})
        for rep in reps:
            mine = [r["iops"] for r in self.by_engine[engine] if r["rep"] == rep]
            peer = [r["iops"] for r in self.runs if r["engine"] in PEERS and r["rep"] == rep]
            if mine and peer and max(peer) > 0:
                out.append(mine[0] / max(peer))
        return (min(out), max(out)) if out else (float("nan"), float("nan"))

    def iops_range(self, engine):
        values = [r["iops"] for r in self.by_engine[engine]]
        return min(values), max(values)

    def kaio_paths(self):
        total = {}
        for r in self.by_engine.get("kaio", []):
            for k, v in r.get("counters", {}).items():
                total[k] = total.get(k, 0) + v
        return total


def group_rows(runs):
    order, rows = [], {}
    for r in runs:
        if r["label"] not in rows:
            order.append(r["label"])
            rows[r["label"]] = []
        rows[r["label"]].append(r)
    return [Row(label, rows[label]) for label in order]


def fmt_scaled(v, unit, unit_1000):
    """v in unit, or in unit_1000 (thousands) from 1000 on; NaN/None: -."""
    if v is None or v != v:
        return "-"
    if v >= 10000:
        return f"{v / 1000:.1f}{unit_1000}"
    if v >= 1000:
        return f"{v / 1000:.2f}{unit_1000}"
    return f"{v:.0f}{unit}"


def fmt_iops(v):
    return fmt_scaled(v, "", "k")


def fmt_us(v):
    return fmt_scaled(v, " µs", " ms")


def fmt_ctx(v):
    """Context switches per request: most async runs switch far less than
    once per request, so small values keep three decimals."""
    if v != v:
        return "-"
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def fmt_sleeps(row, engine):
    """Sleeps per sampled submit call (median over the repetitions), and in
    brackets the calls sampled per run (median): "-" for logs of a
    kaio-bench that did not count them."""
    per_call = row.metric(engine, "submit_sleeps_per_call")
    if per_call != per_call:
        return "-"
    return f"{fmt_ctx(per_call)} ({row.metric(engine, 'submit_sleep_samples'):.0f})"


def fmt_ratio(v):
    return "-" if v != v else f"{v:.2f}×"


# ---- targets ------------------------------------------------------------------

def targets(rows):
    """The two targets of the Benchmarks issue, measured."""
    out = []
    for row in rows:
        if "kaio" not in row.engines or not row.best:
            continue
        ratio = row.ratio("kaio")
        lo, hi = row.ratio_range("kaio")
        cpu_k, cpu_p = row.metric("kaio", "cpu_us_per_op"), row.metric(row.best, "cpu_us_per_op")
        busy_k, busy_p = row.metric("kaio", "busy_us_per_op"), row.metric(row.best, "busy_us_per_op")
        met = ratio >= 1.0 and cpu_k <= cpu_p
        out.append({
            "target": "IOPS ≥ 1.0× best peer at ≤ its CPU/op",
            "row": row.label,
            "measured": f"{fmt_ratio(ratio)} ({fmt_ratio(lo)}–{fmt_ratio(hi)}) of {ENGINE_NAMES[row.best]}; "
                        f"CPU/op {cpu_k:.0f} vs {cpu_p:.0f} µs (process), {busy_k:.0f} vs {busy_p:.0f} µs (all CPUs)",
            "met": met,
        })
    for row in rows:
        f = row.first
        if f["cache"] == "cold" and not f["direct"] and f["rw"] == "read" and f["pattern"] == "rand" \
                and f["qd"] == 32 and "kaio" in row.engines and "libaio" in row.engines:
            k, n = row.metric("kaio", "submit_p99_us"), row.metric("libaio", "submit_p99_us")
            k50, n50 = row.metric("kaio", "submit_p50_us"), row.metric("libaio", "submit_p50_us")
            kp, np_ = row.metric("kaio", "submit_per_op_us"), row.metric("libaio", "submit_per_op_us")
            out.append({
                "target": "submit p99 ≤ 1/10 of native AIO's (cold buffered QD32)",
                "row": row.label,
                "measured": f"p99 {fmt_us(k)} vs {fmt_us(n)} (1/{n / k:.1f}); p50 {fmt_us(k50)} vs {fmt_us(n50)} "
                            f"(1/{n50 / k50:.1f}); per request {fmt_us(kp)} vs {fmt_us(np_)} (1/{np_ / kp:.1f})",
                "met": k * 10 <= n,
            })
    return out


def posix_bench_targets(rows):
    """Issue 14's first target in kaio-bench's rows: POSIX aio on kaio
    (libkaio-posix linked in) against glibc's, the same engine code, at
    QD32 on raw O_DIRECT and cold buffered random reads."""
    out = []
    for row in rows:
        f = row.first
        if "kaio-posix" not in row.engines or "posixaio" not in row.engines:
            continue
        if f["qd"] != 32 or f["rw"] != "read" or f["pattern"] != "rand":
            continue
        if not (f["direct"] or f["cache"] == "cold"):
            continue
        k, g = row.median["kaio-posix"], row.median["posixaio"]
        if g > 0:
            out.append({"target": "POSIX aio on kaio ≥ 3× glibc's POSIX aio", "row": row.label,
                        "measured": f"{k / g:.2f}× ({fmt_iops(k)} vs {fmt_iops(g)} IOPS)", "met": k >= 3 * g})
    return out


def posix_targets(fio_rows):
    """Issue 14's targets for POSIX aio on kaio, from the fio rows: fio's
    posixaio engine preloaded with libkaio-posix against the same engine on
    glibc (>= 3x at QD32 on raw O_DIRECT and cold buffered reads) and against
    fio's libaio engine on kaio's drop-in (within 10%, every row)."""
    out = []
    for fr in fio_rows:
        if "kaio-posix" not in fr.engines:
            continue
        k = fr.median["kaio-posix"]
        if fr.id in ("raw-qd32", "cold-qd32") and "posixaio" in fr.engines and fr.median["posixaio"] > 0:
            g = fr.median["posixaio"]
            out.append({"target": "POSIX aio on kaio ≥ 3× glibc's POSIX aio", "row": "fio-" + fr.id,
                        "measured": f"{k / g:.2f}× ({fmt_iops(k)} vs {fmt_iops(g)} IOPS)", "met": k >= 3 * g})
        if "kaio-compat" in fr.engines and fr.median["kaio-compat"] > 0:
            d = fr.median["kaio-compat"]
            out.append({"target": "POSIX aio on kaio within 10% of kaio's libaio drop-in", "row": "fio-" + fr.id,
                        "measured": f"{k / d:.2f}× ({fmt_iops(k)} vs {fmt_iops(d)} IOPS)", "met": k >= 0.9 * d})
    return out


# ---- text table for the terminal ------------------------------------------------

def print_table(rows):
    if not rows:
        return
    engines = [e for e in ENGINES if any(e in r.engines for r in rows)]
    w = max([len(r.label) for r in rows] + [5])
    print(f"{'row':<{w}}  {'best peer':>18}  " + "  ".join(f"{ENGINE_NAMES[e]:>19}" for e in engines))
    for row in rows:
        best = f"{row.best} {fmt_iops(row.median[row.best])}" if row.best else "-"
        cells = []
        for e in engines:
            if e not in row.engines:
                cells.append(f"{'-':>19}")
                continue
            lo, hi = row.ratio_range(e)
            cells.append(f"{fmt_ratio(row.ratio(e)):>7} ({lo:.2f}-{hi:.2f})")
        print(f"{row.label:<{w}}  {best:>18}  " + "  ".join(cells))
    print("ratio = median IOPS / best peer's median IOPS (per-repetition range);"
          " best peer = fastest of native AIO, io_uring, POSIX aio, psync")


def print_fio_table(fio_rows):
    engines = [e for e in FIO_ENGINES if any(e in r.engines for r in fio_rows)]
    w = max([len("fio-" + r.id) for r in fio_rows] + [5])
    print(f"{'fio row':<{w}}  {'best peer':>18}  " + "  ".join(f"{FIO_SHORT[e]:>19}" for e in engines))
    for row in fio_rows:
        best = f"{FIO_SHORT[row.best]} {fmt_iops(row.median[row.best])}" if row.best else "-"
        cells = [f"{fmt_cell_ratio(row, e).replace('–', '-'):>19}" for e in engines]
        print(f"{'fio-' + row.id:<{w}}  {best:>18}  " + "  ".join(cells))
    print("fio: ratio = median IOPS / best peer's (fastest of fio libaio on native AIO, io_uring,"
          " posixaio, psync); kaio drop-in = fio's libaio engine on kaio's libaio.so.1")
    for row in fio_rows:
        for e in FIO_KAIO:
            if e in row.engines and row.total(e, "submitted") == 0:
                print(f"fio-{row.id}: kaio's submitted counter did not move under {FIO_SHORT[e]}")
        leaks = [e for e in row.engines if e not in FIO_KAIO and row.total(e, "submitted")]
        if leaks:
            print(f"fio-{row.id}: kaio's submitted counter moved under " + ", ".join(leaks))


# ---- fio ------------------------------------------------------------------------

def fio_run_metrics(r):
    """One fio run's numbers. With --group_reporting fio reports all the
    run's jobs as jobs[0], their counts summed and their percentiles merged."""
    j = r["fio"]["jobs"][0]
    rd, wr = j.get("read", {}), j.get("write", {})
    ios = rd.get("total_ios", 0) + wr.get("total_ios", 0)
    # Latencies of the direction that did most of the requests (randrw:
    # the reads).
    main = wr if wr.get("total_ios", 0) > rd.get("total_ios", 0) else rd

    def pct(key, p):
        v = main.get(key, {}).get("percentile", {}).get(p)
        return float("nan") if v is None else v / 1000.0

    hz = r.get("clk_tck", 100)
    return {
        "iops": rd.get("iops", 0) + wr.get("iops", 0),
        "ios": ios,
        "slat50": pct("slat_ns", "50.000000"), "slat99": pct("slat_ns", "99.000000"),
        "clat50": pct("clat_ns", "50.000000"), "clat99": pct("clat_ns", "99.000000"),
        # /proc/stat busy jiffies over the whole fio run, all CPUs, per request.
        "busy": r["busy_ticks"] * 1e6 / hz / ios if ios and "busy_ticks" in r else float("nan"),
        "ctx": j.get("ctx", 0) / ios if ios else float("nan"),
        "submitted": r.get("kaio_submitted", 0),
    }


class FioRow:
    """One fio row: every engine's repetitions, like Row for kaio-bench."""

    def __init__(self, id_, runs, desc):
        self.id = id_
        self.desc = desc
        self.engines = [e for e in FIO_ENGINES if any(r["engine"] == e for r in runs)]
        self.by_engine = {e: [(r["rep"], fio_run_metrics(r)) for r in runs if r["engine"] == e]
                          for e in self.engines}
        # The module's counters over each engine's runs, summed.
        self.kaio_stats = {}
        for r in runs:
            sums = self.kaio_stats.setdefault(r["engine"], {})
            for k, v in (r.get("kaio_stats") or {}).items():
                sums[k] = sums.get(k, 0) + v
        self.median = {e: med([m["iops"] for _, m in ms]) for e, ms in self.by_engine.items()}
        peers = [e for e in self.engines if e in FIO_PEERS]
        self.best = max(peers, key=lambda e: self.median[e]) if peers else None

    def metric(self, engine, key):
        return med([m[key] for _, m in self.by_engine.get(engine, []) if m[key] == m[key]])

    def total(self, engine, key):
        return sum(m[key] for _, m in self.by_engine.get(engine, []))

    def iops_range(self, engine):
        values = [m["iops"] for _, m in self.by_engine[engine]]
        return min(values), max(values)

    def ratio(self, engine):
        if not self.best or self.median[self.best] <= 0:
            return float("nan")
        return self.median[engine] / self.median[self.best]

    def ratio_range(self, engine):
        """Per repetition: the engine's run against the best peer run of
        the same repetition."""
        out = []
        for rep in sorted({rep for ms in self.by_engine.values() for rep, _ in ms}):
            mine = [m["iops"] for r, m in self.by_engine[engine] if r == rep]
            peer = [m["iops"] for e in self.engines if e in FIO_PEERS
                    for r, m in self.by_engine[e] if r == rep]
            if mine and peer and max(peer) > 0:
                out.append(mine[0] / max(peer))
        return (min(out), max(out)) if out else (float("nan"), float("nan"))


def fio_summary(fio_runs, descs):
    return [FioRow(id_, [r for r in fio_runs if r["id"] == id_], descs.get("fio-" + id_, ""))
            for id_ in dict.fromkeys(r["id"] for r in fio_runs)]


def fmt_cell_ratio(row, e):
    if e not in row.engines:
        return "-"
    lo, hi = row.ratio_range(e)
    return f"{fmt_ratio(row.ratio(e))} ({lo:.2f}–{hi:.2f})"


# ---- plot ---------------------------------------------------------------------------

def plot(rows, png):
    """Clustered bars: each engine's IOPS / best peer's, per row, with the
    per-repetition range as error bars. Returns the error text or None."""
    if not rows:
        return "no kaio-bench rows in this run"
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return "gnuplot not installed (scripts/deps.sh installs gnuplot-nox)"
    engines = [e for e in ENGINES if any(e in r.engines for r in rows)]
    data = png + ".dat"
    with open(data, "w") as f:
        for row in rows:
            cols = [row.label]
            for e in engines:
                if e in row.engines:
                    lo, hi = row.ratio_range(e)
                    cols += [f"{row.ratio(e):.4f}", f"{lo:.4f}", f"{hi:.4f}"]
                else:
                    cols += ["0", "0", "0"]
            f.write(" ".join(cols) + "\n")
    plots = []
    for i, e in enumerate(engines):
        c = 2 + 3 * i
        xtic = ":xtic(1)" if i == 0 else ""
        plots.append(f"'{data}' using {c}:{c + 1}:{c + 2}{xtic} title '{ENGINE_NAMES[e]}'")
    script = f"""
set terminal pngcairo size 1200,520 font 'sans,10' noenhanced
set output '{png}'
set title 'IOPS relative to the best peer (fastest of native AIO, io_uring, POSIX aio, psync); bars: median of the repetitions, whiskers: range'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel 'IOPS / best peer IOPS'
set yrange [0:*]
set grid ytics
set key outside right top
set xtics rotate by -20 noenhanced
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb '#444444'
plot {', '.join(plots)}
"""
    proc = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
    os.unlink(data)
    if proc.returncode != 0:
        return "gnuplot failed: " + proc.stderr.strip()[:300]
    return None


# ---- the document -------------------------------------------------------------------

def host_info():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            info["cpu"] = m.group(1).strip() if m else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    info["cores"] = os.cpu_count()
    try:
        out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
        info["qemu"] = out.splitlines()[0] if out else "?"
    except OSError:
        info["qemu"] = "?"
    try:
        with open("/proc/meminfo") as f:
            m = re.search(r"^MemTotal:\s*(\d+)", f.read(), re.M)
            info["mem_gib"] = int(m.group(1)) / 1048576 if m else 0
    except OSError:
        info["mem_gib"] = 0
    return info


def write_doc(path, rows, fio_rows, machine, stats, cmds, times, wall, command, plot_error, probes):
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    host = host_info()
    engines = [e for e in ENGINES if any(e in r.engines for r in rows)]
    reps = max((r["rep"] for row in rows for r in row.runs), default=0)
    runtime = rows[0].first["runtime"] if rows else 0
    if not rows:  # a fio-only run: its own repetitions, the guest's runtime
        reps = max((rep for fr in fio_rows for ms in fr.by_engine.values() for rep, _ in ms), default=0)
        runtime = float(machine.get("runtime", "0").split()[0] or 0)
    L = []
    add = L.append
    add("# kaio performance")
    add("")
    add(f"Generated by `{command}` on {datetime.date.today().isoformat()} "
        "(scripts/bench.sh, scripts/guest/bench.sh, scripts/bench-report.py); "
        "regenerated from scratch on every run, so edit those, not this file. "
        "The analysis section is scripts/bench-analysis.md.")
    add("")
    add("Everything kernel-side ran in one QEMU **TCG** guest (no KVM): every "
        "instruction is emulated, so absolute numbers are 1–2 orders of magnitude "
        "below real hardware and CPU-bound, and the host's other load shows up as "
        "noise. Only **ratios between engines measured in the same guest run** "
        "mean something. Each engine ran each workload "
        f"{reps} times, {runtime:g} s per run; the engines were interleaved (repetition *r* "
        "runs them in an order rotated by *r*), so a slow spell of the host hits "
        "all of them.")
    add("")
    # A fio-only run (kaio.bench_rows='fio-*') has no kaio-bench rows.
    if rows:
        add("## Summary: IOPS relative to the best peer")
        add("")
        add("*Ratio* = the engine's median IOPS / the best peer's median IOPS, where the "
            "**best peer** is the fastest of native AIO (libaio), io_uring (liburing), "
            "glibc POSIX aio and psync for that row. In brackets: the same ratio per "
            "repetition (min–max), each run against the best peer's run of the same "
            "repetition.")
        add("")
        add("| workload | best peer (median IOPS) | " + " | ".join(ENGINE_NAMES[e] for e in engines) + " |")
        add("| --- | --- | " + " | ".join("---" for _ in engines) + " |")
        for row in rows:
            cells = []
            for e in engines:
                if e not in row.engines:
                    cells.append("-")
                    continue
                lo, hi = row.ratio_range(e)
                cell = f"{fmt_ratio(row.ratio(e))} ({lo:.2f}–{hi:.2f})"
                cells.append(f"**{cell}**" if e == "kaio" else cell)
            best = f"{ENGINE_NAMES[row.best]} ({fmt_iops(row.median[row.best])})" if row.best else "-"
            add(f"| `{row.label}`: {row.desc} | {best} | " + " | ".join(cells) + " |")
        add("")
        if plot_error:
            add(f"(No plot: {plot_error}.)")
        else:
            add("![IOPS relative to the best peer](performance.png)")
        add("")

        add("## Targets")
        add("")
        add("| target | row | measured (medians) | |")
        add("| --- | --- | --- | --- |")
        for t in targets(rows) + posix_targets(fio_rows) + posix_bench_targets(rows):
            add(f"| {t['target']} | `{t['row']}` | {t['measured']} | {'met' if t['met'] else '**missed**'} |")
        add("")
        add("CPU/op (process) is getrusage(RUSAGE_SELF) user+sys over the operations: "
            "it counts the benchmark's threads, glibc's aio threads and io_uring's io-wq "
            "workers, but not kernel worker threads, where kaio's retries and punts run. "
            "CPU/op (all CPUs) is the busy time of every guest CPU (/proc/stat: all but "
            "idle and iowait) over the operations; nothing else runs in the guest, so it "
            "charges each engine everything it caused, kworkers and interrupts included.")
        add("")

        analysis = os.path.join(top, "scripts", "bench-analysis.md")
        if os.path.exists(analysis):
            with open(analysis) as f:
                add(f.read().rstrip())
            add("")

        add("## Rows in detail")
        add("")
        add("Medians over the repetitions. *submit*: time inside one submit call "
            "(io_submit, io_uring_submit, kaio's SUBMIT ioctl, the aio_read calls of a "
            "batch; for psync the pread itself), per call; *batch*: requests per submit "
            "call (every completion reaped is refilled, and the refills go in one call); "
            "*per req*: total time in submit calls / requests; *latency*: from entering "
            "the submit call to reaping the completion.")
        # Which calls kaio-bench measured for sleeps; logs from before it
        # counted them have no such field.
        sampled = next((r for row in rows for r in row.runs if "submit_sleep_every" in r), None)
        if sampled:
            add("*sleeps/submit*: how often the submitting thread slept inside a submit call, "
                "i.e. its voluntary context switches over the call (getrusage(RUSAGE_THREAD) "
                "ru_nvcsw before and after), per call measured; calls measured: one in "
                f"{sampled['submit_sleep_every']} of each thread, and any that starts "
                f"{sampled.get('submit_sleep_gap_ms', 10):g} ms or more after the thread's last "
                "measured one (getrusage is a syscall of its own, dear under TCG, so not around "
                "every cheap call); in brackets, how many per run. psync's submit is the whole "
                "pread, so its sleeps include the wait for the device.")
        else:
            add("*sleeps/submit*: not counted by the kaio-bench of this run.")
        add("")
        for row in rows:
            add(f"### `{row.label}`: {row.desc}")
            add("")
            if row.label in cmds:
                add("```")
                add(cmds[row.label])
                add("```")
                add("")
            add("| engine | IOPS (min–max) | ratio | MiB/s | submit p50 / p99 | batch | per req | "
                "sleeps/submit | latency p50 / p99 / p99.9 | CPU/op process | CPU/op all CPUs |")
            add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for e in row.engines:
                lo, hi = row.iops_range(e)
                m = lambda k: row.metric(e, k)
                name = f"**{ENGINE_NAMES[e]}**" if e == "kaio" else ENGINE_NAMES[e]
                add(f"| {name} | {fmt_iops(row.median[e])} ({fmt_iops(lo)}–{fmt_iops(hi)}) | {fmt_ratio(row.ratio(e))} | "
                    f"{m('mib_s'):.1f} | {fmt_us(m('submit_p50_us'))} / {fmt_us(m('submit_p99_us'))} | "
                    f"{m('submit_batch'):.1f} | {fmt_us(m('submit_per_op_us'))} | {fmt_sleeps(row, e)} | "
                    f"{fmt_us(m('lat_p50_us'))} / {fmt_us(m('lat_p99_us'))} / {fmt_us(m('lat_p999_us'))} | "
                    f"{m('cpu_us_per_op'):.0f} µs | {m('busy_us_per_op'):.0f} µs |")
            add("")
            paths = row.kaio_paths()
            if paths:
                ops = sum(r["ops"] for r in row.by_engine["kaio"])
                words = [f"{k.replace('path_', '')} {paths[k]}" for k in
                         ("path_inline", "path_async", "path_retry", "path_worker") if paths.get(k)]
                add(f"How kaio served its {ops} requests (io_event.res2, all repetitions): "
                    + (", ".join(words) if words else "-")
                    + f"; page-wait arms {paths.get('page_wait_arms', 0)}, retries {paths.get('retries', 0)}, "
                      f"worker attempts {paths.get('worker', 0)}.")
                add("")
            if row.label in stats and stats[row.label]:
                add("Module-wide counters over the row (/sys/kernel/debug/kaio/stats): "
                    + ", ".join(f"{k} {v}" for k, v in stats[row.label].items()) + ".")
                add("")

    add("## Measured by the real client: fio")
    add("")
    if not fio_rows:
        add("fio did not run in this guest run (kaio.bench_fio=0).")
    else:
        fio_reps = max((rep for fr in fio_rows for ms in fr.by_engine.values() for rep, _ in ms), default=0)
        add("Debian's fio 3.33, unchanged, on the same guest, every engine interleaved per "
            f"repetition like kaio-bench ({fio_reps} repetitions, the order rotated each time). "
            "The subject is fio's **libaio engine on kaio**: the same binary with kaio's "
            "libaio-compatible library first (`LD_LIBRARY_PATH=/kaio/lib/compat`). Its peers: "
            "fio's libaio engine on native AIO, io_uring, posixaio (glibc) and psync. The async "
            "engines run one job at iodepth QD (the two-thread rows: 2 jobs at QD/2); psync runs "
            "QD jobs, its only way to keep QD requests in flight; `--group_reporting` sums them. "
            "fio's defaults otherwise: one io_submit per request (iodepth_batch=1), "
            "io_getevents for at least one completion.")
        add("")
        add("*Ratio* = median IOPS (reads + writes) / the best peer's median IOPS, the best peer "
            "being the fastest of native AIO, io_uring, posixaio and psync in that row; in brackets "
            "the same ratio per repetition (min–max). *slat*: fio's time inside the submit call "
            "(async engines only). *clat*: submission to completion (randrw: the reads). "
            "*CPU/op all CPUs*: the busy time of every guest CPU (/proc/stat: all but idle and "
            "iowait) over the fio run, per request; nothing else runs in the guest, so it charges "
            "each engine everything it caused, kworkers and interrupts included. It also counts "
            "fio's own start-up and exit (parsing, forking the jobs, invalidating the file), "
            "which the short runs of a TCG guest do not amortise (roughly half a second of CPU "
            "per run in a trial with 0.3 s runs): compare it between engines of one row, not as an "
            "absolute cost, and psync's many jobs pay more of it. *ctx/op*: fio's "
            "context switches per request, as fio counts them (getrusage of its job threads, "
            "voluntary and involuntary, over the whole run, not only inside submit). "
            "*kaio SUBMITs*: the module's `submitted` counter over the runs: non-zero only "
            "where the requests really went through kaio.")
        add("")
        engines = [e for e in FIO_ENGINES if any(e in r.engines for r in fio_rows)]
        add("| fio row | best peer (median IOPS) | " + " | ".join(FIO_SHORT[e] for e in engines) + " |")
        add("| --- | --- | " + " | ".join("---" for _ in engines) + " |")
        for fr in fio_rows:
            cells = [f"**{fmt_cell_ratio(fr, e)}**" if e in FIO_KAIO and e in fr.engines
                     else fmt_cell_ratio(fr, e) for e in engines]
            best = f"{FIO_SHORT[fr.best]} ({fmt_iops(fr.median[fr.best])})" if fr.best else "-"
            add(f"| `fio-{fr.id}`: {fr.desc} | {best} | " + " | ".join(cells) + " |")
        add("")
        for fr in fio_rows:
            add(f"### `fio-{fr.id}`" + (f": {fr.desc}" if fr.desc else ""))
            add("")
            if "fio-" + fr.id in cmds:
                add("```")
                add(cmds["fio-" + fr.id])
                add("```")
                add("")
            add("| fio engine | IOPS (min–max) | ratio | slat p50 / p99 | clat p50 / p99 | "
                "CPU/op all CPUs | ctx/op | kaio SUBMITs |")
            add("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for e in fr.engines:
                lo, hi = fr.iops_range(e)
                m = lambda k: fr.metric(e, k)
                name = f"**{FIO_NAMES[e]}**" if e in FIO_KAIO else FIO_NAMES[e]
                busy = m("busy")
                add(f"| {name} | {fmt_iops(fr.median[e])} ({fmt_iops(lo)}–{fmt_iops(hi)}) | "
                    f"{fmt_ratio(fr.ratio(e))} | {fmt_us(m('slat50'))} / {fmt_us(m('slat99'))} | "
                    f"{fmt_us(m('clat50'))} / {fmt_us(m('clat99'))} | "
                    f"{'-' if busy != busy else f'{busy:.0f} µs'} | {fmt_ctx(m('ctx'))} | "
                    f"{fr.total(e, 'submitted')} |")
            add("")
            for e in FIO_KAIO:
                counters = fr.kaio_stats.get(e)
                if counters:
                    add(f"Module-wide counters over the runs of {FIO_NAMES[e]} "
                        "(/sys/kernel/debug/kaio/stats): "
                        + ", ".join(f"{k} {v}" for k, v in counters.items()) + ".")
                    add("")
            if "kaio-compat" not in fr.engines:
                add("kaio's libaio.so.1 was not built when this ran, so fio ran on native AIO only.")
                add("")

    if probes:
        add("## Probes")
        add("")
        add("From the same guest run (`kaio.bench_probe=1`, scripts/guest/bench-probe.sh): "
            "tracepoints, kretprobes and perf behind the analysis above.")
        add("")
        add("```")
        for p in probes:
            add(p)
        add("```")
        add("")

    add("## Machine and command")
    add("")
    add(f"- Command: `{command}` (in the repository root); it boots the guest with "
        "`scripts/run-guest.sh bench`, which runs `scripts/guest/bench.sh`, and writes this "
        f"file with `scripts/bench-report.py`"
        + ("" if command == "make bench" else "; `make bench` runs the same matrix (without the probes "
           "unless given kaio.bench_probe=1)")
        + f". Took {wall // 60:.0f} min {wall % 60:.0f} s"
        + (f" (guest uptime at the end of the last row: {max(t.get('end', 0) for t in times.values()):.0f} s)"
           if times else "") + ".")
    add(f"- Host: {host['cpu']}, {host['cores']} cores, {host['mem_gib']:.0f} GiB; {host['qemu']}.")
    add(f"- Guest: QEMU TCG (`-accel tcg -cpu max -smp 2 -m 4G`), "
        f"{machine.get('guest_cpus', '?')} vCPUs ({machine.get('guest_cpu_model', '?')}), "
        f"{int(machine.get('guest_mem_kb', '0')) / 1048576:.1f} GiB memory, "
        f"Debian kernel {machine.get('kernel', '?')}, clocksource {machine.get('clocksource', '?')}, "
        "booted without slub_debug (the test modes' allocator checking would charge every "
        "allocation).")
    add(f"- Devices: null_blk, memory-backed, timer completions after "
        f"{int(machine.get('null_blk_completion_ns', '0')) // 1000} µs (`kaio.lat_ns`), "
        f"the slow one after {int(machine.get('slow_null_blk_completion_ns', '0') or 0) // 1000} µs "
        "(`kaio.slow_lat_ns`); "
        "ext4 and xfs made on their own null_blk devices at boot; the benchmark files are "
        "256 MiB, written once before their first row.")
    add("- kaio-bench: static (libkaio++, liburing.a, libaio.a — the system's libaio, so its "
        "native AIO engine never picks up kaio's compat library), one process per row; each "
        "engine's context is set up before the run's clock starts. kaio reaps completions from "
        "its mapped ring and waits in GETEVENTS; native AIO's io_getevents always enters the "
        "kernel; io_uring reaps from its CQ ring. POSIX aio is glibc's (a thread pool that "
        "runs one request at a time per file descriptor). psync runs QD threads.")
    add("")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--doc")
    ap.add_argument("--wall", type=float, default=0)
    ap.add_argument("--command", default="make bench")
    args = ap.parse_args()

    runs, fio_runs, machine, stats, cmds, times, results, probes, descs = parse_log(args.log)
    if not runs and not fio_runs:
        print(f"bench-report: no kaio-bench or fio results in {args.log}", file=sys.stderr)
        return 1
    rows = group_rows(runs)
    fio_rows = fio_summary(fio_runs, descs)
    print_table(rows)
    if fio_rows:
        print()
        print_fio_table(fio_rows)
    print()
    for t in targets(rows) + posix_targets(fio_rows) + posix_bench_targets(rows):
        print(f"{'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['row']}: {t['measured']}")
    for p in probes:
        print("probe: " + p)
    failed = [r for r in results if r.startswith("not ok")]
    if args.doc:
        plot_error = plot(rows, os.path.splitext(args.doc)[0] + ".png")
        write_doc(args.doc, rows, fio_rows, machine, stats, cmds, times, args.wall, args.command, plot_error,
                  probes)
        print(f"bench-report: wrote {args.doc}" + (f" ({plot_error})" if plot_error else " and its plot"))
    for r in failed:
        print("bench-report: " + r, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
