"""Tolerant CSV loading shared by the Keras, Lightning and ultralytics readers.

Real training CSVs are messy: ``;`` or tab separators, a stray line before the header, ``\\r\\n`` or
``\\r\\r\\n`` endings, fields padded to a fixed width, ``NA`` for missing cells, ``nan``/``inf`` for
non-finite values, quoted ``"[a, b]"`` list cells, bytes that are not UTF-8, appended runs. This module
turns such a file into a polars frame of Float64 columns (one per numeric header column) and says what
it had to repair.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.readers._frame import split_on_reset
from trainlog_doctor.readers.base import HEAD_BYTES, LogReadError, RunData, is_lfs_pointer, read_bounded, suffix_for

SEPARATORS: tuple[str, ...] = (",", ";", "\t")
#: Cell texts read as "missing" (compared lower case, after stripping). ``nan`` is *not* missing: it is NaN.
NULL_TOKENS: tuple[str, ...] = ("", "na", "n/a", "null", "none", "-")
MAX_JUNK_LINES = 10
MAX_BYTES = 512 * 1024 * 1024
#: The longest line a CSV log may have: parsing costs about 20x the file in memory, so a file of very
#: long lines is refused before it is decoded (a real CSV log line is a few KB).
MAX_LINE_BYTES = 1 << 20

_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0C, 0x0D))
_BAD_NAME_CHARS = re.compile(r"[{}\[\]\"'|*=<>\x00-\x08\x0b-\x1f]|:\s|\s\S+\s")
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
_METRIC_TOKENS = frozenset(
    {
        "loss", "losses", "nll", "acc", "accuracy", "auc", "roc", "f1", "f1score", "fscore", "precision",
        "recall", "error", "err", "mae", "mse", "rmse", "mape", "msle", "iou", "miou", "dice", "map", "ap",
        "ap50", "ap75", "map50", "perplexity", "ppl", "bleu", "rouge", "wer", "cer", "score", "lr",
        "learning_rate", "psnr", "ssim", "kl", "kld", "sensitivity", "specificity", "top1", "top5",
        "acc1", "acc5", "entropy", "crossentropy", "hinge", "r2", "coef", "jaccard", "correlation",
    }
)
_SPLIT_PREFIX = re.compile(r"^(val|valid|validation|train|training|test|eval)[_/]", re.IGNORECASE)


@dataclass
class CsvHeader:
    """What the first bytes of a file say about it as a CSV."""

    names: list[str]  # stripped column names
    raw: list[str]  # header fields as written (padding kept)
    separator: str
    first_row: list[str] | None  # stripped fields of the first data row, if the head holds one
    junk_lines: int  # non-empty lines skipped before the header


@dataclass
class CsvTable:
    """A loaded CSV: numeric columns as Float64, plus what was repaired or left out."""

    frame: pl.DataFrame
    columns: list[str]  # every header name (stripped, de-duplicated) in file order
    dropped: list[str]  # non-numeric columns left out of ``frame``
    separator: str
    padded: bool  # header fields carry leading spaces (fixed-width writers such as YOLOv5)
    rows: int = 0  # data lines in the file (before rows without any number were removed)
    restarts: list[int] = field(default_factory=list)  # row positions after a repeated header line
    warnings: list[str] = field(default_factory=list)
    index_column: bool = False  # an unnamed first column (the pandas index) was left out of ``frame``

    def check_rows(self) -> str | None:
        """Why the table has no data (``"header only, no rows"`` ...), or ``None`` when it has rows.

        Raises :class:`LogReadError` when there are rows but not one numeric column.
        """
        if self.rows == 0:
            return "header only, no rows"
        if self.frame.width == 0:
            raise LogReadError("no numeric columns in the CSV (" + ", ".join(self.columns[:5]) + ")")
        if self.frame.height == 0:
            return "no numeric values in any row"
        return None


# --------------------------------------------------------------------------------------------- names


def metric_tokens(name: str) -> list[str]:
    """Lower-case alphanumeric tokens of a column name (``val/mAP_0.5`` -> ``['val', 'map', '0', '5']``)."""
    return [t for t in _TOKEN_SPLIT.split(name.lower()) if t]


def is_metric_like(name: str) -> bool:
    """True when a column name looks like a training quantity (loss, accuracy, lr, ``val_*`` ...)."""
    low = name.strip().lower()
    if _SPLIT_PREFIX.match(low):
        return True
    if "learning_rate" in low or "io_u" in low:  # Keras MeanIoU is logged as mean_io_u
        return True
    for tok in metric_tokens(low):
        if tok in _METRIC_TOKENS or tok.startswith(("loss", "acc", "map", "top")):
            return True
    return False


def find_column(columns: Sequence[str], *names: str) -> str | None:
    """The first column whose name equals one of ``names`` (case-insensitive), else ``None``."""
    lowered = {c.lower(): c for c in reversed(columns)}
    for n in names:
        if n.lower() in lowered:
            return lowered[n.lower()]
    return None


# ---------------------------------------------------------------------------------------- low level


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_cell_numeric(text: str, sep: str = ",") -> bool:
    if text.lower() in NULL_TOKENS or _is_number(text):
        return True
    return sep != "," and text.count(",") == 1 and _is_number(text.replace(",", "."))


def split_fields(line: str, sep: str) -> list[str]:
    """Fields of one CSV line (quotes honoured only when the line has any)."""
    if '"' not in line:
        return line.split(sep)
    try:
        return next(csv.reader([line], delimiter=sep, quotechar='"', skipinitialspace=False), [])
    except csv.Error:
        return line.split(sep)


def _header_fields(line: str) -> tuple[str, list[str]] | None:
    """``(separator, raw fields)`` when ``line`` reads as a header of column names, else ``None``."""
    best: tuple[str, list[str]] | None = None
    for sep in SEPARATORS:
        if sep not in line:
            continue
        fields = split_fields(line, sep)
        names = [f.strip() for f in fields]
        if names and names[-1] == "":
            names = names[:-1]
        # pandas ``to_csv`` writes its index column with an empty name: ``,loss,val_loss``
        named = names[1:] if names and names[0] == "" else names
        if len(names) < 2 or not named or any(not n or len(n) > 100 for n in named):
            continue
        if any(_BAD_NAME_CHARS.search(n) for n in named) and not _steps_and_epochs(named):
            continue  # odd names (``out_tensor([0.])``) only in a step/epoch-keyed metrics CSV
        if all(_is_number(n) for n in names):
            continue
        if best is None or len(fields) > len(best[1]):
            best = (sep, fields)
    return best


def _steps_and_epochs(names: Sequence[str]) -> bool:
    """True when the header names both a ``step`` and an ``epoch`` column (a Lightning layout)."""
    lowered = {n.lower() for n in names}
    return "step" in lowered and "epoch" in lowered


def has_index_column(names: Sequence[str]) -> bool:
    """True when the first header field is empty: the unnamed index column pandas ``to_csv`` writes."""
    return len(names) >= 2 and names[0] == "" and all(names[1:])


def _count_fields(line: str, sep: str) -> int:
    return line.count(sep) + 1 if '"' not in line else len(split_fields(line, sep))


def find_header(lines: Sequence[str], max_junk: int = MAX_JUNK_LINES) -> tuple[int, str, list[str]] | None:
    """Index, separator and raw fields of the header line among the first non-empty ``lines``.

    Up to ``max_junk`` non-empty lines before it are skipped. A candidate is confirmed by the next
    non-empty line having about as many fields (so a prose line with a comma is not taken as a header).
    """
    seen = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if seen > max_junk:
            return None
        seen += 1
        cand = _header_fields(line)
        if cand is None:
            continue
        sep, fields = cand
        nxt = next((ln for ln in lines[i + 1 : i + 50] if ln.strip()), None)
        if nxt is not None and abs(_count_fields(nxt, sep) - len(fields)) > 1 and _header_fields(nxt) is not None:
            continue  # a prose line with a separator in it, followed by the real header
        return i, sep, fields
    return None


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    if not sample:
        return False
    control = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return control > len(sample) * 0.02


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """Decode CSV bytes as UTF-8 (BOM removed); undecodable bytes become U+FFFD with a warning."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return text, ["non-UTF-8 bytes replaced with U+FFFD"]


