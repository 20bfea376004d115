"""oscillation: persistent swings larger than the noise, with no trend."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules.base import SeriesRule, fmt
from trainlog_doctor.run import RunView, Series, is_per_class_metric
from trainlog_doctor.rules.stats import make_view


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


def fisher_p(g: float, m: int) -> float:
    """Fisher's g-test p-value (first term) for the largest of ``m`` periodogram ordinates having share ``g``."""
    if m < 2 or g <= 0:
        return 1.0
    return float(min(1.0, m * (1.0 - min(g, 1.0)) ** (m - 1)))


def _spectrum(r: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(r - r.mean())) ** 2


def _odd(w: int, n: int) -> int:
    w = max(3, int(w))
    if w % 2 == 0:
        w += 1
    while w > n and w > 3:
        w -= 2
    return w


def _moving_average(y: np.ndarray, w: int) -> np.ndarray:
    """Centered moving average over ``w`` points, mirrored at the ends (a point reflection would
    double a swing caught at the last point)."""
    from scipy.ndimage import uniform_filter1d

    w = max(1, min(int(w), y.size))
    return uniform_filter1d(y.astype(np.float64), size=w, mode="mirror")


def _p5_p95(x: np.ndarray) -> float:
    """Peak-to-peak of ``x`` without outliers: 95th minus 5th percentile."""
    lo, hi = np.percentile(x, (5.0, 95.0))
    return float(hi - lo)


def _detrended_range(y: np.ndarray, w: int, stride: int = 1) -> np.ndarray:
    """For every ``stride``-th window of ``w`` points, the range of its residual around its own straight line."""
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(y.astype(np.float64), w)[:: max(int(stride), 1)]
    t = np.arange(w, dtype=np.float64) - (w - 1) / 2.0
    slope = (win @ t) / float(t @ t)
    resid = win - win.mean(axis=1, keepdims=True) - slope[:, None] * t[None, :]
    return resid.max(axis=1) - resid.min(axis=1)


def _rolling_range(x: np.ndarray, w: int) -> np.ndarray:
    """Range of every window of ``w`` consecutive points (length ``len(x) - w + 1``)."""
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(x, w)
    return win.max(axis=1) - win.min(axis=1)


