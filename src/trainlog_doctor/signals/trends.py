"""Trend searches on an :class:`~trainlog_doctor.signals.analysis.AnalysisSeries`: rises, turns, stalls, progress.

Each search answers one question a rule asks ("does the level rise for good?", "where does the
curve stop improving?") and returns a small dataclass in analysis units (indices into the analysis
series, levels in its units), or None when the answer is no. Every threshold is a keyword parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlog_doctor.signals.analysis import AnalysisSeries
from trainlog_doctor.signals.transforms import median, odd_window, suffix_share

__all__ = [
    "Progress",
    "Rise",
    "Stall",
    "Turn",
    "find_stall",
    "find_sustained_rise",
    "find_turn",
    "hinge_break",
    "improves_between",
    "levels_around",
    "measure_progress",
    "positive_ratio",
    "rise_threshold",
    "slope",
]


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


def positive_ratio(before: float, after: float) -> float | None:
    """``after / before`` when both are positive, else None."""
    return after / before if before > 0 and after > 0 else None


# ---- a rise that lasts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rise:
    """A sustained rise: indices into the analysis series, levels in analysis units."""

    best_at: int  # where the best (lowest smoothed) level before the rise is
    onset: int  # where the rise starts
    sustained_from: int  # from here on the series stays high
    best: float
    after: float  # median level of the tail
    zscore: float


def find_sustained_rise(
    a: AnalysisSeries,
    *,
    min_rise: float,
    k_noise: float = 6.0,
    tail_frac: float = 0.12,
    min_tail: int = 3,
    hold_level: float = 0.5,
    hold_share: float = 0.85,
    min_points: int = 8,
) -> Rise | None:
    """A rise of the level that lasts until the end of the series, or None.

    The tail level (median of the last ``tail_frac`` of points, at least ``min_tail``) must exceed
    the lowest smoothed level before the tail by at least ``min_rise`` (analysis units) and
    ``k_noise`` standard errors (the robust point noise scaled for a median of the tail and a
    smoothed point); from some point on, ``hold_share`` of the smoothed points must stay above the
    level ``hold_level`` of the way up. The onset is where the curve turns up (a broken-line fit
    between the best point and that point).
    """
    y, s = a.y, a.smooth
    n = y.size
    if n < min_points:
        return None
    tail_n = max(min_tail, math.ceil(tail_frac * n))
    if n - tail_n < 2:
        return None
    after = float(np.median(y[-tail_n:]))
    head = s[: n - tail_n]
    m = int(np.argmin(head))
    best = float(head[m])
    rise = after - best
    noise = max(a.noise, 1e-12 * max(abs(best), abs(after), 1e-300))
    # both levels are medians: the tail of tail_n points and a smoothed point of about w points
    w = odd_window(n)
    z = rise / (noise * math.sqrt(1.0 / tail_n + 1.0 / w))
    if rise < min_rise or z < k_noise:
        return None
    half = best + hold_level * rise
    share = suffix_share(s > half)
    cand = np.flatnonzero((np.arange(n) > m) & (s > half) & (share >= hold_share))
    if cand.size == 0:
        return None
    j = int(cand[0])
    r0 = max(0, m - max(3, (n - m) // 2))
    lo = max(r0 + 1, m - max(2, (j - m) // 2))
    onset = r0 + hinge_break(y[r0:], lo - r0, j - r0)
    onset = int(min(max(onset, 0), j))
    return Rise(best_at=m, onset=onset, sustained_from=j, best=best, after=after, zscore=float(z))


def rise_threshold(a: AnalysisSeries, factor: float, *, span_share: float = 0.5) -> float:
    """Minimum rise in analysis units for a ``factor``-fold increase.

    On a log scale that is ``log10(factor)``; for positive values on their own scale, the lowest
    smoothed level times ``factor - 1``; for values that can be negative, ``span_share`` of the
    smoothed range.
    """
    if a.logged:
        return math.log10(factor)
    y = a.y
    if y.size and (y > 0).all():
        return float(np.min(a.smooth)) * (factor - 1.0) if np.min(a.smooth) > 0 else 0.0
    span = float(np.max(a.smooth) - np.min(a.smooth)) if y.size else 0.0
    return span_share * span


def improves_between(
    steps: np.ndarray,
    values: np.ndarray,
    step_from: int,
    step_to: int,
    *,
    min_rel: float = 0.02,
    before_frac: float = 0.05,
    after_frac: float = 0.2,
    min_points: int = 4,
) -> bool | None:
    """Whether a lower-is-better series (finite ``values`` at ``steps``) fell between two steps.

    Compares the median just before ``step_from`` (the last ``before_frac`` of the run's step range,
    else the first tenth of the points) with the median of the last ``after_frac`` of the stretch;
    improving means falling by more than ``min_rel`` (relative). None with too few points.
    """
    if values.size < min_points:
        return None
    st = steps
    before = values[(st >= step_from - (st[-1] - st[0]) * before_frac) & (st <= step_from)]
    after_mask = st >= step_to - (step_to - step_from) * after_frac
    after = values[after_mask & (st <= step_to)]
    if before.size == 0:
        before = values[: max(1, values.size // 10)]
    if after.size == 0:
        return None
    b, a = float(np.median(before)), float(np.median(after))
    scale = max(abs(b), 1e-12)
    return (b - a) / scale > min_rel


def levels_around(
    steps: np.ndarray,
    values: np.ndarray,
    step_from: int,
    step_to: int,
    *,
    around_frac: float = 0.1,
    end_frac: float = 0.15,
    min_points: int = 4,
) -> tuple[float, float] | None:
    """(median around ``step_from``, median near ``step_to``) of finite ``values`` at ``steps``, or None.

    "Around" is within ``around_frac`` of the stretch's length on either side (else the points next
    to ``step_from``), "near" the last ``end_frac`` of it.
    """
    if values.size < min_points:
        return None
    st = steps
    span = max(float(step_to - step_from), 1.0)
    around = values[(st >= step_from - around_frac * span) & (st <= step_from + around_frac * span)]
    end = values[(st >= step_to - end_frac * span) & (st <= step_to)]
    if around.size == 0:
        j = int(np.searchsorted(st, step_from))
        around = values[max(0, j - 1) : j + 1]
    if end.size == 0 or around.size == 0:
        return None
    return median(around), median(end)


# ---- a turn for the worse ------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """A U-turn: the best point, then a lasting move the wrong way (analysis units)."""

    best_at: int
    best: float
    after: float
    zscore: float


def find_turn(
    a: AnalysisSeries,
    *,
    min_move: float,
    k_noise: float,
    tail_frac: float = 0.2,
    min_tail: int = 3,
    hold_level: float = 0.5,
    hold_share: float = 0.7,
    lower_is_better: bool = True,
) -> Turn | None:
    """The best smoothed point and a lasting worsening after it (None when the curve does not turn).

    The best point must lie before the last ``tail_frac`` of the run (at least ``min_tail`` points);
    the tail median must be worse than it by ``min_move`` and ``k_noise`` noise sigmas (of the tail
    median and a smoothed point); from some point after the best one on, ``hold_share`` of the
    smoothed points must lie beyond the level ``hold_level`` of the way to the tail's.
    """
    sign = 1.0 if lower_is_better else -1.0
    y = sign * a.y
    s = sign * a.smooth
    n = y.size
    tail_n = max(min_tail, math.ceil(tail_frac * n))
    if n - tail_n < 3:
        return None
    head = s[: n - tail_n]
    m = int(np.argmin(head))
    best = float(head[m])
    after = float(np.median(y[-tail_n:]))
    move = after - best
    sigma = max(a.noise, 1e-12 * max(abs(best), 1e-300))
    z = move / (sigma * math.sqrt(1.0 / tail_n + 1.0 / 3.0))
    if move < min_move or z < k_noise:
        return None
    half = best + hold_level * move
    share = suffix_share(s > half)
    ok = np.flatnonzero((np.arange(n) > m) & (share >= hold_share))
    if ok.size == 0:
        return None
    return Turn(best_at=m, best=sign * best, after=sign * after, zscore=float(z))


# ---- where progress stops ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stall:
    """Where a falling series stops for good (indices into the analysis series, levels in its units)."""

    start: int
    level: float
    early: float
    abruptness: float
    length: int


def find_stall(
    a: AnalysisSeries,
    *,
    min_frac: float,
    min_len: int,
    flat_tol: float,
    min_progress: float,
    early_frac: float = 0.05,
    k_progress: float = 5.0,
    k_flat: float = 3.0,
    min_gain_share: float = 0.5,
    max_trend: float = 2.0,
    arrive_share: float = 0.2,
) -> Stall | None:
    """The point after which ``a`` (lower is better) never improves by more than a tolerance again.

    The early level is the highest smoothed point of the first ``early_frac``. The tolerance is
    ``flat_tol`` of the progress made (and ``k_flat`` noise sigmas of a smoothed point); the flat
    part must cover ``min_frac`` of the run and ``min_len`` points, follow a real gain (at least
    ``min_progress`` and ``k_progress`` sigmas, ``min_gain_share`` of it before the flat part) and
    have no trend of its own (at most ``max_trend`` tolerances over its length). ``abruptness`` is
    the slope just before the flat part over the average slope of the whole descent: about 1 for a
    kink, small for a smooth approach to an asymptote. The start is where the curve arrives within
    ``arrive_share`` of that tolerance of its final level.
    """
    y, s = a.y, a.smooth
    n = y.size
    if n < max(min_len + 4, 10):
        return None
    k0 = max(1, math.ceil(early_frac * n))
    early = float(np.max(s[:k0]))
    low = float(np.min(s))
    progress = early - low
    w = max(3, min(51, n // 20))
    noise_s = a.noise / math.sqrt(w)
    if progress < max(min_progress, k_progress * noise_s, k_progress * a.noise / math.sqrt(3)):
        return None
    tol = max(flat_tol * progress, k_flat * noise_s)
    sufmin = np.minimum.accumulate(s[::-1])[::-1]
    ok = np.flatnonzero(s - sufmin <= tol)
    if ok.size == 0:
        return None
    p = int(ok[0])
    # the stall begins where the series first gets within tolerance of its final level
    length = n - p
    if length < max(min_len, min_frac * n) or p < 2:
        return None
    level = float(np.median(y[p:]))
    gain_before = early - float(s[p])
    if gain_before < min_gain_share * progress:
        return None
    wb = max(3, min(p // 2, max(3, n // 8)))
    wb = min(wb, p)
    seg = s[p - wb : p + 1]
    local = -slope(seg)
    average = gain_before / max(p, 1)
    if average <= 0:
        return None
    abrupt = local / average
    # the flat part must really be flat: its own trend over its length stays inside the tolerance
    trend = abs(slope(y[p:])) * length
    if trend > max_trend * tol:
        return None
    # where a person sees the curve arrive at its final level: within a fifth of the tolerance (or noise)
    tight = max(arrive_share * flat_tol * progress, k_flat * noise_s)
    arrived = np.flatnonzero(s[p:] - float(np.median(s[p:])) <= tight)
    start = p + (int(arrived[0]) if arrived.size else 0)
    return Stall(start=start, level=level, early=early, abruptness=float(abrupt), length=n - start)


# ---- how much a series improved ------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How much a series improved: early, late and best levels (analysis units, better = lower)."""

    early: float
    late: float
    best: float
    gain: float  # early - late
    best_gain: float  # early - best
    threshold: float


