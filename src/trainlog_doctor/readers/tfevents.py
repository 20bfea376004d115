"""TensorBoard event files (``events.out.tfevents.*``), read fast and checked.

How a run directory is read:

* Every file whose name contains ``tfevents`` in the directory, and in its ``train/``,
  ``validation/``, ``valid/``, ``val/``, ``eval/``, ``evaluation/``, ``test/`` subdirectories
  (tf.keras ``TensorBoard`` callback layout), is read and merged. A single event file may be passed too.
* Tags map to ``(metric, split)`` with :func:`frame.infer_split`. When the directory holding a file is a
  split directory (``validation/`` ...), a tag that would default to ``train`` takes that split instead:
  ``epoch_loss`` in ``validation/`` is metric ``loss``, split ``val``. Explicit tag splits (``val/loss``)
  and ``other`` series (lr, time, counters) are kept as they are.
* Points are sorted by ``(step, wall_time)``; on a repeated ``(metric, split, step)`` (resumed runs,
  re-logged steps) the point with the latest ``wall_time`` is kept (the later file on a tie).
* ``epoch``: YOLO runs (``train/box_loss`` plus ``metrics/mAP*`` tags, logged once per epoch) get
  ``epoch = step``; otherwise when a tag ``epoch`` or ``train/epoch`` exists (Lightning, HF) every point
  gets the epoch logged at the latest step at or before its own (the first one for earlier points);
  tf.keras ``epoch_*`` tags always get ``epoch = step``. Otherwise ``epoch`` is null.
* Text summaries go to ``meta["text"][tag]`` (cut to 2000 characters); hparams plugin data (the
  ``session_start_info`` of ``add_hparams``: name -> value) to ``meta["hparams"]``, with ``optimizer``,
  ``batch_size`` and ``lr`` surfaced when present (also from the HF ``args`` text summary). Hugging
  Face's ``args`` and ``model_config`` text summaries are JSON: their settings go to ``meta["args"]``
  and ``meta["config"]`` as dotted keys (bounded like every config, see ``readers/_config.py``), and
  the ``hparams.yaml`` Lightning's ``TensorBoardLogger`` saves beside its event file to ``meta["hparams"]``.

Damage: a record with a bad data CRC is skipped (warning with the count); a bad length CRC loses the
framing, so reading stops there (warning); a short last record is reported as truncation; a file that
is not TFRecord at all raises :class:`LogReadError`.

Size: a file is decoded in windows of ``WINDOW_BYTES`` (32 MiB), never whole, and each tag keeps at
most about ``MAX_SERIES_POINTS`` (250,000) points: a longer one is reduced while streaming to the
first, last, minimum and maximum point of each bucket of consecutive points, with every NaN/Inf, the
first and the last point kept (:mod:`trainlog_doctor.readers._reduce`; one warning per reduced tag).
On top, a run (all its files together) has a budget of ``MAX_RUN_POINTS`` (3,000,000) points, each
series counted at most its limit: when many tags would go past it, the limit of every series is
halved, while streaming, until they fit, never below ``MIN_SERIES_POINTS`` (10,000; a warning when
even that does not fit), with one warning for the run and one per reduced tag saying which limit cut
it. A ``(metric, split)`` series that several tags or files fill past the limit is reduced once more
when they are merged. Memory grows with the number of tags only past 300 tags (at the floor) and
with NaN/Inf points, not with the file's length.

Speed: see :mod:`trainlog_doctor.readers._tfrecord` (no Python loop per scalar event).
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import polars as pl

from trainlog_doctor.model.frame import SCHEMA, conform, empty_frame
from trainlog_doctor.readers._config import MAX_CONFIG_BYTES, config_table, flatten, without_label_maps
from trainlog_doctor.readers._reduce import (
    MAX_RUN_POINTS,
    MAX_SERIES_POINTS,
    MIN_SERIES_POINTS,
    Reduction,
    RunReducer,
    reduce_series,
)
from trainlog_doctor.readers._tfrecord import (
    HEADER,
    WINDOW_BYTES,
    Buffer,
    Points,
    Window,
    decode_bulk,
    masked_crc32c,
    read_varint,
    read_windows,
    tag_list,
)
from trainlog_doctor.readers.base import HEAD_BYTES, LogReadError, RunData, display_path, is_lfs_pointer
from trainlog_doctor.run.names import infer_split, series_names

SPLIT_DIRS: dict[str, str] = {
    "train": "train",
    "training": "train",
    "validation": "val",
    "valid": "val",
    "val": "val",
    "eval": "val",
    "evaluation": "val",
    "test": "test",
}
#: Split subdirectories that make one run of their parent when it holds two of them (tf.keras layout).
RUN_SPLIT_DIRS = frozenset({"train", "validation", "valid", "val", "eval", "evaluation", "test"})
TEXT_LIMIT = 2000
_SCALAR_PLUGINS = ("", "scalars")


#: An "incomplete last record" with more bytes than this after its start is reported as mid-file damage.
DAMAGE_TAIL_BYTES = 64 << 10

class EventFile(NamedTuple):
    """One event file decoded: ``points`` (tag, step, wall_time, value) in file order, run facts, warnings."""

    points: pl.DataFrame
    meta: dict[str, Any]
    warnings: list[str]


@dataclass
class DecodedEvents:
    """One event file as numpy columns in file order (``tag`` holds indices into ``tags``)."""

    tags: list[str]
    tag: np.ndarray
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# one file


def read_event_file(
    path: str | os.PathLike[str],
    *,
    max_points: int = MAX_SERIES_POINTS,
    window: int = WINDOW_BYTES,
    budget: int = MAX_RUN_POINTS,
    floor: int = MIN_SERIES_POINTS,
) -> EventFile:
    """Decode one event file; raises :class:`LogReadError` when it is not a TFRecord event file."""
    dec = decode_event_file(Path(path), max_points=max_points, window=window, budget=budget, floor=floor)
    tags = pl.Series("tag", dec.tags, dtype=pl.Utf8)
    points = pl.DataFrame(
        {
            "tag": tags.gather(pl.Series(dec.tag, dtype=pl.UInt32)) if dec.tag.size else pl.Series([], dtype=pl.Utf8),
            "step": pl.Series(dec.step, dtype=pl.Int64),
            "wall_time": pl.Series(dec.wall, dtype=pl.Float64),
            "value": pl.Series(dec.value, dtype=pl.Float64),
        }
    )
    return EventFile(points, dec.meta, dec.warnings)


def decode_event_file(
    path: Path,
    *,
    max_points: int = MAX_SERIES_POINTS,
    window: int = WINDOW_BYTES,
    budget: int = MAX_RUN_POINTS,
    floor: int = MIN_SERIES_POINTS,
) -> DecodedEvents:
    """Stream-decode ``path`` in windows of ``window`` bytes; each tag keeps at most about ``max_points`` points.

    Damage is handled as the module docstring says; the file alone is held to the run ``budget``
    (limit lowered down to ``floor``); a reduced tag (see :mod:`trainlog_doctor.readers._reduce`)
    gets one warning.
    """
    run = RunReducer(max_points, budget, floor)
    dec = _decode_file(path, run, 0, window)
    out = dec.finish()
    out.warnings[:0] = budget_warnings(run)
    return out


def _decode_file(path: Path, run: RunReducer, key: int, window: int) -> _FileDecoder:
    """Stream ``path`` into ``run`` (series ``(key, tag id)``) and settle its series; nothing kept on error."""
    dec = _FileDecoder(run, key)
    try:
        with open(path, "rb", buffering=0) as fh:
            if is_lfs_pointer(fh.read(64)):
                raise LogReadError("Git LFS pointer, not the event file itself (run `git lfs pull`)")
            fh.seek(0)
            for win in read_windows(fh, window):
                if not dec.add(win):
                    break
    except OSError as exc:
        dec.discard()
        raise LogReadError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    except LogReadError:
        dec.discard()
        raise
    dec.close()
    return dec


class _FileDecoder:
    """Accumulates the windows of one file: its tags' series (bounded by ``run``), run facts and damage counts."""

    def __init__(self, run: RunReducer, key: int) -> None:
        self.run = run
        self.key = key
        self.tag_ids: dict[str, int] = {}
        self.fb = _Fallback(self.tag_ids)
        self.series: set[int] = set()  # tag ids with points in ``run``
        self.tags: list[str] = []
        self.warnings: list[str] = []
        self.seq = 0  # scalar points so far: file-order position of the next one
        self.records = 0  # records with trusted framing so far
        self.framing: str | None = None  # framing lost / truncation warning
        self.bad_crc = _Damage()
        self.undecodable = _Damage()

    def add(self, win: Window) -> bool:
        """Decode one window; ``False`` when the framing was lost and nothing after it can be trusted."""
        buf, fr, base = win.buf, win.framing, win.base
        bulk = decode_bulk(buf, fr, self.tag_ids)
        nrec = bulk.valid
        lost = nrec < fr.offsets.size or fr.problem == "bad_length_crc"
        self.fb.run(buf, fr.offsets, fr.lengths, bulk.fallback)
        bad = sorted([*bulk.bad_crc, *self.fb.bad_crc])
        self.bad_crc.add(len(bad), base + int(fr.offsets[bad[0]]) if bad else 0)
        und = self.fb.undecodable
        self.undecodable.add(len(und), base + int(fr.offsets[und[0]]) if und else 0)
        self._points([*bulk.parts, *self.fb.take_points()], nrec)
        self.records += nrec
        if lost:
            at = base + (int(fr.offsets[nrec]) if nrec < fr.offsets.size else fr.stop)
            if self.records == 0:
                raise LogReadError(f"not a TensorBoard event file (no valid TFRecord header at byte {at})")
            self.framing = (
                f"bad record length checksum at byte {at}: framing lost, kept the {self.records} records before it"
            )
            return False
        if win.last and fr.problem == "truncated":
            at, rest = base + fr.stop, win.file_size - (base + fr.stop)
            if rest > DAMAGE_TAIL_BYTES:  # a record length that runs past the end, far from it: damage, not a cut
                self.framing = (f"damaged record length at byte {at}: the {rest} bytes after it could not be framed; "
                                f"kept the {self.records} records before it")
            else:
                self.framing = f"truncated at byte {at} (file has {win.file_size} bytes; last record incomplete)"
        return True

    def _points(self, parts: list[Points], nrec: int) -> None:
        """Number the window's points in file order and hand them to their tags' reducers."""
        parts = [p for p in parts if p.rec.size]
        if not parts:
            return
        count = np.zeros(nrec, dtype=np.int64)
        for p in parts:
            if p.slot is None:
                count[p.rec] += 1  # a one-value-per-record part never repeats a record
            else:
                count += np.bincount(p.rec, minlength=nrec)
        start = np.cumsum(count)
        total = int(start[-1])
        start -= count
        start += self.seq
        del count
        chunks: dict[int, list[tuple[np.ndarray, ...]]] = {}
        for p in parts:
            seq = start[p.rec]
            if p.slot is not None:
                seq += p.slot
            t = p.tag
            if int(t[0]) == int(t[-1]) and bool((t == t[0]).all()):
                chunks.setdefault(int(t[0]), []).append((seq, p.step, p.wall, p.value))
                continue
            order = np.argsort(t, kind="stable")
            ts = t[order]
            cuts = [0, *(np.flatnonzero(ts[1:] != ts[:-1]) + 1).tolist(), ts.size]
            for a, b in zip(cuts[:-1], cuts[1:]):
                idx = order[a:b]
                chunks.setdefault(int(ts[a]), []).append((seq[idx], p.step[idx], p.wall[idx], p.value[idx]))
        self.seq += total
        for tid, got in chunks.items():
            # each chunk is in file order; chunks usually follow one another (step varint sizes grow)
            if any(int(b[0][0]) < int(a[0][-1]) for a, b in zip(got[:-1], got[1:])):
                seq, step, wall, value = (np.concatenate(c) for c in zip(*got))
                o = np.argsort(seq, kind="stable")
                got = [(seq[o], step[o], wall[o], value[o])]
            self.series.add(tid)
            for seq, step, wall, value in got:
                self.run.add((self.key, tid), value, seq, step, wall)

    def discard(self) -> None:
        """Take this file's series out of the run."""
        for tid in self.series:
            self.run.discard((self.key, tid))
        self.series.clear()

    def close(self) -> None:
        """The file is read: drop non-scalar tags, settle the others, note the damage warnings."""
        self.tags = tags = tag_list(self.tag_ids)
        for tid in list(self.series):
            if self.fb.plugins.get(tags[tid], "") not in _SCALAR_PLUGINS:
                self.run.discard((self.key, tid))
                self.series.discard(tid)
            else:
                self.run.settle((self.key, tid))
        warnings = self.warnings = [self.framing] if self.framing else []
        if self.bad_crc.count:
            warnings.append(
                f"skipped {self.bad_crc.count} record(s) with a bad data checksum (first at byte {self.bad_crc.first})"
            )
        if self.undecodable.count:
            warnings.append(
                f"skipped {self.undecodable.count} record(s) that are not Event protos (first at byte {self.undecodable.first})"
            )

    def finish(self) -> DecodedEvents:
        """Once every file of the run is closed: each series at the run's final limit, in file order."""
        tags, warnings = self.tags, list(self.warnings)
        done: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # tag, seq, step, wall, value
        for tid in sorted(self.series, key=lambda i: tags[i]):
            (value, seq, step, wall), red = self.run.finish((self.key, tid))
            if red.reduced:
                warnings.append(reduction_warning(tags[tid], red, self.run))
            done.append((tid, seq, step, wall, value))
        self.series.clear()
        kept = sum(int(d[1].size) for d in done)
        n = kept if kept == self.seq else 0  # nothing dropped: the seqs are a permutation of 0..n-1
        tag = np.empty(n, dtype=np.int32)
        step = np.empty(n, dtype=np.int64)
        wall = np.empty(n, dtype=np.float64)
        value = np.empty(n, dtype=np.float64)
        if n:
            for tid, sq, st, wl, vl in done:
                tag[sq], step[sq], wall[sq], value[sq] = tid, st, wl, vl
        elif kept:  # reduced or dropped: gather what is left in file order
            seq = np.concatenate([d[1] for d in done])
            order = np.argsort(seq, kind="stable")
            del seq
            tag = np.concatenate([np.full(d[1].size, d[0], dtype=np.int32) for d in done])[order]
            step, wall, value = (np.concatenate([d[i] for d in done])[order] for i in (2, 3, 4))
        return DecodedEvents(tags, tag, step, wall, value, meta=self.fb.meta, warnings=warnings)


