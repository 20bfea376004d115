"""Persistent periodic swings: candidate periods from the periodogram, each measured and tested.

:func:`find_oscillation` is the whole question ("does this series swing, persistently and by more
than its noise, without a trend?"); :func:`find_swing` and :func:`swing_at_period` are its steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from trainlog_doctor.signals.transforms import window_means

__all__ = ["Swing", "find_oscillation", "find_swing", "fisher_p", "peak_to_peak", "swing_at_period"]


@dataclass(frozen=True)
class Swing:
    """A periodic component: period in points, peak-to-peak amplitude (analysis units), significance."""

    start: int
    period: float
    amplitude: float
    p_value: float
    trend: float  # change of the fitted trend over the region
    noise: float  # sigma of what is left after removing the periodic component
    component: float  # peak-to-peak of the periodic component alone (its two strongest bins)
    level: float  # median of the values searched: the line the swing goes around

    def stands_out(self, *, min_amplitude: float, k_noise: float) -> bool:
        """At least ``min_amplitude`` peak to peak, the component ``k_noise`` times the rest's sigma,
        and larger than the baseline's own change (no trend)."""
        return not (self.amplitude < min_amplitude or self.component < k_noise * self.noise or self.trend > self.amplitude)


def fisher_p(g: float, m: int) -> float:
    """Fisher's g-test p-value (first term) for the largest of ``m`` periodogram ordinates having share ``g``."""
    if m < 2 or g <= 0:
        return 1.0
    return float(min(1.0, m * (1.0 - min(g, 1.0)) ** (m - 1)))


def peak_to_peak(x: np.ndarray) -> float:
    """Peak-to-peak of ``x`` without outliers: 95th minus 5th percentile."""
    lo, hi = np.percentile(x, (5.0, 95.0))
    return float(hi - lo)


def _spectrum(r: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(r - r.mean())) ** 2


def _moving_average(y: np.ndarray, w: int) -> np.ndarray:
    """Centered moving average over ``w`` points, mirrored at the ends (a point reflection would
    double a swing caught at the last point)."""
    w = max(1, min(int(w), y.size))
    lo = w // 2  # the window of point i covers i - lo .. i + w - 1 - lo
    hi = w - 1 - lo
    y = y.astype(np.float64)
    padded = np.concatenate([y[lo:0:-1], y, y[-2 : -hi - 2 : -1]]) if y.size > 1 else y
    return window_means(padded, w)


def _detrended_range(y: np.ndarray, w: int, stride: int = 1) -> np.ndarray:
    """For every ``stride``-th window of ``w`` points, the range of its residual around its own straight line."""
    win = sliding_window_view(y.astype(np.float64), w)[:: max(int(stride), 1)]
    t = np.arange(w, dtype=np.float64) - (w - 1) / 2.0
    slope = (win @ t) / float(t @ t)
    resid = win - win.mean(axis=1, keepdims=True) - slope[:, None] * t[None, :]
    return np.asarray(resid.max(axis=1) - resid.min(axis=1))


def _rolling_range(x: np.ndarray, w: int) -> np.ndarray:
    """Range of every window of ``w`` consecutive points (length ``len(x) - w + 1``)."""
    win = sliding_window_view(x, w)
    return np.asarray(win.max(axis=1) - win.min(axis=1))


