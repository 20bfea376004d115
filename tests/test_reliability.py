"""Reliability: the tool survives anything it is fed.

* Property-based fuzzing (hypothesis, derandomized): every reader's ``sniff`` and ``read`` and
  ``api.analyze`` on truncated, bit-flipped, spliced, re-encoded, NaN-laden and random variants of
  real seed files (``../shared/real_logs``, skipped when absent) and of hand-made minimal files.
* Regressions for what the fuzzing found (polars segfault on deep JSON nesting, RecursionError and
  over-long integers in trainer_state.json, the csv module's field limit, lone surrogate escapes,
  out-of-range steps and epochs, float overflow in a rule).
* A truncated event file keeps exactly the complete records before the cut; damage loses only what it must.
* The input tree is byte-for-byte unchanged after ``analyze`` (every format) and ``audit``.
* Symlink loops, dangling links, unreadable files, files growing or shrinking while read, a FIFO
  and a directory named like a log.

The contract checks and most mutations come from ``trainlog_doctor.testing`` (the reader conformance
suite); the seeds and mutations here are also used by ``scripts/fuzz_report.py`` for longer runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import re
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainlog_doctor.api import analyze
from trainlog_doctor.cli import main as cli_main
from trainlog_doctor.model.report import Report
from trainlog_doctor.readers import READERS, LogReadError, reader_by_format, reader_for_file
from trainlog_doctor.readers.base import RunData, read_head
from trainlog_doctor.report.json import render_json
from trainlog_doctor.report.text import render_text
from trainlog_doctor.rules import detect
from trainlog_doctor.run.names import infer_split
from trainlog_doctor.testing import GARBLES, ConformanceError, check_frame, check_one_line, check_read, check_sniff, masked_crc32c

REPO = Path(__file__).resolve().parents[1]
REAL_LOGS = REPO.parent / "shared" / "real_logs"
STATUSES = {"ok", "empty", "error"}

# ----------------------------------------------------------------------------------------- seeds


def tfrecord(payload: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload."""
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))


def scalar_event(tag: str, step: int, value: float, wall: float) -> bytes:
    """A serialized ``Event`` with one ``simple_value`` scalar."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    event = Event(wall_time=wall, step=step, summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)]))
    return event.SerializeToString()


def tensor_event(tag: str, step: int, value: float, wall: float) -> bytes:
    """A serialized TF2-style ``Event``: a rank-0 DT_FLOAT tensor with ``scalars`` plugin metadata."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto

    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    tensor = TensorProto(dtype=1, float_val=[value])
    value_pb = Summary.Value(tag=tag, tensor=tensor, metadata=meta)
    return Event(wall_time=wall, step=step, summary=Summary(value=[value_pb])).SerializeToString()


def version_event(wall: float = 1.7e9) -> bytes:
    from tensorboard.compat.proto.event_pb2 import Event

    return Event(wall_time=wall, file_version="brain.Event:2").SerializeToString()


def _events_seed() -> bytes:
    out = [tfrecord(version_event())]
    for step in range(12):
        wall = 1.7e9 + step
        out.append(tfrecord(scalar_event("train/loss", step, 2.0 / (step + 1), wall)))
        out.append(tfrecord(scalar_event("val/loss", step, 2.2 / (step + 1) + 0.05, wall)))
        out.append(tfrecord(tensor_event("epoch_accuracy", step, 0.5 + 0.03 * step, wall)))
    return b"".join(out)


def _keras_seed() -> bytes:
    rows = ["epoch,accuracy,loss,lr,val_accuracy,val_loss"]
    rows += [f"{e},{0.5 + 0.03 * e:.4f},{1.5 / (e + 1):.5f},0.001,{0.45 + 0.03 * e:.4f},{1.6 / (e + 1):.5f}" for e in range(15)]
    return ("\n".join(rows) + "\n").encode()


def _keras_nan_seed() -> bytes:
    rows = ["epoch;loss;val_loss;acc", "0;1.2;NA;0.3", "1;nan;1.1;0.4", "2;inf;-inf;0.5", "0;1.3;1.4;0.2", "1;1.0;1.2;0.35"]
    return ("\r\n".join(rows) + "\r\n").encode()


def _lightning_seed() -> bytes:
    rows = ["epoch,lr-Adam,step,train_loss_epoch,train_loss_step,val_acc,val_loss"]
    step = 0
    for e in range(6):
        for _ in range(3):
            step += 10
            rows.append(f"{e},,{step - 1},,{1.0 / (step / 10 + 1):.4f},,")
            rows.append(f",0.001,{step - 1},,,,")
        rows.append(f"{e},,{step - 1},,,{0.4 + 0.05 * e:.3f},{1.1 / (e + 1):.4f}")
        rows.append(f"{e},,{step - 1},{1.0 / (e + 1):.4f},,,")
    return ("\n".join(rows) + "\n").encode()