@dataclass
class _Damage:
    """How many records had one kind of damage, and the file offset of the first."""

    count: int = 0
    first: int = 0

    def add(self, count: int, first: int) -> None:
        if count and not self.count:
            self.first = first
        self.count += count


def reduction_warning(name: str, red: Reduction, run: RunReducer | None = None) -> str:
    """The warning for a series reduced by :mod:`trainlog_doctor.readers._reduce`, saying which limit cut it.

    ``run`` (the run's reducer) tells a limit lowered by the run budget from the per-series one.
    """
    nonfinite = (
        "runs of NaN/Inf kept at their ends and bucket edges"
        if red.compress_nonfinite
        else "every NaN/Inf kept"
    )
    if run is not None and red.limit < run.max_points:
        why = (
            f"over the {red.limit:,}-point series limit, lowered from {run.max_points:,} "
            f"by the run budget of {run.budget:,} points"
        )
    else:
        why = f"over the {red.limit:,}-point series limit"
    return (
        f"{name}: {red.n:,} points reduced to {red.index.size:,}, {why} "
        f"(first/last/min/max of each bucket of {red.bucket:,} points; {nonfinite})"
    )


def budget_warnings(run: RunReducer) -> list[str]:
    """One warning when the run budget lowered the per-series limit (saying so when even the floor does not fit)."""
    if not run.lowered:
        return []
    if run.over_budget:
        return [
            f"run budget: {run.series:,} series keep more than {run.budget:,} points even at "
            f"the floor of {run.limit:,} points per series ({run.counted:,} counted); kept the floor"
        ]
    return [
        f"run budget: series limit lowered from {run.max_points:,} to {run.limit:,} points "
        f"to keep the run within {run.budget:,} points"
    ]