def swing_at_period(
    y: np.ndarray,
    period: float,
    *,
    min_cycles: float = 3.0,
    min_len: int = 12,
    slow_period: float = 10.0,
    slow_extra_cycles: float = 0.5,
    window_swing: float = 0.4,
    window_share: float = 0.8,
    bin_tolerance: float = 1.5,
    bin_rel_tolerance: float = 0.15,
) -> Swing | None:
    """Measure a swing of ``period`` points in ``y`` (None when the series is too short for it).

    The baseline is a moving average two periods wide, which follows trends but cancels the swing;
    the residual around it is the swing. The onset is the first one-period window whose range around
    its own straight line reaches half of the typical range of such windows in the second half of the
    series (a smooth trend leaves little around a line over one period), and not before the
    baseline has settled within half a swing of its final level (a swing rides on no trend). From the
    onset on there must be ``min_cycles`` cycles (``slow_extra_cycles`` more for periods of
    ``slow_period`` points or longer: autocorrelated noise fakes slow cycles) and ``min_len`` points,
    and ``window_share`` of the one-period windows must swing by ``window_swing`` of the full swing.
    Measured from the onset: Fisher's g-test p-value of the residual's periodogram (bins with at
    least 2 cycles), the peak-to-peak amplitude (5th to 95th percentile), the baseline's change
    (trend) and the sigma of what is left after removing the two strongest neighbouring bins. The
    swing must be the strongest component (its bin within ``bin_tolerance`` bins, or
    ``bin_rel_tolerance`` of the expected bin, of the periodogram's peak).
    """
    n = y.size
    w_base = int(min(max(2, round(2 * period)), n))
    base = _moving_average(y, w_base)
    local = y - base
    half = local[n // 2 :]
    if half.size < 4:
        return None
    amp_end = peak_to_peak(half)
    w = max(3, round(period) + 1)
    start = 0
    if amp_end > 0 and n > w:
        # long periods: every stride-th window (onset resolution w / 16, well under the period / 4 used below)
        stride = max(1, w // 16)
        env = _detrended_range(y, w, stride)
        level = float(np.median(env[max(0, n // 2 - w) // stride :]))
        hit = np.flatnonzero(env >= 0.5 * level)
        # the window first swings when its newest point does: the swing starts about a quarter
        # period before that point
        start = max(0, int(hit[0]) * stride + w - 1 - int(period / 4)) if hit.size else 0
        # a swing rides on no trend: start no earlier than where the baseline settles for good
        settled = np.abs(base - float(np.median(base[n // 2 :]))) <= 0.5 * amp_end
        moving = np.flatnonzero(~settled)
        if moving.size:
            start = max(start, min(int(moving[-1]) + 1, n - 1))
    region = local[start:]
    m = region.size
    need = min_cycles + (slow_extra_cycles if period >= slow_period else 0.0)
    if m < min_len or m / period < need:
        return None
    # persistent: nearly every one-period window from the onset on swings by a good part of the swing
    amp_r = peak_to_peak(region)
    if m > w and float(np.mean(_rolling_range(region, w) >= window_swing * amp_r)) < window_share:
        return None
    f = np.fft.rfft(region - region.mean())
    spec = np.abs(f) ** 2
    k_lo = 2
    band = spec[k_lo:]
    if band.size < 3 or float(band.sum()) <= 0:
        return None
    kb = int(np.argmax(band))
    k = kb + k_lo
    expected = m / period
    if abs(k - expected) > max(bin_tolerance, bin_rel_tolerance * expected):
        return None
    left = float(band[kb - 1]) if kb > 0 else 0.0
    right = float(band[kb + 1]) if kb + 1 < band.size else 0.0
    total = float(band.sum())
    g1 = float(band[kb]) / total
    g2 = (float(band[kb]) + max(left, right)) / total
    p = min(fisher_p(g1, band.size), fisher_p(g2, max(2, band.size // 2)))
    keep = np.zeros(spec.size, dtype=bool)
    keep[k] = True
    nb = k - 1 if (left >= right and kb > 0) else k + 1
    if 0 <= nb < spec.size:
        keep[nb] = True
    f_rest = f.copy()
    f_rest[keep] = 0
    rest = np.fft.irfft(f_rest, m)
    noise = float(1.4826 * np.median(np.abs(rest - np.median(rest))))
    comp = (region - region.mean()) - rest
    comp_amp = peak_to_peak(comp)
    trend = float(abs(base[-1] - base[start]))
    return Swing(
        start=start, period=period, amplitude=amp_r, p_value=p, trend=trend, noise=noise, component=comp_amp,
        level=float(np.median(y)),
    )  # fmt: skip


def find_swing(
    y: np.ndarray, *, alpha: float = 0.01, n_candidates: int = 3, min_cycles: float = 3.0, min_points: int = 16
) -> Swing | None:
    """The most significant persistent swing of ``y``: candidate periods are the strongest bins of the
    periodogram of ``y`` without its quadratic trend (at least ``min_cycles`` cycles); each is measured
    by :func:`swing_at_period` and the one with the smallest p-value below ``alpha`` wins."""
    n = y.size
    if n < min_points:
        return None
    t = np.linspace(-1.0, 1.0, n)
    r = y - np.polyval(np.polyfit(t, y, 2), t)
    spec = _spectrum(r)
    k_lo = max(3, math.ceil(min_cycles))
    if spec.size <= k_lo + 1:
        return None
    order = np.argsort(spec[k_lo:])[::-1][:n_candidates] + k_lo
    best: Swing | None = None
    for k in order:
        sw = swing_at_period(y, n / float(k), min_cycles=min_cycles)
        if sw is None or sw.p_value > alpha:
            continue
        if best is None or sw.p_value < best.p_value:
            best = sw
    return best


def find_oscillation(
    y: np.ndarray,
    *,
    alpha: float = 0.005,
    k_noise: float = 2.5,
    min_amplitude: float | None = None,
    span_share: float = 0.2,
    skip_frac: float = 0.1,
    min_skip: int = 2,
) -> Swing | None:
    """A persistent swing of ``y`` that stands out (:meth:`Swing.stands_out`), or None.

    The first ``skip_frac`` of the points (at least ``min_skip``) are left out (early training moves
    too fast for a swing to show); the swing is :func:`find_swing`'s at significance ``alpha``. Its
    amplitude must reach ``min_amplitude``, by default ``span_share`` of the whole series'
    :func:`peak_to_peak`. The result's ``start`` is an index into ``y``.
    """
    skip = max(min_skip, int(skip_frac * y.size))
    sw = find_swing(y[skip:], alpha=alpha)
    if sw is None:
        return None
    floor = span_share * peak_to_peak(y) if min_amplitude is None else min_amplitude
    if not sw.stands_out(min_amplitude=floor, k_noise=k_noise):
        return None
    return replace(sw, start=skip + sw.start)


def epoch_period(epochs: np.ndarray) -> int | None:
    """Points per epoch when every whole epoch (integer part of ``epochs``) but the last holds the same
    number of points, at least 3 of them, over at least 2 such epochs; else None."""
    if epochs.size == 0 or not np.isfinite(epochs).all():
        return None
    whole = np.floor(epochs).astype(np.int64)
    if (np.diff(whole) < 0).any():
        return None
    _, counts = np.unique(whole, return_counts=True)
    full = counts[:-1]
    if full.size < 2 or int(full.min()) != int(full.max()) or int(full[0]) < 3:
        return None
    return int(full[0])


def phase_share(values: np.ndarray, period: int, *, skip: int = 0) -> float | None:
    """Share of a positive series' log-deviation from its running level explained by the position
    within each period (the mean deviation per phase), from position ``skip`` on.

    The running level is a centered rolling median one period wide (made odd), so a trend is taken
    out. White noise gives a share of about 1/period; the same within-epoch pattern repeated every epoch
    (batches sorted by class: each class's batches come at the same point of every epoch) gives most of
    the deviation. None for fewer than 4 periods after ``skip`` or non-positive values.
    """
    y = values[skip:]
    if period < 3 or y.size < 4 * period or not (np.isfinite(y).all() and float(np.min(y)) > 0):
        return None
    w = period if period % 2 else period + 1
    level = np.array([np.median(y[max(0, i - w // 2) : i + w // 2 + 1]) for i in range(y.size)])
    r = np.log(y) - np.log(level)
    r = r[: (r.size // period) * period].reshape(-1, period)
    r = r - r.mean()
    total = float(np.sum(r**2))
    if total <= 0:
        return None
    means = r.mean(axis=0)
    return float(np.sum(means**2) * r.shape[0] / total)