def _yolo_seed() -> bytes:
    names = ["epoch", "train/box_loss", "train/obj_loss", "train/cls_loss", "metrics/precision", "metrics/recall",
             "metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "val/box_loss", "val/obj_loss", "val/cls_loss", "x/lr0"]
    lines = [",".join(f"{n:>20s}" for n in names)]
    for e in range(10):
        vals = [e, 0.1 / (e + 1), 0.05, 0.0, 0.3 + 0.05 * e, 0.2 + 0.05 * e, 0.1 + 0.05 * e, 0.05 + 0.03 * e,
                0.09 / (e + 1), 0.04, 0.0, 0.01]
        lines.append(",".join(f"{v:>20.5g}" for v in vals))
    return ("\n".join(lines) + "\n").encode()


def _ultralytics_seed() -> bytes:
    lines = ["epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/mAP50(B),val/box_loss,lr/pg0"]
    lines += [f"{e},{12.5 * e:.1f},{1.5 / e:.4f},{2.0 / e:.4f},1.1,{0.1 * e:.3f},{1.6 / e:.4f},0.01" for e in range(1, 9)]
    return ("\n".join(lines) + "\n").encode()


def _hf_seed() -> bytes:
    history: list[dict[str, float | int]] = []
    for step in range(10, 130, 10):
        history.append({"epoch": round(step / 40, 2), "grad_norm": 1.5, "learning_rate": 5e-5 * (1 - step / 200),
                        "loss": 2.0 / (step / 10 + 1), "step": step})
        if step % 40 == 0:
            history.append({"epoch": step / 40, "eval_loss": 2.1 / (step / 10 + 1), "eval_accuracy": 0.5 + step / 500,
                            "eval_runtime": 3.2, "eval_samples_per_second": 100.0, "step": step})
    history.append({"epoch": 3.0, "step": 120, "total_flos": 1e15, "train_loss": 0.6, "train_runtime": 100.0})
    state = {"best_metric": 0.3, "epoch": 3.0, "global_step": 120, "log_history": history, "logging_steps": 10,
             "max_steps": 120, "num_train_epochs": 3, "train_batch_size": 8}
    return json.dumps(state, indent=2, sort_keys=True).encode()


def _detectron2_seed() -> bytes:
    lines = []
    for it in range(19, 400, 20):
        row = {"data_time": 0.01, "eta_seconds": 400 - it, "iteration": it, "loss_box_reg": 0.3 / (1 + it / 100),
               "loss_cls": 0.5 / (1 + it / 100), "lr": 0.02, "time": 0.3, "total_loss": 1.0 / (1 + it / 100)}
        if it == 199:
            row.update({"bbox/AP": 12.5, "bbox/AP-cat": float("nan"), "bbox/AP50": 30.1})
        lines.append(json.dumps(row, sort_keys=True))
    return ("\n".join(lines) + "\n").encode()


def _mmdet_seed() -> bytes:
    config = "optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)\\nlr_config = dict(policy='step')"
    lines = ['{"env_info": "sys.platform: linux\\nGPU 0: Tesla V100", "config": "' + config + '", "seed": 42}']
    for epoch in (1, 2, 3):
        for it in range(50, 201, 50):
            lines.append(json.dumps({"mode": "train", "epoch": epoch, "iter": it, "lr": 0.02, "memory": 3000,
                                     "data_time": 0.01, "loss_cls": 0.5 / epoch, "loss_bbox": 0.3 / epoch,
                                     "loss": 0.8 / epoch + it / 10000, "time": 0.4}))
        lines.append(json.dumps({"mode": "val", "epoch": epoch, "iter": 200, "lr": 0.02, "bbox_mAP": 0.1 * epoch,
                                 "bbox_mAP_copypaste": "0.1 0.2 0.3"}))
    lines[3] = lines[3].replace('"loss": 0.', '"loss": NaN, "x": 0.')
    return ("\n".join(lines) + "\n").encode()


def _jsonl_seed() -> bytes:
    lines = [json.dumps({"train_lr": 1e-4, "train_loss": 2.0 / (e + 1), "test_loss": 2.2 / (e + 1), "test_acc1": 10.0 * e,
                         "epoch": e, "n_parameters": 123456}) for e in range(10)]
    return ("\n".join(lines) + "\n").encode()


def _keras_history_seed() -> bytes:
    history = {"loss": [1.5 / (e + 1) for e in range(12)], "accuracy": [0.5 + 0.03 * e for e in range(12)],
               "val_loss": [1.6 / (e + 1) for e in range(12)], "val_accuracy": [0.45 + 0.03 * e for e in range(12)],
               "learning_rate": [0.001] * 12}
    return json.dumps(history).encode()


def _keras_history_rows_seed() -> bytes:
    rows = [{"epoch": e, "loss": 1.2 / (e + 1), "val_loss": 1.3 / (e + 1), "acc": 0.4 + 0.04 * e} for e in range(10)]
    return json.dumps(rows, indent=1).encode()


TEXT_LOGS = REPO / "tests" / "data" / "text_logs"


def _text_seed(name: str) -> Callable[[], bytes]:
    def seed() -> bytes:
        return (TEXT_LOGS / name).read_bytes()

    seed.__name__ = f"_text_log_{name.split('.')[0]}"
    return seed


def _mlflow_db_seed() -> bytes:
    return (REPO / "tests" / "data" / "mlflow_db" / "mlflow.db").read_bytes()


@dataclass(frozen=True)
class Family:
    """A log family: its reader's format id, the file name it is usually written under, and seed bytes."""

    format: str
    filename: str
    real_dirs: tuple[str, ...]  # sub-directories of real_logs holding files of this family
    seeds: tuple[Callable[[], bytes], ...]
    binary: bool = False  # no text encoding to vary (event files, SQLite)


FAMILIES: dict[str, Family] = {
    "tfevents": Family("tfevents", "events.out.tfevents.1700000000.host.1.0", ("tfevents",), (_events_seed,), binary=True),
    "keras_csv": Family("keras_csv", "training.log", ("keras_csv",), (_keras_seed, _keras_nan_seed)),
    "lightning_csv": Family("lightning_csv", "metrics.csv", ("lightning_csv",), (_lightning_seed,)),
    "ultralytics_csv": Family("ultralytics_csv", "results.csv", ("ultralytics",), (_yolo_seed, _ultralytics_seed)),
    "hf_trainer_state": Family("hf_trainer_state", "trainer_state.json", ("hf_trainer_state",), (_hf_seed,)),
    "detectron2": Family("detectron2_json", "metrics.json", ("detectron2",), (_detectron2_seed,)),
    "mmdet_json": Family("mmdet_json", "20210101_000000.log.json", ("mmdet",), (_mmdet_seed,)),
    "jsonl": Family("jsonl", "log.txt", ("jsonl_other",), (_jsonl_seed,)),
    "keras_history": Family("keras_history", "training_history.json", (), (_keras_history_seed, _keras_history_rows_seed)),
    "text_log": Family("text_log", "train.log", (), tuple(_text_seed(n) for n in (
        "mmengine.log", "keras2_backspace.txt", "fairseq_train.log", "yolov5_console.txt", "hf_trainer_stdout.txt",
        "detectron2_log.txt", "lightning_tqdm.txt"))),
    "mlflow_db": Family("mlflow_db", "mlflow.db", (), (_mlflow_db_seed,), binary=True),
}

#: Real seed files per family: the smallest few (fuzzing big files only costs time).
REAL_SEEDS_PER_FAMILY = 3
REAL_SEED_MAX_BYTES = 64 * 1024


def real_seed_paths(family: str, limit: int = REAL_SEEDS_PER_FAMILY) -> list[Path]:
    """The smallest ``limit`` real files of ``family`` under ../shared/real_logs (``[]`` when absent)."""
    fam = FAMILIES[family]
    found: list[Path] = []
    for sub in fam.real_dirs:
        base = REAL_LOGS / sub
        if base.is_dir():
            found.extend(p for p in base.rglob("*") if p.is_file() and p.stat().st_size <= REAL_SEED_MAX_BYTES)
    if family == "jsonl":  # jsonl_other also holds a CSV; keep the JSON-lines files
        found = [p for p in found if p.suffix != ".csv"]
    if family == "keras_csv":  # the DeepFD monitor logs are not training logs
        found = [p for p in found if "monitor" not in p.name]
    found.sort(key=lambda p: (p.stat().st_size, str(p)))
    small = [p for p in found if p.stat().st_size > 200]  # skip the near-empty corner files as seeds
    return (small or found)[:limit]


def seeds_for(family: str) -> list[tuple[str, bytes]]:
    """``(label, bytes)`` seeds: hand-made minimal files first, then real files (if present)."""
    fam = FAMILIES[family]
    out = [(f"handmade:{fn.__name__}", fn()) for fn in fam.seeds]
    out += [(f"real:{p.relative_to(REAL_LOGS)}", p.read_bytes()) for p in real_seed_paths(family)]
    return out


# ------------------------------------------------------------------------------------- mutations


def m_splice(data: bytes, rnd: random.Random) -> bytes:
    """Glue a seed of another family before or after (mixed content in one file)."""
    other = rnd.choice(list(FAMILIES.values())).seeds[0]()
    return data + other if rnd.random() < 0.5 else other + data


#: The conformance suite's ways to damage a file, plus splicing in a seed of another family.
MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {**GARBLES, "splice": m_splice}


def mutate(data: bytes, names: list[str], rnd: random.Random) -> bytes:
    """Apply the mutations ``names`` in order."""
    for name in names:
        data = MUTATIONS[name](data, rnd)
    return data


# -------------------------------------------------------------------------------------- checking


@dataclass
class Outcome:
    """What one fuzzed input did: the ``LogReadError`` reasons raised and the run statuses reported."""

    read_errors: list[tuple[str, str]] = field(default_factory=list)  # (reader format, reason)
    statuses: list[str] = field(default_factory=list)
    run_errors: list[str] = field(default_factory=list)
    sniffed_by: str | None = None
    rule_failures: list[str] = field(default_factory=list)  # rules that raised and were skipped (logged)


def exercise_readers(path: Path, readers: tuple = READERS) -> Outcome:  # type: ignore[type-arg]
    """Every reader's ``sniff`` and ``read`` on ``path`` under the reader contract of ``trainlog_doctor.testing``
    (:class:`ConformanceError` on a breach)."""
    out = Outcome()
    head = read_head(path)
    for reader in readers:
        if check_sniff(reader, path, head) and out.sniffed_by is None:
            out.sniffed_by = reader.format
        result = check_read(reader, path, "fuzz")
        if isinstance(result, str):
            out.read_errors.append((reader.format, result))
    return out


class _RuleFailures(logging.Handler):
    """Collects the "rule X failed" warnings the rule engine logs when a rule raises (it skips the rule)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def exercise_analyze(path: Path, out: Outcome | None = None, *, render: bool = True) -> Outcome:
    """``api.analyze`` never raises, lists each run with a valid status and one-line error, sane frames."""
    out = out or Outcome()
    failures = _RuleFailures()
    rules_log = logging.getLogger("trainlog_doctor.rules")
    rules_log.addHandler(failures)
    try:
        report = analyze([path])
    except Exception as exc:  # noqa: BLE001
        raise ConformanceError(f"analyze raised {exc.__class__.__name__}: {str(exc)[:300]}") from exc
    finally:
        rules_log.removeHandler(failures)
    out.rule_failures.extend(failures.messages)
    if not report.runs:
        raise ConformanceError("analyze returned no run entry")
    for run in report.runs:
        if run.status not in STATUSES:
            raise ConformanceError(f"status {run.status!r}")
        check_one_line(run.error, f"run {run.run_id!r} error")
        if run.status != "ok" and not run.error:
            raise ConformanceError(f"status {run.status} without an error reason")
        if run.error and run.error.startswith("internal error"):
            raise ConformanceError(f"analyze hid a crash: {run.error}")
        if run.frame is not None:
            check_frame(run.frame, f"analyze run {run.run_id!r}")
        out.statuses.append(run.status)
        if run.error:
            out.run_errors.append(run.error)
    if render:
        doc = json.loads(render_json(report))
        if len(doc["runs"]) != len(report.runs):
            raise ConformanceError("json report lost runs")
        render_text(report)
    return out


def reason_kind(reason: str) -> str:
    """A reason with numbers, quotes and names stripped, to count kinds of ``LogReadError``."""
    text = re.sub(r"\(.*?\)|'.*?'|\".*?\"|\d+", "#", reason)
    return re.sub(r"\s+", " ", text).strip()[:90]


# ============================================================================ property-based fuzzing


#: Deterministic (derandomized, no example database) so CI sees the same inputs on every run.
FUZZ_READERS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_ANALYZE = settings(FUZZ_READERS, max_examples=8)


@functools.cache
def cached_seeds(family: str) -> tuple[tuple[str, bytes], ...]:
    return tuple(seeds_for(family))


@dataclass(frozen=True)
class Case:
    """One fuzzed input; its repr is short (a failing example names its seed, mutations and a preview)."""

    label: str
    mutations: tuple[str, ...]
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        digest = hashlib.sha256(self.data).hexdigest()[:12]
        return (f"Case({self.label!r}, {list(self.mutations)}, {len(self.data)} bytes sha256:{digest}, "
                f"head={self.data[:120]!r}, tail={self.data[-80:]!r})")


@st.composite
def fuzzed_input(draw: st.DrawFn, family: str) -> Case:
    """A mutated seed of ``family``: one to three mutations in a row."""
    label, data = draw(st.sampled_from(cached_seeds(family)))
    names = draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3))
    rnd = draw(st.randoms(use_true_random=False, note_method_calls=False))
    return Case(label, tuple(names), mutate(data, names, rnd))


def _write(tmp: str, family: str, data: bytes) -> Path:
    path = Path(tmp) / "run" / FAMILIES[family].filename
    path.parent.mkdir()
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_seeds_are_valid_logs(family: str) -> None:
    """The hand-made seeds are real examples of their family (so mutations start from valid input)."""
    reader = reader_by_format(FAMILIES[family].format)
    for label, data in cached_seeds(family):
        if not label.startswith("handmade:"):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = _write(tmp, family, data)
            assert reader_for_file(path) is reader, label
            runs = reader.read(path, "seed")
            assert runs and runs[0].frame.height > 0, label
            for run in runs:
                check_frame(run.frame, label)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_reader_survives_mutations(family: str) -> None:
    """sniff never raises; read returns schema-conforming frames or raises LogReadError with one line; the input
    directory is unchanged (no journal next to a SQLite file, nothing rewritten)."""

    @FUZZ_READERS
    @given(fuzzed_input(family))
    def run(case: Case) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = _write(tmp, family, case.data)
            before = snapshot(path.parent)
            exercise_readers(path)
            assert snapshot(path.parent) == before

    run()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_analyze_survives_mutations(family: str) -> None:
    """analyze never raises: one or more runs, status ok/empty/error, a one-line error, valid frames and JSON."""

    @FUZZ_ANALYZE
    @given(fuzzed_input(family))
    def run(case: Case) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            exercise_analyze(_write(tmp, family, case.data))

    run()


# ============================================================================ fuzzing run directories

MLFLOW_RUN = REPO / "tests" / "data" / "mlflow" / "mlruns" / "1" / "3f2a9c1d7e5b4a60b8d2c4e6f8a0b1c2"
WANDB_TEXT_RUN = REPO / "tests" / "data" / "wandb" / "wandb" / "run-20260508_223001-k3x9q2mw"


@functools.cache
def offline_wandb_seed() -> Path | None:
    """A real offline W&B run (with its binary ``.wandb`` file) written once by the wandb package, or ``None``."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-wandb-"))
    script = (
        "import math, wandb\n"
        f"run = wandb.init(dir={str(tmp)!r}, project='p', config={{'lr': 0.01, 'optimizer': 'SGD'}})\n"
        "for s in range(30):\n"
        "    row = {'train/loss': 2.0 * math.exp(-s / 10) + 0.1, 'epoch': s // 10}\n"
        "    if s % 10 == 9:\n"
        "        row['val/loss'] = 2.1 * math.exp(-s / 10) + 0.2\n"
        "    wandb.log(row, step=s)\n"
        "run.finish()\n"
    )
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
    try:
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300, cwd=tmp, capture_output=True)
    except (subprocess.SubprocessError, OSError):
        return None
    runs = [d for d in (tmp / "wandb").iterdir() if d.name.startswith("offline-run-")]
    return runs[0] if runs else None


