"""Benchmark start-up: whole-process time of short commands against a bare Python import of their floor.

Usage::

    python benchmarks/bench_startup.py [--pairs 15] [--out benchmarks/results/startup.md]

Each case is a pair (a bare ``python -c "import ..."`` and the ``trainlog-doctor`` command), run one after
the other ``--pairs`` times in alternating order, so both see the same machine load. Per pair the ratio
of wall times (and of CPU times, user + system from ``wait4``) is taken; the table gives the medians.
Targets (issue "Speed and memory to the floor"): one small CSV at most 1.6x ``import polars, numpy``;
``--help`` and ``rules`` at most 1.2x ``import click``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The installed console script (what users run), else ``python -m trainlog_doctor``.
_SCRIPT = Path(sys.executable).with_name("trainlog-doctor")
TOOL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "trainlog_doctor"]

SMALL_CSV = (
    "epoch,loss,accuracy,val_loss,val_accuracy\n0,1.2,0.41,1.3,0.40\n1,0.9,0.55,1.0,0.52\n"
    "2,0.7,0.66,0.8,0.62\n3,0.6,0.71,0.75,0.66\n4,0.55,0.74,0.72,0.68\n"
)


@dataclass(frozen=True)
class Case:
    name: str
    floor: list[str]
    command: list[str]
    target: float


def _timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one whole process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(case: Case, pairs: int) -> dict[str, float]:
    _timed(case.floor), _timed(case.command)  # warm the disk cache
    wall_ratios, cpu_ratios, floors, commands = [], [], [], []
    for i in range(pairs):
        order = (case.floor, case.command) if i % 2 == 0 else (case.command, case.floor)
        timings = {id(argv): _timed(argv) for argv in order}
        (fw, fc), (cw, cc) = timings[id(case.floor)], timings[id(case.command)]
        wall_ratios.append(cw / fw)
        cpu_ratios.append(cc / fc)
        floors.append(fw)
        commands.append(cw)
    return {
        "floor_s": statistics.median(floors),
        "command_s": statistics.median(commands),
        "wall_ratio": statistics.median(wall_ratios),
        "cpu_ratio": statistics.median(cpu_ratios),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "startup.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "training.log.csv"
        csv.write_text(SMALL_CSV)
        cases = [
            Case("`analyze` one 5-line Keras CSV", [sys.executable, "-c", "import polars, numpy"],
                 [*TOOL, "analyze", str(csv), "--fail-on", "never"], 1.6),
            Case("`--help`", [sys.executable, "-c", "import click"], [*TOOL, "--help"], 1.2),
            Case("`rules`", [sys.executable, "-c", "import click"], [*TOOL, "rules"], 1.2),
        ]
        rows = [(c, measure(c, args.pairs)) for c in cases]
    load = os.getloadavg()[0]
    lines = [
        "# Start-up benchmark",
        "",
        f"`python benchmarks/bench_startup.py --pairs {args.pairs}`: medians over {args.pairs} alternating pairs; "
        f"load average {load:.1f} at the end; Python {sys.version.split()[0]}.",
        "",
        "| command | floor | floor s | command s | wall ratio | CPU ratio | target | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c, r in rows:
        met = "yes" if r["wall_ratio"] <= c.target else "**no**"
        floor = "`python -c \"" + c.floor[-1] + "\"`"
        lines.append(
            f"| {c.name} | {floor} | {r['floor_s']:.3f} | {r['command_s']:.3f} | "
            f"{r['wall_ratio']:.2f} | {r['cpu_ratio']:.2f} | {c.target} | {met} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
