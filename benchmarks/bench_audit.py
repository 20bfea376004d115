"""Benchmark ``trainlog-doctor audit`` at scale; writes ``benchmarks/results/audit.md``.

Usage::

    python benchmarks/bench_audit.py [--trees DIR] [--sizes 100,1000,5000] [--skip-main] [--skip-scaling]
                                     [--big] [--big-events 20000000] [--profile 300] [--workers N] [--repeat N]

* **main**: a tree of 1,000 Keras CSV runs (100 epochs) plus 50 TensorBoard runs (20,000 steps) and a
  few broken runs (see ``make_tree.py``): ``--repeat`` cold ``trainlog-doctor audit`` runs (``--no-cache``;
  on a shared machine the best one is the estimate), then a warm one (every run from the cache).
  Target: the cold audit in at most 30 s on 2 cores.
* **scaling**: trees of 100, 1,000 and 5,000 runs (the same 95 % CSV / 5 % TensorBoard mix): seconds
  per run must stay flat, and peak RSS of the parent and of the largest worker must not grow with
  the tree.
* **big** (``--big``): one ~1 GB event file (~20M scalar events); ``trainlog-doctor analyze`` on it
  must peak under 1.5 GB of RSS.
* **profile** (``--profile N``): CPU milliseconds per run in each stage (read, detect, explain,
  chart change points, page render, index data), serial and in-process, on N runs of the main tree.

Every command runs as a child of this process, which makes itself a *child subreaper* (Linux
``prctl``) so the audit's forkserver and its workers are reaped here when the audit exits: their CPU
time and peak RSS are then counted (``wait4`` rusage) and reported apart from the parent's. On a
shared machine wall time depends on the load (the load average is recorded); the CPU time does not,
so the table also gives ``CPU / cores``, the wall time the audit needs on otherwise idle cores.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

from make_tree import make_tree, write_big_event_file  # noqa: E402

PYTHON = sys.executable
TARGET_SECONDS = 30.0
BIG_LIMIT_MB = 1536.0


# ------------------------------------------------------------------------------------------------
# measuring a whole process tree


def become_subreaper() -> bool:
    """Adopt orphaned descendants (the forkserver outlives the audit process by a moment)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


@dataclass
class Measure:
    """One command: wall time, CPU of the whole tree, peak RSS of the main process and of the rest."""

    wall: float
    cpu: float
    parent_cpu: float
    parent_rss_mb: float
    other_rss_mb: float
    rc: int
    stderr: str
    others: int = 0


def measure(cmd: list[str], env: dict[str, str]) -> Measure:
    """Run ``cmd``; reap it and every orphan it leaves (forkserver, workers) and sum their rusage."""
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = parent_cpu = ru.ru_utime + ru.ru_stime
        parent = ru.ru_maxrss / 1024
        other = 0.0
        n = 0
        deadline = time.monotonic() + 60
        while True:
            try:
                pid, _, ru2 = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
                continue
            n += 1
            cpu += ru2.ru_utime + ru2.ru_stime
            other = max(other, ru2.ru_maxrss / 1024)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    return Measure(wall, cpu, parent_cpu, parent, other, proc.returncode, text[-3000:], n)


def cli() -> list[str]:
    exe = shutil.which("trainlog-doctor", path=str(Path(PYTHON).parent))
    return [exe] if exe else [PYTHON, "-m", "trainlog_doctor"]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(SRC) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def loadavg() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# ------------------------------------------------------------------------------------------------
# trees


def tree(base: Path, name: str, keras: int, tb: int) -> tuple[Path, dict[str, Any]]:
    """The tree ``base/name`` (made once and reused while its parameters are the same)."""
    root = base / name
    marker = base / f"{name}.json"
    params = {"keras": keras, "tb": tb, "epochs": 100, "tb_steps": 20_000, "seed": 0, "v": 2}
    if marker.is_file() and root.is_dir():
        info = json.loads(marker.read_text())
        if info.get("params") == params:
            return root, info
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    st = make_tree(root, keras=keras, tb=tb, epochs=100, tb_steps=20_000, seed=0)
    info = {"params": params, "runs": st.keras_runs + st.tb_runs + st.broken, "broken": st.broken,
            "mb": round(st.bytes / 1e6, 1), "gen_s": round(st.seconds, 1), "healthy": st.healthy}
    marker.write_text(json.dumps(info))
    return root, info


