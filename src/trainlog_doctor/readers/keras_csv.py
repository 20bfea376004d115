"""Keras ``CSVLogger`` files and other per-epoch CSV logs (AUTOTRAINER ``log.csv``, k-fold CSVs).

* ``epoch`` is the writer's 0-based index (kept as written); ``step`` = ``epoch``.
* No ``epoch`` column (AUTOTRAINER/DeepFD ``log.csv``): the row index is the epoch.
* ``append=True`` concatenates runs without a new header: the epoch going back (or repeating) starts
  a new run; a repeated header line does too. Runs get suffixes ``""``, ``"#2"``, ``"#3"`` ...
* A ``fold`` column (k-fold CSVs) splits runs by fold first; ``meta["fold"]`` keeps the fold value.
* Sniff accepts a CSV whose header has metric-like columns (loss, acc, val_*, lr ...) and no ``step``
  column (that is Lightning); it rejects AUTOTRAINER's ``monitor_detection.log`` (no metric columns).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.frame import empty_frame, split_on_reset, wide_to_long
from trainlog_doctor.readers._csv import (
    CsvHeader,
    find_column,
    first_row_numeric,
    is_metric_like,
    load_csv,
    segments,
    sniff_header,
    suffix_for,
)
from trainlog_doctor.readers.base import LogReadError, RunData
from trainlog_doctor.readers.lightning_csv import is_lightning_header
from trainlog_doctor.readers.ultralytics_csv import is_ultralytics_header

_NOT_CSV_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml", ".py", ".md", ".html", ".xml", ".ipynb")


def is_keras_header(header: CsvHeader) -> bool:
    """True for a per-epoch metrics CSV header: metric-like columns, no ``step`` column, numeric rows."""
    names = header.names
    if find_column(names, "step") is not None or is_ultralytics_header(header):
        return False
    metric_like = [n for n in names if is_metric_like(n)]
    has_epoch = find_column(names, "epoch") is not None
    has_split_prefix = any(n.lower().startswith(("val_", "validation_", "train_", "test_")) for n in names)
    if not ((has_epoch and metric_like) or len(metric_like) >= 2 or has_split_prefix):
        return False
    return first_row_numeric(header)


class KerasCsvReader:
    """Reader for Keras ``CSVLogger`` output and similar per-epoch CSV logs."""

    format: ClassVar[str] = "keras_csv"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """A CSV (any separator, junk line allowed) whose header names training metrics per epoch."""
        try:
            if path.suffix.lower() in _NOT_CSV_SUFFIXES:
                return False
            header = sniff_header(head)
            if header is None or is_lightning_header(header, path):
                return False
            return is_keras_header(header)
        except Exception:
            return False

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` per fold and per appended run in the file."""
        table = load_csv(path)
        source = str(path)
        df = table.frame
        epoch_col = find_column(df.columns, "epoch")
        fold_col = find_column(df.columns, "fold")
        if epoch_col is None and not any(is_metric_like(c) for c in table.columns):
            shown = ", ".join(table.columns[:5])
            raise LogReadError(f"not a training log: no epoch or metric columns ({shown})")
        if df.height == 0:
            return [RunData(empty_frame(), warnings=["header only, no rows", *table.warnings])]
        if epoch_col is not None and df[epoch_col].null_count() == df.height:
            epoch_col = None

        df = df.with_row_index("__row")
        groups: list[tuple[Any, pl.DataFrame]]
        if fold_col is not None:
            df = df.with_columns(pl.col(fold_col).forward_fill().backward_fill())
            keys = df[fold_col].unique(maintain_order=True).to_list()
            groups = [(k, df.filter(pl.col(fold_col) == k) if k is not None else df) for k in keys]
        else:
            groups = [(None, df)]

        runs: list[RunData] = []
        skip = [c for c in (epoch_col, fold_col) if c]
        for fold, part in groups:
            restart_rows = set(table.restarts)
            header_restarts = {i for i, r in enumerate(part["__row"].to_list()) if r in restart_rows}
            if epoch_col is not None:
                starts = split_on_reset(part[epoch_col].to_list()) + sorted(header_restarts)
            else:
                starts = sorted(header_restarts)
            for offset, length in segments(part.height, starts):
                seg = part.slice(offset, length).drop("__row")
                warnings = list(table.warnings) if not runs else []
                if epoch_col is not None:
                    missing = seg[epoch_col].null_count()
                    if missing:
                        seg = seg.filter(pl.col(epoch_col).is_not_null())
                        warnings.append(f"{missing} row(s) without an epoch value skipped")
                    seg = seg.with_columns(pl.col(epoch_col).alias("__epoch"))
                else:
                    seg = seg.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.Float64).alias("__epoch"))
                seg = seg.with_columns(pl.col("__epoch").floor().cast(pl.Int64).alias("__step"))
                suffix = suffix_for(len(runs))
                frame = wide_to_long(
                    seg,
                    run_id=run_id + suffix,
                    source=source,
                    step_col="__step",
                    epoch_col="__epoch",
                    skip=skip,
                )
                meta: dict[str, Any] = {}
                if epoch_col is None:
                    meta["epoch_from_row_index"] = True
                if fold is not None:
                    meta["fold"] = int(fold) if float(fold).is_integer() else fold
                runs.append(RunData(frame=frame, suffix=suffix, meta=meta, warnings=warnings))
        return runs
