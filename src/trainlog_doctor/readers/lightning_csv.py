"""PyTorch Lightning ``CSVLogger`` files (``lightning_logs/version_N/metrics.csv``).

Every ``log_metrics`` call is its own sparse row, so empty cells are the rule, not an error.

* ``step`` is the global step (kept as written); ``epoch`` is filled for rows that lack it
  (``LearningRateMonitor`` rows such as ``lr-Adam``) from another row at the same step, else from
  the row before.
* Naming: ``x_epoch`` (the epoch aggregate of a metric logged with ``on_step`` and ``on_epoch``) becomes
  metric ``x``, so ``train_loss_epoch`` pairs with ``val_loss``; ``x_step`` keeps its suffix
  (``train_loss_step`` -> metric ``loss_step``, split ``train``). The split is inferred from the name
  without the suffix.
* A new run starts only where ``step`` goes back (epoch-end rows repeat the last step) or where the
  header is repeated. ``hparams.yaml`` next to the file fills ``meta`` (``lr``, ``batch_size``,
  ``optimizer``, ``epochs`` and every setting under ``hparams``, nested ones as dotted keys), and
  the ``config.yaml`` LightningCLI saves there goes to ``config`` (``optimizer.class_path``,
  ``trainer.precision`` ...); both are read with the bounded safe loader of ``readers/_config.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import polars as pl

from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.readers._config import beside, config_table, existing
from trainlog_doctor.readers._csv import (
    CsvHeader,
    find_column,
    first_row_numeric,
    is_metric_like,
    load_csv,
    nonfinite_to_null,
    reset_starts,
    segment_runs,
    sniff_csv,
)
from trainlog_doctor.readers.base import RunData, display_path
from trainlog_doctor.readers.ultralytics_csv import is_ultralytics_header
from trainlog_doctor.run.names import infer_split, series_names

_WALL_TIME_NAMES = ("created_at", "timestamp", "wall_time", "walltime")


def is_lightning_header(header: CsvHeader, path: Path | None = None) -> bool:
    """True for a step-keyed metrics CSV: a ``step`` column plus ``epoch`` or metric-like columns."""
    names = header.names
    if find_column(names, "step") is None or is_ultralytics_header(header):
        return False
    named_like = path is not None and path.name.lower() == "metrics.csv"
    others = [n for n in names if n.lower() != "step"]
    if not (find_column(names, "epoch") is not None or any(is_metric_like(n) for n in others) or named_like):
        return False
    return first_row_numeric(header)


class LightningCsvReader:
    """Reader for Lightning ``metrics.csv`` (sparse rows keyed by the global step)."""

    format: ClassVar[str] = "lightning_csv"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """A CSV whose header has a ``step`` column and an ``epoch`` or metric-like column."""
        return sniff_csv(
            path,
            head,
            lambda header: is_lightning_header(header, path),
            suffixes=(".csv", ".tsv", ".txt", ".log", ""),
        )

    def side_files(self, path: Path) -> list[Path]:
        """The config files :meth:`read` reads beside ``path`` (for the audit's cache key)."""
        return existing(path.with_name(n) for n in ("hparams.yaml", "config.yaml"))

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` per run (normally one: Lightning writes a new ``version_N`` per launch)."""
        table = load_csv(path)
        config_warnings: list[str] = []
        meta = beside(path, ("hparams.yaml",), config_warnings, table="hparams")
        cli = config_table(path.with_name("config.yaml"), config_warnings)  # LightningCLI's saved config
        if cli:
            meta["config"] = cli
        df = table.frame
        empty = table.check_rows()
        if empty is not None:
            return [RunData(empty_frame(), meta=meta, warnings=[empty, *table.warnings, *config_warnings])]
        step_col = find_column(df.columns, "step")
        epoch_col = find_column(df.columns, "epoch")
        wall_col = find_column(df.columns, *_WALL_TIME_NAMES)
        warnings = [*table.warnings, *config_warnings]

        if step_col is not None:
            df = nonfinite_to_null(df, step_col)
        if step_col is None or df.get_column(step_col).null_count() == df.height:
            if step_col is None:
                warnings.append("no step column: row index used as step")
            step_col = "__step"
            df = df.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(step_col))
        else:
            df = df.with_columns(pl.col(step_col).forward_fill().backward_fill())
        if epoch_col is not None:
            df = df.with_columns(
                pl.col(epoch_col)
                .fill_null(pl.col(epoch_col).max().over(step_col))
                .forward_fill()
                .backward_fill()
            )

        index_cols = {c for c in (step_col, epoch_col, wall_col) if c}
        metric_cols = [c for c in df.columns if c not in index_cols]
        names = series_names(metric_cols, infer_split)

        starts = reset_starts(df.get_column(step_col), allow_equal=True) + list(table.restarts)
        return segment_runs(
            df,
            starts,
            names,
            run_id=run_id,
            source=display_path(path),
            step_col=step_col,
            epoch_col=epoch_col,
            wall_col=wall_col,
            meta=meta,
            warnings=warnings,
        )
