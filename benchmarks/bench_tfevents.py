"""Benchmark the TensorBoard event-file reader against tbparse, whole process.

Usage: ``python benchmarks/bench_tfevents.py [--events 1000000] [--out DIR] [--skip-tbparse]``

Writes one event file of ``--events`` scalar events over 4 tags (``add_scalar(tag, v, step)`` for each
tag at every step, as a training loop with torch ``SummaryWriter`` does) into a temporary directory (or
``--out``). With torch installed the file is written by ``torch.utils.tensorboard.SummaryWriter``;
otherwise tensorboard's own ``EventFileWriter`` writes the ``file_version`` header and the scalar records
are appended with the same TFRecord framing and the same ``Event`` bytes SummaryWriter produces
(``wall_time``, ``step`` (omitted when 0), ``summary.value[0] = {tag, simple_value}``); the first
records are checked byte for byte against ``Event.SerializeToString()``.

Then it times, each in a fresh subprocess (wall time, events/s, peak RSS from the child's rusage):

* ``tbparse.SummaryReader(DIR).scalars``
* ``trainlog-doctor analyze DIR --format json --output FILE`` (the whole product: discovery, reading,
  rules, report; falls back to ``python -m trainlog_doctor`` when the console script is missing)
* the reader alone: ``TfEventsReader().read(DIR)`` in a fresh interpreter (imports included),
  plus the in-process read time it prints
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
PYTHON = sys.executable
sys.path.insert(0, str(HERE))

from make_tree import frame_record, varint  # noqa: E402  (the benchmarks' shared TFRecord encoding)

TAGS = ("train/loss", "train/accuracy", "val/loss", "learning_rate")


def scalar_event_bytes(tag: str, value: float, step: int, wall_time: float) -> bytes:
    """The serialized ``Event`` torch ``SummaryWriter.add_scalar`` writes (simple_value, step omitted at 0)."""
    t = tag.encode()
    val = b"\x0a" + varint(len(t)) + t + b"\x15" + struct.pack("<f", value)
    summ = b"\x0a" + varint(len(val)) + val
    ev = b"\x09" + struct.pack("<d", wall_time)
    if step:
        ev += b"\x10" + varint(step)
    return ev + b"\x2a" + varint(len(summ)) + summ


def _series(n_steps: int, seed: int = 0) -> np.ndarray:
    """Plausible float32 curves, one column per tag."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps) / max(n_steps, 1)
    loss = 2.3 * np.exp(-5 * t) + 0.1 + 0.05 * rng.standard_normal(n_steps)
    acc = 1 - 0.9 * np.exp(-6 * t) + 0.02 * rng.standard_normal(n_steps)
    val = 2.3 * np.exp(-4 * t) + 0.2 + 0.03 * rng.standard_normal(n_steps)
    lr = 1e-3 * 0.5 * (1 + np.cos(math.pi * t))
    return np.stack([loss, acc, val, lr], axis=1).astype(np.float32)