class _Fallback:
    """Per-record protobuf decoding for everything the bulk templates did not take."""

    def __init__(self, tag_ids: dict[str, int]) -> None:
        self.tag_ids = tag_ids
        self.rec: list[int] = []
        self.slot: list[int] = []
        self.tag: list[int] = []
        self.step: list[int] = []
        self.wall: list[float] = []
        self.value: list[float] = []
        self.bad_crc: list[int] = []
        self.undecodable: list[int] = []
        self.plugins: dict[str, str] = {}
        self.meta: dict[str, Any] = {}

    def run(self, buf: Buffer, offsets: np.ndarray, lengths: np.ndarray, recs: np.ndarray) -> None:
        """Decode records ``recs`` of one window; ``bad_crc`` and ``undecodable`` then list that window's."""
        self.bad_crc = []
        self.undecodable = []
        if recs.size == 0:
            return
        raw = buf.raw
        Event: Any = None
        for r in recs.tolist():
            start = int(offsets[r]) + HEADER
            length = int(lengths[r])
            data = buf.bytes_at(start, length)
            if masked_crc32c(data) != struct.unpack_from("<I", raw, start + length)[0]:
                self.bad_crc.append(r)
                continue
            has_summary = _has_summary(data)
            if has_summary is False:  # file_version, graph_def, session_log ...: nothing to read
                continue
            if Event is None:
                from tensorboard.compat.proto.event_pb2 import Event
            try:
                event = Event.FromString(data)
            except Exception:  # DecodeError, or a nested message protobuf refuses
                self.undecodable.append(r)
                continue
            if event.HasField("summary"):
                self._summary(r, event)

    def _summary(self, r: int, event: Any) -> None:
        slot = 0
        for v in event.summary.value:
            plugin = v.metadata.plugin_data.plugin_name if v.HasField("metadata") else ""
            if plugin:
                self.plugins.setdefault(v.tag, plugin)
            if plugin == "hparams":
                _hparams(self.meta, v.metadata.plugin_data.content)
            kind = v.WhichOneof("value")
            value: float | None = None
            if kind == "simple_value":
                value = v.simple_value
            elif kind == "tensor":
                known = plugin or self.plugins.get(v.tag, "")
                if known == "text" or v.tensor.dtype == 7:
                    if known == "text":
                        _text(self.meta, v.tag, v.tensor)
                elif known in _SCALAR_PLUGINS:
                    value = _tensor_scalar(v.tensor)
            if value is None:
                continue
            self.rec.append(r)
            self.slot.append(slot)
            self.tag.append(self.tag_ids.setdefault(v.tag, len(self.tag_ids)))
            self.step.append(event.step)
            self.wall.append(event.wall_time)
            self.value.append(value)
            slot += 1

    def take_points(self) -> list[Points]:
        """The points decoded since the last call (and forget them)."""
        if not self.rec:
            return []
        out = [
            Points(
                rec=np.asarray(self.rec, dtype=np.int64),
                slot=np.asarray(self.slot, dtype=np.int64),
                tag=np.asarray(self.tag, dtype=np.int32),
                step=np.asarray(self.step, dtype=np.int64),
                wall=np.asarray(self.wall, dtype=np.float64),
                value=np.asarray(self.value, dtype=np.float64),
            )
        ]
        self.rec, self.slot, self.tag, self.step, self.wall, self.value = [], [], [], [], [], []
        return out


