"""One :class:`Series` type and the derived series, and the one sort of a frame into series arrays.

:func:`split_series` is the only code that sorts and splits a normalized frame; :class:`Series` adds
the role and the lookups every consumer shares; the derived series (seconds per step from wall-clock
times, per-step durations from a cumulative time) are built here once, with one set of thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from trainlog_doctor.run.names import is_lr_name, metric_role

Key = tuple[str, str]

#: ``Series.derived`` of seconds per step computed from wall-clock times (a series the log does not hold).
FROM_WALL_CLOCK = "seconds per step, from the wall-clock times"
#: ``Series.derived`` of per-step durations computed from a logged running total of seconds.
FROM_CUMULATIVE = "per-step durations of a cumulative time"


class SeriesArrays(NamedTuple):
    """One (metric, split) of a frame as numpy arrays, sorted by step, one point per step."""

    metric: str
    split: str
    steps: np.ndarray
    values: np.ndarray
    epochs: np.ndarray
    wall_time: np.ndarray
    duplicates: int = 0  # rows dropped because an earlier row of the series had the same step


def split_series(frame: pl.DataFrame) -> list[SeriesArrays]:
    """Every (metric, split) of ``frame`` in order of first appearance, de-duplicated by step.

    Rows without a step or metric are left out; of several rows on one step the last written wins
    (latest wall time, then position) and the others are counted in ``duplicates``. One sort of the
    whole frame and one conversion to numpy, however many series there are. A null split counts as
    ``train``; NaN stands for null values. The arrays are read-only: everything that reads a run
    shares them through its :class:`~trainlog_doctor.run.view.RunView`, built once per run.
    """
    if frame is None or frame.height == 0 or not {"metric", "step", "value"}.issubset(frame.columns):
        return []
    return _split_series(frame)


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
        s_steps, s_values, s_epochs, s_wall = (a[lo:hi][k] for a in (steps, values, epochs, wall))
        for a in (s_steps, s_values, s_epochs, s_wall):
            a.setflags(write=False)
        out.append(SeriesArrays(
            str(metrics[lo]), str(splits[lo]), s_steps, s_values, s_epochs, s_wall, duplicates=int(k.size - k.sum()),
        ))  # fmt: skip
    return out


@dataclass
class Series:
    """One (metric, split) series of a run, sorted by step, one point per step (the last one written).

    ``values`` keeps NaN and +-Inf; ``finite`` is the mask of usable points. ``epochs`` is NaN where
    unknown. ``x`` is ``"epoch"`` when every point sits on its own epoch, else ``"step"``.
    """

    metric: str
    split: str
    role: str
    steps: np.ndarray
    values: np.ndarray
    epochs: np.ndarray
    wall_time: np.ndarray
    derived: str = ""  # how the values were computed when they are not the logged ones (FROM_...)
    duplicates: int = 0  # logged rows dropped as repeats of a step (the last written one is kept)
    # analysis series and change points (rules.analysis)
    views: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def key(self) -> Key:
        return (self.metric, self.split)

    @cached_property
    def finite(self) -> np.ndarray:
        return np.isfinite(self.values)

    @cached_property
    def n_finite(self) -> int:
        return int(self.finite.sum())

    @cached_property
    def x(self) -> str:
        ep = self.epochs
        if ep.size and np.isfinite(ep).all():
            if ep.size < 2 or (np.diff(ep) > 0).all() and np.allclose(ep, np.round(ep)):
                return "epoch"
        return "step"

    @property
    def logged(self) -> bool:
        """The log holds this series (possibly transformed); False for one computed from wall-clock times."""
        return self.derived != FROM_WALL_CLOCK

    @cached_property
    def step_is_epoch(self) -> bool:
        """The writer's step counter is the epoch (every point's epoch is known and equals its step)."""
        ep = self.epochs
        return bool(ep.size) and bool(np.isfinite(ep).all()) and bool((ep == self.steps).all())

    @cached_property
    def higher_is_better(self) -> bool | None:
        if self.role in ("score", "throughput"):
            return True
        if self.role in ("loss", "time"):
            return False
        return None

    @cached_property
    def percent(self) -> bool:
        """Scores written in percent (max above 1.5 and at most 100)."""
        if self.role != "score" or not self.n_finite:
            return False
        mx = float(np.max(self.values[self.finite]))
        return 1.5 < mx <= 100.0 + 1e-6

    @cached_property
    def positive(self) -> bool:
        """Every finite value is > 0 (so ratios and a log view make sense)."""
        return bool(self.n_finite) and bool((self.values[self.finite] > 0).all())

    def step_at(self, i: int) -> int:
        return int(self.steps[i])

    def epoch_at(self, i: int) -> float | None:
        e = float(self.epochs[i])
        return e if math.isfinite(e) else None

    def fraction_at(self, i: int) -> float:
        """Where point ``i`` sits in the run, 0..1 by step."""
        if len(self) < 2:
            return 0.0
        lo, hi = float(self.steps[0]), float(self.steps[-1])
        return 0.0 if hi <= lo else float(np.clip((float(self.steps[i]) - lo) / (hi - lo), 0.0, 1.0))

    def where(self, i: int) -> str:
        """``epoch 13`` or ``step 4200`` for point ``i`` (used in messages)."""
        e = self.epoch_at(i)
        if self.x == "epoch" and e is not None:
            return f"epoch {e:g}"
        if e is not None and self.x == "step":
            return f"step {self.step_at(i)} (epoch {e:.3g})"
        return f"step {self.step_at(i)}"

    @property
    def label(self) -> str:
        """A human name: ``Training loss``, ``Validation accuracy``, ``test/bbox/AP``."""
        split = {"train": "Training", "val": "Validation", "test": "Test"}.get(self.split)
        return f"{split} {self.metric}" if split else self.metric

    def finite_view(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions, values) of the finite points."""
        idx = np.flatnonzero(self.finite)
        return idx, self.values[idx]

    def tolerance_points(self) -> int:
        """How many points count as 'near' an onset: 3 epochs or 10% of the run, whichever is larger."""
        n = len(self)
        by_frac = max(1, int(round(0.1 * n)))
        if self.x == "epoch":
            return max(3, by_frac)
        ep = self.epochs
        if np.isfinite(ep).all() and ep.size > 1 and ep[-1] > ep[0]:
            per_epoch = n / max(float(ep[-1] - ep[0]), 1e-9)
            return max(by_frac, int(round(3 * per_epoch)) if ep[-1] - ep[0] > 6 else by_frac)
        return by_frac


