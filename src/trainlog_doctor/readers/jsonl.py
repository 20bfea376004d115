"""Generic JSON-lines training logs: DETR/DeiT/MAE ``log.txt``, ad-hoc ``metrics.jsonl`` and the like.

* One object per line with numeric values; names go through :func:`frame.infer_split`
  (``train_loss`` -> ``loss``/train, ``test_acc1`` -> ``acc1``/test, ``val_loss`` -> ``loss``/val).
* The x axis: a step-like key (``step``, ``global_step``, ``iteration``, ``iter``, ``it``) when present,
  with ``epoch`` kept as the epoch; otherwise ``epoch`` (``step`` = the epoch when it is integral, the
  row number otherwise); otherwise the row number. A step-like key that restarts whenever ``epoch``
  moves on is a per-epoch counter: ``step`` = epoch x (largest counter) + counter.
  (The brief said "epoch first"; a step-keyed log that also carries ``epoch`` has many rows per epoch,
  so the step key is the finer, unique index.)
* Appended runs: the index going back to (or below) the first index of the current run starts a new
  run (``jsonl_other_02``: 3 runs; ``jsonl_other_03``: two ``epoch: 0`` rows = 2 runs); going back only
  part of the way is a resume inside the run and the later values win (``jsonl_other_08``: step
  7580 -> 7520). A repeated index counts only when the row re-logs a quantity of the row before.
* ``timestamp``/``wall_time``-like keys (ISO strings or unix seconds/ms) become ``wall_time``.
* ``n_parameters`` goes to ``meta``; strings and lists are dropped, except DETR's 12-number
  ``*coco_eval_*`` lists, expanded into ``.../AP``, ``.../AP50`` ... ``.../ARl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.readers._frame import wide_to_long
from trainlog_doctor.readers._jsonlines import (
    has_name_collisions,
    keep_last,
    load_object_lines,
    looks_like_object_line,
    numeric_columns,
    plural,
    split_runs,
)
from trainlog_doctor.readers.base import LogReadError, RunData, display_path, suffix_for

STEP_KEYS = ("step", "global_step", "iteration", "iter", "it")
WALL_KEYS = ("timestamp", "time_stamp", "wall_time", "walltime", "wallclock", "_timestamp", "datetime", "created_at")
META_KEYS = ("n_parameters",)
COCO_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


class JsonLinesReader:
    """Reader for generic JSON-lines logs (one object of numbers per line)."""

    format: ClassVar[str] = "jsonl"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """The first non-empty line is a one-line JSON object with at least one numeric value."""
        try:
            return looks_like_object_line(head)
        except Exception:
            return False

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` per appended run (resumes stay inside their run)."""
        df, warnings = load_object_lines(path)
        if df is None:
            return [RunData(empty_frame(), warnings=["empty file"])]

        meta: dict[str, Any] = {}
        for key in META_KEYS:
            if key in df.columns and df.schema[key].is_numeric():
                values = df[key].drop_nulls()
                if values.len():
                    meta[key] = values[-1]
                df = df.drop(key)
        df = expand_coco_lists(df)
        df, wall_col = add_wall_time(df)
        df, epoch_col, index_name = add_index(df)
        metrics = numeric_columns(df, exclude=("__step", "__epoch", "__wall", *STEP_KEYS, "epoch"))
        if not metrics:
            raise LogReadError("no numeric metrics in the JSON lines")
        missing = df["__step"].null_count()
        if missing:
            df = df.filter(pl.col("__step").is_not_null())
            warnings.append(f"skipped {plural(missing, 'line')} without {index_name}")
        if df.height == 0:
            return [RunData(empty_frame(), meta=meta, warnings=warnings)]

        split = split_runs(df, "__step", metrics)
        df = df.with_columns(pl.Series("__run", split.run_of, dtype=pl.Int64))
        collisions = has_name_collisions(metrics)
        source = display_path(path)
        runs: list[RunData] = []
        for k in range(split.n_runs):
            part = df.filter(pl.col("__run") == k) if split.n_runs > 1 else df
            suffix = suffix_for(k)
            frame = wide_to_long(
                part.select("__step", *([epoch_col] if epoch_col else []), *([wall_col] if wall_col else []), *metrics),
                run_id=run_id + suffix,
                source=source,
                step_col="__step",
                epoch_col=epoch_col,
                wall_time_col=wall_col,
            )
            run_warnings = (list(warnings) if k == 0 else []) + split.resume_warnings(k, index_name)
            if collisions or split.has_resume(k):
                frame = keep_last(frame)
            runs.append(RunData(frame, suffix=suffix, meta=dict(meta), warnings=run_warnings))
        return runs