def _has_summary(data: bytes) -> bool | None:
    """Whether the Event's top-level fields include ``summary`` (5); ``None`` when the bytes do not parse."""
    i, n = 0, len(data)
    try:
        while i < n:
            key, i = read_varint(data, i, n)
            num, wire = key >> 3, key & 7
            if num == 5:
                return True
            if wire == 0:
                _, i = read_varint(data, i, n)
            elif wire == 1:
                i += 8
            elif wire == 2:
                ln, i = read_varint(data, i, n)
                i += ln
            elif wire == 5:
                i += 4
            else:
                return None
    except ValueError:
        return None
    return False if i == n else None


# TensorProto dtype -> (numpy dtype of tensor_content, repeated field holding the values)
_TENSOR_TYPES: dict[int, tuple[str, str]] = {
    1: ("<f4", "float_val"),
    2: ("<f8", "double_val"),
    3: ("<i4", "int_val"),
    4: ("u1", "int_val"),
    5: ("<i2", "int_val"),
    6: ("i1", "int_val"),
    9: ("<i8", "int64_val"),
    10: ("?", "bool_val"),
    19: ("<f2", "half_val"),
    22: ("<u4", "uint32_val"),
    23: ("<u8", "uint64_val"),
}


def _tensor_scalar(t: Any) -> float | None:
    """The value of a one-element numeric TensorProto, else ``None``."""
    spec = _TENSOR_TYPES.get(t.dtype)
    if spec is None:
        return None
    size = 1
    for d in t.tensor_shape.dim:
        size *= d.size
    if size != 1:
        return None
    np_dtype, field_name = spec
    if t.tensor_content:
        arr = np.frombuffer(t.tensor_content, dtype=np_dtype)
        return float(arr[0]) if arr.size == 1 else None
    vals = getattr(t, field_name)
    if not vals:
        return None
    if t.dtype == 19:
        return float(np.array([vals[0]], dtype=np.uint16).view(np.float16)[0])
    return float(vals[0])


