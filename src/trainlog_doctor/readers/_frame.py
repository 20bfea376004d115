"""Frame helpers the readers share: a wide table melted into the normalized frame, appended-run starts."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import polars as pl

from trainlog_doctor.model.frame import conform, empty_frame
from trainlog_doctor.run.names import infer_split, series_names

#: Columns (metrics, flattened keys) one log may have; past it, the first ones are read and a warning says so.
#: Real logs have at most a few thousand (per-class metrics); a wider file is a mistake or an attack.
MAX_COLUMNS = 5000


def may_exceed_columns(data: bytes) -> bool:
    """True when some JSON line of ``data`` may hold more than :data:`MAX_COLUMNS` keys (a cheap upper
    bound: every ``":`` counts, so a file with fewer in total never needs the exact check)."""
    if data.count(b'":') <= MAX_COLUMNS:
        return False
    return any(line.count(b'":') > MAX_COLUMNS for line in data.split(b"\n"))


def columns_cut_warning(n_columns: int) -> str:
    """The warning of a log cut to :data:`MAX_COLUMNS` columns."""
    return f"{n_columns:,} columns; only the first {MAX_COLUMNS:,} were read (at most {MAX_COLUMNS:,} per log)"


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
    Split and metric name come from :func:`~trainlog_doctor.run.names.series_names` over the column names
    (two columns never share a series).
    """
    index_cols = [c for c in (step_col, epoch_col, wall_time_col) if c]
    skip_set = set(skip) | set(index_cols)
    schema = wide.schema  # built once: ``wide.schema`` rebuilds the whole schema on every access
    metric_cols = [c for c, dtype in schema.items() if c not in skip_set and dtype.is_numeric()]
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
    names = series_names(metric_cols, infer_split)
    mapping_metric = {c: m for c, (m, _) in names.items()}
    mapping_split = {c: s for c, (_, s) in names.items()}
    long = long.with_columns(
        pl.col("column").replace_strict(mapping_metric, return_dtype=pl.Utf8).alias("metric"),
        pl.col("column").replace_strict(mapping_split, return_dtype=pl.Utf8).alias("split"),
        pl.lit(run_id, dtype=pl.Utf8).alias("run_id"),
        pl.lit(source, dtype=pl.Utf8).alias("source"),
    )
    return conform(long)


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