def _numeric(df: pl.DataFrame, name: str) -> bool:
    return name in df.columns and df.schema[name].is_numeric() and df[name].null_count() < df.height


def add_index(df: pl.DataFrame) -> tuple[pl.DataFrame, str | None, str]:
    """Add ``__step`` (Int64) and ``__epoch`` (Float64, when known) columns; return the epoch column and index label."""
    step_key = next((k for k in STEP_KEYS if _numeric(df, k)), None)
    has_epoch = _numeric(df, "epoch")
    epoch_col: str | None = "__epoch" if has_epoch else None
    if has_epoch:
        df = df.with_columns(pl.col("epoch").cast(pl.Float64).alias("__epoch"))
    if step_key is not None:
        step = df[step_key].cast(pl.Float64)
        if has_epoch and is_per_epoch_counter(df["__epoch"], step):
            longest = max(float(step.max() or 1.0), 1.0)  # type: ignore[arg-type]
            base = 0.0 if float(df["__epoch"].min()) <= 0 else 1.0  # type: ignore[arg-type]
            df = df.with_columns(
                ((pl.col("__epoch").floor() - base) * longest + pl.col(step_key))
                .cast(pl.Int64, strict=False)
                .alias("__step")
            )
            return df, epoch_col, f"{step_key} (per epoch)"
        return df.with_columns(pl.col(step_key).cast(pl.Int64, strict=False).alias("__step")), epoch_col, step_key
    if has_epoch:
        epoch = df["__epoch"].drop_nulls().drop_nans()
        if epoch.len() and bool((epoch == epoch.floor()).all()):
            return df.with_columns(pl.col("__epoch").cast(pl.Int64, strict=False).alias("__step")), epoch_col, "epoch"
        df = df.with_columns(
            pl.when(pl.col("__epoch").is_not_null()).then(pl.int_range(pl.len(), dtype=pl.Int64)).alias("__step")
        )
        return df, epoch_col, "epoch"
    return df.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("__step")), None, "line"


def is_per_epoch_counter(epoch: pl.Series, step: pl.Series) -> bool:
    """True when ``step`` goes back only on rows where ``epoch`` moves forward (an inner-epoch counter)."""
    both = pl.DataFrame({"e": epoch, "s": step}).drop_nulls()
    if both.height < 2:
        return False
    d = both.select(pl.col("e").diff().alias("de"), pl.col("s").diff().alias("ds")).slice(1)
    back = d.filter(pl.col("ds") < 0)
    return back.height > 0 and bool((back["de"] > 0).all())


def add_wall_time(df: pl.DataFrame) -> tuple[pl.DataFrame, str | None]:
    """Add ``__wall`` (unix seconds) from a timestamp-like key; ``(df, None)`` when there is none."""
    candidates = [k for k in WALL_KEYS if k in df.columns]
    if "time" in df.columns and df.schema["time"].is_numeric():
        t = df["time"].drop_nulls()
        if t.len() and float(t.min()) > 1e8:  # type: ignore[arg-type]
            candidates.append("time")  # unix time, not a duration
    for key in candidates:
        dtype = df.schema[key]
        wall: pl.Series | None = None
        if dtype.is_numeric():
            v = df[key].cast(pl.Float64)
            med = v.drop_nulls().median()
            if med is not None and float(med) > 1e11:  # type: ignore[arg-type]
                v = v / 1000.0
            if med is not None and float(med) > 1e8:  # type: ignore[arg-type]
                wall = v
        elif dtype == pl.Utf8:
            try:
                parsed = df[key].str.to_datetime(strict=False, time_unit="us")
                if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone is not None:
                    parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
                wall = parsed.dt.epoch("us").cast(pl.Float64) / 1e6
            except Exception:
                wall = None
            if wall is not None and wall.null_count() == wall.len():
                wall = None
        if wall is not None:
            return df.with_columns(wall.alias("__wall")).drop(key), "__wall"
    return df, None


def expand_coco_lists(df: pl.DataFrame) -> pl.DataFrame:
    """Expand 12-number ``*coco_eval_*`` list columns into ``<name>/AP`` ... ``<name>/ARl``; drop other lists."""
    for name, dtype in list(df.schema.items()):
        if not isinstance(dtype, pl.List):
            continue
        lengths = df[name].list.len().drop_nulls().unique().to_list()
        if "coco_eval" in name and lengths == [len(COCO_STATS)]:
            df = df.with_columns(
                pl.col(name).list.get(i, null_on_oob=True).alias(f"{name}/{stat}") for i, stat in enumerate(COCO_STATS)
            )
        df = df.drop(name)
    return df
