"""Tolerant JSON and JSON-lines parsing shared by the JSON readers.

* Bare ``NaN``, ``Infinity`` and ``-Infinity`` tokens (written by Python's ``json``) are accepted.
* Invalid lines (a truncated tail, junk, a line that is valid JSON but not an object) are skipped and
  counted; the reader turns the count into a warning with :func:`invalid_lines_warning`.
* Speed: :func:`parse_table` first tries ``polars.read_ndjson`` (NaN tokens are swapped for sentinel
  numbers before and swapped back after) and falls back to ``json.loads`` when anything looks off,
  so the fast path never changes the result.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import polars as pl

from trainlog_doctor.readers._frame import MAX_COLUMNS, columns_cut_warning, may_exceed_columns
from trainlog_doctor.readers.base import LogReadError, is_lfs_pointer

_BOM = b"\xef\xbb\xbf"
# Sentinels for the polars fast path: tiny numbers no training log writes (checked absent first).
_NAN_TEXT, _POS_INF_TEXT = b"-7.77e-307", b"7.78e-307"
_NAN_SENTINEL, _POS_INF_SENTINEL = float(_NAN_TEXT), float(_POS_INF_TEXT)
_TOKEN_PREFIXES = (b": ", b":", b", ", b",", b"[")


@dataclass
class JsonTable:
    """The objects of a JSON-lines file as one polars frame (one row per valid object line).

    Numeric values become ``Int64``/``Float64`` columns (``NaN`` kept), strings ``Utf8``, numeric lists
    ``List(Float64)``; a nested object ``{"lr": {"a": 1}}`` becomes column ``lr/a``; booleans are dropped.
    """

    frame: pl.DataFrame
    n_invalid: int = 0
    truncated_tail: bool = False
    n_columns: int = 0  # the columns found when more than ``_frame.MAX_COLUMNS`` (only those were kept)


# --------------------------------------------------------------------------------------------------
# file level


def read_log_bytes(path: Path) -> bytes:
    """The bytes of a JSON log, or :class:`LogReadError` for unreadable, LFS-pointer and binary files."""
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise LogReadError("is a directory, not a log file") from None
    except OSError as exc:
        raise LogReadError(f"cannot read file: {exc.strerror or exc}") from None
    if is_lfs_pointer(data[:200]):
        raise LogReadError("git-lfs pointer, not the log itself")
    data = data.rstrip(b"\x00")  # a zero-filled tail (a crash while writing): the text before it is the log
    if looks_binary(data):
        raise LogReadError("binary data, not a JSON text log")
    return data


def looks_binary(data: bytes) -> bool:
    """True when the start of ``data`` holds NUL bytes or mostly control characters (not text)."""
    sample = data[:8192]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return control > len(sample) * 0.05


def is_blank(data: bytes) -> bool:
    """True for an empty or whitespace-only file (a BOM alone counts as blank)."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if data[:4096].strip():
        return False
    return not data.strip()


#: A ``\\uD800``-``\\uDFFF`` escape that is not half of a valid pair: json.loads turns it into a lone
#: surrogate, a str that polars (and UTF-8 output) cannot hold.
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def decode(data: bytes) -> str:
    """UTF-8 text (BOM dropped, undecodable bytes replaced so they fail as JSON, not as a crash;
    lone surrogate escapes replaced by ``\\ufffd``)."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    text = data.decode("utf-8", errors="replace")
    if "\\ud" in text or "\\uD" in text:
        text = _LONE_SURROGATE.sub(r"\\ufffd", text)
    return text


def plural(n: int, word: str) -> str:
    """``"1 line"``, ``"3 lines"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def invalid_lines_warning(n_invalid: int, truncated_tail: bool = False) -> str:
    """The warning text for skipped lines: ``"skipped 3 invalid JSON lines"`` (+ truncated tail)."""
    text = f"skipped {plural(n_invalid, 'invalid JSON line')}"
    if truncated_tail:
        text += " (the last line is truncated)"
    return text


def no_objects_reason(n_invalid: int) -> str:
    """The one-line reason for a file without a single JSON object line."""
    return f"not JSON lines: none of its {plural(n_invalid, 'line')} is a JSON object"