def _text(meta: dict[str, Any], tag: str, t: Any) -> None:
    parts = [s.decode("utf-8", errors="replace") for s in t.string_val]
    text = "\n".join(parts)
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + "…"
    meta.setdefault("text", {})[tag] = text
    table = _JSON_TEXT_TABLES.get(tag.split("/")[0])
    if table is not None and parts and len(parts[0]) <= MAX_CONFIG_BYTES:
        try:
            args = json.loads(parts[0])
        except (ValueError, RecursionError):
            return
        if isinstance(args, dict):
            flat, _ = flatten(args)
            meta.setdefault(table, {}).update(without_label_maps(flat) if table == "config" else flat)
            if table == "args":
                _surface(meta, args, overwrite=False)


HPARAMS_YAML = "hparams.yaml"


def _hparams_yaml(run_dir: Path, meta: dict[str, Any], warnings: list[str]) -> None:
    """Lightning's ``TensorBoardLogger`` saves the hyper-parameters as ``hparams.yaml`` beside its event file.

    Its settings (nested ones as dotted keys) go to ``meta["hparams"]`` over the hparams plugin's flattened,
    stringified copy; ``optimizer``, ``batch_size``, ``lr`` are surfaced when the events did not give them.
    """
    table = config_table(run_dir / HPARAMS_YAML, warnings)
    if table:
        meta.setdefault("hparams", {}).update(table)
        _surface(meta, {k: v for k, v in table.items() if "." not in k}, overwrite=False)


#: Text summaries holding a JSON config (Hugging Face's ``TensorBoardCallback``) -> the meta table they fill.
_JSON_TEXT_TABLES = {"args": "args", "model_config": "config"}