def measure_progress(
    a: AnalysisSeries,
    *,
    min_rel: float,
    lower_is_better: bool = True,
    scale: float | None = None,
    early_frac: float = 0.1,
    late_frac: float = 0.2,
    k_noise: float = 3.0,
) -> Progress:
    """Early level (the first ``early_frac`` of points, the first point skipped), late level (the
    last ``late_frac``) and best smoothed level.

    ``threshold`` is the smallest gain that counts as progress: ``min_rel`` of the early level (a
    ratio on log scales; ``scale`` units when given) and ``k_noise`` noise sigmas of a median,
    whichever is larger.
    """
    sign = 1.0 if lower_is_better else -1.0
    y = sign * a.y
    s = sign * a.smooth
    n = y.size
    k_early = max(2, math.ceil(early_frac * n))
    early = float(np.median(y[1 : 1 + k_early])) if n > 2 else float(y[0])
    late = float(np.median(y[-max(3, math.ceil(late_frac * n)) :]))
    best = float(np.min(s))
    if a.logged:
        rel = -math.log10(1.0 - min_rel)
    elif scale is not None:
        rel = min_rel * scale
    else:
        rel = min_rel * max(abs(early), 1e-12)
    thr = max(rel, k_noise * a.noise / math.sqrt(min(k_early, 3)))
    return Progress(
        early=sign * early, late=sign * late, best=sign * best, gain=early - late, best_gain=early - best, threshold=thr
    )