def sniff_header(head: bytes, *, complete: bool | None = None) -> CsvHeader | None:
    """Parse the header (and first row) from a file's first bytes; ``None`` when it is not CSV-like.

    ``complete`` says whether ``head`` is the whole file; by default a head shorter than
    :data:`HEAD_BYTES` is taken as complete. A cut-off last line is ignored. Never raises.
    """
    try:
        if not head or is_lfs_pointer(head) or _looks_binary(head):
            return None
        text, _ = decode_text(head)
        lines = text.splitlines()
        if complete is None:
            complete = len(head) < HEAD_BYTES
        if not complete and lines and not text.endswith(("\n", "\r")):
            if len(lines) == 1:  # a header longer than the head: keep its complete fields
                cut = max(lines[0].rfind(sep) for sep in SEPARATORS)
                lines = [lines[0][:cut]] if cut > 0 else []
            else:
                lines = lines[:-1]
        found = find_header(lines)
        if found is None:
            return None
        idx, sep, raw = found
        names = [f.strip() for f in raw]
        if names and names[-1] == "":
            names, raw = names[:-1], raw[:-1]
        nxt = next((ln for ln in lines[idx + 1 :] if ln.strip()), None)
        first = [f.strip() for f in split_fields(nxt, sep)] if nxt is not None else None
        junk = sum(1 for ln in lines[:idx] if ln.strip())
        return CsvHeader(names=names, raw=raw, separator=sep, first_row=first, junk_lines=junk)
    except Exception:  # sniffing must never raise
        return None