def _hparams(meta: dict[str, Any], content: bytes) -> None:
    """Session-start hparams of the hparams plugin into ``meta["hparams"]`` and the surfaced keys."""
    from google.protobuf.message import DecodeError
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
    except DecodeError:
        return
    if data.WhichOneof("data") != "session_start_info":
        return
    hp: dict[str, Any] = {}
    for key, val in data.session_start_info.hparams.items():
        kind = val.WhichOneof("kind")
        if kind == "number_value":
            num = val.number_value
            hp[key] = int(num) if num.is_integer() and abs(num) < 2**53 else num
        elif kind in ("string_value", "bool_value"):
            hp[key] = getattr(val, kind)
    if hp:
        meta.setdefault("hparams", {}).update(dict(sorted(hp.items())))
        _surface(meta, hp, overwrite=True)


_OPTIMIZER_KEYS = ("optimizer", "optim", "optimizer_name", "opt")
_BATCH_KEYS = ("batch_size", "per_device_train_batch_size", "train_batch_size", "batchsize", "bs")
_LR_KEYS = ("lr", "learning_rate", "base_lr", "initial_lr", "lr0", "learningrate")
_CLASS_REPR = re.compile(r"^<class '(?:[\w.]*\.)?(\w+)'>$")


def _surface(meta: dict[str, Any], hp: dict[str, Any], *, overwrite: bool) -> None:
    """Put ``optimizer``, ``batch_size`` and ``lr`` from a flat hyper-parameter dict into ``meta``."""
    lowered: dict[str, Any] = {}
    for k, v in hp.items():
        lowered.setdefault(str(k).lower().rsplit("/", 1)[-1].rsplit(".", 1)[-1], v)

    def pick(keys: tuple[str, ...]) -> Any:
        for k in keys:
            v = lowered.get(k)
            if v is not None and v != "":
                return v
        return None

    opt = pick(_OPTIMIZER_KEYS)
    if isinstance(opt, str):
        m = _CLASS_REPR.match(opt.strip())
        opt = m.group(1) if m else opt.strip()
    batch = pick(_BATCH_KEYS)
    if isinstance(batch, float) and batch.is_integer():
        batch = int(batch)
    if not isinstance(batch, int) or isinstance(batch, bool):
        batch = None
    lr = pick(_LR_KEYS)
    lr = float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None
    for key, val in (("optimizer", opt if isinstance(opt, str) else None), ("batch_size", batch), ("lr", lr)):
        if val is not None and (overwrite or key not in meta):
            meta[key] = val


# --------------------------------------------------------------------------------------------------
# a run directory


def event_files(path: Path) -> list[tuple[Path, str | None]]:
    """Event files of a run (a directory, its split subdirectories, or one file) with their split override."""
    if path.is_file():
        return [(path, SPLIT_DIRS.get(path.parent.name.lower()))]
    out: list[tuple[Path, str | None]] = []
    own = SPLIT_DIRS.get(path.name.lower())
    out.extend((p, own) for p in _files_in(path))
    try:
        subdirs = sorted(e.path for e in os.scandir(path) if e.is_dir() and e.name.lower() in SPLIT_DIRS)
    except OSError:
        subdirs = []
    for sub in subdirs:
        out.extend((p, SPLIT_DIRS[os.path.basename(sub).lower()]) for p in _files_in(Path(sub)))
    return out


def _files_in(d: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(d) if "tfevents" in e.name and e.is_file())
    except OSError:
        return []


def _looks_like_tfrecord(head: bytes) -> bool:
    if len(head) < HEADER:
        return False
    return masked_crc32c(head[:8]) == struct.unpack_from("<I", head, 8)[0]


def _is_yolo(tags: set[str]) -> bool:
    return "train/box_loss" in tags and any(t.startswith("metrics/mAP") for t in tags)


