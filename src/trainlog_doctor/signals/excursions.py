"""Short excursions that come back: a loss spike, an accuracy dip (searched as an upward jump of ``-y``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlog_doctor.signals.transforms import robust_noise, rolling_median

__all__ = ["Jump", "find_jumps", "within_rounding"]


@dataclass(frozen=True)
class Jump:
    """One transient excursion: positions into the searched values, levels in their units."""

    start: int
    end: int
    peak_at: int
    base: float  # level before the jump
    peak: float
    after: float  # level after it
    zscore: float


def find_jumps(
    y: np.ndarray,
    *,
    k: float,
    min_height: float,
    max_len: int,
    recover: float = 0.35,
    skip_head: int = 1,
    k_big: float | None = None,
    big_height: float | None = None,
    noise_floor: float = 0.5,
    min_points: int = 7,
) -> list[Jump]:
    """Upward excursions of ``y`` that last at most ``max_len`` points and come back down.

    A point is part of an excursion when it is more than ``k`` local noise sigmas and ``min_height``
    above a rolling median whose window is wider than ``max_len`` (or, with ``k_big``, more than
    ``k_big`` sigmas and ``big_height`` above it: large jumps need fewer sigmas). The local sigma is
    the MAD of the residuals in a wide window, at least ``noise_floor`` times the series' robust
    point-to-point noise. An excursion counts when the level after it is back within ``recover`` of
    its height above the level before it. The first ``skip_head`` points are ignored (a first point
    above the rest is the start, not a spike), as are excursions that touch the last point (nothing
    shows that they recover) and series shorter than ``min_points``.
    """
    n = y.size
    if n < min_points:
        return []
    w = 2 * max_len + 3
    w = max(w, 7)
    if w % 2 == 0:
        w += 1
    w = min(w, n if n % 2 else n - 1)
    base = rolling_median(y, w)
    resid = y - base
    glob = robust_noise(y)
    absr = np.abs(resid)
    local = 1.4826 * rolling_median(absr, min(max(4 * w + 1, 21), n if n % 2 else n - 1))
    sigma = np.maximum(local, noise_floor * glob)
    sigma = np.maximum(sigma, 1e-12 * (np.abs(base) + 1e-300))
    hot = (resid > k * sigma) & (resid > min_height)
    if k_big is not None and big_height is not None:
        hot |= (resid > k_big * sigma) & (resid > big_height)
    out: list[Jump] = []
    i = 0
    h = max(3, max_len)
    while i < n:
        if not hot[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and hot[j + 1]:
            j += 1
        a, b = i, j
        i = j + 1
        if b - a + 1 > max_len or a < skip_head or b >= n - 1:
            continue
        pre = y[max(0, a - h) : a]
        post = y[b + 1 : b + 1 + h]
        if pre.size == 0 or post.size == 0:
            continue
        before, after = float(np.median(pre)), float(np.median(post))
        seg = y[a : b + 1]
        p = int(np.argmax(seg))
        peak = float(seg[p])
        height = peak - before
        low_bar = min_height if big_height is None else min(min_height, big_height)
        if height <= low_bar or after - before > recover * height:
            continue
        z = float(np.max(resid[a : b + 1] / sigma[a : b + 1]))
        out.append(Jump(start=a, end=b, peak_at=a + p, base=before, peak=peak, after=after, zscore=z))
    return out


def within_rounding(values: np.ndarray, before: float, peak: float, *, max_steps: float = 2.0) -> bool:
    """True when ``peak - before`` is at most ``max_steps`` rounding steps of ``values``.

    The rounding step is the smallest gap between distinct values; it matters only when it is a
    sizeable part of the values themselves (a loss written with 4 decimals: 0.0001 -> 0.0002 is one step).
    """
    u = np.unique(values)
    if u.size < 2:
        return False
    q = float(np.min(np.diff(u)))
    return q > 0 and (peak - before) <= max_steps * q + 1e-12 * abs(peak)


def burst_share(values: np.ndarray, *, window: int, factor: float, skip_frac: float) -> float | None:
    """Share of points, after the first ``skip_frac`` of the series, above ``factor`` times the centered
    rolling median (``window`` points) of a positive series; None when the series has a non-positive
    trend there or fewer than ``window`` points to judge.

    A per-step loss averages a batch: with a batch of 32 samples a point three times its running median
    is rare (a few percent of steps); with a batch of one or two samples, a step is the loss of one or
    two examples and such bursts are common.
    """
    n = values.size
    lo = int(skip_frac * n)
    if n - lo < window:
        return None
    trend = rolling_median(values, window)
    seg, tr = values[lo:], trend[lo:]
    if not (np.isfinite(tr).all() and float(np.min(tr)) > 0):
        return None
    return float(np.mean(seg > factor * tr))