@dataclass(frozen=True)
class DirFamily:
    """A family whose run is a directory: its reader's format id and where seed run directories come from."""

    format: str
    seeds: tuple[Callable[[], Path | None], ...]


DIR_FAMILIES: dict[str, DirFamily] = {
    "mlflow_store": DirFamily("mlflow_store", (lambda: MLFLOW_RUN,)),
    "wandb_run": DirFamily("wandb", (offline_wandb_seed, lambda: WANDB_TEXT_RUN)),
}


def dir_seeds(family: str) -> list[Path]:
    return [p for make in DIR_FAMILIES[family].seeds if (p := make()) is not None]


@functools.cache
def run_files(run: Path) -> tuple[tuple[str, bytes], ...]:
    """The files of a seed run directory (relative name, bytes; read once, so every draw sees the same seed)."""
    return tuple((p.relative_to(run).as_posix(), p.read_bytes()) for p in sorted(run.rglob("*")) if p.is_file())


@dataclass(frozen=True)
class DirCase:
    """One fuzzed run directory: the seed, the file mutated and how (the data itself is written on use)."""

    seed: Path
    file: str
    mutations: tuple[str, ...]
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return (f"DirCase({self.seed.name!r}, {self.file!r}, {list(self.mutations)}, {len(self.data)} bytes, "
                f"head={self.data[:80]!r})")


