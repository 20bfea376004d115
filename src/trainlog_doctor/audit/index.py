"""What the index page shows of a run: a small loss sketch and the last value of each series."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlog_doctor.run.view import RunView

#: Points of the loss sketch (bucket means).
SPARK_POINTS = 48
#: Final values shown per run.
MAX_FINAL = 6
_SPLIT_RANK = {"train": 0, "val": 1, "test": 2}


def index_data(view: RunView | None) -> tuple[dict[str, list[float]], dict[str, float]]:
    """A loss sketch (``train``/``val``: at most 48 bucket means) and the last value of each series.

    The sketched metric is the primary loss: the run's main training loss
    (:attr:`RunView.primary_loss`), else the main validation or test loss. Final values are keyed
    ``metric`` for train and ``split/metric`` otherwise; the primary loss comes first, then the rest
    by name, at most six; ``other`` series (lr, time, counters) are left out; a run that ends on NaN
    shows NaN.
    """
    if view is None:
        return {}, {}
    lead = next((s for s in map(view.primary_loss_for, ("train", "val", "test")) if s is not None), None)
    primary = lead.metric if lead is not None else None
    series = {key: s.values for key, s in view.series.items() if s.split != "other"}
    final: dict[str, float] = {}
    order = sorted(series, key=lambda k: (k[0] != primary, k[0], _SPLIT_RANK.get(k[1], 3), k[1]))
    for metric, split in order[:MAX_FINAL]:
        values = series[(metric, split)]
        if len(values):
            final[metric if split == "train" else f"{split}/{metric}"] = float(values[-1])
    spark: dict[str, list[float]] = {}
    for split in ("train", "val"):
        if (primary, split) in series:
            v = series[(primary, split)]
            v = v[np.isfinite(v)]
            if v.size:
                spark[split] = [float(f"{x:.4g}") for x in _bucket_means(v, SPARK_POINTS)]
    return spark, final


def _bucket_means(v: Any, n: int) -> Any:
    """``v`` reduced to at most ``n`` points: the mean of each of ``n`` equal buckets."""
    if v.size <= n:
        return v
    starts = np.linspace(0, v.size, n, endpoint=False).astype(np.int64)
    sums = np.add.reduceat(v, starts)
    counts = np.diff(np.append(starts, v.size))
    return sums / counts
