"""Verdicts on short series: a handful of epochs or of evaluations, too few to estimate the noise.

The trend searches (:mod:`.trends`) measure a move against the series' own robust noise, which needs
dozens of points. A 7-epoch validation loss or five evaluations give no such estimate, so these
searches ask for moves that are large in relative terms and hold over several points instead. Every
threshold is a keyword parameter; values are positive losses (lower is better).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlog_doctor.signals.transforms import robust_noise

__all__ = [
    "BandStay",
    "FinalJump",
    "find_final_jump",
    "ShortTurn",
    "SparseJump",
    "find_short_turn",
    "find_sparse_jumps",
    "interval_medians",
    "relative_gain",
    "stays_in_band",
]


@dataclass(frozen=True)
class ShortTurn:
    """A validation loss that turned up after its minimum while the training loss kept falling."""

    best_at: int  # position of the validation minimum
    best: float
    after: float  # median of the last points of the validation loss
    rise: float  # after / best - 1
    train_at_best: float
    train_after: float  # median of the training loss after the minimum
    gap_before: float  # val - train at the minimum
    gap_after: float  # median val - median train after the minimum


def find_short_turn(
    val: np.ndarray,
    train: np.ndarray,
    *,
    min_rise: float = 0.06,
    step_rise: float = 0.02,
    min_after: int = 2,
    hold_share: float = 0.75,
    tail: int = 3,
    min_train_gain: float = 0.05,
    min_points: int = 5,
) -> ShortTurn | None:
    """The turn of a short validation loss ``val`` against the training loss ``train`` at the same points.

    The validation minimum must lie after the first point and leave at least ``min_after`` points
    after it; at least ``hold_share`` of those points and the last one must sit ``step_rise`` above the
    minimum, and the median of the last ``tail`` points (at most the points after the minimum)
    ``min_rise`` above it and above the largest step up the series took before its minimum (its
    noise: evaluations that bounce by 20% on the way down say nothing with an 11% rise). Over the
    same stretch the training loss must fall by ``min_train_gain``
    (its median after the minimum against its value at it, so a last-epoch jump does not hide the
    fall) and the validation/training gap must widen. Values must be positive and finite.
    """
    v = np.asarray(val, dtype=np.float64)
    t = np.asarray(train, dtype=np.float64)
    n = v.size
    if n < min_points or t.size != n or not (np.isfinite(v).all() and np.isfinite(t).all()):
        return None
    if not ((v > 0).all() and (t > 0).all()):
        return None
    m = int(np.argmin(v))
    if m < 1 or n - 1 - m < min_after:
        return None
    best = float(v[m])
    rest = v[m + 1 :]
    if float(np.mean(rest > best * (1 + step_rise))) < hold_share or not v[-1] > best * (1 + step_rise):
        return None
    after = float(np.median(rest[-min(tail, rest.size) :]))
    rise = after / best - 1.0
    if rise < min_rise:
        return None
    # the validation loss's own bumps on the way down show its noise: the rise must beat the largest
    prior_bump = float(np.max(v[1 : m + 1] / v[:m])) - 1.0
    if rise <= prior_bump:
        return None
    t_best = float(t[m])
    t_after = float(np.median(t[m + 1 :]))
    if (t_best - t_after) / t_best < min_train_gain:
        return None
    gap_before = best - t_best
    gap_after = float(np.median(rest)) - t_after
    if gap_after <= gap_before:
        return None
    return ShortTurn(m, best, after, rise, t_best, t_after, gap_before, gap_after)


@dataclass(frozen=True)
class SparseJump:
    """One evaluation far above both neighbours (positions into the searched values)."""

    at: int
    before: float
    peak: float
    after: float
    ratio: float  # peak over the higher neighbour


def find_sparse_jumps(
    y: np.ndarray, *, min_ratio: float = 1.25, recover: float = 0.35, min_points: int = 4
) -> list[SparseJump]:
    """Interior points of a short positive series at least ``min_ratio`` times both neighbours, after
    which the series comes back within ``recover`` of the jump height of the level before it.

    Meant for a few sparse evaluations, where every point is a separate measurement: a single value
    25% above the evaluations on either side is an unstable model state, not a trend.
    """
    v = np.asarray(y, dtype=np.float64)
    n = v.size
    if n < min_points or not np.isfinite(v).all() or not (v > 0).all():
        return []
    out: list[SparseJump] = []
    for i in range(1, n - 1):
        lo, peak, hi = float(v[i - 1]), float(v[i]), float(v[i + 1])
        ratio = peak / max(lo, hi)
        if ratio < min_ratio:
            continue
        if hi - lo > recover * (peak - lo):
            continue
        out.append(SparseJump(i, lo, peak, hi, ratio))
    return out


@dataclass(frozen=True)
class BandStay:
    """How a series sits in a band around a level: the share inside and its late and early medians."""

    share: float
    early: float
    late: float
    level: float


def stays_in_band(
    y: np.ndarray,
    level: float,
    *,
    rel_tol: float = 0.03,
    min_share: float = 0.9,
    skip_head: int = 1,
    max_gain: float = 0.02,
    min_points: int = 5,
) -> BandStay | None:
    """Whether ``y`` (after its first ``skip_head`` points) stays within ``rel_tol`` of ``level`` for at
    least ``min_share`` of its points, with its last fifth no more than ``max_gain`` (relative) below its
    first fifth (no progress inside the band). Noise of any kind inside the band is allowed: a
    loss at ln(C) from a constant predictor still jitters with each batch's label mix.
    """
    v = np.asarray(y, dtype=np.float64)
    v = v[np.isfinite(v)][skip_head:]
    n = v.size
    if n < min_points or not math.isfinite(level) or level <= 0:
        return None
    inside = np.abs(v - level) <= rel_tol * level
    share = float(np.mean(inside))
    k = max(2, math.ceil(0.2 * n))
    early, late = float(np.median(v[:k])), float(np.median(v[-k:]))
    if share < min_share or (early - late) / level > max_gain:
        return None
    return BandStay(share, early, late, level)


def interval_medians(steps: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """For each step of ``at`` (sorted), the median of ``values`` logged after the previous step of
    ``at`` and up to this one (the last value before it when none is; NaN when there is none at all).

    Puts a per-step training loss on the points of a per-epoch or sparse evaluation series.
    """
    st = np.asarray(steps)
    v = np.asarray(values, dtype=np.float64)
    out = np.full(np.asarray(at).size, np.nan)
    prev = -math.inf
    for i, s in enumerate(np.asarray(at)):
        seg = v[(st > prev) & (st <= s)]
        if seg.size:
            out[i] = float(np.median(seg))
        else:
            j = int(np.searchsorted(st, s, side="right")) - 1
            if j >= 0:
                out[i] = float(v[j])
        prev = s
    return out


@dataclass(frozen=True)
class FinalJump:
    """The last point of a series far above the points before it."""

    before: float  # the point before the last
    last: float
    ratio: float
    zscore: float  # the jump on a log10 scale in robust noise sigmas of the points before


def find_final_jump(
    y: np.ndarray, *, min_ratio: float = 2.0, k_noise: float = 8.0, lookback: int = 3, min_points: int = 5
) -> FinalJump | None:
    """A last point at least ``min_ratio`` times the point before it, ``k_noise`` robust noise sigmas
    above it (log10 scale, noise of the points before the last) and above each of the ``lookback``
    points before it, or None. Values must be positive and finite.

    Nothing after the last point shows whether the jump recovers (a spike) or stays (a divergence).
    """
    v = np.asarray(y, dtype=np.float64)
    n = v.size
    if n < max(min_points, lookback + 2) or not np.isfinite(v).all() or not (v > 0).all():
        return None
    before = float(v[-2])
    last = float(v[-1])
    ratio = last / before
    if ratio < min_ratio or last <= float(np.max(v[-1 - lookback : -1])):
        return None
    lv = np.log10(v)
    noise = max(robust_noise(lv[:-1]), 1e-12)
    z = float((lv[-1] - math.log10(before)) / noise)
    if z < k_noise:
        return None
    return FinalJump(before, last, ratio, z)


def relative_gain(values: np.ndarray, *, frac: float = 0.2) -> float | None:
    """How much a lower-is-better stretch improved: (median of its first ``frac`` - median of its last
    ``frac``) / |first| (at least two points each); None for fewer than four finite points or a first
    level of 0."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 4:
        return None
    k = max(2, math.ceil(frac * v.size))
    first, last = float(np.median(v[:k])), float(np.median(v[-k:]))
    if first == 0:
        return None
    return (first - last) / abs(first)