@st.composite
def fuzzed_run_dir(draw: st.DrawFn, family: str) -> DirCase:
    """A seed run directory with one of its files mutated (one to three mutations), or removed (``delete`` alone)."""
    seed = draw(st.sampled_from(dir_seeds(family)))
    name, data = draw(st.sampled_from(run_files(seed)))
    names = draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3))
    rnd = draw(st.randoms(use_true_random=False, note_method_calls=False))
    return DirCase(seed, name, tuple(names), mutate(data, names, rnd))


def _write_run(tmp: str, case: DirCase) -> Path:
    run = Path(tmp) / "mlruns" / "0" / case.seed.name
    for name, data in run_files(case.seed):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(case.data if name == case.file else data)
    return run


def exercise_run_dir(run: Path, file: str) -> None:
    """Every reader on the run directory and on the mutated file alone; the directory is unchanged after."""
    before = snapshot(run)
    for target in (run, run / file):
        head = read_head(target) if target.is_file() else b""
        for reader in READERS:
            check_sniff(reader, target, head)
            result = check_read(reader, target, "fuzz")
            if not isinstance(result, str):
                for data in result:
                    check_frame(data.frame, f"{reader.format} on {target.name}")
    if snapshot(run) != before:
        raise ConformanceError(f"reading changed the run directory (mutated {file})")


@pytest.mark.parametrize("family", sorted(DIR_FAMILIES))
def test_run_directory_readers_survive_mutations(family: str) -> None:
    """A run directory with one damaged file: no crash, a one-line LogReadError at most, nothing written."""
    if not dir_seeds(family):
        pytest.skip("no seed run directory")

    @FUZZ_READERS
    @given(fuzzed_run_dir(family))
    def run(case: DirCase) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            exercise_run_dir(_write_run(tmp, case), case.file)

    run()


@pytest.mark.parametrize("family", sorted(DIR_FAMILIES))
def test_analyze_survives_mutated_run_directories(family: str) -> None:
    """analyze on the tree holding a damaged run directory: run entries with valid statuses, the tree unchanged."""
    if not dir_seeds(family):
        pytest.skip("no seed run directory")

    @FUZZ_ANALYZE
    @given(fuzzed_run_dir(family))
    def run(case: DirCase) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = _write_run(tmp, case).parent.parent
            before = snapshot(root)
            try:
                exercise_analyze(root)
            except ConformanceError as exc:
                if "no run entry" not in str(exc):  # a run directory damaged past recognition may list nothing
                    raise
            assert snapshot(root) == before

    run()


