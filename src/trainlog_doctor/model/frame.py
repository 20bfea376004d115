"""The normalized long frame every reader returns: its schema and the helpers that build it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
