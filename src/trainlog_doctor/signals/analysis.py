"""The analysis series: a metric's finite points prepared for trend questions.

:func:`analysis_series` takes the positions and values of a series' finite points and returns an
:class:`AnalysisSeries`: values on a log10 scale when asked (or when they are positive and span
decades), long series reduced to bucket medians, the robust point-to-point noise and a rolling
median. The trend searches (:mod:`trainlog_doctor.signals.trends`) work in its units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from trainlog_doctor.signals.transforms import (
    bucket_medians,
    odd_window,
    robust_noise,
    rolling_median,
    should_use_log,
)

__all__ = ["MAX_TREND_POINTS", "AnalysisSeries", "analysis_series"]

#: Series longer than this are reduced to bucket medians before trend questions are asked.
MAX_TREND_POINTS = 1500

#: Linear analysis values are kept within this magnitude, so differences and sums of them stay finite.
_LINEAR_MAX = 1e150

_LOG10_MAX = float(np.nextafter(np.log10(np.finfo(np.float64).max), 0))  # log10(max) rounds up: 10**it overflows


@dataclass(frozen=True, eq=False)
class AnalysisSeries:
    """A series prepared for trend questions.

    ``idx`` maps each analysed point back to its position in the original series; ``y`` is the value
    (log10 when ``logged``); ``noise`` is the robust point-to-point sigma of ``y``; ``smooth`` a
    rolling median of ``y``. ``scale`` is 1 except for a linear series with values beyond
    ``1e150`` (near the float limit, where differences overflow): those are multiplied by a power of
    two (exact) that brings them back, and :meth:`value` divides it out.
    """

    idx: np.ndarray
    y: np.ndarray
    logged: bool
    noise: float
    smooth: np.ndarray
    scale: float = 1.0

    def __len__(self) -> int:
        return int(self.y.size)

    def value(self, y: float) -> float:
        """Back from analysis units to the metric's own units."""
        if not self.logged:
            return float(y) / self.scale
        return float(np.power(10.0, min(float(y), _LOG10_MAX)))

    def pos(self, i: int) -> int:
        """Position in the original series of analysed point ``i`` (clipped to the series)."""
        return int(self.idx[int(min(max(i, 0), self.idx.size - 1))])

    def negated(self) -> AnalysisSeries:
        """The same series upside down (a throughput judged as a duration): ``-y``, ``-smooth``."""
        return replace(self, y=-self.y, smooth=-self.smooth)

    def without_head(self, points: int) -> AnalysisSeries:
        """The series without its first ``points`` points (same noise, same units)."""
        return replace(self, idx=self.idx[points:], y=self.y[points:], smooth=self.smooth[points:])


def analysis_series(
    idx: np.ndarray,
    values: np.ndarray,
    *,
    log: bool | None = None,
    min_decades: float = 1.0,
    max_points: int | None = MAX_TREND_POINTS,
    window_frac: float = 1 / 20,
) -> AnalysisSeries:
    """The analysis series of finite ``values`` at positions ``idx``.

    ``log=None`` takes log10 when every value is positive and they span ``min_decades`` decades;
    ``log=True`` takes it whenever every value is positive. Series longer than ``max_points`` (when
    set) become bucket medians; ``smooth`` is a rolling median over ``window_frac`` of the points.
    The arrays of the result are read-only.
    """
    v = np.asarray(values)
    if log is None:
        log = v.size >= 2 and bool((v > 0).all()) and should_use_log(v, min_decades)
    elif log:
        log = v.size >= 1 and bool((v > 0).all())
    y = np.log10(v) if log else v.astype(np.float64)
    scale = 1.0 if log else _linear_scale(y)
    if scale != 1.0:
        y = y * scale
    if max_points is not None:
        idx, y = bucket_medians(idx, y, max_points)
    noise = robust_noise(y) if y.size >= 2 else 0.0
    sm = rolling_median(y, odd_window(y.size, frac=window_frac)) if y.size >= 3 else y.copy()
    out = AnalysisSeries(idx=idx, y=y, logged=bool(log), noise=float(noise), smooth=np.asarray(sm, dtype=np.float64),
                         scale=scale)
    for a in (out.idx, out.y, out.smooth):
        a.setflags(write=False)
    return out


def _linear_scale(y: np.ndarray) -> float:
    """1, or the power of two that brings values beyond :data:`_LINEAR_MAX` within it (exact in binary)."""
    top = float(np.max(np.abs(y))) if y.size else 0.0
    if not top > _LINEAR_MAX or not np.isfinite(top):
        return 1.0
    return float(2.0 ** -int(np.ceil(np.log2(top / _LINEAR_MAX))))