# --------------------------------------------------------------------------------------------------
# parsing


def parse_rows(data: bytes | str) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSON-lines text and the number of non-empty lines that were not one."""
    rows, n_invalid, _ = _parse_rows(decode(data) if isinstance(data, bytes) else data)
    return rows, n_invalid


def _parse_rows(text: str) -> tuple[list[dict[str, Any]], int, bool]:
    """Rows, invalid count and whether the invalid lines include an unterminated last line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [], 0, False
    try:  # one C-level call for the whole file; any bad line sends us to the per-line loop
        parsed: list[Any] = json.loads("[" + ",".join(lines) + "]")
        if len(parsed) == len(lines):  # else a line held several values ("1, 2"): judge line by line
            rows = [obj for obj in parsed if isinstance(obj, dict)]
            return rows, len(parsed) - len(rows), False
    except (ValueError, RecursionError):
        pass
    rows = []
    n_invalid = 0
    last_bad = False
    for line in lines:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            n_invalid += 1
            last_bad = True
            continue
        last_bad = not isinstance(obj, dict)
        if last_bad:
            n_invalid += 1
        else:
            rows.append(obj)
    truncated = last_bad and not text.rstrip(" \t").endswith(("\n", "\r"))
    return rows, n_invalid, truncated


def parse_table(data: bytes) -> JsonTable:
    """Parse JSON-lines bytes into a :class:`JsonTable` (fast polars path, exact ``json`` fallback)."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    wide = may_exceed_columns(data)  # polars' schema inference is slow on very wide lines: exact path, cut
    frame = None if wide else _fast_frame(data)
    if frame is not None:
        return JsonTable(frame)
    rows, n_invalid, truncated = _parse_rows(decode(data))
    n_columns: list[int] = []
    return JsonTable(rows_to_frame(rows, found=n_columns), n_invalid=n_invalid, truncated_tail=truncated,
                     n_columns=n_columns[0] if n_columns and n_columns[0] > MAX_COLUMNS else 0)


#: polars 2.1 ``read_ndjson`` overflows its stack (a segfault, not an exception) on objects nested
#: about 505 to 1024 deep; deeper nesting than any real log goes to the exact ``json`` path instead.
MAX_FAST_DEPTH = 64


_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[[0x7B, 0x5B]] = 1  # { [
_BRACKET_STEP[[0x7D, 0x5D]] = -1  # } ]


def nesting_depth(data: bytes) -> int:
    """The deepest ``{``/``[`` nesting of any line of ``data`` (brackets inside strings count too: an upper bound)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    step = _BRACKET_STEP[arr]
    pos = np.flatnonzero(step)  # only the brackets matter
    if pos.size == 0:
        return 0
    step = step[pos]
    running = np.cumsum(step, dtype=np.int64)
    line = np.searchsorted(np.flatnonzero(arr == 0x0A), pos)  # line number of each bracket
    first = np.flatnonzero(np.diff(line, prepend=-1))  # each line's first bracket
    base = running[first] - step[first]  # the running total before that line
    return max(0, int((np.maximum.reduceat(running, first) - base).max()))


def _fast_frame(data: bytes) -> pl.DataFrame | None:
    """``polars.read_ndjson`` with NaN/Infinity sentinels; ``None`` whenever the result could differ."""
    if is_blank(data):
        return pl.DataFrame()
    if _NAN_TEXT in data or _POS_INF_TEXT in data or nesting_depth(data) > MAX_FAST_DEPTH:
        return None
    has_nan, has_inf = b"NaN" in data, b"Infinity" in data
    sentinels = has_nan or has_inf
    for prefix in _TOKEN_PREFIXES:  # json.dumps writes ": NaN" first of all; stop once none is left
        if has_nan:
            data = data.replace(prefix + b"NaN", prefix + _NAN_TEXT)
            has_nan = b"NaN" in data
        if has_inf:
            data = data.replace(prefix + b"-Infinity", prefix + b"-" + _POS_INF_TEXT)
            data = data.replace(prefix + b"Infinity", prefix + _POS_INF_TEXT)
            has_inf = b"Infinity" in data
        if not (has_nan or has_inf):
            break
    try:
        frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except Exception:  # any polars complaint (bad line, mixed schema): the exact path decides
        return None
    return _tidy_frame(frame, sentinels=sentinels)


def _tidy_frame(frame: pl.DataFrame, *, sentinels: bool) -> pl.DataFrame | None:
    """Unnest structs, drop null/bool columns, restore NaN/Inf; ``None`` when strings hide numbers."""
    while any(isinstance(dtype, pl.Struct) for dtype in frame.dtypes):
        exprs: list[pl.Expr] = []
        for name, dtype in frame.schema.items():
            if isinstance(dtype, pl.Struct):
                exprs.extend(pl.col(name).struct.field(f.name).alias(f"{name}/{f.name}") for f in dtype.fields)
            else:
                exprs.append(pl.col(name))
        frame = frame.select(exprs)
    keep: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Null or dtype == pl.Boolean:
            continue
        if dtype == pl.String:
            # polars turns numbers into strings when a key mixes numbers and strings; the json path
            # keeps the numbers, so let it decide. Sentinel text inside strings also means "redo".
            col = frame[name].drop_nulls()
            if col.cast(pl.Float64, strict=False).drop_nulls().len() > 0:
                return None
            if sentinels and col.str.contains(r"7\.7[78]e-307").any():
                return None
            keep.append(pl.col(name))
        elif dtype.is_numeric():
            expr = pl.col(name)
            if dtype.is_float():
                expr = expr.cast(pl.Float64)
                if sentinels:
                    expr = _restore_sentinels(expr)
            elif dtype in (pl.Int128, pl.UInt64, pl.UInt128):
                expr = expr.cast(pl.Float64)
            else:
                expr = expr.cast(pl.Int64)
            keep.append(expr.alias(name))
        elif isinstance(dtype, pl.List) and (dtype.inner.is_numeric() or dtype.inner == pl.Null):
            inner = pl.element().cast(pl.Float64)
            if sentinels:
                inner = _restore_sentinels(inner)
            keep.append(pl.col(name).list.eval(inner).alias(name))
        # other list/array types carry no scalar series: dropped
    return frame.select(keep)


def _restore_sentinels(expr: pl.Expr) -> pl.Expr:
    """Map the fast-path sentinel numbers back to NaN, +inf and -inf."""
    return (
        pl.when(expr == _NAN_SENTINEL)
        .then(float("nan"))
        .when(expr == _POS_INF_SENTINEL)
        .then(float("inf"))
        .when(expr == -_POS_INF_SENTINEL)
        .then(float("-inf"))
        .otherwise(expr)
    )


def rows_to_frame(rows: Sequence[dict[str, Any]], found: list[int] | None = None) -> pl.DataFrame:
    """Build the :class:`JsonTable` frame from parsed objects (same typing rules as the polars path).

    At most ``_frame.MAX_COLUMNS`` keys are kept (the first seen); ``found`` receives how many there were.
    """
    flat = [_flatten(r) for r in rows]
    keys: dict[str, None] = {}
    widest = 0
    for r in flat:
        widest = max(widest, len(r))
        if len(keys) < MAX_COLUMNS:
            keys.update(dict.fromkeys(itertools.islice(r, MAX_COLUMNS)))
    if found is not None:
        found.append(max(widest, len(keys)))
    columns: list[pl.Series] = []
    for key in itertools.islice(keys, MAX_COLUMNS):
        series = _column(key, [r.get(key) for r in flat])
        if series is not None:
            columns.append(series)
    return pl.DataFrame(columns)


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    """Nested objects become ``parent/child`` keys (mmcv logs ``lr`` as a dict per optimizer)."""
    if not any(isinstance(v, dict) for v in row.values()):
        return row
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict):
            for sk, sv in _flatten(v).items():
                out[f"{k}/{sk}"] = sv
        else:
            out[k] = v
    return out


def is_number(v: Any) -> TypeGuard[int | float]:
    """True for a JSON number (``bool`` is not a number here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _column(name: str, values: list[Any]) -> pl.Series | None:
    """One typed column: numbers win over strings; strings only when no value is a number."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if any(is_number(v) for v in present):
        if all(isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**63 for v in present):
            return pl.Series(name, values, dtype=pl.Int64)
        return pl.Series(name, [float(v) if is_number(v) else None for v in values], dtype=pl.Float64)
    if all(isinstance(v, str) for v in present):
        return pl.Series(name, values, dtype=pl.Utf8)
    if all(isinstance(v, list) for v in present) and all(is_number(x) for v in present for x in v):
        return pl.Series(
            name, [[float(x) for x in v] if isinstance(v, list) else None for v in values], dtype=pl.List(pl.Float64)
        )
    return None


# --------------------------------------------------------------------------------------------------
# sniffing helpers


def first_line(head: bytes) -> tuple[bytes, bool]:
    """The first non-empty line of ``head`` (BOM and indentation stripped) and whether it is complete."""
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    pos = 0
    while pos < len(head):
        end = head.find(b"\n", pos)
        if end < 0:
            return head[pos:].strip(), False
        line = head[pos:end].strip()
        if line:
            return line, True
        pos = end + 1
    return b"", False


def first_object(head: bytes) -> dict[str, Any] | None:
    """The first line of ``head`` as a JSON object when it is complete and parses; else ``None``."""
    line, complete = first_line(head)
    if not complete or not line.startswith(b"{"):
        return None
    try:
        obj = json.loads(line.decode("utf-8", errors="strict"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def sniff_first_line(head: bytes, accept: Callable[[bytes], bool]) -> bool:
    """``accept`` applied to the first line of ``head`` (see :func:`first_line`); ``False`` if anything raises."""
    try:
        line, _ = first_line(head)
        return accept(line)
    except Exception:
        return False


_NUMERIC_MEMBER = re.compile(rb'"\s*:\s*(?:-?\d|NaN|-?Infinity)')


def looks_like_object_line(head: bytes) -> bool:
    """True when the first line opens a one-line JSON object with a numeric member (even if cut off)."""
    line, complete = first_line(head)
    if not line.startswith(b'{"'):
        return False
    if complete:
        obj = first_object(head)
        return obj is not None and any(is_number(v) for v in obj.values())
    return bool(_NUMERIC_MEMBER.search(line))


# --------------------------------------------------------------------------------------------------
# appended runs and resumes


@dataclass
class RunSplit:
    """How the rows of one file fall into runs: ``run_of[i]`` per row, and the resumes seen."""

    run_of: list[int]
    n_runs: int
    resumes: list[tuple[int, float, float]] = field(default_factory=list)  # (run, from_index, to_index)

    def has_resume(self, run: int) -> bool:
        """True when ``run`` went back part of the way (its points need :func:`keep_last`)."""
        return any(r == run for r, _, _ in self.resumes)

    def resume_warnings(self, run: int, index_name: str) -> list[str]:
        """One warning per resume of ``run``: ``"<index_name> goes back from 7580 to 7520 (resume): ..."``."""
        return [
            f"{index_name} goes back from {a:g} to {b:g} (resume): later values kept"
            for r, a, b in self.resumes
            if r == run
        ]


def assign_runs(
    index: Sequence[float | None],
    *,
    overlap: Sequence[bool] | None = None,
    force_new: Sequence[bool] | None = None,
) -> RunSplit:
    """Assign rows to appended runs from an index column that may go back.

    * The index going back to (or below) the first index of the current run starts a new run
      (a restart from scratch appended to the same file).
    * Going back only part of the way is a resume from a checkpoint: same run, and the later rows
      override the earlier ones at the same index (the caller deduplicates keeping the last).
    * A repeat of the previous index counts as going back only when ``overlap[i]`` says the row
      re-logs a quantity the previous row already had (sparse rows at one step are not a restart).
    * ``force_new[i]`` starts a new run regardless (e.g. the previous run logged its last iteration).
    Null/NaN index entries stay in the current run.
    """
    if not index:
        return RunSplit(run_of=[], n_runs=0)
    no_forced = force_new is None or not any(force_new)
    if no_forced and is_strictly_increasing(pl.Series(list(index), dtype=pl.Float64, strict=False)):
        return RunSplit(run_of=[0] * len(index), n_runs=1)  # the common case: one clean run
    run_of: list[int] = []
    resumes: list[tuple[int, float, float]] = []
    run = 0
    run_first: float | None = None
    prev: float | None = None
    for i, raw in enumerate(index):
        v = None if raw is None or (isinstance(raw, float) and math.isnan(raw)) else float(raw)
        if force_new is not None and force_new[i] and run_first is not None:
            run += 1
            run_first, prev = None, None
        if v is not None:
            if prev is not None:
                went_back = v < prev or (v == prev and (overlap is None or overlap[i]))
                if went_back:
                    if run_first is not None and v <= run_first:
                        run += 1
                        run_first = None
                    else:
                        resumes.append((run, prev, v))
            if run_first is None:
                run_first = v
            prev = v
        run_of.append(run)
    return RunSplit(run_of=run_of, n_runs=run + 1, resumes=resumes)


def split_runs(
    df: pl.DataFrame, index_col: str, columns: Sequence[str], *, force_new: Sequence[bool] | None = None
) -> RunSplit:
    """:func:`assign_runs` on ``df[index_col]``, with re-logs of ``columns`` as the overlap test.

    A strictly increasing index without ``force_new`` is one run, without computing the overlap.
    """
    index = df[index_col]
    if (force_new is None or not any(force_new)) and is_strictly_increasing(index):
        return RunSplit(run_of=[0] * df.height, n_runs=1)
    return assign_runs(index.to_list(), overlap=overlap_with_previous(df, columns), force_new=force_new)


def keep_last(frame: pl.DataFrame) -> pl.DataFrame:
    """One point per ``(metric, split, step)``, the last written wins; sorted by step (stable)."""
    if frame.height == 0:
        return frame
    return frame.unique(subset=["metric", "split", "step"], keep="last", maintain_order=True).sort(
        "step", maintain_order=True, nulls_last=True
    )


#: Names :func:`frame.wide_to_long` uses for its own columns: never melted as metrics.
RESERVED = frozenset({"step", "epoch", "wall_time", "__row"})


def numeric_columns(frame: pl.DataFrame, exclude: Iterable[str] = ()) -> list[str]:
    """Names of numeric columns of ``frame`` not in ``exclude`` (nor :data:`RESERVED`)."""
    skip = set(exclude) | RESERVED
    return [c for c, d in frame.schema.items() if c not in skip and d.is_numeric()]


def overlap_with_previous(df: pl.DataFrame, columns: Sequence[str]) -> list[bool]:
    """Per row: does it set one of ``columns`` that the previous row also set (a re-log, not a sparse row)?"""
    if not columns or df.height == 0:
        return [False] * df.height
    both = df.select(
        pl.any_horizontal(
            [(pl.col(c).is_not_null() & pl.col(c).shift(1).is_not_null()).fill_null(False) for c in columns]
        ).alias("o")
    )
    return both["o"].to_list()


def has_name_collisions(columns: Iterable[str]) -> bool:
    """True when two columns map to one ``(metric, split)`` (``loss`` and ``train_loss``)."""
    from trainlog_doctor.run.names import infer_split

    seen = [infer_split(c) for c in columns]
    return len(set(seen)) < len(seen)


def is_strictly_increasing(values: pl.Series) -> bool:
    """True when the non-null, non-NaN values only go up (one clean run, nothing to dedupe)."""
    v = values.cast(pl.Float64, strict=False).drop_nulls().drop_nans()
    return v.len() < 2 or bool((v.diff().slice(1) > 0).all())


def load_object_lines(path: Path) -> tuple[pl.DataFrame | None, list[str]]:
    """The JSON-lines file at ``path`` as a frame plus warnings; ``None`` for a blank file.

    Invalid lines are skipped with one warning; a file with no object line at all is a
    :class:`LogReadError`.
    """
    data = read_log_bytes(path)
    if is_blank(data):
        return None, []
    table = parse_table(data)
    warnings: list[str] = []
    if table.n_invalid:
        warnings.append(invalid_lines_warning(table.n_invalid, table.truncated_tail))
    if table.n_columns:
        warnings.append(columns_cut_warning(table.n_columns))
    if table.frame.height == 0:
        raise LogReadError(no_objects_reason(table.n_invalid))
    return table.frame, warnings
