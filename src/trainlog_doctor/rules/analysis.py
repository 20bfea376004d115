"""What the rules ask of a run's series before the math: analysis series and change points, memoized.

The math is in :mod:`trainlog_doctor.signals`; this module only feeds it a :class:`Series`' arrays
and keeps the results on the series (``Series.views``), so the rules and the chart markers of one
run share them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from trainlog_doctor.run import RunView, Series
from trainlog_doctor.signals.analysis import (
    MAX_TREND_POINTS,
    AnalysisSeries,
    analysis_series,
)
from trainlog_doctor.signals.changepoints import detect_changepoints

#: Analysis series longer than this are segmented on block means first, then each break is refined
#: on the series itself (:func:`trainlog_doctor.signals.changepoints.detect_changepoints`' ``max_points``).
CHANGEPOINT_MAX_POINTS = 400
#: Fewer analysed points than this have no change points.
CHANGEPOINT_MIN_POINTS = 6


def analysis_of(
    s: Series,
    *,
    log: bool | None = None,
    min_decades: float = 1.0,
    max_points: int | None = MAX_TREND_POINTS,
    window_frac: float = 1 / 20,
) -> AnalysisSeries:
    """The analysis series of ``s`` (:func:`~trainlog_doctor.signals.analysis.analysis_series`), memoized per options.

    ``log=None`` decides automatically for losses and times (log10 when positive and spanning
    ``min_decades`` decades) and keeps every other role on its own scale.
    """
    key = (log, min_decades, max_points, window_frac)
    cached = s.views.get(key)
    if cached is None:
        auto = None if s.role in ("loss", "time") else False
        idx, v = s.finite_view()
        cached = s.views[key] = analysis_series(
            idx, v, log=auto if log is None else log, min_decades=min_decades, max_points=max_points,
            window_frac=window_frac,
        )  # fmt: skip
    return cached


def changepoints_of(s: Series) -> list[int]:
    """Change points (indices into the default :func:`analysis_of` series), memoized on ``s``."""
    key = ("changepoints",)
    cached = s.views.get(key)
    if cached is None:
        a = analysis_of(s)
        if len(a) < CHANGEPOINT_MIN_POINTS:
            return []
        try:
            cached = detect_changepoints(np.ascontiguousarray(a.y, dtype=np.float64), max_points=CHANGEPOINT_MAX_POINTS,
                                         noise="white")  # the segmentation the rules were tuned with
        except Exception:  # noqa: BLE001 - change points refine onsets; detection must go on without them
            cached = []
        s.views[key] = cached
    return list(cached)


#: Whether :func:`shape_share` asks the segment classifier (off only inside :func:`without_classifier`).
_CLASSIFIER = {"on": True}


@contextmanager
def without_classifier() -> Iterator[None]:
    """Run detection inside this block as if the segment classifier were unavailable (every
    :func:`shape_share` is 0.0): the ablation that shows what the classifier contributes."""
    before = _CLASSIFIER["on"]
    _CLASSIFIER["on"] = False
    try:
        yield
    finally:
        _CLASSIFIER["on"] = before


def shape_share(s: Series, start: int, labels: tuple[str, ...]) -> float:
    """Share of the default analysis series of ``s`` from ``start`` on that the segment classifier
    puts in one of ``labels`` (:func:`~trainlog_doctor.signals.segments.label_share` over
    :func:`changepoints_of`); 0.0 when the classifier is unavailable or switched off."""
    if not _CLASSIFIER["on"]:
        return 0.0
    a = analysis_of(s)
    try:
        from trainlog_doctor.signals.segments import label_share

        return label_share(a.y, changepoints_of(s), start, labels)
    except Exception:  # noqa: BLE001 - a missing or broken classifier must not stop detection
        return 0.0


def lr_points(ctx: RunView) -> tuple[np.ndarray, np.ndarray] | None:
    """(steps, values) of the run's finite learning-rate points, or None without a learning rate."""
    lr = ctx.lr
    if lr is None:
        return None
    idx, v = lr.finite_view()
    return lr.steps[idx], v