def sniff_csv(
    path: Path,
    head: bytes,
    accept: Callable[[CsvHeader], bool],
    *,
    suffixes: Collection[str] | None = None,
    not_suffixes: Collection[str] = (),
) -> bool:
    """``accept(header)`` for a file with an allowed suffix whose head parses as a CSV header; never raises.

    ``suffixes`` (lower case, ``""`` for none) lists the allowed suffixes (``None``: any), ``not_suffixes``
    the refused ones.
    """
    try:
        suffix = path.suffix.lower()
        if (suffixes is not None and suffix not in suffixes) or suffix in not_suffixes:
            return False
        header = sniff_header(head)
        return header is not None and accept(header)
    except Exception:
        return False


def first_row_numeric(header: CsvHeader) -> bool:
    """True when the first data row is mostly numbers or empty cells (or there is no row yet)."""
    if header.first_row is None:
        return True
    cells = header.first_row[: len(header.names)]
    numbers = sum(1 for c in cells if c and _is_cell_numeric(c, header.separator) and c.lower() not in NULL_TOKENS)
    empty = sum(1 for c in cells if c.lower() in NULL_TOKENS)
    return numbers >= 1 and (numbers + empty) * 2 >= len(cells)


# -------------------------------------------------------------------------------------------- load


def _unique_names(raw: Sequence[str], warnings: list[str]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, f in enumerate(raw):
        name = f.strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            warnings.append(f"duplicate column {name!r} renamed {name}.{seen[name] - 1}")
            name = f"{name}.{seen[name] - 1}"
        else:
            seen[name] = 1
        names.append(name)
    return names


def _read_strings(body: bytes, sep: str, names: list[str]) -> pl.DataFrame:
    """All cells as strings; polars first, the stdlib csv module when polars gives up."""
    try:
        return pl.read_csv(
            io.BytesIO(body),
            separator=sep,
            has_header=True,
            new_columns=names,
            infer_schema=False,
            truncate_ragged_lines=True,
            quote_char='"',
            raise_if_empty=False,
        )
    except Exception:
        text = body.decode("utf-8", errors="replace")
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=sep, quotechar='"'))[1:]
        except csv.Error as exc:  # e.g. an unbalanced quote running into a field over the 128 KiB limit
            raise LogReadError(f"malformed CSV: {exc}") from None
        width = len(names)
        cols: list[list[str | None]] = [[] for _ in range(width)]
        for row in rows:
            for j in range(width):
                cols[j].append(row[j] if j < len(row) else None)
        return pl.DataFrame({n: pl.Series(n, c, dtype=pl.Utf8) for n, c in zip(names, cols)})


