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

__all__ = [
    "BandStay",
    "ShortTurn",
    "SparseJump",
    "find_short_turn",
    "find_sparse_jumps",
    "interval_medians",
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
    ``min_rise`` above it. Over the same stretch the training loss must fall by ``min_train_gain``
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
