"""Small pure helpers the rules share: the analysis view of a series and level/trend statistics.

Generic signal math (noise, smoothing, change points) lives in :mod:`trainlog_doctor.signals`;
these helpers only package it for the rules' questions ("is the tail above the best level?").
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from trainlog_doctor.run import Series
from trainlog_doctor.signals.changepoints import detect_changepoints
from trainlog_doctor.signals.transforms import robust_noise, rolling_median, should_use_log

#: Series longer than this are reduced to bucket medians before trend rules look at them.
MAX_TREND_POINTS = 1500
#: Views longer than this are segmented on block means first, then each break is refined on the
#: view itself (:func:`trainlog_doctor.signals.changepoints.detect_changepoints`' ``max_points``).
CHANGEPOINT_MAX_POINTS = 400


@dataclass(frozen=True)
class View:
    """A series prepared for trend questions.

    ``idx`` maps each analysed point back to its position in the :class:`Series`; ``y`` is the value
    (log10 when ``logged``); ``noise`` is the robust point-to-point sigma of ``y``; ``smooth`` a
    rolling median of ``y``.
    """

    series: Series
    idx: np.ndarray
    y: np.ndarray
    logged: bool
    noise: float
    smooth: np.ndarray

    def __len__(self) -> int:
        return int(self.y.size)

    def value(self, y: float) -> float:
        """Back from analysis space to the metric's own units."""
        if not self.logged:
            return float(y)
        return float(np.power(10.0, min(float(y), _LOG10_MAX)))

    def pos(self, i: int) -> int:
        """Position in the original series of analysed point ``i``."""
        return int(self.idx[int(min(max(i, 0), self.idx.size - 1))])


_LOG10_MAX = float(np.log10(np.finfo(np.float64).max))


def odd_window(n: int, frac: float = 1 / 20, lo: int = 3, hi: int = 51) -> int:
    """An odd smoothing window for ``n`` points: ``frac * n`` clipped to ``[lo, hi]`` and to ``n``."""
    w = int(min(max(int(n * frac), lo), hi))
    if w % 2 == 0:
        w += 1
    while w > n and w > 1:
        w -= 2
    return max(w, 1)