def make_series(a: SeriesArrays) -> Series:
    """The :class:`Series` of one extracted (metric, split), with its role from the name."""
    role = metric_role(a.metric, a.split)
    if a.split == "other" and role in ("loss", "score") and is_lr_name(a.metric):
        role = "lr"
    return Series(
        metric=a.metric, split=a.split, role=role, steps=a.steps, values=a.values, epochs=a.epochs,
        wall_time=a.wall_time, duplicates=a.duplicates,
    )  # fmt: skip


def cumulative_to_increments(s: Series) -> Series:
    """A ``time`` series written as cumulative seconds (ultralytics ``time``) turned into per-row durations."""
    idx, v = s.finite_view()
    if v.size < 4:
        return s
    d = np.diff(v)
    if (d >= -1e-9).all() and v[-1] > 3 * max(v[1], 1e-9) and np.median(d) > 0:
        vals = np.full(len(s), np.nan)
        vals[idx[1:]] = d / np.maximum(np.diff(s.steps[idx]), 1)
        return Series(
            metric=s.metric, split=s.split, role="time", steps=s.steps, values=vals, epochs=s.epochs,
            wall_time=s.wall_time, derived=FROM_CUMULATIVE, duplicates=s.duplicates,
        )  # fmt: skip
    return s


def wall_time_series(base: Series) -> Series | None:
    """Seconds per step derived from the wall-clock times of ``base`` (None when too few or unusable).

    The series is called ``time`` (split ``other``) like a logged one and marked ``derived``; it is
    only built when the run logs no duration or throughput of its own.
    """
    wt = base.wall_time
    ok = np.isfinite(wt)
    if ok.sum() < 8:
        return None
    idx = np.flatnonzero(ok)
    t = wt[idx]
    st = base.steps[idx].astype(np.float64)
    dt = np.diff(t)
    ds = np.diff(st)
    good = (ds > 0) & (dt >= 0)
    if good.sum() < 6:
        return None
    per = np.full(len(base), np.nan)
    per[idx[1:][good]] = dt[good] / ds[good]
    if not np.isfinite(per).any() or np.nanmax(per) <= 0:
        return None
    return Series(
        metric="time", split="other", role="time", steps=base.steps, values=per, epochs=base.epochs,
        wall_time=base.wall_time, derived=FROM_WALL_CLOCK,
    )  # fmt: skip