def write_events(out_dir: Path, n_events: int) -> tuple[Path, str]:
    """Write the benchmark event file (or reuse the one already in ``out_dir``); returns (path, how)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = sorted(out_dir.glob("events.out.tfevents.*"))
    if existing:
        return existing[0], f"reused existing file ({len(existing)} file(s) in the directory)"
    n_steps = n_events // len(TAGS)
    values = _series(n_steps)
    try:
        from torch.utils.tensorboard import SummaryWriter  # type: ignore[import-not-found]
    except ImportError:
        SummaryWriter = None  # noqa: N806
    if SummaryWriter is not None:
        writer = SummaryWriter(log_dir=str(out_dir), max_queue=10_000, flush_secs=3600)
        for step in range(n_steps):
            for j, tag in enumerate(TAGS):
                writer.add_scalar(tag, float(values[step, j]), step)
        writer.close()
        return next(out_dir.glob("events.out.tfevents.*")), "torch SummaryWriter"

    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(out_dir))
    writer.close()
    path = next(out_dir.glob("events.out.tfevents.*"))
    t0 = time.time()
    # check the hand-made bytes against the protobuf encoder on a few records
    for step, wall in ((0, t0), (1, t0 + 0.5), (300, t0 + 1.25), (1 << 20, t0 + 9.0)):
        ev = event_pb2.Event(
            wall_time=wall,
            step=step,
            summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=TAGS[0], simple_value=0.25)]),
        )
        assert ev.SerializeToString() == scalar_event_bytes(TAGS[0], 0.25, step, wall), "encoding mismatch"
    with open(path, "ab") as fh:
        chunk: list[bytes] = []
        i = 0
        for step in range(n_steps):
            for j, tag in enumerate(TAGS):
                wall = t0 + i * 1e-4
                i += 1
                chunk.append(frame_record(scalar_event_bytes(tag, float(values[step, j]), step, wall)))
            if len(chunk) >= 65536:
                fh.write(b"".join(chunk))
                chunk = []
        fh.write(b"".join(chunk))
    return path, "tensorboard EventFileWriter header + hand-framed SummaryWriter-identical records"


class Timing(NamedTuple):
    """One subprocess measurement."""

    seconds: float  # wall clock
    cpu: float  # user + system CPU seconds of the child (less sensitive to a busy machine)
    rss_mb: float  # peak resident set size of the child
    returncode: int
    output: str


def _measure(cmd: list[str], env: dict[str, str] | None = None) -> Timing:
    """Run ``cmd`` under a wrapper process so the rusage of the wrapper's children is the command's alone."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'s': dt, 'cpu': ru.ru_utime + ru.ru_stime, 'rss': ru.ru_maxrss / 1024,\n"
        "                  'rc': p.returncode, 'out': p.stdout[-2000:], 'err': p.stderr[-2000:]}))\n"
    )
    res = subprocess.run([PYTHON, "-c", wrapper, *cmd], capture_output=True, text=True, env=env, check=True)
    data = json.loads(res.stdout.strip().splitlines()[-1])
    out = data["out"] if data["rc"] in (0, 1) else (data["out"] + data["err"])
    return Timing(float(data["s"]), float(data["cpu"]), float(data["rss"]), int(data["rc"]), out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=None, help="directory for the event file (default: a temp dir)")
    ap.add_argument("--skip-tbparse", action="store_true")
    args = ap.parse_args(argv)

    tmp = None
    if args.out is None:
        tmp = tempfile.mkdtemp(prefix="bench_tfevents_")
        out_dir = Path(tmp) / "run"
    else:
        out_dir = args.out
    try:
        t = time.perf_counter()
        path, how = write_events(out_dir, args.events)
        sys.path.insert(0, str(SRC))
        from trainlog_doctor.readers.tfevents import read_event_file

        n_events = sum(read_event_file(f).points.height for f in out_dir.glob("events.out.tfevents.*"))
        size_mb = path.stat().st_size / 1e6
        print(f"wrote {n_events:,} events, {size_mb:.1f} MB in {time.perf_counter() - t:.1f}s ({how})")
        print(f"file: {path}  host: {socket.gethostname()}  cpus: {os.cpu_count()}")
        env = dict(os.environ)
        env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
        rows: list[tuple[str, Timing, str]] = []

        if not args.skip_tbparse:
            code = "import sys, tbparse; df = tbparse.SummaryReader(sys.argv[1]).scalars; print(len(df), 'rows')"
            tm = _measure([PYTHON, "-c", code, str(out_dir)], env)
            rows.append(("tbparse SummaryReader(dir).scalars", tm, tm.output.strip()))

        exe = shutil.which("trainlog-doctor", path=str(Path(PYTHON).parent)) or ""
        report = Path(tempfile.gettempdir()) / "bench_tfevents_report.json"
        cli = [exe] if exe else [PYTHON, "-m", "trainlog_doctor"]
        report.unlink(missing_ok=True)
        tm = _measure([*cli, "analyze", str(out_dir), "--format", "json", "--output", str(report)], env)
        if tm.returncode in (0, 1) and report.exists():
            runs = json.loads(report.read_text()).get("runs", [])
            points = sum(sr.get("points", 0) for r in runs for sr in r.get("series", []))
            rows.append(("trainlog-doctor analyze --format json", tm, f"{points} points, exit {tm.returncode}"))
        else:
            rows.append(("trainlog-doctor analyze (FAILED)", tm, f"exit {tm.returncode}: {tm.output.strip()[-300:]}"))

        code = (
            "import sys, time\n"
            "from pathlib import Path\n"
            "t = time.perf_counter()\n"
            "from trainlog_doctor.readers.tfevents import TfEventsReader\n"
            "t1 = time.perf_counter()\n"
            "rd = TfEventsReader().read(Path(sys.argv[1]), 'bench')[0]\n"
            "t2 = time.perf_counter()\n"
            "print(f'{rd.frame.height} rows; import {t1 - t:.3f}s, read {t2 - t1:.3f}s')\n"
        )
        tm = _measure([PYTHON, "-c", code, str(out_dir)], env)
        rows.append(("TfEventsReader.read (fresh process)", tm, tm.output.strip()))

        base = rows[0][1] if rows and rows[0][0].startswith("tbparse") else None
        try:
            load = f"load average {os.getloadavg()[0]:.1f}"
        except OSError:
            load = ""
        print(load)
        print(
            f"| {'what':38} | {'wall s':>7} | {'CPU s':>7} | {'events/s':>10} | {'peak RSS MB':>11} "
            f"| {'wall vs tbparse':>15} | {'CPU vs tbparse':>14} | note"
        )
        print(f"|{'-' * 40}|{'-' * 9}|{'-' * 9}|{'-' * 12}|{'-' * 13}|{'-' * 17}|{'-' * 16}|------")
        for name, tm, note in rows:
            wall_ratio = f"{tm.seconds / base.seconds:.3f}" if base else "-"
            cpu_ratio = f"{tm.cpu / base.cpu:.3f}" if base else "-"
            print(
                f"| {name:38} | {tm.seconds:7.2f} | {tm.cpu:7.2f} | {n_events / tm.seconds:10,.0f} | "
                f"{tm.rss_mb:11.0f} | {wall_ratio:>15} | {cpu_ratio:>14} | {note}"
            )
        return 0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