class TfEventsReader:
    """Reader for TensorBoard event files; a run is a directory of them (or one file)."""

    format: ClassVar[str] = "tfevents"
    unit: ClassVar[str] = "directory"

    def __init__(
        self,
        *,
        max_points: int = MAX_SERIES_POINTS,
        window: int = WINDOW_BYTES,
        budget: int = MAX_RUN_POINTS,
        floor: int = MIN_SERIES_POINTS,
    ) -> None:
        self.max_points = max_points
        self.window = window
        self.budget = budget
        self.floor = floor

    def sniff(self, path: Path, head: bytes) -> bool:
        """A directory holding event files, or a file named ``*tfevents*`` or starting with a valid TFRecord header."""
        try:
            if path.is_dir():
                return bool(event_files(path))
            if is_lfs_pointer(head):
                return False
            return "tfevents" in path.name or _looks_like_tfrecord(head[:HEAD_BYTES])
        except Exception:
            return False

    def claims_file(self, name: str) -> bool:
        """Event files are the files whose name contains ``tfevents``."""
        return "tfevents" in name

    def run_dirs(self, dirs: Sequence[Path], root: Path) -> list[Path]:
        """Each directory of event files is a run, except split subdirectories with a split sibling
        (tf.keras ``train/`` and ``validation/``): their parent is the run."""
        unique = list(dict.fromkeys(dirs))
        splits_by_parent: dict[Path, int] = {}
        for d in unique:
            if d.name.lower() in RUN_SPLIT_DIRS:
                splits_by_parent[d.parent] = splits_by_parent.get(d.parent, 0) + 1
        runs: dict[Path, None] = {}
        for d in unique:
            merged = d != root and d.name.lower() in RUN_SPLIT_DIRS and splits_by_parent[d.parent] > 1
            runs[d.parent if merged else d] = None
        return list(runs)

    def unit_files(self, path: Path) -> list[Path]:
        """The event files of the run (split subdirectories included) and its ``hparams.yaml``, sorted."""
        files = {f for f, _ in event_files(path)}
        yaml_file = (path if path.is_dir() else path.parent) / HPARAMS_YAML
        if yaml_file.is_file():
            files.add(yaml_file)
        return sorted(files)

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """Merge every event file of the run into one :class:`RunData` (see the module docstring)."""
        path = Path(path)
        files = event_files(path)
        if not files:
            raise LogReadError(f"no TensorBoard event files in {path}")
        base = path if path.is_dir() else path.parent
        warnings: list[str] = []
        errors: list[str] = []
        meta: dict[str, Any] = {}
        run = RunReducer(self.max_points, self.budget, self.floor)  # one budget for every file of the run
        read: list[tuple[Path, str | None, _FileDecoder]] = []
        for fi, (f, split) in enumerate(files):
            try:
                read.append((f, split, _decode_file(f, run, fi, self.window)))
            except LogReadError as exc:
                errors.append(f"{_rel(f, base)}: {exc}")
        if not read:
            raise LogReadError(errors[0] if len(errors) == 1 else f"no readable event file ({errors[0]})")
        decoded: list[tuple[Path, str | None, DecodedEvents]] = []
        for f, split, fdec in read:  # every series is complete: finish them at the run's final limit
            dec = fdec.finish()
            name = _rel(f, base)
            warnings.extend(f"{name}: {w}" for w in dec.warnings)
            for k, v in dec.meta.items():
                if isinstance(v, dict):
                    meta.setdefault(k, {}).update(v)
                else:
                    meta.setdefault(k, v)
            decoded.append((f, split, dec))
        del read
        _hparams_yaml(base, meta, warnings)
        warnings[:0] = budget_warnings(run)
        warnings.extend(f"skipped {e}" for e in errors)
        frame, merged = _merge(decoded, run_id, run)
        return [RunData(frame=frame, meta=meta, warnings=warnings + merged)]


def _rel(f: Path, base: Path) -> str:
    try:
        return f.relative_to(base).as_posix()
    except ValueError:
        return f.name


def _tag_name(key: tuple[str, str | None]) -> tuple[str, str]:
    """``(metric, split)`` of a tag; a training-split tag in a ``validation/`` subdirectory takes that split."""
    tag, dir_split = key
    metric, split = infer_split(tag)
    return metric, (dir_split if dir_split is not None and split == "train" else split)


