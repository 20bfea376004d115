"""The normalized long frame every reader returns, and helpers to build it."""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import polars as pl

SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.Utf8(),
    "source": pl.Utf8(),
    "metric": pl.Utf8(),
    "split": pl.Utf8(),
    "step": pl.Int64(),
    "epoch": pl.Float64(),
    "wall_time": pl.Float64(),
    "value": pl.Float64(),
}
COLUMNS: list[str] = list(SCHEMA)
SPLITS = ("train", "val", "test", "other")


def empty_frame() -> pl.DataFrame:
    """A frame with the normalized schema and no rows."""
    return pl.DataFrame(schema=SCHEMA)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Cast and order ``df`` to the normalized schema; missing columns become null."""
    exprs = []
    for name, dtype in SCHEMA.items():
        if name in df.columns:
            exprs.append(pl.col(name).cast(dtype, strict=False))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return df.select(exprs)


def from_columns(
    *,
    run_id: str,
    source: str,
    metric: Sequence[str] | str,
    split: Sequence[str] | str,
    step: Sequence[int | None] | Iterable,
    value: Sequence[float | None] | Iterable,
    epoch: Sequence[float | None] | Iterable | None = None,
    wall_time: Sequence[float | None] | Iterable | None = None,
) -> pl.DataFrame:
    """Build a normalized frame from parallel columns (scalars broadcast)."""
    data: dict[str, object] = {"step": step, "value": value}
    if epoch is not None:
        data["epoch"] = epoch
    if wall_time is not None:
        data["wall_time"] = wall_time
    df = pl.DataFrame(data, strict=False)
    n = df.height
    df = df.with_columns(
        pl.Series("run_id", [run_id] * n, dtype=pl.Utf8),
        pl.Series("source", [source] * n, dtype=pl.Utf8),
        (pl.Series("metric", [metric] * n) if isinstance(metric, str) else pl.Series("metric", metric)).cast(pl.Utf8),
        (pl.Series("split", [split] * n) if isinstance(split, str) else pl.Series("split", split)).cast(pl.Utf8),
    )
    return conform(df)


def wide_to_long(
    wide: pl.DataFrame,
    *,
    run_id: str,
    source: str,
    step_col: str | None,
    epoch_col: str | None = None,
    wall_time_col: str | None = None,
    skip: Iterable[str] = (),
) -> pl.DataFrame:
    """Melt a wide table (one column per metric) into the normalized long frame.

    Non-numeric columns are dropped; null cells are dropped (sparse rows), NaN cells are kept.
    Split and metric name come from :func:`infer_split` on each column name.
    """
    index_cols = [c for c in (step_col, epoch_col, wall_time_col) if c]
    skip_set = set(skip) | set(index_cols)
    metric_cols = [c for c in wide.columns if c not in skip_set and wide.schema[c].is_numeric()]
    if not metric_cols:
        return empty_frame()
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    step_expr = pl.col(step_col).cast(pl.Int64, strict=False) if step_col else row
    epoch_expr = pl.col(epoch_col).cast(pl.Float64, strict=False) if epoch_col else pl.lit(None, dtype=pl.Float64)
    wall_expr = (
        pl.col(wall_time_col).cast(pl.Float64, strict=False) if wall_time_col else pl.lit(None, dtype=pl.Float64)
    )
    # Internal names cannot clash with a metric column called "step", "epoch" or "wall_time".
    renamed = {c: f"m{i}" for i, c in enumerate(metric_cols)}
    base = wide.select(
        step_expr.alias("__step"),
        epoch_expr.alias("__epoch"),
        wall_expr.alias("__wall_time"),
        *[pl.col(c).cast(pl.Float64, strict=False).alias(renamed[c]) for c in metric_cols],
    )
    long = base.unpivot(
        index=["__step", "__epoch", "__wall_time"], on=list(renamed.values()), variable_name="column", value_name="value"
    ).filter(pl.col("value").is_not_null())
    long = long.rename({"__step": "step", "__epoch": "epoch", "__wall_time": "wall_time"})
    back = {v: k for k, v in renamed.items()}
    long = long.with_columns(pl.col("column").replace_strict(back, return_dtype=pl.Utf8))
    names = {c: infer_split(c) for c in metric_cols}
    mapping_metric = {c: m for c, (m, _) in names.items()}
    mapping_split = {c: s for c, (_, s) in names.items()}
    long = long.with_columns(
        pl.col("column").replace_strict(mapping_metric, return_dtype=pl.Utf8).alias("metric"),
        pl.col("column").replace_strict(mapping_split, return_dtype=pl.Utf8).alias("split"),
        pl.lit(run_id, dtype=pl.Utf8).alias("run_id"),
        pl.lit(source, dtype=pl.Utf8).alias("source"),
    )
    return conform(long)


_PREFIXES: tuple[tuple[str, str], ...] = (
    ("validation_", "val"),
    ("valid_", "val"),
    ("val_", "val"),
    ("eval_", "val"),
    ("evaluation_", "val"),
    ("test_", "test"),
    ("train_", "train"),
    ("training_", "train"),
    ("epoch_", "train"),  # tf.keras TensorBoard callback: epoch_loss, epoch_accuracy
)
_GROUPS: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "test": "test",
    "testing": "test",
}
_SUFFIXES: tuple[tuple[str, str], ...] = (("_val", "val"), ("_valid", "val"), ("_test", "test"), ("_train", "train"))
_OTHER = re.compile(
    r"(^|[/_])(lr|learning_rate|lr-[a-z]+|lr\d*|pg\d+|x/lr\d+|time|data_time|eta_seconds|memory|runtime|"
    r"samples_per_second|steps_per_second|epoch|step|iter|iteration|n_parameters|flos|total_flos|tokens|usd|"
    r"grad_norm|global_step/sec|num_tokens|num_input_tokens_seen)$",
    re.IGNORECASE,
)


def infer_split(name: str) -> tuple[str, str]:
    """Return ``(metric, split)`` for a column or tag name.

    ``val_loss`` -> ``("loss", "val")``; ``train/box_loss`` -> ``("box_loss", "train")``;
    ``eval_g0_loss`` -> ``("g0_loss", "val")``; ``Loss/val`` -> ``("Loss", "val")``; ``lr`` -> ``("lr", "other")``; ``loss`` -> ``("loss", "train")``.
    Time, learning-rate and counter columns go to ``other`` whatever their prefix says.
    """
    raw = name.strip()
    lowered = raw.lower()
    metric, split = raw, None
    if "/" in raw:
        head, _, tail = raw.partition("/")
        group = _GROUPS.get(head.lower())
        if group is not None and tail:
            metric, split = tail, group
        elif head.lower() == "metrics" and tail:  # YOLO: metrics/mAP_0.5 is measured on the val set
            metric, split = tail, "val"
        else:  # torch SummaryWriter style: "Loss/train", "Accuracy/val", "Loss/Val_Epoch"
            mhead, _, last = raw.rpartition("/")
            first, _, rest = last.partition("_")
            group = _GROUPS.get(last.lower()) or (_GROUPS.get(first.lower()) if rest else None)
            if group is not None and mhead:
                metric = mhead if _GROUPS.get(last.lower()) else f"{mhead}_{rest}"
                split = group
    if split is None:
        for prefix, sp in _PREFIXES:
            if lowered.startswith(prefix) and len(raw) > len(prefix):
                metric, split = raw[len(prefix) :], sp
                break
    if split is None:
        for suffix, sp in _SUFFIXES:
            if lowered.endswith(suffix) and len(raw) > len(suffix):
                metric, split = raw[: -len(suffix)], sp
                break
    core = re.sub(r"_(step|epoch)$", "", metric, flags=re.IGNORECASE) or metric  # Lightning x_step / x_epoch
    if _OTHER.search(core) or is_lr_name(core):
        return metric, "other"
    return metric, split or "train"


def is_lr_name(metric: str) -> bool:
    """True for learning-rate series names (``lr``, ``learning_rate``, ``lr-Adam``, ``x/lr0``, ``lr/pg0``)."""
    m = metric.lower()
    return bool(re.search(r"(^|[/_-])(lr|learning_rate)(\d*|[-/].*)?$", m)) or m.startswith("lr/") or m.startswith("lr-")


def split_on_reset(index: Sequence[float | None], *, allow_equal: bool = False) -> list[int]:
    """Row positions where a new appended run starts: the index goes back (or repeats unless ``allow_equal``).

    Returns the start positions of every run after the first, so ``[]`` means one run.
    Null or NaN entries never start a run.
    """
    starts: list[int] = []
    last: float | None = None
    for i, v in enumerate(index):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if last is not None and (v < last or (v == last and not allow_equal)):
            starts.append(i)
        last = v
    return starts


class SeriesArrays(NamedTuple):
    """One (metric, split) of a frame as numpy arrays, sorted by step, one point per step."""

    metric: str
    split: str
    steps: np.ndarray
    values: np.ndarray
    epochs: np.ndarray
    wall_time: np.ndarray


_LAST_SPLIT: tuple[weakref.ref[pl.DataFrame], list[SeriesArrays]] | None = None


def split_series(frame: pl.DataFrame) -> list[SeriesArrays]:
    """Every (metric, split) of ``frame`` in order of first appearance, de-duplicated by step.

    Rows without a step or metric are left out; of several rows on one step the last written wins
    (latest wall time, then position). One sort of the whole frame and one conversion to numpy,
    however many series there are. A null split counts as ``train``; NaN stands for null values.
    The arrays are read-only: the rules and the charts of a run share the result for the same
    frame object (polars frames are immutable).
    """
    global _LAST_SPLIT
    if frame is None or frame.height == 0 or not {"metric", "step", "value"}.issubset(frame.columns):
        return []
    if _LAST_SPLIT is not None and _LAST_SPLIT[0]() is frame:
        return list(_LAST_SPLIT[1])
    out = _split_series(frame)
    _LAST_SPLIT = (weakref.ref(frame, _forget_split), out)
    return list(out)


def _forget_split(ref: weakref.ref[pl.DataFrame]) -> None:
    """Drop the remembered arrays once their frame is gone."""
    global _LAST_SPLIT
    if _LAST_SPLIT is not None and _LAST_SPLIT[0] is ref:
        _LAST_SPLIT = None


def _split_series(frame: pl.DataFrame) -> list[SeriesArrays]:
    cols = set(frame.columns)
    df = frame.select(
        pl.col("metric").cast(pl.Utf8),
        (pl.col("split").cast(pl.Utf8) if "split" in cols else pl.lit(None, pl.Utf8)).fill_null("train").alias("split"),
        pl.col("step").cast(pl.Int64, strict=False),
        *(
            (pl.col(c).cast(pl.Float64, strict=False) if c in cols else pl.lit(None, pl.Float64)).alias(c)
            for c in ("epoch", "wall_time", "value")
        ),
    )
    df = (
        df.with_row_index("__row")
        .filter(pl.col("step").is_not_null() & pl.col("metric").is_not_null())
        .with_columns(pl.col("__row").min().over(["metric", "split"]).alias("__group"))
        .sort(["__group", "step", "wall_time", "__row"], nulls_last=False)
    )
    if df.height == 0:
        return []
    group = df["__group"].to_numpy()
    steps = df["step"].to_numpy().astype(np.int64, copy=False)
    values, epochs, wall = (
        df[c].fill_null(float("nan")).to_numpy().astype(np.float64, copy=False) for c in ("value", "epoch", "wall_time")
    )
    # keep row i unless the next row is the same step of the same series
    keep = np.ones(group.size, dtype=bool)
    keep[:-1] = (group[1:] != group[:-1]) | (steps[1:] != steps[:-1])
    bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    metrics, splits = df["metric"], df["split"]
    out: list[SeriesArrays] = []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        k = keep[lo:hi]
        arrays = [a[lo:hi][k] for a in (steps, values, epochs, wall)]
        for a in arrays:
            a.setflags(write=False)
        out.append(SeriesArrays(str(metrics[lo]), str(splits[lo]), *arrays))
    return out
