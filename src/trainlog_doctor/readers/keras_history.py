"""Keras histories dumped as JSON (``json.dump(history.history, f)``): ``history.json``, ``training_history.json``.

Two shapes are read:

* a dict of lists, one list per metric (``{"loss": [...], "val_loss": [...], "accuracy": [...]}``),
  also when wrapped as ``{"history": {...}, "params": {...}}`` (``params`` go to ``meta``);
* a list of per-epoch dicts (``[{"loss": 0.9, "val_loss": 1.1}, ...]``).

The position in the list is the epoch (0-based, like ``CSVLogger``) and the step, with a warning
saying so, unless the history carries an ``epoch`` key. ``null`` entries are missing points, NaN and
Infinity are kept; strings, booleans and nested values are left out (with a warning per key). Lists of
different lengths are read as they are (each point at its own position).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.readers._config import surface_facts
from trainlog_doctor.readers._csv import is_metric_like
from trainlog_doctor.readers._frame import wide_to_long
from trainlog_doctor.readers._jsonlines import decode
from trainlog_doctor.readers.base import LogReadError, RunData, display_path, read_bounded

MAX_BYTES = 256 * 1024 * 1024
NO_EPOCH_WARNING = "no epoch key: the position in the list is taken as the epoch"
_EPOCH_KEYS = ("epoch", "epochs")
# Bounded, unnested patterns over the file head: a dict whose first member is a list of numbers, or a
# list whose first element is an object with a number member.
_NUM = rb'(?:-?\d|NaN|-?Infinity|null)'
_KEY = rb'"([^"\\\n]{1,100})"'
_DICT_OF_LISTS = re.compile(rb'\A\s{0,64}\{\s{0,64}' + _KEY + rb'\s{0,8}:\s{0,8}\[\s{0,64}' + _NUM)
_WRAPPED = re.compile(rb'\A\s{0,64}\{\s{0,64}"history"\s{0,8}:\s{0,8}\{\s{0,64}' + _KEY + rb'\s{0,8}:\s{0,8}\[\s{0,64}' + _NUM)
_LIST_OF_DICTS = re.compile(rb'\A\s{0,64}\[\s{0,64}\{\s{0,64}' + _KEY + rb'\s{0,8}:\s{0,8}' + _NUM)


def _is_history_key(name: str) -> bool:
    return is_metric_like(name) or name.lower() in _EPOCH_KEYS


class KerasHistoryReader:
    """Reader for Keras ``History.history`` dumped as JSON (dict of lists or list of per-epoch dicts)."""

    format: ClassVar[str] = "keras_history"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """A ``.json`` file opening as a dict of number lists or a list of number dicts keyed by metric names."""
        try:
            if path.suffix.lower() != ".json":
                return False
            if head.startswith(b"\xef\xbb\xbf"):
                head = head[3:]
            m = _DICT_OF_LISTS.match(head) or _WRAPPED.match(head) or _LIST_OF_DICTS.match(head)
            return m is not None and _is_history_key(m.group(1).decode("utf-8", "replace"))
        except Exception:
            return False

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` for the history in the file."""
        data = _load(path)
        meta: dict[str, Any] = {}
        if isinstance(data, dict) and isinstance(data.get("history"), dict):
            params = data.get("params")
            if isinstance(params, dict):
                flat = {str(k): v for k, v in params.items() if isinstance(v, (str, int, float, bool)) or v is None}
                meta = {**surface_facts(flat), "params": flat}
            data = data["history"]
        warnings: list[str] = []
        if isinstance(data, dict):
            columns = _columns_of_dict(data, warnings)
        elif isinstance(data, list):
            columns = _columns_of_rows(data, warnings)
        else:
            raise LogReadError(f"not a Keras history: the JSON holds a {type(data).__name__}, not a dict or list")
        if not columns:
            raise LogReadError("not a Keras history: no key holds a list of numbers")
        epoch_key = next((k for k in columns if k.lower() in _EPOCH_KEYS), None)
        length = max(len(v) for v in columns.values())
        if length == 0:
            return [RunData(empty_frame(), meta=meta, warnings=["empty history", *warnings])]
        wide = pl.DataFrame(
            {f"c{i}": pl.Series(v + [None] * (length - len(v)), dtype=pl.Float64) for i, v in enumerate(columns.values())}
        ).rename({f"c{i}": k for i, k in enumerate(columns)})
        if epoch_key is not None:
            epoch = wide.get_column(epoch_key)
            integral = epoch.drop_nulls().drop_nans()
            step_ok = integral.len() == epoch.len() and bool((integral == integral.floor()).all())
            wide = wide.with_columns(
                (pl.col(epoch_key) if step_ok else pl.int_range(pl.len(), dtype=pl.Int64)).alias("__step"),
                pl.col(epoch_key).alias("__epoch"),
            ).drop(epoch_key)
        else:
            warnings.insert(0, NO_EPOCH_WARNING)
            meta["epoch_from_row_index"] = True
            index = pl.int_range(pl.len(), dtype=pl.Int64)
            wide = wide.with_columns(index.alias("__step"), index.cast(pl.Float64).alias("__epoch"))
        frame = wide_to_long(wide, run_id=run_id, source=display_path(path), step_col="__step", epoch_col="__epoch")
        return [RunData(frame=frame, meta=meta, warnings=warnings)]


def _load(path: Path) -> Any:
    """The parsed JSON of ``path`` (NaN/Infinity allowed), or :class:`LogReadError` with the reason."""
    raw = read_bounded(path, MAX_BYTES, "Keras history")
    if not raw.strip():
        raise LogReadError("empty file")
    try:
        return json.loads(decode(raw))
    except RecursionError:
        raise LogReadError("malformed JSON: nested too deeply") from None
    except ValueError as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise LogReadError(f"truncated or malformed JSON: {reason}") from None


def _number(v: Any) -> float | None:
    """``v`` as a float when it is a JSON number (``None`` for null, anything else, or a number too big)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _columns_of_dict(data: dict[Any, Any], warnings: list[str]) -> dict[str, list[float | None]]:
    """The number lists of a dict-of-lists history, keyed by metric name."""
    out: dict[str, list[float | None]] = {}
    skipped: list[str] = []
    for key, values in data.items():
        name = str(key)
        if not isinstance(values, list):
            skipped.append(name)
            continue
        nums = [_number(v) for v in values]
        bad = sum(1 for v, n in zip(values, nums) if n is None and v is not None)
        if values and bad == len(values):
            skipped.append(name)
            continue
        if bad:
            warnings.append(f"{name!r}: {bad} non-numeric value(s) read as missing")
        out[name] = nums
    if skipped:
        warnings.append("left out key(s) without a list of numbers: " + ", ".join(repr(s[:60]) for s in skipped[:10]))
    return out


def _columns_of_rows(rows: list[Any], warnings: list[str]) -> dict[str, list[float | None]]:
    """The columns of a list-of-dicts history (a key missing from a row is a missing point)."""
    out: dict[str, list[float | None]] = {}
    not_objects = 0
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            not_objects += 1
            continue
        for key, v in row.items():
            n = _number(v)
            if n is None:
                continue
            out.setdefault(str(key), [None] * i)
            col = out[str(key)]
            col.extend([None] * (i - len(col)))
            col.append(n)
    for col in out.values():
        col.extend([None] * (len(rows) - len(col)))
    if not_objects:
        warnings.append(f"{not_objects} list element(s) that are not objects skipped")
    return out