def _merge(
    decoded: list[tuple[Path, str | None, DecodedEvents]], run_id: str, run: RunReducer | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """Build the normalized frame: map tags, sort by (step, wall_time), attach epoch.

    A ``(metric, split)`` series that several files or tags fill past the run's final per-series
    limit (``run.limit``) is reduced once more (a warning each).
    """
    max_points = run.limit if run is not None else MAX_SERIES_POINTS
    key_ids: dict[tuple[str, str], int] = {}
    per_epoch_keys: set[int] = set()
    all_tags: set[str] = set()
    cols: dict[str, list[np.ndarray]] = {"key": [], "file": [], "step": [], "wall": [], "value": []}
    sources = [display_path(f) for f, _, _ in decoded]
    names = series_names(
        list(dict.fromkeys((tag, split) for _f, split, dec in decoded if dec.tag.size for tag in dec.tags)),
        _tag_name,
        label=lambda key: key[0],
    )
    for fi, (_f, split, dec) in enumerate(decoded):
        if dec.tag.size == 0:
            continue
        lut = np.empty(len(dec.tags), dtype=np.int32)
        for ti, tag in enumerate(dec.tags):
            k = key_ids.setdefault(names[(tag, split)], len(key_ids))
            lut[ti] = k
            all_tags.add(tag)
            if tag.startswith("epoch_"):
                per_epoch_keys.add(k)
        cols["key"].append(lut[dec.tag])
        cols["file"].append(np.full(dec.tag.size, fi, dtype=np.int32))
        cols["step"].append(dec.step)
        cols["wall"].append(dec.wall)
        cols["value"].append(dec.value)
    if not cols["key"]:
        return empty_frame(), []
    if len(cols["key"]) == 1:
        key, file_idx, step, wall, value = (c[0] for c in cols.values())
    else:
        key, file_idx, step, wall, value = (np.concatenate(c) for c in cols.values())

    # sort by (step, wall_time), stable so file order breaks ties
    if not _is_sorted(step, wall):
        order = np.lexsort((wall, step))
        key, file_idx, step, wall, value = key[order], file_idx[order], step[order], wall[order], value[order]

    # A repeated (metric, split, step) stays in the frame: run.series.split_series keeps the latest
    # written one (this order) and counts the repeats, which the report lists per series.
    names = list(key_ids)
    warnings: list[str] = []
    counts = np.bincount(key, minlength=len(names))
    over = np.flatnonzero(counts > max_points)
    if over.size:
        by_key = np.argsort(key.astype(np.uint16) if len(key_ids) < 65536 else key, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        keep = np.ones(key.size, dtype=bool)
        for k in over.tolist():
            pos = by_key[bounds[k] : bounds[k + 1]]  # this series' points in (step, wall_time) order
            red = reduce_series(value[pos], max_points)
            drop = np.ones(pos.size, dtype=bool)
            drop[red.index] = False
            keep[pos[drop]] = False
            metric, sp = names[k]
            warnings.append(reduction_warning(f"{metric} ({sp}, merged from several tags or files)", red, run))
        key, file_idx, step, wall, value = key[keep], file_idx[keep], step[keep], wall[keep], value[keep]

    epoch = _epochs(names, key, step, value, per_epoch_keys, _is_yolo(all_tags))
    df = pl.DataFrame(
        {
            "run_id": pl.repeat(run_id, key.size, dtype=pl.Utf8, eager=True),
            "source": (
                pl.repeat(sources[0], key.size, dtype=pl.Utf8, eager=True)
                if len(sources) == 1
                else pl.Series(sources, dtype=pl.Utf8).gather(pl.Series(file_idx, dtype=pl.UInt32))
            ),
            "metric": pl.Series([m for m, _ in names], dtype=pl.Utf8).gather(pl.Series(key, dtype=pl.UInt32)),
            "split": pl.Series([s for _, s in names], dtype=pl.Utf8).gather(pl.Series(key, dtype=pl.UInt32)),
            "step": pl.Series(step, dtype=pl.Int64),
            "epoch": (
                pl.Series(epoch, dtype=pl.Float64, nan_to_null=True)
                if epoch is not None
                else pl.repeat(None, key.size, dtype=pl.Float64, eager=True)
            ),
            "wall_time": pl.Series(wall, dtype=pl.Float64),
            "value": pl.Series(value, dtype=pl.Float64),
        }
    )
    return (df if df.schema == pl.Schema(SCHEMA) else conform(df)), warnings


def _is_sorted(step: np.ndarray, wall: np.ndarray) -> bool:
    """True when rows are already ordered by (step, wall_time)."""
    if step.size < 2:
        return True
    if not bool(np.all(step[1:] >= step[:-1])):
        return False
    tie = np.flatnonzero(step[1:] == step[:-1])
    return tie.size == 0 or bool(np.all(wall[tie + 1] >= wall[tie]))


def _epochs(
    names: list[tuple[str, str]],
    key: np.ndarray,
    step: np.ndarray,
    value: np.ndarray,
    per_epoch_keys: set[int],
    yolo: bool,
) -> np.ndarray | None:
    """Epoch per point (NaN where unknown, null in the frame), or ``None`` when no epoch is known at all."""
    if yolo:
        return step.astype(np.float64)
    epoch: np.ndarray | None = None
    candidates = [i for i, (m, s) in enumerate(names) if m.lower() == "epoch" and s == "other"]
    if candidates:
        counts = np.bincount(key, minlength=len(names))
        best = max(candidates, key=lambda i: counts[i])
        sel = key == best
        e_step, e_val = step[sel], value[sel]
        if e_step.size:
            idx = np.searchsorted(e_step, step, side="right") - 1
            epoch = e_val[np.clip(idx, 0, None)].astype(np.float64)
    if per_epoch_keys:
        if epoch is None:
            epoch = np.full(step.size, np.nan)
        mask = np.isin(key, np.fromiter(per_epoch_keys, dtype=np.int32))
        epoch[mask] = step[mask]
    return epoch