@pytest.mark.parametrize("family", sorted(DIR_FAMILIES))
def test_run_directory_files_truncated_anywhere(family: str) -> None:
    """Every file of each seed run cut at 0, 1, a third, half and all but one byte: the readers' contract holds."""
    seeds = dir_seeds(family)
    if not seeds:
        pytest.skip("no seed run directory")
    for seed in seeds:
        for name, data in run_files(seed):
            for cut in sorted({0, 1, len(data) // 3, len(data) // 2, max(len(data) - 1, 0)}):
                case = DirCase(seed, name, (f"cut{cut}",), data[:cut])
                with tempfile.TemporaryDirectory() as tmp:
                    exercise_run_dir(_write_run(tmp, case), name)


# ============================================================================ crashes found by fuzzing


def _read(reader_format: str, path: Path) -> list[RunData]:
    return reader_by_format(reader_format).read(path, "r")


def test_deeply_nested_json_lines_do_not_crash_the_process(tmp_path: Path) -> None:
    """polars 2.1 ``read_ndjson`` segfaults on objects nested 505-1024 deep; the readers must not hand it those.

    Run in a subprocess: a regression kills the interpreter instead of raising.
    """
    body = "".join(json.dumps({"epoch": e, "train_loss": 1.0 / (e + 1)}) + "\n" for e in range(5))
    for depth in (505, 700, 1024):
        nest = '{"a":' * depth + "1" + "}" * depth
        d = tmp_path / str(depth)
        d.mkdir()
        (d / "log.txt").write_text(body + '{"epoch": 5, "train_loss": 0.1, "x": ' + nest + "}\n" + body)
        (d / "metrics.json").write_text('{"iteration": 19, "total_loss": 1.0, "x": ' + nest + "}\n")
        (d / "a.log.json").write_text('{"mode": "train", "epoch": 1, "iter": 10, "x": ' + nest + ', "loss": 1.0}\n')
    code = (
        "import sys; from pathlib import Path; from trainlog_doctor.readers import reader_by_format, LogReadError\n"
        "for d in sorted(Path(sys.argv[1]).iterdir()):\n"
        "    for fmt, name in [('jsonl', 'log.txt'), ('detectron2_json', 'metrics.json'), ('mmdet_json', 'a.log.json')]:\n"
        "        try: reader_by_format(fmt).read(d / name, 'r')\n"
        "        except LogReadError: pass\n"
        "print('survived')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-500:]}"
    assert proc.stdout.strip() == "survived"


def test_jsonl_deep_line_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    rows = [json.dumps({"epoch": e, "train_loss": 1.0 / (e + 1)}) for e in range(6)]
    rows.insert(3, "[" * 100_000)  # past Python's recursion limit too
    path.write_text("\n".join(rows) + "\n")
    (run,) = _read("jsonl", path)
    loss = run.frame.filter(pl.col("metric") == "loss")
    assert loss["value"].to_list() == [1.0 / (e + 1) for e in range(6)]
    assert any("invalid JSON line" in w for w in run.warnings)


def test_trainer_state_too_deep_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text('{"log_history": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(LogReadError, match="nested too deeply"):
        _read("hf_trainer_state", path)
    path.write_text('{"log_history": [{"step": 1, "loss": 1.0}, {"step": 2, "loss": ' + "[" * 100_000)  # truncated
    try:  # salvaging the complete row before the bad one would be nice; a clean error is the contract
        (run,) = _read("hf_trainer_state", path)
    except LogReadError as exc:
        assert "nested too deeply" in str(exc)
    else:
        assert run.frame["value"].to_list() == [1.0]


def test_trainer_state_huge_integer_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text('{"log_history": [{"step": ' + "9" * 5000 + ', "loss": 1.0}]}')
    with pytest.raises(LogReadError, match="too many digits"):
        _read("hf_trainer_state", path)


def test_csv_unterminated_quote_with_a_huge_field_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "training.log"
    path.write_bytes(b'epoch,loss\n0,0.5\n1,"' + b"a" * 200_000 + b"\n2,0.3\n")
    for fmt in ("keras_csv", "lightning_csv", "ultralytics_csv"):
        try:
            runs = _read(fmt, path)
        except LogReadError as exc:
            assert "\n" not in str(exc)
        else:
            for run in runs:
                check_frame(run.frame, fmt)


def test_trainer_state_steps_beyond_int64_fall_back_to_the_position(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text('{"log_history": [{"step": 10, "loss": 1.0}, {"step": 99999999999999999999999, "loss": 0.5},'
                    ' {"step": 1.7976931348623157e308, "loss": 0.4}, {"step": 40, "loss": 0.3}]}')
    runs = _read("hf_trainer_state", path)
    for run in runs:
        check_frame(run.frame, "hf")  # no null step
    assert sum(run.frame.height for run in runs) == 4


GARBLED_MMDET = [("-9223372036854775809", "50"), ("1000000000", "50"), ("3", "99999999999999999999"),
                 ("2", "-9000000000000000000")]


def test_mmdet_garbled_epoch_or_iter(tmp_path: Path) -> None:
    """An epoch far out of range used to loop once per epoch in between (then run out of memory); an iter past
    int64 crashed. Run in a subprocess with a memory cap and a timeout so a regression cannot take the machine down.
    """
    for k, (epoch, iters) in enumerate(GARBLED_MMDET):
        rows = ['{"mode": "train", "epoch": 1, "iter": 50, "loss": 1.0, "time": 0.1}',
                f'{{"mode": "train", "epoch": {epoch}, "iter": {iters}, "loss": 0.5, "time": 0.1}}',
                '{"mode": "val", "epoch": 1, "iter": 100, "bbox_mAP": 0.3}']
        (tmp_path / f"{k}.log.json").write_text("\n".join(rows) + "\n")
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "sys.path.insert(0, sys.argv[2]); from pathlib import Path; import test_reliability as tr\n"
        "for p in sorted(Path(sys.argv[1]).glob('*.log.json')):\n"
        "    try:\n"
        "        for run in tr._read('mmdet_json', p): tr.check_frame(run.frame, p.name)\n"
        "    except tr.LogReadError as exc: assert 'epoch' in str(exc), exc\n"
        "print('survived')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "survived", proc.stderr[-800:]


def test_rules_survive_extreme_finite_values(tmp_path: Path) -> None:
    """Values near the float limits (1.8e308, 1e-308, sign flips) must not make a rule raise (it would be skipped)."""
    series = {
        "max_spike": ["1.5"] * 5 + ["1.7976931348623157e308"] + ["1.4"] * 10,
        "flip": ["-1e308", "1e308"] * 8,
        "tiny": ["1e300", "1e-300"] * 8,
        "late_huge": ["0.5", "0.4", "0.3", "0.25", "0.2", "0.2"] + ["1e308"] * 10,
    }
    for name, values in series.items():
        path = tmp_path / name / "training.log"
        path.parent.mkdir()
        path.write_text("epoch,loss,val_loss\n" + "".join(f"{e},{v},{v}\n" for e, v in enumerate(values)))
        (run,) = _read("keras_csv", path)
        detect(run.frame, {}, strict=True)  # strict: a failing rule raises instead of being logged and skipped


@pytest.mark.parametrize(("family", "name"), [("hf_trainer_state", "trainer_state.json"), ("jsonl", "log.txt"),
                                              ("detectron2_json", "metrics.json"), ("mmdet_json", "a.log.json")])
def test_json_lone_surrogate_escapes(tmp_path: Path, family: str, name: str) -> None:
    """``"\\ud800"`` is valid JSON but a lone surrogate in Python, which polars cannot store: replaced by U+FFFD."""
    rows = {
        "hf_trainer_state": '{"log_history": [{"step": 1, "\\ud800_loss": 1.0, "loss": 2.0}, '
                            '{"step": 2, "\\udcff": 0.5, "loss": 1.0}]}',
        "jsonl": '{"epoch": 0, "\\ud800_loss": 1.0, "train_loss": 2.0}\nnot json\n'
                 '{"epoch": 1, "\\ude00": 0.5, "train_loss": 1.0}\n',
        "detectron2_json": '{"iteration": 19, "\\ud800": 1.0, "total_loss": 2.0}\nbad\n'
                           '{"iteration": 39, "\\ud800": 0.5, "total_loss": 1.0}\n',
        "mmdet_json": '{"mode": "train", "epoch": 1, "iter": 10, "\\ud800_loss": 1.0, "loss": 2.0, "time": 0.1}\nbad\n'
                      '{"mode": "tr\\udcffain", "epoch": 1, "iter": 20, "loss": 1.0, "time": 0.1}\n',
    }
    path = tmp_path / name
    path.write_text(rows[family])
    runs = _read(family, path)
    for run in runs:
        check_frame(run.frame, family)
    metrics = {m for run in runs for m in run.frame["metric"].to_list()}
    assert any("\ufffd" in m for m in metrics) or family == "mmdet_json", metrics


def test_event_file_with_deeply_nested_args_text(tmp_path: Path) -> None:
    """An HF ``args`` text summary whose JSON nests past the recursion limit: points kept, args ignored."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto

    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    text = TensorProto(dtype=7, string_val=[b"[" * 100_000])
    value = Summary.Value(tag="args/text_summary", tensor=text, metadata=meta)
    args = Event(wall_time=1.0, step=0, summary=Summary(value=[value]))
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(tfrecord(version_event()) + tfrecord(args.SerializeToString())
                     + b"".join(tfrecord(scalar_event("train/loss", s, 1.0 / (s + 1), 2.0 + s)) for s in range(5)))
    (run,) = _read("tfevents", path)
    assert run.frame["step"].to_list() == [0, 1, 2, 3, 4]


# ============================================================================ encodings and line endings


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bom_and_line_endings_read_the_same(tmp_path: Path, family: str) -> None:
    """A UTF-8 BOM, CRLF and lone CR endings give exactly the points of the plain file."""
    if FAMILIES[family].binary:
        pytest.skip("binary records: no text encoding")
    data = FAMILIES[family].seeds[0]()
    fmt = FAMILIES[family].format

    def points(raw: bytes, name: str) -> pl.DataFrame:
        path = tmp_path / name / FAMILIES[family].filename
        path.parent.mkdir()
        path.write_bytes(raw)
        frames = [run.frame for run in _read(fmt, path)]
        return pl.concat(frames).drop("source").sort(["metric", "split", "step"])

    plain = points(data, "plain")
    assert plain.height > 0
    variants = {"bom": b"\xef\xbb\xbf" + data, "crlf": data.replace(b"\n", b"\r\n")}
    if family != "hf_trainer_state":  # JSON lines are split on any line break; one JSON document is too
        variants["cr"] = data.replace(b"\n", b"\r")
    for name, raw in variants.items():
        assert points(raw, name).equals(plain), name


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_utf16_and_latin1_logs(tmp_path: Path, family: str) -> None:
    """UTF-16 (with BOM) is not read as text (an error entry, not a crash); latin-1 bytes are replaced."""
    if FAMILIES[family].binary:
        pytest.skip("binary records: no text encoding")
    text = FAMILIES[family].seeds[0]().decode("utf-8")
    for name, raw in (("utf16", text.encode("utf-16")), ("latin1", text.replace("loss", "l\u00f6ss").encode("latin-1"))):
        path = tmp_path / name / FAMILIES[family].filename
        path.parent.mkdir()
        path.write_bytes(raw)
        exercise_readers(path)
        out = exercise_analyze(path, render=False)
        if name == "utf16":
            assert out.statuses == ["error"], out.run_errors
        elif family in ("jsonl", "keras_history"):  # JSON is UTF-8: a mangled first key is not recognized, and says so
            assert out.statuses in (["ok"], ["error"]), out.run_errors
        else:
            assert "ok" in out.statuses, out.run_errors


# ============================================================================ oversized input

TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_10_mb_line_is_survived(tmp_path: Path, family: str) -> None:
    """A 10 MB line in the middle of a valid log (a number for CSVs, a string value for JSON, junk for events)."""
    _label, data = cached_seeds(family)[0]
    if family == "tfevents":
        mutated = data + b"\x00" * TEN_MB  # a huge non-record tail
    elif FAMILIES[family].filename.endswith((".csv", ".log")):
        lines = data.split(b"\n")
        lines.insert(len(lines) // 2, b"7" * TEN_MB)
        mutated = b"\n".join(lines)
    else:
        lines = data.split(b"\n")
        lines.insert(len(lines) // 2, b'{"loss": "' + b"a" * TEN_MB + b'", "step": 3}')
        mutated = b"\n".join(lines)
    path = tmp_path / "run" / FAMILIES[family].filename
    path.parent.mkdir()
    path.write_bytes(mutated)
    out = exercise_analyze(path, render=False)
    assert out.statuses


# ============================================================================ truncated event files


@dataclass
class EventRecords:
    """An event file written by tensorboard's own writer, with its record boundaries and points."""

    data: bytes
    ends: list[int]  # byte offset just past each record
    points: list[list[tuple[str, int, float]]]  # per record: (tag, step, value)


@functools.cache
def written_event_file() -> EventRecords:
    """60 steps x 3 scalar tags (two ``simple_value``, one TF2 tensor) via ``EventFileWriter``."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    with tempfile.TemporaryDirectory() as tmp:
        writer = EventFileWriter(tmp)
        for step in range(60):
            wall = 1.7e9 + step
            for raw in (scalar_event("train/loss", step, 3.0 / (step + 1), wall),
                        scalar_event("val/loss", step, 3.3 / (step + 1) + 0.01 * step, wall),
                        tensor_event("epoch_accuracy", step, 0.3 + step / 100, wall)):
                writer.add_event(Event.FromString(raw))
        writer.close()
        (name,) = os.listdir(tmp)
        data = (Path(tmp) / name).read_bytes()
    ends: list[int] = []
    points: list[list[tuple[str, int, float]]] = []
    o = 0
    while o < len(data):
        (n,) = struct.unpack_from("<Q", data, o)
        event = Event.FromString(data[o + 12 : o + 12 + n])
        pts = []
        for v in event.summary.value:
            val = v.simple_value if v.WhichOneof("value") == "simple_value" else v.tensor.float_val[0]
            pts.append((v.tag, event.step, float(struct.unpack("<f", struct.pack("<f", val))[0])))
        points.append(pts)
        o += n + 16
        ends.append(o)
    assert o == len(data) and len(ends) == 181  # file_version + 180 scalar events
    return EventRecords(data, ends, points)


def _points_of(run: RunData) -> set[tuple[str, str, int, float]]:
    return {(r["metric"], r["split"], r["step"], r["value"]) for r in run.frame.iter_rows(named=True)}


def _expected(rec: EventRecords, cut: int) -> set[tuple[str, str, int, float]]:
    out = set()
    for end, pts in zip(rec.ends, rec.points, strict=True):
        if end > cut:
            break
        for tag, step, value in pts:
            metric, split = infer_split(tag)
            out.add((metric, split, step, value))
    return out


def _cut_positions() -> list[int]:
    rec = written_event_file()
    cuts = {0, 1, 11, 12, 13, len(rec.data) - 1, len(rec.data)}
    for end in rec.ends[:5] + rec.ends[-5:] + rec.ends[80:83]:
        cuts.update({end - 4, end - 1, end, end + 1, end + 8, end + 12, end + 13})  # in the CRC, header, payload
    return sorted(c for c in cuts if 0 <= c <= len(rec.data))


@pytest.mark.parametrize("cut", _cut_positions())
def test_truncated_event_file_keeps_every_complete_record(tmp_path: Path, cut: int) -> None:
    rec = written_event_file()
    path = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    path.write_bytes(rec.data[:cut])
    (run,) = _read("tfevents", path)
    check_frame(run.frame, "truncated")
    assert _points_of(run) == _expected(rec, cut)
    truncated = [w for w in run.warnings if "truncated" in w]
    if cut in rec.ends or cut == 0:
        assert not truncated, run.warnings
    else:
        assert len(truncated) == 1, run.warnings


@FUZZ_READERS
@given(st.integers(min_value=0, max_value=10**9))
def test_truncated_event_file_at_random_positions(position: int) -> None:
    rec = written_event_file()
    cut = position % (len(rec.data) + 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.out.tfevents.1700000000.host.1.0"
        path.write_bytes(rec.data[:cut])
        (run,) = _read("tfevents", path)
        assert _points_of(run) == _expected(rec, cut)
        assert any("truncated" in w for w in run.warnings) == (cut not in rec.ends and cut != 0)


def test_truncated_event_file_through_analyze(tmp_path: Path) -> None:
    rec = written_event_file()
    path = tmp_path / "run" / "events.out.tfevents.1700000000.host.1.0"
    path.parent.mkdir()
    cut = rec.ends[100] + 7
    path.write_bytes(rec.data[:cut])
    (run,) = analyze([tmp_path]).runs
    assert run.status == "ok" and run.format == "tfevents"
    assert any("truncated" in w for w in run.warnings)
    assert {(s.metric, s.split): s.points for s in run.series} == {("loss", "train"): 34, ("loss", "val"): 33,
                                                                    ("accuracy", "train"): 33}


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x10]) + data[pos + 1 :]


@pytest.mark.parametrize("record", [1, 90, 180])
def test_event_file_damage_loses_only_what_it_must(tmp_path: Path, record: int) -> None:
    """A flipped payload or data-CRC byte skips that record; a flipped length or length-CRC stops at it."""
    rec = written_event_file()
    start = rec.ends[record - 1]
    path = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    all_points = _expected(rec, len(rec.data))
    lost_one = all_points - {(m, s, st_, v) for m, s, st_, v in _expected(rec, rec.ends[record]) - _expected(rec, start)}
    for pos, want, warning in (
        (start + 14, lost_one, "bad data checksum"),  # payload
        (rec.ends[record] - 2, lost_one, "bad data checksum"),  # data CRC
        (start + 1, _expected(rec, start), None),  # length (framing lost, or a too-long record)
        (start + 9, _expected(rec, start), "length checksum"),  # length CRC
    ):
        path.write_bytes(_flip(rec.data, pos))
        (run,) = _read("tfevents", path)
        assert _points_of(run) == want, (pos, run.warnings)
        assert run.warnings, pos
        if warning:
            assert any(warning in w for w in run.warnings), (pos, run.warnings)


# ============================================================================ the input tree is never touched


FORMAT_EXT = {"json": "json", "text": "txt", "markdown": "md", "github": "txt", "html": "html"}


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under ``root`` (links not followed) with its type, mode, size, mtime and content hash."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st_ = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("link", os.readlink(p), st_.st_mtime_ns)
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = ("dir", st_.st_mode, st_.st_mtime_ns)
            elif stat.S_ISREG(st_.st_mode):
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = ("file", st_.st_mode, st_.st_size, st_.st_mtime_ns, digest)
            else:
                out[rel] = ("other", st_.st_mode, st_.st_mtime_ns)
    st_ = root.lstat()
    out["."] = ("dir", st_.st_mode, st_.st_mtime_ns)
    return out


def build_tree(root: Path) -> Path:
    """A small tree of every family plus broken and ugly entries (and a link to a file outside)."""
    for fam_name, fam in FAMILIES.items():
        path = root / "runs" / fam_name / fam.filename
        path.parent.mkdir(parents=True)
        path.write_bytes(fam.seeds[0]())
    (root / "runs" / "lightning_csv" / "hparams.yaml").write_text("lr: 0.001\nbatch_size: 32\noptimizer: Adam\n")
    keras_split = root / "runs" / "tf_keras"
    for sub, tag in (("train", "epoch_loss"), ("validation", "epoch_loss")):
        (keras_split / sub).mkdir(parents=True)
        events = [tfrecord(version_event())] + [tfrecord(scalar_event(tag, s, 1.0 / (s + 1), 1.7e9 + s)) for s in range(10)]
        (keras_split / sub / "events.out.tfevents.1.host.v2").write_bytes(b"".join(events))
    broken = root / "broken"
    broken.mkdir()
    (broken / "training.log").write_bytes(b"")
    (broken / "metrics.json").write_bytes(b"\x00\x01\x02junk")
    (broken / "trainer_state.json").write_text('{"log_history": [{"step": 1, "loss": 0.5}, {"step"')
    (broken / "nan.csv").write_text("epoch,loss,val_loss\n0,nan,nan\n1,nan,inf\n")
    outside = root.parent / "outside_training.log"
    outside.write_bytes(FAMILIES["keras_csv"].seeds[1]())
    (root / "linked").mkdir()
    (root / "linked" / "training.log").symlink_to(outside)
    return root


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "tree")


@pytest.mark.parametrize("fmt", sorted(FORMAT_EXT))
def test_analyze_leaves_the_tree_unchanged(tmp_path: Path, tree: Path, fmt: str) -> None:
    before = snapshot(tree)
    outside_before = (tmp_path / "outside_training.log").read_bytes()
    out = tmp_path / "reports" / f"report.{FORMAT_EXT[fmt]}"
    res = CliRunner().invoke(cli_main, ["analyze", str(tree), "--format", fmt, "--output", str(out), "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    assert out.is_file() and out.stat().st_size > 0
    res = CliRunner().invoke(cli_main, ["analyze", str(tree), "--format", fmt, "--fail-on", "never"])  # stdout
    assert res.exit_code == 0, res.output
    assert snapshot(tree) == before
    assert (tmp_path / "outside_training.log").read_bytes() == outside_before


def test_audit_leaves_the_tree_unchanged(tmp_path: Path, tree: Path) -> None:
    before = snapshot(tree)
    out = tmp_path / "audit-out"
    for _ in range(2):  # the second run goes through the cache
        res = CliRunner().invoke(cli_main, ["audit", str(tree), "--output", str(out), "--workers", "1"])
        assert res.exit_code == 0, res.output
    assert (out / "index.html").is_file() and (out / "summary.json").is_file()
    assert snapshot(tree) == before


@pytest.mark.parametrize(
    "target",
    ["report.html", "runs/keras_csv/report.md", "runs/keras_csv/training.log", "new_dir/deeper/report.json"],
)
def test_output_inside_the_input_is_refused(tree: Path, target: str) -> None:
    before = snapshot(tree)
    res = CliRunner().invoke(cli_main, ["analyze", str(tree), "--output", str(tree / target)])
    assert res.exit_code == 2, res.output
    assert "refusing" in res.output
    assert snapshot(tree) == before


def test_output_onto_an_input_file_is_refused(tree: Path) -> None:
    log = tree / "runs" / "keras_csv" / "training.log"
    before = snapshot(tree)
    res = CliRunner().invoke(cli_main, ["analyze", str(log), "--format", "json", "--output", str(log)])
    assert res.exit_code == 2, res.output
    assert snapshot(tree) == before


def test_output_through_a_symlink_into_the_input_is_refused(tmp_path: Path, tree: Path) -> None:
    (tmp_path / "alias").symlink_to(tree)
    before = snapshot(tree)
    res = CliRunner().invoke(cli_main, ["analyze", str(tree), "--output", str(tmp_path / "alias" / "r.html")])
    assert res.exit_code == 2, res.output
    assert snapshot(tree) == before


@pytest.mark.parametrize("target", ["audit", "runs/audit", "."])
def test_audit_output_inside_the_input_is_refused(tree: Path, target: str) -> None:
    before = snapshot(tree)
    res = CliRunner().invoke(cli_main, ["audit", str(tree), "--output", str(tree / target), "--workers", "1"])
    assert res.exit_code == 2, res.output
    assert snapshot(tree) == before


# ============================================================================ file-system hazards


def _analyze(*paths: Path, warnings: list[str] | None = None) -> Report:
    report = analyze(list(paths), warnings=warnings)
    for run in report.runs:
        assert run.status in STATUSES
        check_one_line(run.error, run.run_id)
        assert not (run.error or "").startswith("internal error"), run.error
    return report


def _keras_run(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_keras_seed())
    return path


def test_symlink_loops_and_dangling_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _keras_run(root / "a" / "training.log")
    (root / "a" / "loop").symlink_to(root / "a")  # directory loop
    (root / "a" / "up").symlink_to(root)  # loop through the root
    (root / "b").mkdir()
    (root / "b" / "training.log").symlink_to(root / "b" / "nowhere.csv")  # dangling, named like a log
    (root / "b" / "x.log").symlink_to(root / "b" / "y.log")  # file link loop
    (root / "b" / "y.log").symlink_to(root / "b" / "x.log")
    (root / "b" / "history.csv").symlink_to(root / "b" / "history.csv")  # self loop, named like a log
    notes: list[str] = []
    report = _analyze(root, warnings=notes)
    ok = [r for r in report.runs if r.status == "ok"]
    assert [r.format for r in ok] == ["keras_csv"]  # the real log, once, whatever the loops
    errors = {Path(r.path).name: r.error for r in report.runs if r.status == "error"}
    assert errors.get("training.log") == "no such file or directory"
    assert errors.get("history.csv") == "symlink loop"
    assert any("loop" in n for n in notes), notes
    assert len(report.runs) <= 4
    for path in (root / "b" / "training.log", root / "b" / "history.csv"):  # given explicitly
        (run,) = _analyze(path).runs
        assert run.status == "error"


def _deny(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Make every open of ``target`` fail with EACCES (tests run as root, where chmod 000 does not deny)."""
    import builtins
    import io

    denied = os.path.realpath(target)
    real_open, real_io_open, real_os_open = builtins.open, io.open, os.open

    def check(file: object) -> None:
        if isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(file)) == denied:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", os.fsdecode(file))  # type: ignore[arg-type]

    def fake_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        check(file)
        return real_open(file, *args, **kwargs)

    def fake_io_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        check(file)
        return real_io_open(file, *args, **kwargs)

    def fake_os_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        check(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_io_open)
    monkeypatch.setattr(os, "open", fake_os_open)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_permission_denied_becomes_an_error_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, family: str) -> None:
    fam = FAMILIES[family]
    path = tmp_path / "run" / fam.filename
    path.parent.mkdir()
    path.write_bytes(fam.seeds[0]())
    good = _keras_run(tmp_path / "good" / "training.log")
    _deny(monkeypatch, path)
    report = _analyze(tmp_path)
    by_path = {Path(r.path): r for r in report.runs}
    assert by_path[good].status == "ok"
    bad = by_path.get(path) or by_path.get(path.parent)
    assert bad is not None and bad.status == "error"
    assert "permission denied" in (bad.error or "").lower(), bad.error
    if family == "mlflow_db":
        return  # sqlite opens the file in C, past the patched open(); discovery's denied head read is what is checked
    with pytest.raises((LogReadError, PermissionError)):  # the reader alone: its own clean error, or the OS error
        reader_by_format(fam.format).read(path, "r")


def test_unreadable_directory_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _keras_run(tmp_path / "good" / "training.log")
    _keras_run(tmp_path / "locked" / "run" / "training.log")
    locked = os.path.realpath(tmp_path / "locked")
    real_scandir = os.scandir

    def fake_scandir(path: object = ".") -> object:
        if os.path.realpath(os.fsdecode(path)) == locked:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", os.fsdecode(path))  # type: ignore[arg-type]
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", fake_scandir)
    notes: list[str] = []
    report = _analyze(tmp_path, warnings=notes)
    assert [(Path(r.path), r.status) for r in report.runs] == [(good, "ok")]
    assert any("locked" in n and "permission denied" in n for n in notes), notes


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file permissions")
def test_permission_denied_for_real(tmp_path: Path) -> None:
    path = _keras_run(tmp_path / "run" / "training.log")
    path.chmod(0)
    try:
        (run,) = _analyze(tmp_path).runs
        assert run.status == "error" and run.error == "permission denied"
    finally:
        path.chmod(0o644)


def test_fifo_named_like_a_log_does_not_hang(tmp_path: Path) -> None:
    """Discovery skips FIFOs (opening one would block forever): checked in a subprocess with a timeout."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    root = tmp_path / "root"
    _keras_run(root / "ok" / "training.log")
    (root / "fifo").mkdir()
    os.mkfifo(root / "fifo" / "training.log")
    os.mkfifo(root / "fifo" / "events.out.tfevents.1.host")
    os.mkfifo(root / "fifo" / "trainer_state.json")
    cmd = [sys.executable, "-m", "trainlog_doctor", "analyze", str(root), str(root / "fifo" / "training.log"),
           "--format", "json", "--fail-on", "never"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout)["runs"]
    ok = [r for r in runs if r["status"] == "ok"]
    assert len(ok) == 1 and ok[0]["format"] == "keras_csv"
    explicit = [r for r in runs if r["path"] == str(root / "fifo" / "training.log")]
    assert explicit and explicit[0]["status"] == "error" and explicit[0]["error"] == "not a regular file"
    for r in runs:
        assert r["status"] in STATUSES and "\n" not in (r["error"] or "")


def test_directory_named_like_a_log(tmp_path: Path) -> None:
    root = tmp_path / "root"
    inner = _keras_run(root / "training.log" / "run" / "training.log")  # a directory called training.log
    (root / "metrics.json").mkdir()
    (root / "x" / "events.out.tfevents.1.host").mkdir(parents=True)  # a directory named like an event file
    report = _analyze(root)
    assert [(Path(r.path), r.status) for r in report.runs if r.status == "ok"] == [(inner, "ok")]
    assert all(r.status in STATUSES for r in report.runs)
    report = _analyze(root / "training.log")  # given explicitly: walked as a tree
    assert [r.status for r in report.runs] == ["ok"]


def _grow_and_shrink(path: Path, chunks: list[bytes], stop: threading.Event, seed: int) -> None:
    """Append, truncate and rewrite ``path`` in a loop until ``stop`` is set."""
    rnd = random.Random(seed)
    base = b"".join(chunks[:40])
    while not stop.is_set():
        action = rnd.random()
        try:
            if action < 0.75:  # a writer appending (records are cut anywhere: chunks are written in two parts)
                chunk = rnd.choice(chunks[1:])
                cut = rnd.randint(0, len(chunk))
                with open(path, "ab") as fh:
                    fh.write(chunk[:cut])
                    fh.flush()
                    fh.write(chunk[cut:])
            elif action < 0.95:  # cut back to a random length (at most by half)
                size = path.stat().st_size
                with open(path, "r+b") as fh:
                    fh.truncate(rnd.randint(size // 2, size))
            else:  # rewritten from scratch
                path.write_bytes(base)
        except OSError:
            pass
        time.sleep(0.0005)


def test_files_changing_while_read(tmp_path: Path) -> None:
    """A CSV and an event file grow, shrink and get rewritten while analyze runs: no crash, sane entries."""
    run_csv = tmp_path / "csv_run" / "training.log"
    run_csv.parent.mkdir()
    header = b"epoch,loss,val_loss\n"
    csv_chunks = [header] + [f"{e},{1 / (e + 1):.5f},{1.1 / (e + 1):.5f}\n".encode() for e in range(200)]
    run_csv.write_bytes(b"".join(csv_chunks[:50]))
    run_ev = tmp_path / "ev_run" / "events.out.tfevents.1.host"
    run_ev.parent.mkdir()
    ev_chunks = [tfrecord(version_event())] + [tfrecord(scalar_event("loss", s, 1.0 / (s + 1), 1.7e9 + s)) for s in range(200)]
    run_ev.write_bytes(b"".join(ev_chunks[:50]))
    stop = threading.Event()
    workers = [
        threading.Thread(target=_grow_and_shrink, args=(run_csv, csv_chunks, stop, 1), daemon=True),
        threading.Thread(target=_grow_and_shrink, args=(run_ev, ev_chunks, stop, 2), daemon=True),
    ]
    for w in workers:
        w.start()
    seen: dict[tuple[str | None, str], int] = {}
    try:
        for _ in range(25):
            report = _analyze(tmp_path)
            assert len(report.runs) >= 2
            for run in report.runs:
                seen[(run.format, run.status)] = seen.get((run.format, run.status), 0) + 1
                if run.frame is not None:
                    check_frame(run.frame, run.run_id)
                    steps = run.frame.filter(pl.col("metric") == "loss")["step"]
                    assert steps.is_sorted() or run.format == "keras_csv", run.run_id  # appended runs are split
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=10)
    assert seen.get(("keras_csv", "ok"), 0) >= 5 and seen.get(("tfevents", "ok"), 0) >= 5, seen


# ============================================================================ bounded reads


@pytest.mark.parametrize(("module", "family", "name"), [("_csv", "keras_csv", "training.log"),
                                                         ("keras_history", "keras_history", "history.json"),
                                                         ("text_log", "text_log", "train.log")])
def test_bounded_read_refuses_a_file_over_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, family: str,
                                                    name: str) -> None:
    """One ``read_bounded`` for CSV logs, Keras histories and text logs: over the limit is a one-line error."""
    import importlib

    mod = importlib.import_module(f"trainlog_doctor.readers.{module}")
    path = tmp_path / name
    path.write_bytes(FAMILIES[family].seeds[0]())
    monkeypatch.setattr(mod, "MAX_BYTES", 100)
    with pytest.raises(LogReadError, match=r"^file too large for a .* \(0 MiB\)$"):
        reader_by_format(FAMILIES[family].format).read(path, "r")
    monkeypatch.setattr(mod, "MAX_BYTES", path.stat().st_size)  # exactly at the limit is read
    assert reader_by_format(FAMILIES[family].format).read(path, "r")[0].frame.height > 0
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(LogReadError, match="is a directory"):
        reader_by_format(FAMILIES[family].format).read(tmp_path / "dir.json", "r")