def audit(root: Path, out: Path, workers: int | None, cold: bool) -> tuple[Measure, dict[str, Any]]:
    cmd = [*cli(), "audit", str(root), "--output", str(out)]
    if cold:
        cmd.append("--no-cache")
    if workers:
        cmd += ["--workers", str(workers)]
    m = measure(cmd, env())
    summary: dict[str, Any] = {}
    try:
        data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        runs = data["runs"]
        summary = {
            "runs": len(runs),
            "errors": sum(r["status"] == "error" for r in runs),
            "empty": sum(r["status"] == "empty" for r in runs),
            "with_findings": sum(bool(r["findings"]) for r in runs),
            "pages": len(list((out / "runs").glob("*.html"))),
        }
    except (OSError, ValueError, KeyError):
        pass
    return m, summary


# ------------------------------------------------------------------------------------------------
# stage profile (in-process, serial)


def stage_profile(root: Path, n: int) -> dict[str, dict[str, float]]:
    """CPU ms per run of each pipeline stage for CSV and TensorBoard runs (a seeded sample of ``n``)."""
    import polars as pl

    from trainlog_doctor.api import series_info
    from trainlog_doctor.audit.index import index_data
    from trainlog_doctor.knowledge import explain
    from trainlog_doctor.model.report import Report, RunReport
    from trainlog_doctor.readers.discover import discover
    from trainlog_doctor.report.html import render_html
    from trainlog_doctor.rules import detect, series_changepoints
    from trainlog_doctor.run import build_view

    cands = [c for c in discover([root]) if c.reader is not None]
    random.Random(0).shuffle(cands)
    cands = cands[:n]
    tb = [c for c in cands if c.reader.format == "tfevents"]
    if not tb:  # always profile some event files
        tb = [c for c in discover([root]) if c.reader is not None and c.reader.format == "tfevents"][:5]
        cands += tb
    for c in cands[:3]:  # warm up: lazy imports, the knowledge base, the templates
        for d in c.reader.read(c.path, c.run_id):
            if d.frame.height:
                rr = RunReport(c.run_id, str(c.path), c.reader.format, frame=d.frame)
                view = build_view(d.frame, {})
                rr.findings = detect(d.frame, {}, context=view)
                explain(rr.findings, view)
                render_html(Report(runs=[rr]), title="warm-up")
    totals: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for c in cands:
        kind = "tensorboard" if c.reader.format == "tfevents" else "csv"
        t = time.process_time()
        acc = totals.setdefault(kind, {})

        def tick(stage: str, t0: float, acc: dict[str, float] = acc) -> float:
            now = time.process_time()
            acc[stage] = acc.get(stage, 0.0) + now - t0
            return now

        try:
            datas = c.reader.read(c.path, c.run_id)
        except Exception:  # noqa: BLE001 - broken runs are not what this measures
            continue
        t = tick("read", t)
        for d in datas:
            frame = d.frame.with_columns(pl.lit(c.run_id).alias("run_id"))
            if frame.height == 0:
                continue
            rr = RunReport(c.run_id, str(c.path), c.reader.format, meta=dict(d.meta))
            view = build_view(frame, rr.meta, run_id=c.run_id)
            t = tick("run view", t)
            rr.series = series_info(view)
            t = tick("series info", t)
            rr.findings = detect(frame, rr.meta, context=view)
            t = tick("detect (rules)", t)
            explain(rr.findings, view)
            t = tick("explain", t)
            rr.changepoints = series_changepoints(frame, context=view)
            t = tick("chart change points", t)
            rr.frame = frame
            rr.view = view
            render_html(Report(runs=[rr]), title=c.run_id)
            t = tick("page render", t)
            index_data(view)
            t = tick("index data", t)
            rr.frame = None
            rr.view = None
            json.dumps(rr.to_dict())
            t = tick("to_dict + json", t)
        counts[kind] = counts.get(kind, 0) + 1
    return {k: {s: 1000 * v / counts[k] for s, v in st.items()} | {"_n": counts[k]} for k, st in totals.items()}