def bucket_medians(idx: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a long series to at most ``max_points`` bucket medians (positions: each bucket's middle point)."""
    n = y.size
    if n <= max_points:
        return idx, y
    size = -(-n // max_points)
    nb = n // size
    body = y[: nb * size].reshape(nb, size)
    med = np.median(body, axis=1)
    pos = idx[: nb * size].reshape(nb, size)[:, size // 2]
    if nb * size < n:
        med = np.append(med, np.median(y[nb * size :]))
        pos = np.append(pos, idx[nb * size + (n - nb * size) // 2])
    return pos, med


def make_view(
    s: Series,
    *,
    log: bool | None = None,
    min_decades: float = 1.0,
    max_points: int | None = MAX_TREND_POINTS,
    window_frac: float = 1 / 20,
) -> View:
    """The analysis view of ``s``: finite points, log10 for positive losses/times spanning decades.

    ``log=None`` decides automatically (losses and times only); long series are reduced to bucket
    medians when ``max_points`` is set. Views are memoized per series and options (read-only arrays).
    """
    key = (log, min_decades, max_points, window_frac)
    cached = s.views.get(key)
    if cached is None:
        cached = s.views[key] = _make_view(s, log, min_decades, max_points, window_frac)
    return cached


def _make_view(s: Series, log: bool | None, min_decades: float, max_points: int | None, window_frac: float) -> View:
    idx, v = s.finite_view()
    if log is None:
        log = s.role in ("loss", "time") and v.size >= 2 and bool((v > 0).all()) and should_use_log(v, min_decades)
    elif log:
        log = v.size >= 1 and bool((v > 0).all())
    y = np.log10(v) if log else v.astype(np.float64)
    if max_points is not None:
        idx, y = bucket_medians(idx, y, max_points)
    noise = robust_noise(y) if y.size >= 2 else 0.0
    sm = rolling_median(y, odd_window(y.size, window_frac)) if y.size >= 3 else y.copy()
    view = View(series=s, idx=idx, y=y, logged=bool(log), noise=float(noise), smooth=np.asarray(sm, dtype=np.float64))
    for a in (view.idx, view.y, view.smooth):
        a.setflags(write=False)
    return view


_CP_CACHE: OrderedDict[bytes, list[int]] = OrderedDict()
_CP_CACHE_SIZE = 512


def changepoints(view: View) -> list[int]:
    """Change points (indices into ``view.y``) from :func:`trainlog_doctor.signals.detect_changepoints`.

    Several rules and the chart markers ask for the same series; results are memoized by content.
    """
    if len(view) < 6:
        return []
    y = np.ascontiguousarray(view.y, dtype=np.float64)
    key = hashlib.blake2b(y.tobytes(), digest_size=16).digest()
    hit = _CP_CACHE.get(key)
    if hit is not None:
        _CP_CACHE.move_to_end(key)
        return list(hit)
    try:
        cps = detect_changepoints(y, max_points=CHANGEPOINT_MAX_POINTS)
    except Exception:  # noqa: BLE001 - change points refine onsets; detection must go on without them
        cps = []
    _CP_CACHE[key] = list(cps)
    if len(_CP_CACHE) > _CP_CACHE_SIZE:
        _CP_CACHE.popitem(last=False)
    return list(cps)


def suffix_share(mask: np.ndarray) -> np.ndarray:
    """``out[j]`` = share of True in ``mask[j:]``."""
    m = mask.astype(np.float64)
    csum = np.cumsum(m[::-1])[::-1]
    counts = np.arange(m.size, 0, -1, dtype=np.float64)
    return csum / counts


def slope(y: np.ndarray) -> float:
    """Least-squares slope per point of ``y`` (0 for fewer than two points)."""
    n = y.size
    if n < 2:
        return 0.0
    t = np.arange(n, dtype=np.float64)
    t -= t.mean()
    denom = float((t * t).sum())
    return float((t * (y - y.mean())).sum() / denom) if denom > 0 else 0.0


def hinge_break(y: np.ndarray, lo: int, hi: int, *, max_candidates: int = 160) -> int:
    """Best break ``k`` in ``[lo, hi]`` of a broken-line fit of ``y`` (least squares).

    The model is ``a + b*t + c*[t >= k] + d*max(t - k, 0)``: one straight line before ``k``, another
    after it, with a jump allowed at ``k``. It places the onset of a step (level shift) and of a
    gradual bend (a rise that starts slowly) where a person would point: where the curve turns.
    Candidates are thinned to ``max_candidates``.
    """
    n = y.size
    lo, hi = max(int(lo), 1), min(int(hi), n - 2)
    if n < 4 or hi < lo:
        return int(min(max(lo, 0), max(n - 1, 0)))
    t = np.arange(n, dtype=np.float64)
    cands = np.arange(lo, hi + 1)
    if cands.size > max_candidates:
        cands = np.unique(np.linspace(lo, hi, max_candidates).round().astype(int))
    best_k, best_sse = int(cands[0]), math.inf
    for k in cands:
        X = np.column_stack([np.ones(n), t, (t >= k).astype(np.float64), np.maximum(t - k, 0.0)])
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        r = y - X @ coef
        sse = float(r @ r)
        if sse < best_sse:
            best_k, best_sse = int(k), sse
    return best_k


def shape_share(view: View, start: int, labels: tuple[str, ...]) -> float:
    """Share of ``view`` from ``start`` on that the segment classifier puts in one of ``labels``.

    Segments are cut at the view's change points (:func:`changepoints`) and labelled by
    :func:`trainlog_doctor.signals.segments.label_segments` (falling, rising, flat, noisy, spike,
    collapsed). Returns 0.0 when the classifier is unavailable or the stretch is empty.
    """
    n = len(view)
    start = int(min(max(start, 0), n))
    if n - start < 4:
        return 0.0
    try:
        from trainlog_doctor.signals.segments import label_segments

        segs = label_segments(view.y, changepoints(view))
    except Exception:  # noqa: BLE001 - a missing or broken classifier must not stop detection
        return 0.0
    covered = 0
    for seg in segs:
        lo, hi = max(seg.start, start), seg.end
        if hi > lo and seg.label in labels:
            covered += hi - lo
    return covered / float(n - start)