def swing_at_period(y: np.ndarray, period: float, *, min_cycles: float = 3.0, min_len: int = 12) -> Swing | None:
    """Measure a swing of ``period`` points in ``y`` (None when the series is too short for it).

    The baseline is a moving average two periods wide, which follows trends but cancels the swing;
    the residual around it is the swing. The onset is the first one-period window whose range around
    its own straight line reaches half of the typical range of such windows in the second half of the
    series (a smooth trend leaves little around a line over one period), and not before the
    baseline has settled within half a swing of its final level (a swing rides on no trend). At
    least 80% of the one-period windows after the onset must swing by 40% of the full swing. From the onset
    on: Fisher's g-test p-value of the residual's periodogram (bins with at least 2 cycles), the
    peak-to-peak amplitude (5th to 95th percentile), the baseline's change (trend) and the sigma of
    what is left after removing the two strongest neighbouring bins. The swing must be the
    strongest component (its bin within one of the periodogram's peak).
    """
    n = y.size
    w_base = int(min(max(2, round(2 * period)), n))
    base = _moving_average(y, w_base)
    local = y - base
    half = local[n // 2 :]
    if half.size < 4:
        return None
    amp_end = _p5_p95(half)
    w = max(3, int(round(period)) + 1)
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
    # slow waves need one more cycle: red (autocorrelated) noise in real logs fakes three slow cycles
    need = min_cycles + (0.5 if period >= 10 else 0.0)
    if m < min_len or m / period < need:
        return None
    # persistent: nearly every one-period window from the onset on swings by a good part of the swing
    amp_r = _p5_p95(region)
    if m > w and float(np.mean(_rolling_range(region, w) >= 0.4 * amp_r)) < 0.8:
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
    if abs(k - expected) > max(1.5, 0.15 * expected):
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
    comp_amp = _p5_p95(comp)
    amp = amp_r
    trend = float(abs(base[-1] - base[start]))
    return Swing(start=start, period=period, amplitude=amp, p_value=p, trend=trend, noise=noise, component=comp_amp)


def find_swing(y: np.ndarray, *, alpha: float = 0.01, n_candidates: int = 3, min_cycles: float = 3.0) -> Swing | None:
    """The most significant persistent swing of ``y``: candidate periods are the strongest bins of the
    periodogram of ``y`` without its quadratic trend (at least ``min_cycles`` cycles); each is measured
    by :func:`swing_at_period` and the one with the smallest p-value below ``alpha`` wins."""
    n = y.size
    if n < 16:
        return None
    t = np.linspace(-1.0, 1.0, n)
    r = y - np.polyval(np.polyfit(t, y, 2), t)
    spec = _spectrum(r)
    k_lo = max(3, int(math.ceil(min_cycles)))
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


class PersistentOscillation(SeriesRule):
    """A metric swings up and down, periodically and by more than its noise, without a trend.

    What it detects: in a loss or score series (after the first 10% of points), a periodic component
    with at least 3 cycles (3.5 for periods of 10 points or more: autocorrelated noise fakes three
    slow cycles); candidate periods come from the periodogram (a quadratic trend removed
    first). Around a moving average two periods wide (which follows trends but cancels the swing),
    from the onset (the first one-period window whose swing reaches half of the swing seen in
    the second half of the series, once that baseline has settled) to the end, the component must be the strongest one, significant
    by Fisher's g-test (p < ``alpha``), its peak-to-peak amplitude (5th to 95th percentile) must
    be at least ``min_ratio`` (1.08x) for positive losses on a log scale (``min_score_swing``, 0.05
    of a fraction or 5 points, for scores), the periodic component alone (its two strongest
    periodogram bins) must swing by at least ``k_noise`` (2.5) times the sigma of what remains
    without it, and the swing must be larger than the baseline's own change (no trend).

    Why it matters: a learning rate too high for the curvature makes the optimizer bounce between
    the walls of a valley; with momentum or a bad batch-size/lr pair this becomes a persistent
    oscillation that wastes the run. A cyclic learning-rate schedule causes intended swings: those
    are reported as ``info`` when the learning rate itself oscillates.

    Does not count: white noise of any size (noisy validation), trends, a few isolated spikes,
    series shorter than 20 points.

    Example: case "bouncing_between_valley_walls" in tests/rule_cases/OS001.toml: lr too high for the
    curvature: after 3 epochs of descent the training loss swings between ~0.6 and ~1.4 every 4 epochs
    for 60 epochs -> "Training loss oscillates with a period of about 4.15 epochs (0.644 <-> 1.57) from
    epoch 9 with no downward trend".
    """

    code = "OS001"
    kind = "oscillation"
    severity = "warning"
    name = "persistent-oscillation"

    alpha: float = 0.005
    min_ratio: float = 1.01
    min_score_swing: float = 0.05
    k_noise: float = 2.5
    min_points: int = 20
    max_points: int = 5000

    def applies_to(self, s: Series) -> bool:
        if s.role not in ("loss", "score") or s.split == "other" or s.n_finite < self.min_points:
            return False
        return not (s.role == "score" and is_per_class_metric(s.metric))

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        # bucket medians would erase a period-2 swing: keep full resolution up to max_points
        view = make_view(s, log=True if (s.role == "loss" and s.positive) else False, max_points=self.max_points)
        n = len(view)
        skip = max(2, int(0.1 * n))
        y = view.y[skip:]
        sw = find_swing(y, alpha=self.alpha)
        if sw is None:
            return []
        if view.logged:
            min_amp = math.log10(self.min_ratio)
        elif s.role == "score":
            min_amp = self.min_score_swing * (100.0 if s.percent else 1.0)
        else:
            span = _p5_p95(view.y)
            min_amp = 0.2 * span
        if sw.amplitude < min_amp or sw.component < self.k_noise * sw.noise or sw.trend > sw.amplitude:
            return []
        start = view.pos(skip + sw.start)
        per_pts = sw.period * max(1.0, (len(s) / max(n, 1)))
        centre = float(np.median(y))
        lo, hi = view.value(centre - sw.amplitude / 2), view.value(centre + sw.amplitude / 2)
        unit = "epochs" if s.x == "epoch" else "logged points"
        lr_osc = _lr_oscillates(ctx)
        msg = (
            f"{s.label} oscillates with a period of about {per_pts:.3g} {unit} ({fmt(lo)} <-> {fmt(hi)}) "
            f"from {s.where(start)} with no {'downward' if s.higher_is_better is False else 'clear'} trend"
        )
        ev = {
            "period_points": per_pts,
            "amplitude": sw.amplitude,
            "value_low": lo,
            "value_high": hi,
            "p_value": sw.p_value,
            "zscore": sw.amplitude / max(sw.noise, 1e-12),
            "lr_oscillates": lr_osc,
        }
        severity = "info" if lr_osc else self.severity
        return [self.finding(ctx, s, start=start, end=len(s) - 1, message=msg, evidence=ev, severity=severity)]


def _lr_oscillates(ctx: RunView) -> bool:
    """True when the learning rate goes up at least twice (cyclic schedules, warm restarts)."""
    lr = ctx.lr
    if lr is None:
        return False
    _, v = lr.finite_view()
    if v.size < 4:
        return False
    d = np.diff(v)
    ups = np.flatnonzero(d > 0.2 * np.abs(v[:-1]))
    if ups.size == 0:
        return False
    runs = 1 + int(np.sum(np.diff(ups) > 1))
    return runs >= 2
