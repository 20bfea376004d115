"""oscillation: persistent swings larger than the noise, with no trend."""

from __future__ import annotations

import math

import numpy as np

from trainlog_doctor.model.report import Finding, Severity
from trainlog_doctor.rules.analysis import analysis_of, lr_points
from trainlog_doctor.rules.base import SeriesRule, fmt
from trainlog_doctor.run import RunView, Series, is_per_class_metric
from trainlog_doctor.signals.excursions import burst_share
from trainlog_doctor.signals.lr import rises_repeatedly
from trainlog_doctor.signals.periodic import epoch_period, find_oscillation, phase_share


class PersistentOscillation(SeriesRule):
    """A metric swings up and down, periodically and by more than its noise, without a trend.

    What it detects: in a loss or score series (after the first 10% of points), a periodic component
    with at least 3 cycles (3.5 for periods of 10 points or more: autocorrelated noise fakes three
    slow cycles); candidate periods come from the periodogram (a quadratic trend removed
    first). Around a moving average two periods wide (which follows trends but cancels the swing),
    from the onset (the first one-period window whose swing reaches half of the swing seen in
    the second half of the series, once that baseline has settled) to the end, the component must
    be the strongest one, significant
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
        an = analysis_of(s, log=s.role == "loss" and s.positive, max_points=self.max_points)
        min_amp: float | None = None  # a share of the series' range for losses that can be negative
        if an.logged:
            min_amp = math.log10(self.min_ratio)
        elif s.role == "score":
            min_amp = self.min_score_swing * (100.0 if s.percent else 1.0)
        sw = find_oscillation(an.y, alpha=self.alpha, k_noise=self.k_noise, min_amplitude=min_amp)
        if sw is None:
            return []
        start = an.pos(sw.start)
        per_pts = sw.period * max(1.0, (len(s) / max(len(an), 1)))
        lo, hi = an.value(sw.level - sw.amplitude / 2), an.value(sw.level + sw.amplitude / 2)
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
        severity: Severity = "info" if lr_osc else self.severity
        return [self.finding(ctx, s, start=start, end=len(s) - 1, message=msg, evidence=ev, severity=severity)]


def _lr_oscillates(ctx: RunView) -> bool:
    """True when the learning rate goes up at least twice (cyclic schedules, warm restarts)."""
    lr = lr_points(ctx)
    return lr is not None and rises_repeatedly(lr[1], min_rise=0.2, min_runs=2)


class BatchNoise(SeriesRule):
    """A per-step training loss is dominated by bursts far above its own running level: batches too small.

    What it detects: a training loss logged per step (not per epoch) with at least ``min_points`` (50)
    positive points where, after the first ``skip_frac`` (a third) of the run, at least ``min_share``
    (12%) of the points are more than ``factor`` (3x) their centered running median over ``window`` (9)
    points. The loss of a batch of 32 samples or more rarely triples its running level (on the
    real-writer tuning runs, healthy and otherwise faulty runs have 0-7% such points); the loss of a
    batch of one or two samples is the loss of one or two examples, and a fitted model's misclassified
    examples make frequent bursts.

    Why it matters: with tiny batches the gradient is mostly noise: training is slow and erratic, the
    learning rate must be small, and batch normalization statistics are meaningless. A larger batch
    (or gradient accumulation) with the learning rate scaled to it smooths the descent.

    Does not count: losses logged per epoch or averaged over many steps (the averaging hides the
    noise), a few isolated spikes (``spike``), series with a non-positive running level, noise that
    stays within 3x of the running level however large.

    Example: case "batch_of_two" in tests/rule_cases/OS002.toml: SGD with a batch of 2, 20 logged points
    an epoch: the per-step loss falls from 2 to ~0.02 while one logged step in five, at random, reads
    0.2-1.5 -> "Training loss_step is dominated by noise: 19% of the logged points after step 40
    (epoch 2) are over 3x their running level (batches too small for a stable gradient)".
    """

    code = "OS002"
    kind = "oscillation"
    severity = "warning"
    name = "batch-noise"

    min_points: int = 50
    skip_frac: float = 1 / 3
    window: int = 9
    factor: float = 3.0
    min_share: float = 0.12

    def applies_to(self, s: Series) -> bool:
        return s.role == "loss" and s.split == "train" and s.x != "epoch" and s.n_finite >= self.min_points

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        idx, v = s.finite_view()
        if float(np.min(v)) < 0:
            return []
        share = burst_share(v, window=self.window, factor=self.factor, skip_frac=self.skip_frac)
        if share is None or share < self.min_share:
            return []
        pos0 = int(idx[int(self.skip_frac * v.size)])
        msg = (
            f"{s.label} is dominated by noise: {share:.0%} of the logged points after {s.where(pos0)} are over "
            f"{fmt(self.factor)}x their running level (batches too small for a stable gradient)"
        )
        ev = {"burst_share": share, "factor": self.factor, "points": int(v.size)}
        return [self.finding(ctx, s, start=pos0, end=len(s) - 1, message=msg, evidence=ev)]


class EpochPeriodicSwings(SeriesRule):
    """A per-step training loss repeats the same pattern every epoch: the batches come in a fixed order.

    What it detects: a training loss logged several times an epoch (``min_period``, 3, or more points,
    the same number every epoch) over at least 4 epochs after the first, whose log-deviation from
    its running level (a rolling median one epoch wide, so the trend is taken out) is explained for at
    least ``min_share`` (50%) by the position within the epoch (the mean deviation at each position,
    every epoch). Shuffled batches make that share about 1/(points per epoch); batches sorted by class
    repeat the same rise and fall at the same point of every epoch (on the real-writer tuning runs 0.78
    for sorted batches, 0.23 for a batch of two). The points per epoch come from the series' epoch column,
    or from the step spacing of an epoch-level series of the run.

    Why it matters: unshuffled (class-sorted) data gives every stretch of an epoch a biased gradient:
    the model drifts toward the classes it sees, then away, and ends each epoch biased toward the last
    classes. Shuffle the training set every epoch (``shuffle=True``, a ``DistributedSampler`` with
    ``set_epoch``).

    Does not count: losses logged once an epoch, noise without a repeating pattern, fewer than 4 epochs
    after the first, epochs of different lengths.

    Example: case "class_sorted_batches" in tests/rule_cases/OS003.toml: 10 epochs of 9 logged steps
    each, batches sorted by class: the loss swings by +-40% around its trend with the same shape in every
    epoch while the trend falls 2.3 -> 0.6 -> "Training loss_step repeats the same pattern every
    epoch (9 logged points): 83% of its swings around the trend follow the position within the epoch
    (batches in a fixed order)".
    """

    code = "OS003"
    kind = "oscillation"
    severity = "warning"
    name = "epoch-periodic-swings"

    min_period: int = 3
    min_share: float = 0.5
    min_points: int = 20

    def applies_to(self, s: Series) -> bool:
        return s.role == "loss" and s.split == "train" and s.x != "epoch" and s.n_finite >= self.min_points

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        idx, v = s.finite_view()
        if idx.size != len(s):
            return []
        period = _points_per_epoch(ctx, s)
        if period is None or period < self.min_period:
            return []
        share = phase_share(v, period, skip=period)
        if share is None or share < self.min_share:
            return []
        msg = (
            f"{s.label} repeats the same pattern every epoch ({period} logged points): {share:.0%} of its swings "
            f"around the trend follow the position within the epoch (batches in a fixed order)"
        )
        ev = {"phase_share": share, "points_per_epoch": period, "points": int(v.size)}
        return [self.finding(ctx, s, start=period, end=len(s) - 1, message=msg, evidence=ev)]


def _points_per_epoch(ctx: RunView, s: Series) -> int | None:
    """Points of ``s`` per epoch: from its epoch column, else from the step spacing of an epoch-level
    series of the run over the (constant) step spacing of ``s``."""
    if s.epochs is not None and s.epochs.size == len(s):
        p = epoch_period(np.asarray(s.epochs, dtype=float))
        if p is not None:
            return p
    d = np.diff(s.steps)
    if d.size == 0 or int(d.min()) != int(d.max()) or int(d[0]) <= 0:
        return None
    for e in ctx.series.values():
        if e.x == "epoch" and e.split == "train" and len(e) >= 3:
            de = np.diff(e.steps)
            if int(de.min()) != int(de.max()):
                continue
            ratio = float(de[0]) / float(d[0])
            if ratio >= 3 and abs(ratio - round(ratio)) < 1e-6:
                return int(round(ratio))
    return None
