"""spike: a short jump that recovers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules.base import Rule, SeriesRule, fmt, fmt_ratio
from trainlog_doctor.run import RunView, Series
from trainlog_doctor.rules.stats import make_view
from trainlog_doctor.signals.transforms import robust_noise, rolling_median


@dataclass(frozen=True)
class Jump:
    """One transient excursion: positions into the analysed values, levels in analysis units."""

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
) -> list[Jump]:
    """Upward excursions of ``y`` that last at most ``max_len`` points and come back down.

    A point is part of an excursion when it is more than ``k`` local noise sigmas and ``min_height``
    above a rolling median whose window is wider than ``max_len`` (or, with ``k_big``, more than
    ``k_big`` sigmas and ``big_height`` above it: large jumps need fewer sigmas). An excursion counts
    when the level after it is back within ``recover`` of its height above the level before it. The
    first ``skip_head`` points are ignored (a first point above the rest is the start, not a spike),
    as are excursions that touch the last point (nothing shows that they recover).
    """
    n = y.size
    if n < 7:
        return []
    w = 2 * max_len + 3
    w = max(w, 7)
    if w % 2 == 0:
        w += 1
    w = min(w, n if n % 2 else n - 1)
    base = rolling_median(y, w)
    resid = y - base
    # Local noise: MAD of residuals in a wide window, floored by the global point-to-point noise.
    glob = robust_noise(y)
    absr = np.abs(resid)
    local = 1.4826 * rolling_median(absr, min(max(4 * w + 1, 21), n if n % 2 else n - 1))
    sigma = np.maximum(local, 0.5 * glob)
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


class LossSpike(SeriesRule):
    """A loss jumped for a few points and came back (transient instability).

    What it detects: in a loss-like series, a group of at most a fifth of the points (at least
    ``min_len_cap`` = 3, at most ``max_len`` = 5 points: a jump that takes a few epochs to decay
    back still counts) that sits above the rolling median around it by
    ``big_ratio`` (2x) and ``k_big`` (7) local robust sigmas, or by ``min_ratio`` (1.25x) and ``k``
    (15) sigmas, after which the loss returns to within 35% of the jump height of where it was.
    Real loss noise is heavy-tailed: 1.3x blips of 7-10 sigmas are common in healthy runs, so
    small jumps must stand out much more than large ones. Positive losses are compared on a log
    scale, so a jump from 1e-6 to 1e-3 counts while the usual wobble of a loss tail near 1e-9 does
    not; a jump of one or two rounding steps of a rounded log (0.0001 -> 0.0002) never counts.

    Why it matters: a bad batch, a too-high learning rate, an Adam epsilon blow-up or a data-loader
    glitch; a spike that recovers is often harmless, but repeated spikes precede divergence.

    Does not count: the first point, the very last point (recovery unknown), level shifts that
    last longer than ``max_len`` points (see ``divergence``), and jumps within 3 points after the
    learning rate was raised by 20% or more (a warm restart or a resumed warm-up; reported as
    ``info``). At most ``max_per_series`` (the largest) are reported per series.

    Example: case "bad_batch_spike" in tests/rule_cases/SP001.toml: training loss settled near 0.30 for
    40 epochs, one bad batch lifts epoch 41 to 2.1, back to 0.31 at epoch 42 -> "Training loss spiked 7x
    at epoch 41 (0.298 -> 2.1) and recovered to 0.3".
    """

    code = "SP001"
    kind = "spike"
    severity = "warning"
    name = "loss-spike"

    k: float = 15.0
    k_big: float = 7.0
    min_ratio: float = 1.25
    big_ratio: float = 2.0
    max_len: int = 5
    min_len_cap: int = 3
    max_per_series: int = 3
    min_points: int = 8

    def applies_to(self, s: Series) -> bool:
        return s.role == "loss" and s.split != "other" and s.n_finite >= self.min_points

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        view = make_view(s, log=True if s.positive else False, max_points=None)
        n = len(view)
        max_len = int(min(self.max_len, max(self.min_len_cap, n // 5)))
        if view.logged:
            min_h, big_h = math.log10(self.min_ratio), math.log10(self.big_ratio)
        else:
            span = float(np.percentile(view.y, 95) - np.percentile(view.y, 5)) if n else 0.0
            min_h, big_h = 0.25 * span, None
        jumps = find_jumps(
            view.y, k=self.k, min_height=min_h, max_len=max_len, k_big=self.k_big if big_h else None, big_height=big_h
        )
        jumps = [j for j in jumps if not _quantum_step(s, view.value(j.base), view.value(j.peak))]
        total = len(jumps)
        jumps = sorted(jumps, key=lambda j: -j.zscore)[: self.max_per_series]
        out = []
        for jmp in sorted(jumps, key=lambda j: j.start):
            start, end = view.pos(jmp.start), view.pos(jmp.end)
            before, peak, after = view.value(jmp.base), view.value(jmp.peak), view.value(jmp.after)
            r = peak / before if before > 0 and peak > 0 else None
            what = f"spiked {fmt_ratio(r)}" if r is not None else f"jumped by {fmt(peak - before)}"
            length = end - start + 1
            lasting = "" if length == 1 else f" for {length} points"
            msg = f"{s.label} {what} at {s.where(view.pos(jmp.peak_at))}{lasting} ({fmt(before)} -> {fmt(peak)}) and recovered to {fmt(after)}"
            ev = {
                "value_before": before,
                "value_peak": peak,
                "value_after": after,
                "ratio": r,
                "zscore": jmp.zscore,
                "spikes_in_series": total,
            }
            severity = "warning"
            if ctx.lr is not None:
                lr_up = _lr_raised_near(ctx, s, start)
                ev["lr_raised_near_onset"] = lr_up
                if lr_up:
                    severity = "info"
            out.append(self.finding(ctx, s, start=start, end=end, message=msg, evidence=ev, severity=severity))  # type: ignore[arg-type]
        return out


class ScoreDrop(Rule):
    """A score (accuracy, mAP, F1 ...) dropped for a few points and came back.

    What it detects: a dip of at most ``max_len`` points (and 5% of the run) that is more than
    ``k`` (9) local robust sigmas below the rolling median and at least ``min_drop`` of the score's
    scale (0.1 for fractions, 10 points for percentages), followed by a return to within 35% of the
    dip depth.

    Why it matters: the same transient instabilities that spike a loss show up as a sudden accuracy
    drop; the model briefly forgot and re-learned.

    Does not count: the first point, the last point, drops that do not recover (``collapse``
    or ``divergence``) and per-class metrics.

    Example: case "val_accuracy_dip" in tests/rule_cases/SP002.toml: validation accuracy near 0.91, 0.42
    at epoch 30, 0.90 again at epoch 31 -> "Validation accuracy dropped from 0.908 to 0.42 at epoch 30
    and recovered to 0.91".
    """

    code = "SP002"
    kind = "spike"
    severity = "warning"
    name = "score-drop"

    k: float = 9.0
    min_drop: float = 0.1
    max_len: int = 5
    min_len_cap: int = 3
    max_len_frac: float = 0.05
    max_per_series: int = 3
    min_points: int = 8

    def check(self, ctx: RunView) -> list[Finding]:
        from trainlog_doctor.run import is_per_class_metric

        out: list[Finding] = []
        for s in ctx.series.values():
            if s.role != "score" or s.split == "other" or s.n_finite < self.min_points or is_per_class_metric(s.metric):
                continue
            idx, v = s.finite_view()
            n = v.size
            scale = 100.0 if s.percent else 1.0
            max_len = int(min(self.max_len, max(self.min_len_cap, math.floor(self.max_len_frac * n))))
            jumps = find_jumps(-v, k=self.k, min_height=self.min_drop * scale, max_len=max_len)
            total = len(jumps)
            jumps = sorted(jumps, key=lambda j: -j.zscore)[: self.max_per_series]
            for jmp in sorted(jumps, key=lambda j: j.start):
                start, end = int(idx[jmp.start]), int(idx[jmp.end])
                before, low, after = -jmp.base, -jmp.peak, -jmp.after
                msg = (
                    f"{s.label} dropped from {fmt(before)} to {fmt(low)} at {s.where(int(idx[jmp.peak_at]))} "
                    f"and recovered to {fmt(after)}"
                )
                ev = {
                    "value_before": before,
                    "value_peak": low,
                    "value_after": after,
                    "zscore": jmp.zscore,
                    "spikes_in_series": total,
                }
                out.append(self.finding(ctx, s, start=start, end=end, message=msg, evidence=ev))
        return out


def _lr_raised_near(ctx: RunView, s: Series, pos: int, points: int = 3) -> bool:
    """True when the learning rate went up (by more than 20%) within ``points`` points of ``s`` before ``pos``."""
    lr = ctx.lr
    if lr is None:
        return False
    idx, vals = lr.finite_view()
    if vals.size < 2:
        return False
    steps = lr.steps[idx]
    lo_pos = max(0, pos - points)
    step_lo, step_hi = int(s.steps[lo_pos]), int(s.steps[pos])
    sel = np.flatnonzero((steps >= step_lo) & (steps <= step_hi))
    if sel.size == 0:
        return False
    first = max(int(sel[0]) - 1, 0)
    seg = vals[first : int(sel[-1]) + 1]
    if seg.size < 2:
        return False
    return bool(np.max(seg[1:] / np.maximum(np.minimum.accumulate(seg)[:-1], 1e-30)) > 1.2)


def _quantum_step(s: Series, before: float, peak: float) -> bool:
    """True when a jump is at most two rounding steps of a series written with few decimals.

    The step is the smallest gap between distinct finite values; it only matters when it is a sizeable
    part of the values themselves (HF logs round the loss to 4 decimals: 0.0001 -> 0.0002 is one step).
    """
    _, v = s.finite_view()
    u = np.unique(v)
    if u.size < 2:
        return False
    q = float(np.min(np.diff(u)))
    return q > 0 and (peak - before) <= 2.0 * q + 1e-12 * abs(peak)