def parse_csv(data: bytes, *, name: str = "file") -> CsvTable:
    """Load CSV ``data`` into numeric Float64 columns; raise :class:`LogReadError` when it is no CSV."""
    if not data or data.isspace():
        raise LogReadError("empty file")
    if is_lfs_pointer(data[:200]):
        raise LogReadError("Git LFS pointer, not the log itself (run `git lfs pull`)")
    if _looks_binary(data):
        raise LogReadError(f"not a CSV: binary content in {name}")
    text, warnings = decode_text(data)
    if text.count("\ufffd") > max(16, len(text) // 20):
        raise LogReadError(f"not a CSV: {name} is mostly undecodable bytes")
    head_lines = text[:65536].splitlines()
    found = find_header(head_lines)
    if found is None:
        raise LogReadError(f"not a CSV: no header line with column names in {name}")
    idx, sep, raw = found
    header_line = head_lines[idx]
    width = len(raw)
    names = _unique_names(raw, warnings)
    header_key = header_line.strip()
    restarts: list[int] = []
    offset = text.find("\n") + 1 if "\n" in text else len(text)
    simple = idx == 0 and "\r" not in text and "\n\n" not in text and text.find(header_key, offset) < 0
    if simple:  # the common case, handled without a Python loop over the lines
        rows = 0 if offset >= len(text) else text.count("\n", offset) + (0 if text.endswith("\n") else 1)
        ragged = '"' in text or text.count(sep, offset) != (width - 1) * rows
        data_lines = text[offset:].split("\n") if ragged else []
        body = data if (not warnings and not data.startswith(b"\xef\xbb\xbf")) else text.encode("utf-8")
    else:
        lines = text.splitlines()
        junk = sum(1 for ln in lines[:idx] if ln.strip())
        if junk:
            warnings.append(f"skipped {junk} line(s) before the header")
        data_lines = [ln for ln in lines[idx + 1 :] if ln and not ln.isspace()]
        if text.find(header_key, text.find(header_line) + len(header_line)) >= 0:
            # a repeated header: a run was appended with its own header; a run boundary, not data
            kept: list[str] = []
            for line in data_lines:
                if line.strip() == header_key:
                    if kept and (not restarts or restarts[-1] != len(kept)):
                        restarts.append(len(kept))
                else:
                    kept.append(line)
            data_lines = kept
        rows = len(data_lines)
        ragged = True
        body = ("\n".join([header_line, *data_lines]) + "\n").encode("utf-8")
    if ragged:
        _warn_ragged(data_lines, sep, width, quoted='"' in text, warnings=warnings)

    strings = _read_strings(body, sep, names)
    frame, dropped = _to_numeric(strings, sep, warnings)
    index_column = has_index_column([f.strip() for f in raw])
    if index_column:  # the row labels pandas wrote, not a quantity
        frame = frame.drop(names[0], strict=False)
        names = names[1:]
    frame, restarts = _drop_empty_rows(frame, restarts)
    padded = any(f != f.lstrip() for f in raw if f.strip())
    return CsvTable(
        frame=frame,
        columns=names,
        dropped=dropped,
        separator=sep,
        padded=padded,
        rows=rows,
        restarts=restarts,
        warnings=warnings,
        index_column=index_column,
    )


def _warn_ragged(lines: Sequence[str], sep: str, width: int, *, quoted: bool, warnings: list[str]) -> None:
    """Warn about data lines with more (non-empty) or fewer fields than the header."""
    counts = [_count_fields(ln, sep) if quoted else ln.count(sep) + 1 for ln in lines if ln and not ln.isspace()]
    if not counts or (min(counts) == width and max(counts) == width):
        return
    too_many = too_few = 0
    for line, n in zip((ln for ln in lines if ln and not ln.isspace()), counts):
        if n > width and any(e.strip() for e in split_fields(line, sep)[width:]):
            too_many += 1
        elif n < width:
            too_few += 1
    if too_many:
        warnings.append(f"{too_many} row(s) with more fields than the header (extra fields ignored)")
    if too_few:
        warnings.append(f"{too_few} row(s) with fewer fields than the header (missing cells left empty)")


def _to_numeric(strings: pl.DataFrame, sep: str, warnings: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """Cast stripped string columns to Float64; drop columns that hold no numbers.

    ``nan``/``inf`` in any case become float NaN/Inf; :data:`NULL_TOKENS` become null. A column whose
    non-missing cells mostly fail to parse (``"[a, b]"`` lists, names) is dropped.
    """
    if strings.width == 0:
        return pl.DataFrame(), []
    cast = strings.select(pl.all().str.strip_chars().cast(pl.Float64, strict=False))
    nulls = cast.null_count().row(0)
    suspects = [c for c, n in zip(cast.columns, nulls) if n]
    if not suspects:  # the common case: every cell parsed
        return cast, []
    tokens = list(NULL_TOKENS)
    present_row = strings.select(
        (pl.col(c).is_not_null() & ~pl.col(c).str.strip_chars().str.to_lowercase().is_in(tokens)).sum().alias(c)
        for c in suspects
    ).row(0)
    present = dict(zip(suspects, present_row))
    keep: dict[str, pl.Series] = {}
    dropped: list[str] = []
    for c, n_null in zip(cast.columns, nulls):
        series = cast.get_column(c)
        if not n_null:
            keep[c] = series
            continue
        n_present = int(present[c])
        n_parsed = strings.height - n_null
        if n_present == 0:
            if not c.startswith("column_"):  # an all-empty column; unnamed ones come from a trailing separator
                keep[c] = series
            continue
        if n_parsed < n_present and sep != ",":
            text = strings.get_column(c).str.strip_chars()
            alt = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
            alt_parsed = alt.len() - alt.null_count()
            if alt_parsed > n_parsed:
                series, n_parsed = alt, alt_parsed
        if n_parsed == 0 or n_parsed * 2 < n_present:
            dropped.append(c)
            continue
        if n_parsed < n_present:
            warnings.append(f"column {c!r}: {n_present - n_parsed} non-numeric cell(s) read as missing")
        keep[c] = series
    if dropped:
        warnings.append("dropped non-numeric column(s): " + ", ".join(repr(d) for d in dropped))
    frame = pl.DataFrame(list(keep.values())) if keep else pl.DataFrame()
    return frame, dropped


def _drop_empty_rows(frame: pl.DataFrame, restarts: list[int]) -> tuple[pl.DataFrame, list[int]]:
    """Remove rows with no number at all and move the restart positions accordingly."""
    if frame.width == 0 or frame.height == 0:
        return frame, restarts
    if min(frame.null_count().row(0)) == 0:  # some column is full: no row can be empty
        return frame, [r for r in restarts if 0 < r < frame.height]
    keep = frame.select(~pl.all_horizontal(pl.all().is_null())).to_series()
    if keep.all():
        return frame, [r for r in restarts if 0 < r < frame.height]
    before = keep.cast(pl.Int64).cum_sum().to_list()
    moved = sorted({before[r - 1] for r in restarts if 0 < r <= len(before)})
    out = frame.filter(keep)
    return out, [r for r in moved if 0 < r < out.height]


def load_csv(path: Path) -> CsvTable:
    """Read and parse the CSV file at ``path`` (see :func:`parse_csv`)."""
    data = read_bounded(path, MAX_BYTES, "CSV log")
    if longest_line_over(data, MAX_LINE_BYTES):
        raise LogReadError(f"a line longer than {MAX_LINE_BYTES >> 20} MiB: not a CSV log this tool reads")
    padded = data.endswith(b"\x00")
    if padded:  # a crash while writing leaves the tail zero-filled: read what was written
        data = data.rstrip(b"\x00")
    table = parse_csv(data, name=path.name)
    if padded:
        table.warnings.append("NUL bytes at the end of the file (a crash while writing?) were ignored")
    return table


def longest_line_over(data: bytes, limit: int) -> bool:
    """True when some line of ``data`` is at least ``2 * limit`` bytes long, False when none reaches
    ``limit`` (in between, either): one ``find`` per ``limit``-byte window, so a file of short lines
    costs a few hundred calls and no copy."""
    n = len(data)
    if n <= limit:
        return False
    start = 0
    while start + limit <= n:
        if data.find(b"\n", start, start + limit) < 0:
            return True
        start += limit
    return False


# ------------------------------------------------------------------------------------------ helpers


def segments(n_rows: int, starts: Sequence[int]) -> list[tuple[int, int]]:
    """``(offset, length)`` slices for rows ``0..n_rows`` cut at the sorted unique ``starts``."""
    cuts = sorted({s for s in starts if 0 < s < n_rows})
    bounds = [0, *cuts, n_rows]
    return [(a, b - a) for a, b in zip(bounds, bounds[1:]) if b > a]


def reset_starts(index: pl.Series, *, allow_equal: bool = False) -> list[int]:
    """:func:`trainlog_doctor.readers._frame.split_on_reset` on a series, with a fast exit for a rising index."""
    if index.len() < 2:
        return []
    top = index.cast(pl.Float64, strict=False).abs().max()
    if isinstance(top, float) and math.isfinite(top) and top > 2.0**53:  # float64 cannot tell these counters apart
        return []
    if not index.null_count():
        arr = index.to_numpy()
        if np.isfinite(arr).all():
            diffs = np.diff(arr)
            if (diffs >= 0).all() if allow_equal else (diffs > 0).all():
                return []
    return split_on_reset(index.to_list(), allow_equal=allow_equal)


def nonfinite_to_null(df: pl.DataFrame, column: str) -> pl.DataFrame:
    """``df`` with NaN/Inf in ``column`` turned into null (an index cell written as ``nan`` is missing)."""
    series = df.get_column(column)
    if (~np.isfinite(series.to_numpy())).sum() > series.null_count():
        return df.with_columns(pl.when(pl.col(column).is_finite()).then(pl.col(column)).alias(column))
    return df


def segment_runs(
    df: pl.DataFrame,
    starts: Sequence[int],
    names: Mapping[str, tuple[str, str]],
    *,
    run_id: str,
    source: str,
    step_col: str,
    epoch_col: str | None = None,
    wall_col: str | None = None,
    meta: Mapping[str, Any],
    warnings: list[str],
) -> list[RunData]:
    """One :class:`RunData` per piece of ``df`` cut at ``starts`` (see :func:`segments` and :func:`to_long`).

    Runs get the suffixes of :func:`suffix_for` and a copy of ``meta`` each; only the first gets ``warnings``.
    """
    runs: list[RunData] = []
    for offset, length in segments(df.height, starts):
        seg = df.slice(offset, length)
        suffix = suffix_for(len(runs))
        frame = to_long(
            seg,
            names,
            run_id=run_id + suffix,
            source=source,
            step=seg.get_column(step_col),
            epoch=seg.get_column(epoch_col) if epoch_col else None,
            wall_time=seg.get_column(wall_col) if wall_col else None,
        )
        runs.append(RunData(frame=frame, suffix=suffix, meta=dict(meta), warnings=warnings if not runs else []))
    return runs


def _constant(value: Any, n: int, dtype: pl.DataType) -> pl.Series:
    """A series of ``n`` copies of ``value`` (a Python list is cheaper than a polars query when small)."""
    if n <= 50_000:
        return pl.Series(values=[value] * n, dtype=dtype)
    return pl.Series(values=[value], dtype=dtype).extend_constant(value, n - 1)


_INT64_TOP = float(np.nextafter(2.0**63, 0))  # the largest float below 2**63, exact as an int64


def _as_dtype(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    """``series`` as ``dtype`` (floats floored to Int64), avoiding a polars query in the common cases."""
    if series.dtype == dtype:
        return series
    if dtype == pl.Int64 and series.dtype == pl.Float64 and not series.null_count():
        arr = series.to_numpy()
        if np.isfinite(arr).all():  # clipped to the int64 range: a garbled 1e23 is a huge step, not a wrapped one
            return pl.Series(values=np.clip(np.floor(arr), -(2.0**63), _INT64_TOP).astype(np.int64), dtype=pl.Int64)
    return series.cast(dtype, strict=False)


def to_long(
    wide: pl.DataFrame,
    names: Mapping[str, tuple[str, str]],
    *,
    run_id: str,
    source: str,
    step: pl.Series,
    epoch: pl.Series | None = None,
    wall_time: pl.Series | None = None,
) -> pl.DataFrame:
    """Stack the ``names`` columns of ``wide`` into the normalized long frame.

    ``names`` maps column -> ``(metric, split)``; ``step``/``epoch``/``wall_time`` are row-aligned
    series. Like :func:`trainlog_doctor.readers._frame.wide_to_long` but the caller decides the names
    (Lightning ``*_step`` columns would otherwise land in ``other``) and it is built without a lazy
    query per call, which matters for thousands of small files. Null cells are dropped, NaN kept.
    """
    cols = [c for c in names if c in wide.columns]
    n = wide.height
    if not cols or n == 0:
        return empty_frame()
    k = len(cols)
    values = pl.concat([wide.get_column(c).cast(pl.Float64) for c in cols], rechunk=True)

    def tiled(series: pl.Series | None, dtype: pl.DataType) -> pl.Series:
        if series is None:
            return _constant(None, n * k, dtype)
        s = _as_dtype(series, dtype)
        return pl.concat([s] * k, rechunk=True) if k > 1 else s

    def repeated(labels: list[str]) -> pl.Series:
        if n * k <= 50_000:
            return pl.Series(values=[label for label in labels for _ in range(n)], dtype=pl.Utf8)
        return pl.concat([_constant(label, n, pl.Utf8()) for label in labels], rechunk=True)

    long = pl.DataFrame(
        {
            "run_id": _constant(run_id, n * k, pl.Utf8()),
            "source": _constant(source, n * k, pl.Utf8()),
            "metric": repeated([names[c][0] for c in cols]),
            "split": repeated([names[c][1] for c in cols]),
            "step": tiled(step, pl.Int64()),
            "epoch": tiled(epoch, pl.Float64()),
            "wall_time": tiled(wall_time, pl.Float64()),
            "value": values,
        }
    )
    if values.null_count():
        long = long.filter(values.is_not_null())
    return long


def number_or_text(text: str) -> Any:
    """``text`` as an int or a finite float when it reads as one, else the text itself."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


__all__ = [
    "CsvHeader",
    "CsvTable",
    "decode_text",
    "find_column",
    "find_header",
    "first_row_numeric",
    "has_index_column",
    "is_metric_like",
    "load_csv",
    "nonfinite_to_null",
    "number_or_text",
    "parse_csv",
    "reset_starts",
    "segment_runs",
    "segments",
    "sniff_csv",
    "sniff_header",
    "split_fields",
    "to_long",
]
