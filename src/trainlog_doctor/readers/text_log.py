"""Console and text training logs: ``training.log``, ``train.log``, ``output.log``, stdout captures.

The file is read in one pass, line by line: ANSI colour codes are removed, ``\\r`` and runs of ``\\b``
(progress-bar redraws) end a line like ``\\n`` does, lines over 64 KiB are skipped. Each line is
matched against the named patterns of :data:`PATTERNS` (every one linear-time: bounded repeats, no
nested quantifiers; cheap substring tests decide which ones run at all):

* a leading ``timestamp`` (Python logging ``YYYY-MM-DD HH:MM:SS,mmm``, mmengine ``YYYY/MM/DD`` or
  ``MM/DD HH:MM:SS``, detectron2 ``[MM/DD HH:MM:SS``) is the wall time (UTC; a yearless stamp is put in
  the year 2000 and moves on a year when the month goes back);
* a *record* is a line with an ``epoch`` or ``step`` marker and ``pair`` values (``loss: 0.41``,
  ``loss=0.41``, ``'loss': 0.41``, ``loss 0.41`` for metric-like names, ``train loss 0.41``). A line of
  pairs without a marker belongs to the last marker seen (Keras prints ``Epoch 3/30`` alone, then
  ``... - loss: 0.41 - val_loss: ...``); there only metric-like names count.
* The split: the metric name's prefix (``val_loss``), else the line's ``split_context``
  (mmengine/mmcv ``Epoch(val)``, fairseq ``valid on 'valid' subset``, ``Test:  [`` of the torchvision
  MetricLogger, detectron2's ``copypaste`` results), which prefixes the names and drops the timing ones.
  An evaluation line does not move the step: its points sit at the last training step.
* Not read twice: progress-bar updates that are not the last of their loop (``32/1875 [==>...]``,
  tqdm ``40%|``); a progress-bar record with the same markers as the one before it is merged into it
  (Lightning prints an epoch's finished bar again with the validation values); epoch summaries (fairseq
  ``| train | epoch 003 | ...``, the Trainer's ``train_runtime`` dict) when the log has the
  per-iteration lines they summarize; ``best ...`` summaries; ``eta``, ``v_num``, ``*_copypaste``.
* Tables: the YOLOv5/ultralytics console (an ``Epoch GPU_mem box_loss ...`` header, then a row per
  epoch, and a ``Class Images Instances P R mAP50 ...`` header with its ``all`` row for validation).
* The index: the step marker when there is one (fairseq's ``num_updates`` too; a counter that
  restarts each epoch, ``Epoch [3][50/500]``, becomes ``epoch x steps per epoch + counter``), else the
  Trainer's fractional epoch times its steps per epoch (from the ``Total optimization steps`` banner),
  else the epoch as printed (when integral), else the rank of the epoch value. ``epoch`` is kept as
  printed (Keras prints it 1-based, YOLOv5 0-based).
* Speed: a line is split once into text and number tokens (:data:`_NUMBER_SPLIT`); its text pieces are
  its *layout*, analyzed once (:func:`_analyze`) and cached, so the lines of a long log cost one split
  and a lookup. A line whose numbers do not fit its layout's slots is analyzed on its own.
* Confidence: at least :data:`MIN_RECORDS` records naming one metric-like quantity (loss, acc, lr ...);
  otherwise the file is not a training log (sniff refuses it; read raises :class:`LogReadError`).
  ``meta["text_pattern"]`` names the layout most records came in (see :func:`_pattern_name`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

from trainlog_doctor.model.frame import conform, empty_frame
from trainlog_doctor.readers._csv import decode_text, is_metric_like
from trainlog_doctor.readers.base import LogReadError, RunData, display_path, read_bounded
from trainlog_doctor.run.names import infer_split, series_names

MAX_BYTES = 256 * 1024 * 1024
MAX_LINE = 64 * 1024
SNIFF_BYTES = 256 * 1024
MIN_RECORDS = 3
SUFFIXES = (".log", ".txt", ".out", ".stdout", ".stderr", ".err", "")
#: Yearless timestamps (``MM/DD HH:MM:SS``) are placed in this year (a leap year, so 02/29 is valid).
YEARLESS_BASE = 2000

_NUM = r"[-+]?(?:\d{1,40}(?:\.\d{0,40})?|\.\d{1,40})(?:[eE][-+]?\d{1,4})?"
_VALUE = _NUM + r"|nan|NaN|-?inf|-?Inf"
_SPLIT_WORD = r"train|training|Train|Training|val|valid|validation|Val|Valid|Validation|test|Test|eval|Eval"


@dataclass(frozen=True)
class LinePattern:
    """A named, documented line pattern (linear-time: bounded repeats, no nested quantifiers)."""

    name: str
    regex: re.Pattern[str]
    doc: str


def _pattern(name: str, regex: str, doc: str, flags: int = 0) -> LinePattern:
    return LinePattern(name, re.compile(regex, flags), doc)


#: Every pattern the reader uses, by name.
PATTERNS: dict[str, LinePattern] = {
    p.name: p
    for p in (
        _pattern("ansi", r"\x1b\[[0-9;?]{0,20}[A-Za-z]", "an ANSI colour or cursor code"),
        _pattern("backspaces", r"\x08{1,100000}", "a run of backspaces (Keras redraws its progress bar with them)"),
        _pattern(
            "timestamp",
            r"^\s{0,4}\[?(?:(\d{4})[-/](\d{2})[-/](\d{2})|(\d{2})/(\d{2}))[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?",
            "the leading time of a logging line: 2026-05-08 22:39:24,123 | 2026/05/08 22:39:24 | [05/08 22:39:24",
        ),
        _pattern(
            "epoch",
            r"(?<![\w.])['\"]?(?:epoch|Epoch|EPOCH)['\"]?(?:\((train|val|test)\))?\s{0,4}[:=#]?\s{0,4}\[?\s{0,4}"
            r"(\d{1,9}(?:\.\d{1,9})?)(?:\s{0,2}/\s{0,2}(\d{1,9}))?\]?"
            r"(?:\s{0,4}\[\s{0,8}(\d{1,12})(?:\s{0,2}/\s{0,2}(\d{1,12}))?\s{0,2}\]|:\s{1,8}(\d{1,12})\s{0,2}/\s{0,2}(\d{1,12}))?",
            "an epoch marker, with the counter in the epoch when printed: Epoch 3/30 | Epoch [3][50/500] | "
            "Epoch(train)  [3][ 50/500] | Epoch: [3]  [50/500] | epoch 003:    50 / 500 | 'epoch': 0.5",
        ),
        _pattern(
            "step",
            r"['\"]?[sSiIbB](?:tep|TEP|teration|ter|t|atch)['\"]?"
            r"(?:\((train|val|test)\))?\s{0,4}[:=#]?\s{0,4}\[?\s{0,8}(\d{1,12})(?:\s{0,2}/\s{0,2}(\d{1,12}))?(?![\d.])",
            "a step marker (not inside a word, global_step allowed): step 100 | Step [100/600] | iter: 19 | "
            "Iter(train) [ 50/40000] | iter 100: | Batch 100/600",
        ),
        _pattern(
            "pair",
            r"(?<![\w./@-])(?:(" + _SPLIT_WORD + r")\.?\s)?([A-Za-z_][\w./@\-]{0,80})(\s{0,4}[:=]\s{0,4}|\s{1,4})"
            r"(" + _VALUE + r")(?:ms|s|%|[KMG]i?B?)?(?![\w.:/])",
            "a name and a number: loss: 0.41 | loss=0.41 | loss 0.41 | train loss 0.41 | Val. Loss: 3.4 | time 30.5ms",
        ),
        _pattern(
            "pair_plain",
            r"(?<![\w./@-])([A-Za-z_][\w./@\-]{0,80})(\s{0,4}[:=]\s{0,4}|\s{1,4})(" + _VALUE + r")"
            r"(?:ms|s|%|[KMG]i?B?)?(?![\w.:/])",
            "the same without the split word (faster; used when the line has no split word before a name)",
        ),
        _pattern(
            "split_word",
            r"[TtVvEe](?:rain|raining|al|alid|alidation|est|val)\.? [A-Za-z]",
            "a split word before a name: train loss | Val. Loss | test acc",
        ),
        _pattern(
            "dict_pair",
            r"['\"]([^'\"\n]{1,80})['\"]:\s{0,2}(" + _VALUE + r")(?![\w.])",
            "a member of a printed dict: 'loss': 0.52 (the Hugging Face Trainer prints one dict per logging step)",
        ),
        _pattern("keras_epoch", r"^\s{0,8}Epoch (\d{1,9})/(\d{1,9})\s{0,8}$", "the Keras epoch header: Epoch 3/30"),
        _pattern("progress_count", r"^\s{0,40}(\d{1,12})/(\d{1,12})\s", "a Keras progress line: 32/1875 [==>....] - ETA ..."),
        _pattern("tqdm", r"(\d{1,3})%\|", "a tqdm bar: 40%|████      |"),
        _pattern(
            "split_context",
            r"(?:Epoch|Iter)\((val|test)\)|valid on '|\| (valid|test) \||^\s{0,8}(Test|Eval|Validation|Valid):\s{0,4}\[",
            "an evaluation line: Epoch(val) [1][10/10] | | valid | epoch 001 | valid on 'valid' subset | Test:  [ 0/50]",
        ),
        _pattern(
            "fairseq",
            r"\| (?:train_inner|train|valid) \||epoch \d{3}(?::\s| \|)",
            "fairseq: | train_inner | epoch 001:    100 / 1102 loss=... | valid | epoch 001 | valid on 'valid' subset | loss ...",
        ),
        _pattern("summary", r"epoch \d{1,9} \||'train_runtime'",
                 "an epoch summary: fairseq | epoch 003 | ..., the Trainer's train_runtime dict"),
        _pattern("nanogpt", r"^(?:iter|step) \d{1,12}: ",
                 "nanoGPT: iter 100: loss 2.34, time 30.5ms | step 250: train loss 1.9, val loss 2.0"),
        _pattern("yolo_train_header", r"^\s{0,16}Epoch\s{1,16}GPU_mem\s",
                 "YOLOv5/ultralytics: Epoch GPU_mem box_loss obj_loss cls_loss ..."),
        _pattern("yolo_val_header", r"^\s{0,24}Class\s{1,16}Images\s{1,16}(?:Instances|Labels)\s",
                 "YOLO: Class Images Instances P R mAP50 ..."),
        _pattern("yolo_row", r"^\s{0,16}(\d{1,9})/(\d{1,9})\s{1,16}[\d.]{1,12}G\s", "a YOLO epoch row: 0/99  3.34G  0.04563 ..."),
        _pattern("yolo_all_row", r"^\s{0,24}all\s{1,16}\d", "the YOLO validation row: all 128 929 0.707 0.631 0.713 0.472"),
        _pattern("d2_copypaste", r"(?:^|\]: )copypaste: ([^\n]{1,4000})$",
                 "detectron2 results: copypaste: AP,AP50,... then copypaste: 35.1,55.2,..."),
        _pattern("hf_epochs", r"Num [Ee]pochs = ([\d,]{1,12})", "the Trainer's banner: Num Epochs = 3"),
        _pattern("hf_steps", r"Total optimization steps = ([\d,]{1,15})",
                 "the Trainer's banner: Total optimization steps = 9,375"),
    )
}

_RX = {name: p.regex for name, p in PATTERNS.items()}
_MARKER_KEYS = frozenset({"epoch", "step", "global_step", "iteration", "iter", "it", "batch"})
#: Names that are never a point: time left, Lightning's version number, detectron2/mmdet copy-paste rows.
_SKIP_NAMES = frozenset({"eta", "v_num", "ETA"})
#: Names taken as a metric when separated from the number by spaces only (``loss 0.41``, ``time 30.5ms``).
_SPACED_NAMES = frozenset(
    {"time", "mfu", "gnorm", "grad_norm", "wps", "ups", "wpb", "bsz", "ppl", "lr", "wall", "train_wall", "gb_free", "num_updates"}
)
#: Names of a step counter given as a pair (fairseq's ``num_updates``).
_STEP_NAMES = frozenset({"num_updates", "global_step"})
#: Layouts whose finished progress bar may be printed again with more values (merged, not read twice).
_REDRAWN = frozenset({"tqdm postfix", "keras progress", "yolo console"})
#: YOLO columns that are not metrics.
_YOLO_SKIP = frozenset({"Epoch", "Instances", "Size", "labels", "img_size", "Labels", "Class", "Images"})


@dataclass(slots=True)
class _Record:
    """One record: its markers and its points, names in ``keys`` and the numbers as printed in ``vals``
    (parsed all at once when the frame is built; a layout's ``keys`` tuple is shared by its records)."""

    epoch: float | None
    step: int | None
    step_total: int | None
    wall: float | None
    keys: tuple[str, ...]
    vals: tuple[str, ...]
    context: str = "train"  # "train" or the evaluation split ("val", "test")
    pattern: str = "epoch lines"
    summary: bool = False


def _from_numbers(values: dict[str, float]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``keys`` and ``vals`` of a record from parsed numbers (YOLO tables, detectron2 results)."""
    return tuple(values), tuple(repr(v) for v in values.values())


@dataclass
class _State:
    """What the scan carries from line to line."""

    epoch: float | None = None
    step: int | None = None
    step_total: int | None = None
    keras: bool = False  # the last marker was a Keras ``Epoch 3/30`` header
    carried: str = "epoch lines"
    yolo_train: list[str] | None = None
    yolo_val: list[str] | None = None
    d2_task: str = ""
    d2_names: list[str] | None = None
    hf_epochs: int | None = None
    hf_steps: int | None = None
    year: int = YEARLESS_BASE
    last_month: int = 0
    logging_lines: int = 0


@dataclass
class _Scan:
    records: list[_Record] = field(default_factory=list)
    state: _State = field(default_factory=_State)
    warnings: list[str] = field(default_factory=list)


def _lines(text: str) -> tuple[list[str], int]:
    """Lines of ``text`` (``\r`` and backspace runs end a line; ANSI codes removed) and how many were over
    :data:`MAX_LINE` and dropped."""
    if "\x08" in text:
        text = _RX["backspaces"].sub("\n", text)
    ansi = _RX["ansi"]
    lines = text.splitlines()
    kept = [ansi.sub("", ln) if "\x1b" in ln else ln for ln in lines if len(ln) <= MAX_LINE]
    return kept, len(lines) - len(kept)


_MINUTES: dict[tuple[int, int, int, int, int], float | None] = {}
_MINUTE_TEXT: dict[str, float] = {}  # the stamp's text up to the minute -> unix seconds


def _minute(y: int, mo: int, d: int, h: int, mi: int) -> float | None:
    """Unix seconds (UTC) at the start of a minute, ``None`` for an invalid date (memoized)."""
    key = (y, mo, d, h, mi)
    if key not in _MINUTES:
        try:
            _MINUTES[key] = datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp()
        except ValueError:
            _MINUTES[key] = None
        if len(_MINUTES) > 200_000:
            _MINUTES.clear()
    return _MINUTES.get(key)


def _wall_time(line: str, state: _State) -> tuple[float | None, int]:
    """The leading timestamp (unix seconds, UTC) and where it ends, or ``(None, 0)``."""
    m = _RX["timestamp"].match(line)
    if not m:
        return None, 0
    g = m.groups()
    if g[0] is not None:
        base = _MINUTE_TEXT.get(line[: m.start(8)])
        if base is None:
            base = _minute(int(g[0]), int(g[1]), int(g[2]), int(g[5]), int(g[6]))
            if base is not None and len(_MINUTE_TEXT) < 200_000:
                _MINUTE_TEXT[line[: m.start(8)]] = base
    else:
        mo, d = int(g[3]), int(g[4])
        if mo < state.last_month:
            state.year += 1
        state.last_month = mo
        base = _minute(state.year, mo, d, int(g[5]), int(g[6]))
    sec = int(g[7])
    if base is None or sec > 60:
        return None, 0
    state.logging_lines += 1
    return base + sec + (float("0." + g[8]) if g[8] else 0.0), m.end()


def _is_partial_progress(line: str) -> bool:
    """True for a progress-bar update that is not the last of its loop."""
    m = _RX["progress_count"].match(line)
    if m and m.group(1) != m.group(2):
        return True
    if "%|" in line:
        t = _RX["tqdm"].search(line)
        return t is not None and t.group(1) != "100"
    return False


_NAME_OK: dict[tuple[str, bool, bool], str | None] = {}


def _point_name(name: str, spaced: bool, metric_only: bool) -> str | None:
    """The name a pair is kept under, or ``None`` when it is not a point (memoized: a log repeats its names)."""
    key = (name, spaced, metric_only)
    if key in _NAME_OK:
        return _NAME_OK[key]
    clean = name.rstrip("./-")
    low = clean.lower()
    metric = is_metric_like(clean)
    bad = (
        not clean
        or low in _MARKER_KEYS
        or clean in _SKIP_NAMES
        or low.startswith("best_")
        or low.endswith((".py", ".cc", ".cpp", "_copypaste"))
        or (metric_only and not metric)
        or (spaced and not (metric or low in _SPACED_NAMES))
    )
    out = None if bad else clean
    if len(_NAME_OK) < 100_000:
        _NAME_OK[key] = out
    return out


def _blank(line: str, spans: list[tuple[int, int]]) -> str:
    """``line`` with the marker ``spans`` replaced by spaces (their numbers are not points)."""
    for a, b in spans:
        line = line[:a] + " " * (b - a) + line[b:]
    return line


def _has_split_word(line: str) -> bool:
    """Whether a split word stands before a name (``train loss 0.4``, ``Val. Loss: 3.4``): cheap tests first."""
    if not ("ain " in line or "al " in line or "al. " in line or "est " in line or "lid " in line or "ion " in line):
        return False
    return _RX["split_word"].search(line) is not None


@dataclass
class _Info:
    """What one line says, independent of the lines before it. Numbers are *slots*: indexes into the
    line's number tokens (:data:`_NUMBER_SPLIT`), so lines of one layout share one ``_Info``."""

    own: bool = False  # the line has an epoch or step marker
    context: str = "train"
    pattern: str = "epoch lines"
    summary: bool = False
    epoch: int | None = None
    counter: int | None = None
    counter_total: int | None = None
    step: int | None = None
    step_total: int | None = None
    pair_step: int | None = None
    pairs: list[tuple[str, int, str]] = field(default_factory=list)  # (point name, slot, sign)
    fixed: list[tuple[int, str]] = field(default_factory=list)  # digits of names: the slot must hold this text
    keys: tuple[str, ...] = ()  # the point names, in order (set by :func:`_finish`)
    signed: bool = False  # a value carries its sign in front of its slot
    slots: tuple[int, ...] = ()


def _finish(info: _Info) -> _Info:
    """Fill the shared ``keys``/``slots`` of ``info`` (a name given twice keeps its last value, as a dict would)."""
    last = {key: i for i, (key, _slot, _sign) in enumerate(info.pairs)}
    info.pairs = [p for i, p in enumerate(info.pairs) if last[p[0]] == i]
    info.keys = tuple(key for key, _slot, _sign in info.pairs)
    info.slots = tuple(slot for _key, slot, _sign in info.pairs)
    info.signed = any(sign for _key, _slot, sign in info.pairs)
    return info


#: Splits a line into text and unsigned number tokens (one C call); the text pieces are the line's layout.
#: ASCII digits (``[0-9]`` runs twice as fast as ``\d``); a value in other digits gets a slot of its own.
_NUMBER_SPLIT = re.compile(r"([0-9][0-9.]{0,80}(?:[eE][-+]?[0-9]{1,4})?)")
_TEMPLATES: dict[str, _Info | None] = {}
MAX_TEMPLATES = 20_000


class _Uncacheable(Exception):
    """A value of the line is not one whole number token (``.5``, ``nan``, ``1.2.3``)."""


class _Slots:
    """The number tokens of a line, by offset; values that are not one whole token (``nan``, ``.5``)
    raise :class:`_Uncacheable`, or, when ``extra`` is kept, get slots after the tokens."""

    def __init__(self, pieces: list[str], *, extra: bool) -> None:
        self.tokens = pieces[1::2]
        self.starts: dict[int, int] = {}
        self.extra: list[str] | None = [] if extra else None
        pos = 0
        for i, piece in enumerate(pieces):
            if i % 2:
                self.starts[pos] = i // 2
            pos += len(piece)

    def slot(self, at: int, raw: str) -> tuple[int, str]:
        """The slot and sign of the number ``raw`` found at offset ``at``."""
        sign = raw[0] if raw[:1] in ("-", "+") else ""
        slot = self.starts.get(at + len(sign))
        if slot is not None and self.tokens[slot] == raw[len(sign) :]:
            return slot, sign
        if self.extra is None:
            raise _Uncacheable(raw)
        self.extra.append(raw)
        return len(self.tokens) + len(self.extra) - 1, ""


def _analyze(body: str, pieces: list[str], slots: _Slots) -> _Info:
    """The :class:`_Info` of a line (``pieces``: ``_NUMBER_SPLIT.split(body)``)."""
    info = _Info()
    low = body.lower()
    em = _RX["epoch"].search(body) if "poch" in low else None
    sm = _step_marker(body) if ("step" in low or "iter" in low or "it" in low or "batch" in low) else None
    if "(val)" in body or "(test)" in body or "valid" in low or "test" in low or "eval" in low:
        cm = _RX["split_context"].search(body)
        if cm:
            word = next((g for g in cm.groups() if g), "val")
            info.context = "test" if word.lower() == "test" else "val"
    spans: list[tuple[int, int]] = []
    if em:
        info.epoch = slots.slot(em.start(2), em.group(2))[0]
        for group, attr in ((4, "counter"), (6, "counter"), (5, "counter_total"), (7, "counter_total")):
            if em.group(group) is not None:
                setattr(info, attr, slots.slot(em.start(group), em.group(group))[0])
        spans.append(em.span())
    if sm:
        info.step = slots.slot(sm.start(2), sm.group(2))[0]
        if sm.group(3) is not None:
            info.step_total = slots.slot(sm.start(3), sm.group(3))[0]
        spans.append(sm.span())
    info.own = bool(em or sm)
    if info.own:
        info.pattern = _marker_pattern(body, em, sm)
    info.summary = info.context == "train" and _RX["summary"].search(body) is not None
    _analyze_pairs(body, spans, info, slots)
    for i, token in enumerate(slots.tokens):  # digits inside names (top1_acc, loss_ce_0) are part of the layout
        before = pieces[2 * i]
        if before and (before[-1].isalpha() or before[-1] == "_"):
            info.fixed.append((i, token))
    return _finish(info)


def _analyze_pairs(body: str, spans: list[tuple[int, int]], info: _Info, slots: _Slots) -> None:
    """The pairs of a line into ``info`` (see the module docstring for which are points)."""
    line = _blank(body, spans) if spans else body
    evaluating = info.context != "train"
    strict = not info.own or evaluating
    found: list[tuple[str, str, str, int, str]]  # (split word, name, separator, value offset, value)
    if line.lstrip().startswith(("{'", '{"')):
        found = [("", m.group(1), ":", m.start(2), m.group(2)) for m in _RX["dict_pair"].finditer(line)]
    else:
        rx = _RX["pair"] if _has_split_word(line) else _RX["pair_plain"]
        off = 0 if rx is _RX["pair"] else 1
        found = [("" if off else (m.group(1) or ""), m.group(2 - off), m.group(3 - off), m.start(4 - off), m.group(4 - off))
                 for m in rx.finditer(line)]
    spaced_ok = "checkpoint" not in line  # "(epoch 1 @ 1102 updates, score 10.1)" is not a point
    best = "best" in line
    for word, name, sep, at, raw in found:
        spaced = not (":" in sep or "=" in sep)
        if spaced and not spaced_ok:
            continue
        if name in _STEP_NAMES:
            if raw[:1].isdigit():
                info.pair_step = slots.slot(at, raw)[0]
            continue
        key = _point_name(name, spaced, strict)
        if key is None or (best and re.search(r"best[ _]" + re.escape(name), line)):
            continue
        if word:
            low = word.lower()
            key = f"{'train' if low.startswith('train') else 'test' if low == 'test' else 'val'}_{key}"
        elif evaluating and infer_split(key)[1] == "train":
            key = f"{info.context}_{key}"
        slot, sign = slots.slot(at, raw)
        info.pairs.append((key, slot, sign))


def _info_of(body: str) -> tuple[_Info, list[str]]:
    """The line's :class:`_Info` (from the layout cache when seen before) and the numbers its slots index."""
    pieces = _NUMBER_SPLIT.split(body)
    tokens = pieces[1::2]
    key = "\x00".join(pieces[::2])
    info = _TEMPLATES.get(key)
    if info is None and key not in _TEMPLATES:
        try:
            info = _analyze(body, pieces, _Slots(pieces, extra=False))
        except _Uncacheable:
            info = None
        if len(_TEMPLATES) < MAX_TEMPLATES:
            _TEMPLATES[key] = info
    if info is not None and not (info.fixed and any(tokens[i] != text for i, text in info.fixed)):
        return info, tokens
    slots = _Slots(pieces, extra=True)  # a layout of its own: nan values, other digits in a name
    info = _analyze(body, pieces, slots)
    return info, tokens + (slots.extra or [])


def _int(token: str) -> int:
    """A step or counter token as an int (``ValueError`` for ``1.5`` or more than 12 digits, as the patterns allow)."""
    if len(token) > 12 or not token.isdigit():
        raise ValueError(token)
    return int(token)


def _apply(info: _Info, tokens: list[str], wall: float | None, scan: _Scan) -> None:
    """Turn a line's ``info`` into a record of ``scan`` (the state carries epoch and step between lines).

    ``ValueError`` (before any state changes) when a slot does not hold what the layout's first line had there.
    """
    st = scan.state
    context = info.context
    epoch, step, step_total = st.epoch, st.step, st.step_total
    if info.epoch is not None:
        epoch = float(tokens[info.epoch])
        if context == "train":
            if info.counter is not None:
                step = _int(tokens[info.counter])
                step_total = _int(tokens[info.counter_total]) if info.counter_total is not None else None
            elif info.step is None:
                step, step_total = None, None
    if info.step is not None and context == "train":
        step = _int(tokens[info.step])
        step_total = _int(tokens[info.step_total]) if info.step_total is not None else None
    if not info.own and st.epoch is None and st.step is None:
        return  # numbers before any marker: a preamble, not a record
    if info.pair_step is not None and context == "train":
        step, step_total = _int(tokens[info.pair_step]), None
    if info.own:
        pattern = info.pattern
        if context == "train":
            st.epoch, st.step, st.step_total, st.keras, st.carried = epoch, step, step_total, False, pattern
    else:
        pattern = st.carried
    if not info.pairs:
        return
    if info.signed:
        vals = tuple(sign + tokens[slot] for _key, slot, sign in info.pairs)
    else:
        vals = tuple([tokens[slot] for slot in info.slots])
    if context != "train":
        step, step_total = None, None  # an evaluation sits at the last training step
    _add(scan, _Record(epoch, step, step_total, wall, info.keys, vals, context, pattern, info.summary))


def _add(scan: _Scan, rec: _Record) -> None:
    """Append ``rec``, or merge it into the record before when both are progress bars with the same markers
    (a redraw: Lightning prints an epoch's finished bar again with the validation values)."""
    recs = scan.records
    if recs and rec.pattern in _REDRAWN:
        last = recs[-1]
        if (last.epoch, last.step, last.step_total, last.context, last.pattern) == (
            rec.epoch, rec.step, rec.step_total, rec.context, rec.pattern
        ):
            merged = dict(zip(last.keys, last.vals))
            merged.update(zip(rec.keys, rec.vals))
            last.keys, last.vals = tuple(merged), tuple(merged.values())
            last.wall = rec.wall if rec.wall is not None else last.wall
            return
    recs.append(rec)


def _yolo_names(header: str) -> list[str]:
    """Column names of a YOLO header (``Box(P R mAP50 mAP50-95):`` becomes ``Box/P`` ...)."""
    names: list[str] = []
    group = ""
    for tok in header.split(":")[0].split():
        if "(" in tok:
            group, _, tok = tok.partition("(")
        end = tok.endswith(")")
        tok = tok.rstrip(")")
        names.append(f"{group}/{tok}" if group else tok)
        if end:
            group = ""
    return names


def _number(tok: str) -> float | None:
    try:
        return float(tok.rstrip("G"))
    except ValueError:
        return None


def _yolo_line(body: str, wall: float | None, scan: _Scan) -> bool:
    """Handle a YOLO console header or row; True when ``body`` was one."""
    st = scan.state
    if "GPU_mem" in body and _RX["yolo_train_header"].match(body):
        st.yolo_train = _yolo_names(body)
        return True
    if "Images" in body and _RX["yolo_val_header"].match(body):
        st.yolo_val = _yolo_names(body)
        return True
    if st.yolo_train is not None and _RX["yolo_row"].match(body):
        if _is_partial_progress(body[body.find(":") :] if ":" in body else ""):
            return True
        toks = body.split(":")[0].split()
        epoch = float(toks[0].split("/")[0])
        values = {n: v for n, t in zip(st.yolo_train[1:], toks[1:]) if n not in _YOLO_SKIP and (v := _number(t)) is not None}
        st.epoch, st.step, st.step_total, st.keras, st.carried = epoch, None, None, False, "yolo console"
        if values:
            _add(scan, _Record(epoch, None, None, wall, *_from_numbers(values), pattern="yolo console"))
        return True
    if st.yolo_val is not None and _RX["yolo_all_row"].match(body):
        toks = body.split()[1:]
        names = st.yolo_val[1:]  # after "Class"
        values = {f"val_{n}": v for n, t in zip(names, toks) if n not in _YOLO_SKIP and (v := _number(t)) is not None}
        if values:
            _add(scan, _Record(st.epoch, None, None, wall, *_from_numbers(values), context="val", pattern="yolo console"))
        st.yolo_val = None
        return True
    return False


def _copypaste(body: str, wall: float | None, scan: _Scan) -> None:
    """detectron2's ``copypaste:`` lines: ``Task: bbox``, then the names, then the values (validation)."""
    m = _RX["d2_copypaste"].search(body)
    if not m:
        return
    st = scan.state
    text = m.group(1).strip()
    if text.startswith("Task:"):
        st.d2_task, st.d2_names = text[5:].strip(), None
        return
    cells = [c.strip() for c in text.split(",")]
    numbers = [_number(c) for c in cells]
    if st.d2_names is None or any(v is None for v in numbers):
        st.d2_names = cells if all(v is None for v in numbers) else None
        return
    prefix = f"{st.d2_task}/" if st.d2_task else ""
    values = {f"val_{prefix}{n}": v for n, v in zip(st.d2_names, numbers) if v is not None}
    st.d2_names = None
    if values:
        _add(scan, _Record(st.epoch, None, None, wall, *_from_numbers(values), context="val", pattern="detectron2"))


def _step_marker(body: str) -> re.Match[str] | None:
    """The first step marker of ``body`` that does not start inside a word (``global_step`` does count)."""
    for m in _RX["step"].finditer(body):
        at = m.start()
        before = body[at - 1] if at else " "
        if not (before.isalnum() or before in "_.") or (before == "_" and body[max(0, at - 7) : at].lower() == "global_"):
            return m
    return None


def _marker_pattern(body: str, em: re.Match[str] | None, sm: re.Match[str] | None) -> str:
    """The layout of a marker line (the name :func:`_pattern_name` reports)."""
    if body.lstrip().startswith(("{'", '{"')):
        return "printed dicts"
    if "Epoch(" in body or "Iter(" in body:
        return "mmengine"
    if "| " in body and _RX["fairseq"].search(body):
        return "fairseq"
    if em is not None and em.group(4) is not None:
        return "torch metric logger" if ": [" in body[em.start() : em.end()] else "mmcv"
    if sm is not None and "eta:" in body and "iter:" in body:
        return "detectron2"
    if _RX["nanogpt"].match(body):
        return "nanogpt"
    if "%|" in body:
        return "tqdm postfix"
    return "step lines" if sm is not None else "epoch lines"


def _line(raw: str, scan: _Scan) -> None:
    """Read one line into ``scan`` (see the module docstring)."""
    st = scan.state
    wall, start = _wall_time(raw, st) if raw[:1].isdigit() or raw[:1] in " [" else (None, 0)
    body = raw[start:] if start else raw
    yolo = st.yolo_train is not None or st.yolo_val is not None or "GPU_mem" in body or "Images" in body
    if yolo and _yolo_line(body, wall, scan):
        return
    if "copypaste: " in body and ("]: copypaste: " in body or body.startswith("copypaste: ")):
        _copypaste(body, wall, scan)
        return
    if "optimization steps" in body or "Num Epochs" in body or "Num epochs" in body:
        hs, he = _RX["hf_steps"].search(body), _RX["hf_epochs"].search(body)
        if hs:
            st.hf_steps = int(hs.group(1).replace(",", ""))
        if he:
            st.hf_epochs = int(he.group(1).replace(",", ""))
        return
    if _is_partial_progress(body):
        return
    km = _RX["keras_epoch"].match(body) if "Epoch " in body else None
    if km:
        st.epoch, st.step, st.step_total, st.keras, st.carried = float(km.group(1)), None, None, True, "keras progress"
        return
    info, tokens = _info_of(body)
    try:
        _apply(info, tokens, wall, scan)
    except ValueError:  # the layout's slots hold something else on this line (1.5 where a step was): on its own
        pieces = _NUMBER_SPLIT.split(body)
        slots = _Slots(pieces, extra=True)
        try:
            _apply(_analyze(body, pieces, slots), slots.tokens + (slots.extra or []), wall, scan)
        except ValueError:
            return


def _scan_text(text: str) -> _Scan:
    scan = _Scan()
    lines, dropped = _lines(text)
    for raw in lines:
        if raw:
            _line(raw, scan)
    if dropped:
        scan.warnings.append(f"{dropped} line(s) over {MAX_LINE // 1024} KiB skipped")
    if any(r.summary for r in scan.records) and any(not r.summary and r.context == "train" for r in scan.records):
        scan.records = [r for r in scan.records if not r.summary]
    return scan


def _confident(records: list[_Record]) -> bool:
    """At least :data:`MIN_RECORDS` records share one metric-like name."""
    counts: Counter[str] = Counter()
    for r in records:
        for k in r.keys:
            if is_metric_like(k):
                counts[k] += 1
                if counts[k] >= MIN_RECORDS:
                    return True
    return False


def _pattern_name(scan: _Scan) -> str:
    """The layout most records came in; generic lines say whether they sat behind logging prefixes."""
    counts = Counter(r.pattern for r in scan.records)
    name = counts.most_common(1)[0][0] if counts else "epoch lines"
    if name in ("step lines", "epoch lines"):
        prefix = "python logging, " if scan.state.logging_lines * 2 >= len(scan.records) else ""
        return f"{prefix}{name.split()[0]} lines with name/value pairs"
    return name


def _index(scan: _Scan) -> list[int]:
    """The step of each record (see the module docstring)."""
    records, st = scan.records, scan.state
    epochs = [r.epoch for r in records]
    steps = [r.step for r in records]
    if st.hf_steps and st.hf_epochs and any(s is None for s in steps):
        per = st.hf_steps / st.hf_epochs
        steps = [s if s is not None or e is None else round(e * per) for s, e in zip(steps, epochs)]
    if any(s is not None for s in steps):
        known = [x for x in steps if x is not None]
        restarts = any(b < a for a, b in zip(known, known[1:]))
        if restarts and any(e is not None for e in epochs):
            per_epoch = max((r.step_total or 0) for r in records) or max(s or 0 for s in steps) + 1
            first = min(e for e in epochs if e is not None)
            steps = [None if s is None else int(((e or first) - first) * per_epoch) + s for s, e in zip(steps, epochs)]
        last = 0
        out: list[int] = []
        for s in steps:
            last = s if s is not None else last
            out.append(last)
        return out
    if all(e is not None and float(e).is_integer() for e in epochs):
        return [int(e) for e in epochs if e is not None]
    rank = {e: i for i, e in enumerate(sorted({e for e in epochs if e is not None}))}
    return [rank.get(e, 0) for e in epochs]


def _decode(data: bytes) -> tuple[str, list[str]] | None:
    if b"\x00" in data[:8192]:
        return None
    return decode_text(data)


def _sniff_scan(path: Path) -> _Scan:
    with open(path, "rb") as fh:
        data = fh.read(SNIFF_BYTES)
    decoded = _decode(data)
    return _scan_text(decoded[0]) if decoded else _Scan()


class TextLogReader:
    """Reader for console/text training logs (Keras progress, Python logging, framework console prints)."""

    format: ClassVar[str] = "text_log"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """A text file whose first 256 KiB hold at least a few consistent epoch/step records."""
        try:
            if path.suffix.lower() not in SUFFIXES or not path.is_file() or b"\x00" in head:
                return False
            text = head.decode("utf-8", "replace")
            if "\x1b" in text:
                text = _RX["ansi"].sub("", text)
            if not (_RX["epoch"].search(text) or _step_marker(text) or "GPU_mem" in text):
                if len(head) < SNIFF_BYTES and path.stat().st_size <= len(head):
                    return False
            return _confident(_sniff_scan(path).records)
        except Exception:
            return False

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` with every record's pairs as points."""
        try:
            data = read_bounded(path, MAX_BYTES, "text log")
        except OSError as exc:
            raise LogReadError(f"cannot read: {exc.strerror or type(exc).__name__}") from exc
        if not data:
            return [RunData(empty_frame(), warnings=["empty file"])]
        decoded = _decode(data)
        if decoded is None:
            raise LogReadError("not a training log: binary content")
        text, warnings = decoded
        scan = _scan_text(text)
        scan.warnings.extend(warnings)
        if not _confident(scan.records):
            raise LogReadError(f"not a training log: fewer than {MIN_RECORDS} epoch/step lines with metric values")
        return [RunData(frame=_frame(scan, run_id, display_path(path)), meta={"text_pattern": _pattern_name(scan)},
                        warnings=scan.warnings)]


def _frame(scan: _Scan, run_id: str, source: str) -> pl.DataFrame:
    """The normalized frame of the scan's records."""
    records = scan.records
    counts = [len(r.keys) for r in records]
    columns = list(chain.from_iterable(r.keys for r in records))
    names = series_names(list(dict.fromkeys(columns)), infer_split)
    epochs = np.asarray([np.nan if r.epoch is None else r.epoch for r in records], dtype=np.float64)
    walls = np.asarray([np.nan if r.wall is None else r.wall for r in records], dtype=np.float64)
    long = pl.DataFrame(
        [
            pl.Series("column", columns, dtype=pl.Utf8),
            pl.Series("step", np.repeat(np.asarray(_index(scan), dtype=np.int64), counts), dtype=pl.Int64),
            pl.Series("epoch", np.repeat(epochs, counts), dtype=pl.Float64, nan_to_null=True),  # printed epochs are never NaN
            pl.Series("wall_time", np.repeat(walls, counts), dtype=pl.Float64, nan_to_null=True),
            pl.Series("value", list(chain.from_iterable(r.vals for r in records)), dtype=pl.Utf8).cast(pl.Float64, strict=False),
        ]
    )
    long = long.with_columns(
        pl.col("column").replace_strict({k: m for k, (m, _) in names.items()}, return_dtype=pl.Utf8).alias("metric"),
        pl.col("column").replace_strict({k: s for k, (_, s) in names.items()}, return_dtype=pl.Utf8).alias("split"),
        pl.lit(run_id, dtype=pl.Utf8).alias("run_id"),
        pl.lit(source, dtype=pl.Utf8).alias("source"),
    )
    return conform(long.filter(pl.col("value").is_not_null()))  # "1.2.3" where a number was: not a point
