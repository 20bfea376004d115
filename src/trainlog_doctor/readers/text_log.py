"""Console and text training logs: ``training.log``, ``train.log``, ``output.log``, stdout captures.

What is read, line by line (ANSI colour codes removed, ``\\r`` progress updates split into lines, lines
over 64 KiB skipped):

* a *record* is a line with an epoch or step marker (``Epoch 3/30``, ``Epoch [3/10]``, ``| epoch 003 |``,
  ``'epoch': 0.5``, ``step 100``, ``Step [100/600]``, ``iter 100:``) and numeric pairs (``loss: 0.41``,
  ``loss=0.41``, ``'loss': 0.41``, ``loss 0.41`` for known metric names). A line of pairs without a marker
  belongs to the last marker seen (Keras prints ``Epoch 3/30`` alone, then ``... - loss: 0.41 - val_loss: ...``).
* Python-logging prefixes are skipped; a leading ``YYYY-MM-DD HH:MM:SS[,.mmm]`` is the wall time (UTC).
* Progress-bar updates that are not the last of their epoch (``32/1875 [==>...]``, tqdm ``40%|``) are skipped.
* The index: the step marker when there is one (a counter that restarts each epoch becomes
  ``epoch x steps per epoch + counter``), else the epoch as printed (``step`` = the epoch when integral,
  else the rank of the epoch value). ``epoch`` is kept as printed (Keras prints it 1-based).
* Confidence: at least :data:`MIN_RECORDS` records naming one metric-like quantity (loss, acc, lr ...);
  otherwise the file is not a training log (sniff refuses it; read raises :class:`LogReadError`).
  ``meta["text_pattern"]`` says which layout was recognized.

All patterns are linear-time (no nested quantifiers, bounded repeats).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import conform, empty_frame
from trainlog_doctor.readers._csv import decode_text, is_metric_like
from trainlog_doctor.readers.base import LogReadError, RunData, display_path
from trainlog_doctor.run.names import infer_split, series_names

MAX_BYTES = 256 * 1024 * 1024
MAX_LINE = 64 * 1024
SNIFF_BYTES = 256 * 1024
MIN_RECORDS = 3
SUFFIXES = (".log", ".txt", ".out", ".stdout", ".stderr", ".err", "")

_ANSI = re.compile(r"\x1b\[[0-9;?]{0,20}[A-Za-z]")
_TIMESTAMP = re.compile(r"^\[?(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?")
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_EPOCH = re.compile(r"(?<![\w.])['\"]?epoch['\"]?\s{0,4}[:=#]?\s{0,4}\[?\s{0,4}(\d+(?:\.\d+)?)(?:\s{0,2}/\s{0,2}(\d+))?", re.I)
_STEP = re.compile(
    r"(?<![\w.])['\"]?(?:global_step|step|iteration|iter|it)['\"]?\s{0,4}[:=#]?\s{0,4}\[?\s{0,4}(\d+)(?:\s{0,2}/\s{0,2}(\d+))?(?![\d.])",
    re.I,
)
_PAIR = re.compile(
    r"(?<![\w./-])['\"]?([A-Za-z_][A-Za-z0-9_./\-]{0,80})['\"]?(\s{0,4}[:=]\s{0,4}|\s{1,4})"
    r"(" + _NUM + r"|nan|-?inf)(?:ms|s|%)?(?![\w.:/])",
    re.I,
)
_KERAS_BATCH = re.compile(r"^\s{0,40}(\d+)/(\d+)\s")
_TQDM = re.compile(r"(\d{1,3})%\|")
_MARKER_KEYS = frozenset({"epoch", "step", "global_step", "iteration", "iter", "it"})
#: Names taken as a metric when separated from the number by spaces only (``loss 0.41``, ``time 30.5ms``).
_SPACED_NAMES = frozenset({"time", "mfu", "gnorm", "grad_norm", "wps", "ups", "wpb", "bsz", "ppl", "lr", "wall", "train_wall"})


@dataclass
class _Record:
    epoch: float | None
    step: int | None
    step_total: int | None
    wall: float | None
    values: dict[str, float] = field(default_factory=dict)


def _clean_lines(text: str) -> list[str]:
    """Lines of ``text`` without ANSI codes; ``\\r`` updates are separate lines; overlong lines dropped."""
    return [_ANSI.sub("", ln) if "\x1b" in ln else ln for ln in text.splitlines() if len(ln) <= MAX_LINE]


def _wall_time(line: str) -> tuple[float | None, int]:
    """The leading timestamp (unix seconds, UTC) and where it ends, or ``(None, 0)``."""
    m = _TIMESTAMP.match(line)
    if not m:
        return None, 0
    try:
        y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
        frac = float("0." + m.group(7)) if m.group(7) else 0.0
        return datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp() + frac, m.end()
    except ValueError:
        return None, 0


def _is_partial_progress(line: str) -> bool:
    """True for a progress-bar update that is not the last of its epoch."""
    m = _KERAS_BATCH.match(line)
    if m and m.group(1) != m.group(2):
        return True
    t = _TQDM.search(line)
    return t is not None and t.group(1) != "100"


def _pairs(line: str, spans: list[tuple[int, int]], *, metric_only: bool) -> dict[str, float]:
    """The ``name value`` pairs of ``line`` outside the marker ``spans`` (only metric-like names if ``metric_only``).

    A name after ``best`` (``best val_acc 0.78 at epoch 12``) is a summary, not a point.
    """
    out: dict[str, float] = {}
    for m in _PAIR.finditer(line):
        if any(a <= m.start(3) < b for a, b in spans):
            continue
        if line[max(0, m.start() - 5) : m.start()].lower().endswith(("best ", "best_")):
            continue
        if metric_only and not is_metric_like(m.group(1)):
            continue
        key, sep, raw = m.group(1).rstrip("./-"), m.group(2), m.group(3)
        low = key.lower()
        if not key or low in _MARKER_KEYS or low.endswith((".py", ".cc", ".cpp")):
            continue
        if not sep.strip() and not (is_metric_like(key) or low in _SPACED_NAMES):
            continue
        try:
            out[key] = float(raw)
        except ValueError:
            continue
    return out


def _records(lines: list[str]) -> tuple[list[_Record], dict[str, int]]:
    """Records of the lines (see the module docstring) and counts of the layouts seen."""
    records: list[_Record] = []
    seen = {"keras": 0, "dict": 0, "logging": 0}
    epoch: float | None = None
    step: int | None = None
    step_total: int | None = None
    for raw in lines:
        wall, start = _wall_time(raw)
        line = raw[start:]
        if _is_partial_progress(line):
            continue
        spans: list[tuple[int, int]] = []
        em = _EPOCH.search(line)
        sm = _STEP.search(line)
        if em:
            epoch = float(em.group(1))
            spans.append(em.span())
            if sm is None:
                step, step_total = None, None
        if sm:
            step = int(sm.group(1))
            step_total = int(sm.group(2)) if sm.group(2) else None
            spans.append(sm.span())
        own = bool(em or sm)
        if not own and epoch is None and step is None:
            continue  # numbers before any marker: a preamble, not a record
        values = _pairs(line, spans, metric_only=not own)
        if not values:
            continue
        if not own:
            seen["keras"] += 1
        if line.lstrip().startswith(("{'", '{"')):
            seen["dict"] += 1
        if wall is not None:
            seen["logging"] += 1
        records.append(_Record(epoch, step, step_total, wall, values))
    return records, seen


def _confident(records: list[_Record]) -> bool:
    """At least :data:`MIN_RECORDS` records share one metric-like name."""
    counts: dict[str, int] = {}
    for r in records:
        for k in r.values:
            if is_metric_like(k):
                counts[k] = counts.get(k, 0) + 1
                if counts[k] >= MIN_RECORDS:
                    return True
    return False


def _pattern(records: list[_Record], seen: dict[str, int]) -> str:
    if seen["dict"] * 2 >= len(records):
        return "printed dicts"
    if seen["keras"] * 2 >= len(records):
        return "keras progress"
    kind = "step" if any(r.step is not None for r in records) else "epoch"
    prefix = "python logging, " if seen["logging"] * 2 >= len(records) else ""
    return f"{prefix}{kind} lines with name/value pairs"


def _index(records: list[_Record]) -> tuple[list[int], list[float | None]]:
    """Step and epoch per record (see the module docstring)."""
    epochs = [r.epoch for r in records]
    if any(r.step is not None for r in records):
        steps = [r.step for r in records]
        restarts = any(a is not None and b is not None and b < a for a, b in zip(steps, steps[1:]))
        if restarts and any(e is not None for e in epochs):
            per_epoch = max((r.step_total or 0) for r in records) or max(s or 0 for s in steps) + 1
            first = min(e for e in epochs if e is not None)
            steps = [None if s is None else int(((e or first) - first) * per_epoch) + s for s, e in zip(steps, epochs)]
        last = 0
        out: list[int] = []
        for s in steps:
            last = s if s is not None else last
            out.append(last)
        return out, epochs
    if all(e is not None and float(e).is_integer() for e in epochs):
        return [int(e) for e in epochs if e is not None], epochs
    rank: dict[float | None, int] = {}
    for e in epochs:
        rank.setdefault(e, len(rank))
    return [rank[e] for e in epochs], epochs


def _scan(path: Path, limit: int) -> tuple[list[_Record], dict[str, int], list[str]]:
    with open(path, "rb") as fh:
        data = fh.read(limit)
    if b"\x00" in data[:8192]:
        return [], {}, []
    text, warnings = decode_text(data)
    records, seen = _records(_clean_lines(text))
    return records, seen, warnings


class TextLogReader:
    """Reader for console/text training logs (Keras progress, Python logging, ``key=value`` prints)."""

    format: ClassVar[str] = "text_log"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """A text file whose first 256 KiB hold at least a few consistent epoch/step records."""
        try:
            if path.suffix.lower() not in SUFFIXES or not path.is_file() or b"\x00" in head:
                return False
            if not (_EPOCH.search(head.decode("utf-8", "replace")) or _STEP.search(head.decode("utf-8", "replace"))):
                if len(head) < SNIFF_BYTES and path.stat().st_size <= len(head):
                    return False
            records, _, _ = _scan(path, SNIFF_BYTES)
            return _confident(records)
        except Exception:
            return False

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` with every record's pairs as points."""
        try:
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise LogReadError(f"file too large for a text log ({size // (1024 * 1024)} MiB)")
            records, seen, warnings = _scan(path, MAX_BYTES)
        except IsADirectoryError as exc:
            raise LogReadError("is a directory, not a text log") from exc
        except OSError as exc:
            raise LogReadError(f"cannot read: {exc.strerror or type(exc).__name__}") from exc
        if size == 0:
            return [RunData(empty_frame(), warnings=["empty file"])]
        if not _confident(records):
            raise LogReadError(f"not a training log: fewer than {MIN_RECORDS} epoch/step lines with metric values")
        steps, epochs = _index(records)
        keys = list(dict.fromkeys(k for r in records for k in r.values))
        names = series_names(keys, infer_split)
        rows: dict[str, list[Any]] = {"column": [], "step": [], "epoch": [], "wall_time": [], "value": []}
        for r, step, epoch in zip(records, steps, epochs):
            for k, v in r.values.items():
                rows["column"].append(k)
                rows["step"].append(step)
                rows["epoch"].append(epoch)
                rows["wall_time"].append(r.wall)
                rows["value"].append(v)
        long = pl.DataFrame(
            rows,
            schema={"column": pl.Utf8, "step": pl.Int64, "epoch": pl.Float64, "wall_time": pl.Float64, "value": pl.Float64},
        )
        long = long.with_columns(
            pl.col("column").replace_strict({k: m for k, (m, _) in names.items()}, return_dtype=pl.Utf8).alias("metric"),
            pl.col("column").replace_strict({k: s for k, (_, s) in names.items()}, return_dtype=pl.Utf8).alias("split"),
            pl.lit(run_id, dtype=pl.Utf8).alias("run_id"),
            pl.lit(display_path(path), dtype=pl.Utf8).alias("source"),
        )
        return [RunData(frame=conform(long), meta={"text_pattern": _pattern(records, seen)}, warnings=warnings)]
