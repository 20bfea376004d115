"""YOLOv5 / ultralytics ``results.csv`` (``runs/train/expN/results.csv``).

Three layouts: YOLOv5 (fields padded to width 20, epoch 0-based, ``x/lr0``), early ultralytics 8.0
(width 23, epoch 1-based, ``lr/pg0``), ultralytics >= 8.1 (unpadded, ``epoch,time,...``, epoch 1-based,
``time`` = cumulative seconds, read into ``wall_time``).

Naming: ``train/box_loss`` -> ``box_loss``/``train``; ``val/box_loss`` -> ``box_loss``/``val``;
``metrics/mAP_0.5`` -> ``mAP_0.5``/``val`` (the metrics are computed on the validation set, the prefix is
dropped, ``(B)``/``(M)`` suffixes are kept); ``x/lr0`` and ``lr/pg0`` keep their names, split ``other``.
``epoch`` is kept as written (``meta["epoch_base"]`` says 0 or 1) and ``step`` = ``epoch``. Re-runs
appended to one file (epoch restarts) become separate runs. ``hyp.yaml``/``opt.yaml`` (YOLOv5) and
``args.yaml`` (ultralytics) next to the file fill ``meta`` (``lr``, ``batch_size``, ``optimizer``,
``epochs``, and every setting under ``hparams``, nested ones as dotted keys), read with the bounded
safe loader of ``readers/_config.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.readers._config import beside, existing
from trainlog_doctor.readers._csv import (
    CsvHeader,
    find_column,
    load_csv,
    nonfinite_to_null,
    reset_starts,
    segment_runs,
    sniff_csv,
)
from trainlog_doctor.readers.base import LogReadError, RunData, display_path
from trainlog_doctor.run.names import infer_split, series_names

_LR = re.compile(r"^(x/lr\d+|lr/pg\d+)$", re.IGNORECASE)
_LOSS = re.compile(r"^(train|val)/(box|obj|cls|dfl|seg|pose|kobj|rle)_loss$", re.IGNORECASE)
#: Run facts come from ``hyp.yaml`` + ``opt.yaml`` (YOLOv5) or ``args.yaml`` (ultralytics) beside the CSV.
_YOLO_YAMLS = ("hyp.yaml", "opt.yaml", "args.yaml")


def is_ultralytics_header(header: CsvHeader) -> bool:
    """True for a YOLO ``results.csv`` header (YOLO loss, ``metrics/mAP``, ``x/lr0``/``lr/pg0`` or padded ``epoch``)."""
    names = [n.lower() for n in header.names]
    if not names or "epoch" not in names:
        return False
    if any(_LR.match(n) or _LOSS.match(n) or n.startswith("metrics/map") for n in names):
        return True
    first = header.raw[0]
    return names[0] == "epoch" and len(first) >= 15 and first != first.lstrip()


class UltralyticsCsvReader:
    """Reader for YOLOv5 and ultralytics ``results.csv``."""

    format: ClassVar[str] = "ultralytics_csv"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """A CSV with an ``epoch`` column and YOLO column names (or YOLOv5 fixed-width padding)."""
        return sniff_csv(path, head, is_ultralytics_header, suffixes=(".csv", ".txt", ""))

    def side_files(self, path: Path) -> list[Path]:
        """The config files :meth:`read` reads beside ``path`` (for the audit's cache key)."""
        return existing(path.with_name(n) for n in _YOLO_YAMLS)

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` per run (re-runs appended to the file are split on the epoch restart)."""
        table = load_csv(path)
        df = table.frame
        epoch_col = find_column(table.columns, "epoch")
        if epoch_col is None:
            raise LogReadError("not a YOLO results.csv: no epoch column")
        lower = {c.lower() for c in table.columns}
        if any(c.startswith("x/lr") for c in lower):
            writer, base = "yolov5", 0
        else:
            writer, base = "ultralytics", 1
        config_warnings: list[str] = []
        config = beside(path, _YOLO_YAMLS, config_warnings, table="hparams")
        meta: dict[str, Any] = {"writer": writer, "epoch_base": base, **config}
        empty = table.check_rows()
        if empty is None and epoch_col not in df.columns:
            empty = "no numeric epoch values"
        if empty is not None:
            return [RunData(empty_frame(), meta=meta, warnings=[empty, *table.warnings, *config_warnings])]
        warnings = [*table.warnings, *config_warnings]
        df = nonfinite_to_null(df, epoch_col)
        missing = df.get_column(epoch_col).null_count()
        if missing:
            df = df.filter(pl.col(epoch_col).is_not_null())
            warnings.append(f"{missing} row(s) without an epoch value skipped")
        time_col = find_column(df.columns, "time")
        index_cols = {c for c in (epoch_col, time_col) if c}
        names = series_names([c for c in df.columns if c not in index_cols], infer_split)  # metrics/* -> val

        restarts = list(table.restarts) if not missing else []
        starts = reset_starts(df.get_column(epoch_col)) + restarts
        return segment_runs(
            df,
            starts,
            names,
            run_id=run_id,
            source=display_path(path),
            step_col=epoch_col,
            epoch_col=epoch_col,
            wall_col=time_col,
            meta=meta,
            warnings=warnings,
        )