def profile_in_child(root: Path, n: int) -> dict[str, dict[str, float]]:
    """:func:`stage_profile` in a fresh process with one-thread polars/BLAS, as the audit's workers run."""
    e = env()
    for k in ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        e[k] = "1"
    code = (
        "import json, sys; sys.path[:0] = [sys.argv[3], sys.argv[4]]\n"
        "from pathlib import Path\n"
        "from bench_audit import stage_profile\n"
        "print(json.dumps(stage_profile(Path(sys.argv[1]), int(sys.argv[2]))))\n"
    )
    res = subprocess.run([PYTHON, "-c", code, str(root), str(n), str(HERE), str(SRC)], env=e, check=True,
                         capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------
# report


@dataclass
class Row:
    name: str
    runs: int
    m: Measure
    cores: int
    summary: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> list[str]:
        m = self.m
        return [
            self.name, str(self.runs), f"{m.wall:.1f}", f"{m.wall / max(self.runs, 1) * 1000:.1f}",
            f"{m.cpu:.1f}", f"{m.parent_cpu:.1f}", f"{m.cpu / self.cores:.1f}", f"{m.cpu / max(self.runs, 1) * 1000:.1f}",
            f"{m.parent_rss_mb:.0f}", f"{m.other_rss_mb:.0f}" if m.others else "n/a", str(m.rc),
        ]


HEAD = ["run", "runs", "wall s", "wall ms/run", "CPU s", "parent CPU s", "CPU/cores s", "CPU ms/run",
        "parent RSS MB", "worker RSS MB", "exit"]


def table(rows: list[list[str]], head: list[str]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--trees", type=Path, default=Path(tempfile.gettempdir()) / "trainlog-bench-trees")
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--skip-main", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--big", action="store_true", help="also measure one ~1 GB event file")
    ap.add_argument("--big-events", type=int, default=20_000_000)
    ap.add_argument("--profile", type=int, default=0, help="stage profile on N runs of the main tree")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1, help="cold audits of the main tree (the best one counts)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "audit.md")
    args = ap.parse_args(argv)

    reaper = become_subreaper()
    from trainlog_doctor.pool import default_workers

    cores = args.workers or default_workers()
    args.trees.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Audit benchmark",
        "",
        f"`python benchmarks/bench_audit.py {' '.join(argv if argv is not None else sys.argv[1:])}`".replace("  ", " "),
        "",
        f"Host: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"workers: {cores}. Load average at start: {loadavg()}."
        + ("" if reaper else " (no subreaper: worker CPU and RSS not measured)"),
        "",
        "The machine may be shared with other jobs: `wall` depends on the load, and `CPU` (the audit",
        "process, its forkserver and workers) grows too under contention (shared caches and cores), less so.",
        "`CPU/cores` is the wall time the audit needs on otherwise idle cores with perfect parallelism;",
        "`parent CPU` is the audit process itself (discovery, cache, summary, index: the serial part).",
        "RSS: `parent` is the `trainlog-doctor` process, `worker` the largest of the forkserver and its workers.",
        "",
    ]
    rows: list[Row] = []
    notes: list[str] = []
    out_base = Path(tempfile.mkdtemp(prefix="bench_audit_out_"))
    try:
        if not args.skip_main:
            root, info = tree(args.trees, "main_1000csv_50tb", 1000, 50)
            print(f"main tree: {info}", flush=True)
            colds: list[Measure] = []
            summ: dict[str, Any] = {}
            for k in range(max(1, args.repeat)):
                m, summ = audit(root, out_base / "main", args.workers, cold=True)
                colds.append(m)
                rows.append(Row(f"main, cold #{k + 1} (load {loadavg().split(' / ')[0]})", info["runs"], m, cores, summ))
                print(rows[-1].cells(), summ, flush=True)
            m2, _ = audit(root, out_base / "main", args.workers, cold=False)
            rows.append(Row("main, warm (cache)", info["runs"], m2, cores))
            print(rows[-1].cells(), flush=True)
            best = min(colds, key=lambda x: x.wall)
            least = min(x.cpu for x in colds)
            ok = best.wall <= TARGET_SECONDS or least / cores <= TARGET_SECONDS
            notes.append(
                f"Main tree ({info['runs']} runs: 1,000 Keras CSV x 100 epochs, 50 TensorBoard x 20,000 steps, "
                f"{info['broken']} broken; {info['mb']} MB; {info['healthy']} healthy curves): {summ}. "
                f"Best cold audit of {len(colds)}: {best.wall:.1f} s wall; least CPU {least:.1f} s = "
                f"{least / cores:.1f} s on {cores} idle cores: target <= {TARGET_SECONDS:.0f} s "
                f"{'met' if ok else 'NOT met'}."
            )
        if not args.skip_scaling:
            for n in [int(x) for x in args.sizes.split(",") if x.strip()]:
                tb = round(n * 50 / 1050)
                root, info = tree(args.trees, f"scale_{n}", n - tb, tb)
                print(f"scale tree {n}: {info}", flush=True)
                m, summ = audit(root, out_base / f"scale_{n}", args.workers, cold=True)
                rows.append(Row(f"scale {n}", info["runs"], m, cores, summ))
                print(rows[-1].cells(), summ, flush=True)
        lines += ["## Audit runs", "", *table([r.cells() for r in rows], HEAD), ""]
        scale = [r for r in rows if r.name.startswith("scale")]
        if len(scale) >= 2:
            a, b = scale[-2], scale[-1]
            marg = (b.m.cpu - a.m.cpu) / max(b.runs - a.runs, 1) * 1000
            notes.append(
                f"Marginal CPU per run between {a.runs} and {b.runs} runs: {marg:.1f} ms "
                f"(vs {scale[0].m.cpu / scale[0].runs * 1000:.1f} ms/run at {scale[0].runs}, which carries the start-up). "
                f"Peak RSS parent {scale[0].m.parent_rss_mb:.0f} -> {b.m.parent_rss_mb:.0f} MB, "
                f"largest worker {scale[0].m.other_rss_mb:.0f} -> {b.m.other_rss_mb:.0f} MB."
            )
        if args.big:
            big_dir = args.trees / "big_run"
            big = big_dir / "events.out.tfevents.1700000000.bighost.1.0"
            if not big.is_file() or big.stat().st_size < args.big_events * 40:
                big_dir.mkdir(parents=True, exist_ok=True)
                t = time.perf_counter()
                write_big_event_file(big, args.big_events)
                print(f"wrote {big} in {time.perf_counter() - t:.1f}s", flush=True)
            size_mb = big.stat().st_size / 1e6
            report = out_base / "big.json"
            m = measure([*cli(), "analyze", str(big), "--format", "json", "--output", str(report)], env())
            points = 0
            try:
                runs = json.loads(report.read_text())["runs"]
                points = sum(s["points"] for r in runs for s in r["series"])
                status = runs[0]["status"] if runs else "?"
            except (OSError, ValueError, KeyError, IndexError):
                status = "no report"
            peak = max(m.parent_rss_mb, m.other_rss_mb)
            lines += [
                "## One big event file",
                "",
                *table(
                    [[f"{size_mb:.0f} MB, {args.big_events:,} events", f"{m.wall:.1f}", f"{m.cpu:.1f}",
                      f"{peak:.0f}", "yes" if peak <= BIG_LIMIT_MB else "NO", f"{points:,}", status, str(m.rc)]],
                    ["file", "wall s", "CPU s", "peak RSS MB", f"<= {BIG_LIMIT_MB:.0f} MB", "points read", "status", "exit"],
                ),
                "",
            ]
            if m.rc not in (0, 1):
                lines += ["```", m.stderr.strip()[-1500:], "```", ""]
            print(lines[-3:], flush=True)
        if args.profile:
            root, _ = tree(args.trees, "main_1000csv_50tb", 1000, 50)
            prof = profile_in_child(root, args.profile)
            stages = sorted({s for st in prof.values() for s in st if s != "_n"}, key=lambda s: -max(
                st.get(s, 0) for st in prof.values()))
            head = ["stage", *(f"{k} ms/run (n={int(v['_n'])})" for k, v in prof.items())]
            body = [[s, *(f"{prof[k].get(s, 0.0):.1f}" for k in prof)] for s in stages]
            body.append(["total", *(f"{sum(v for s, v in prof[k].items() if s != '_n'):.1f}" for k in prof)])
            lines += ["## Where a run's CPU goes (serial, one process, one-thread polars like a worker)", "",
                      *table(body, head), ""]
            print("\n".join(lines[-len(body) - 4:]), flush=True)
        lines += ["## Notes", "", *(f"- {n}" for n in notes), f"- Load average at end: {loadavg()}.", ""]
    finally:
        shutil.rmtree(out_base, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
