"""Keras ``CSVLogger`` files and other per-epoch CSV logs (AUTOTRAINER ``log.csv``, k-fold CSVs).

* ``epoch`` is the writer's 0-based index (kept as written); ``step`` = ``epoch``.
* No ``epoch`` column (AUTOTRAINER/DeepFD ``log.csv``, ``pd.DataFrame(history.history).to_csv(...)``):
  the row index is the epoch, with a warning saying so. The unnamed index column pandas writes
  (header ``,loss,val_loss,acc,val_acc``) is left out.
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

from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.readers._csv import (
    CsvHeader,
    find_column,
    first_row_numeric,
    is_metric_like,
    load_csv,
    nonfinite_to_null,
    reset_starts,
    segments,
    sniff_csv,
    to_long,
)
from trainlog_doctor.readers.base import LogReadError, RunData, display_path, suffix_for
from trainlog_doctor.readers.lightning_csv import is_lightning_header
from trainlog_doctor.readers.ultralytics_csv import is_ultralytics_header
from trainlog_doctor.run.names import infer_split, series_names

NO_EPOCH_WARNING = "no epoch column: the row number is taken as the epoch"
_NOT_CSV_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml", ".py", ".md", ".html", ".xml", ".ipynb")


def is_keras_header(header: CsvHeader) -> bool:
    """True for a per-epoch metrics CSV header: metric-like columns, no ``step`` column, numeric rows."""
    names = header.names
    if header.junk_lines > 3 or find_column(names, "step") is not None or is_ultralytics_header(header):
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
        return sniff_csv(
            path,
            head,
            lambda header: not is_lightning_header(header, path) and is_keras_header(header),
            not_suffixes=_NOT_CSV_SUFFIXES,
        )

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` per fold and per appended run in the file."""
        table = load_csv(path)
        source = display_path(path)
        df = table.frame
        epoch_col = find_column(df.columns, "epoch")
        fold_col = find_column(df.columns, "fold")
        if epoch_col is None and not any(is_metric_like(c) for c in table.columns):
            shown = ", ".join(table.columns[:5])
            raise LogReadError(f"not a training log: no epoch or metric columns ({shown})")
        empty = table.check_rows()
        if empty is not None:
            return [RunData(empty_frame(), warnings=[empty, *table.warnings])]
        if epoch_col is not None:
            df = nonfinite_to_null(df, epoch_col)
            if df.get_column(epoch_col).null_count() == df.height:
                epoch_col = None
            elif (df.get_column(epoch_col).abs().max() or 0) > 2.0**53:  # float64 cannot tell such epochs apart
                table.warnings.append(f"epoch values beyond 2^53 in {epoch_col!r}: rows are numbered instead")
                df = df.drop(epoch_col)
                epoch_col = None

        names = series_names([c for c in df.columns if c not in (epoch_col, fold_col)], infer_split)
        runs: list[RunData] = []
        for fold, part, restarts in _fold_groups(df, fold_col, table.restarts):
            starts = list(restarts)
            if epoch_col is not None:
                starts += reset_starts(part.get_column(epoch_col))
            for offset, length in segments(part.height, starts):
                seg = part.slice(offset, length)
                warnings = list(table.warnings) if not runs else []
                if epoch_col is not None:
                    epoch = seg.get_column(epoch_col)
                    if epoch.null_count():
                        warnings.append(f"{epoch.null_count()} row(s) without an epoch value skipped")
                        seg = seg.filter(epoch.is_not_null())
                        epoch = seg.get_column(epoch_col)
                else:
                    epoch = pl.Series(values=range(seg.height), dtype=pl.Float64)
                suffix = suffix_for(len(runs))
                frame = to_long(seg, names, run_id=run_id + suffix, source=source, step=epoch, epoch=epoch)
                meta: dict[str, Any] = {}
                if epoch_col is None:
                    meta["epoch_from_row_index"] = True
                    if not runs:
                        warnings.append(NO_EPOCH_WARNING)
                if fold is not None and fold == fold:
                    meta["fold"] = int(fold) if float(fold).is_integer() else fold
                runs.append(RunData(frame=frame, suffix=suffix, meta=meta, warnings=warnings))
        return runs


def _fold_groups(
    df: pl.DataFrame, fold_col: str | None, restarts: list[int]
) -> list[tuple[float | None, pl.DataFrame, list[int]]]:
    """``(fold, rows, restart positions within rows)`` per fold in order of appearance (one group without folds)."""
    if fold_col is None or df.get_column(fold_col).null_count() == df.height:
        return [(None, df, list(restarts))]
    folds = df.get_column(fold_col).forward_fill().backward_fill().to_list()
    restart_rows = set(restarts)
    out: list[tuple[float | None, pl.DataFrame, list[int]]] = []
    for key in dict.fromkeys(folds):
        idx = [i for i, v in enumerate(folds) if v == key or (v != v and key != key)]
        starts = [j for j, i in enumerate(idx) if i in restart_rows]
        out.append((key, df[idx], starts))
    return out
