"""plateau: progress stops after an earlier phase of progress."""

from __future__ import annotations

import math

import numpy as np

from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules.analysis import analysis_of, shape_share
from trainlog_doctor.rules.base import Rule, SeriesRule, fmt
from trainlog_doctor.rules.collapse import frozen_after_learning, lr_frozen
from trainlog_doctor.run import RunView, Series
from trainlog_doctor.signals.analysis import AnalysisSeries
from trainlog_doctor.signals.levels import pinned_tail
from trainlog_doctor.signals.short import relative_gain
from trainlog_doctor.signals.transforms import median
from trainlog_doctor.signals.trends import find_stall


class LossPlateau(Rule):
    """The main loss stopped improving abruptly and stayed flat for a long stretch until the end.

    What it detects: after a phase of progress, the main training loss (and the main validation loss
    when the training loss plateaus too or is not logged; a validation loss that levels off while the
    training loss keeps improving is the usual generalization gap) gets within ``flat_tol`` (5%) of
    the progress made before of its final level and stays there, with no trend of its own, for at
    least ``min_frac`` (35%) of the run, and the stop is abrupt: the slope just before it is at least
    ``min_abrupt`` (0.42) times the average slope of the descent (about 1 for a kink; 0.1-0.3 for an
    exponential or power-law approach, up to 0.4 for a cosine schedule's slow end); a flat stretch
    that covers ``long_frac`` (60%) of the run or more and improves by less than ``max_long_gain``
    (3%) over its length needs only ``min_abrupt_long`` (0.1): a loss that fell early and then sat at
    one level for most of the run stopped, however smoothly it arrived there. The onset is
    where the curve arrives within 1% of the progress (or 3 noise sigmas) of its final level. As a
    last check the segment classifier (change points + shape labels) must not label more than
    ``max_trend_share`` (half) of the flat stretch as ``falling`` or ``rising``. Positive losses are
    judged on a log scale when they span decades, so a
    loss that keeps halving near 1e-6 is still making progress.

    Why it matters: the optimizer got stuck (a saddle point, a learning rate too high to descend
    further or too low to leave, dead units) and the remaining epochs were wasted; a learning-rate
    drop, a scheduler or a larger model usually gets it moving again.

    Does not count: curves still improving at the end, smooth convergence, flat stretches that end with renewed progress
    (after an lr step), the last few epochs of early stopping, runs with no earlier progress
    (``stagnation``), a validation loss that levels off while training still improves.

    Example: case "stuck_after_steady_descent" in tests/rule_cases/PL001.toml: the loss falls steadily
    from 2.3 to 0.9 in 20 epochs, then sits at 0.90 +- 0.01 for the next 40 -> "Training loss stopped
    improving at epoch 20 and stayed near 0.898 for the last 40 epochs (from 2.33 at the start)".
    """

    code = "PL001"
    kind = "plateau"
    severity = "warning"
    name = "loss-plateau"

    min_frac: float = 0.35
    min_len: int = 6
    flat_tol: float = 0.05
    min_abrupt: float = 0.42
    long_frac: float = 0.6
    min_abrupt_long: float = 0.1
    max_long_gain: float = 0.03
    max_trend_share: float = 0.5
    min_points: int = 12

    def check(self, ctx: RunView) -> list[Finding]:
        out: list[Finding] = []
        train = ctx.primary_loss
        if train is not None and train.n_finite >= self.min_points:
            f = self._series(ctx, train)
            if f is not None:
                out.append(f)
        if train is None or out:
            val = ctx.primary_loss_for("val")
            if val is not None and val.n_finite >= self.min_points:
                f = self._series(ctx, val)
                if f is not None:
                    out.append(f)
        return out

    def _series(self, ctx: RunView, s: Series) -> Finding | None:
        an = analysis_of(s)
        if an.logged:
            min_progress = math.log10(_MIN_PROGRESS_RATIO)
        elif s.positive:
            min_progress = _MIN_PROGRESS_SHARE * float(np.max(an.smooth[: max(1, len(an) // 20)]))
        else:
            min_progress = _MIN_PROGRESS_SHARE * abs(float(np.median(an.y)))
        stall = find_stall(
            an, min_frac=self.min_frac, min_len=self.min_len, flat_tol=self.flat_tol, min_progress=min_progress
        )
        if stall is None:
            return None
        long_stall = stall.length >= self.long_frac * len(an) and self._level_holds(an, stall.start)
        if stall.abruptness < (self.min_abrupt_long if long_stall else self.min_abrupt):
            return None
        # the shape classifier must not see the stretch as still falling (or rising)
        if shape_share(s, stall.start, ("falling", "rising")) > self.max_trend_share:
            return None
        start = an.pos(stall.start)
        early, level = an.value(stall.early), an.value(stall.level)
        n_after = len(s) - start
        unit = "epochs" if s.x == "epoch" else "logged points"
        msg = (
            f"{s.label} stopped improving at {s.where(start)} and stayed near {fmt(level)} for the last "
            f"{n_after} {unit} (from {fmt(early)} at the start)"
        )
        ev = {
            "value_before": early,
            "value_after": level,
            "abruptness": stall.abruptness,
            "plateau_points": n_after,
            "lr_reduced_during": _lr_reduced_after(ctx, s.step_at(start)),
        }
        return self.finding(ctx, s, start=start, end=len(s) - 1, message=msg, evidence=ev)


    def _level_holds(self, an: AnalysisSeries, start: int) -> bool:
        """Whether the flat stretch from ``start`` improves by less than ``max_long_gain`` (relative,
        median of its last fifth against its first fifth): a loss still creeping down is converging."""
        gain = relative_gain(np.asarray([an.value(x) for x in an.y[start:]]))
        return gain is not None and gain < self.max_long_gain


class FrozenTraining(SeriesRule):
    """A training loss stopped changing at all after the model had learned: training is over early.

    What it detects: a training loss (the main one or a component), after a clear fall (below 60% of its first value, or
    the training accuracy 30% of the way to 1), reads the same value to ``rel_tol`` (0.1%, robust
    sigma at most ``rel_sigma``, 0.015%) over its last ``min_frac`` (20%, at least ``min_len`` points;
    isolated single points off the value, at most ``max_off`` = 5% of the stretch, allowed) and kept
    the gain (at most 30% given back, reached smoothly, no break to a new level). Minibatch
    training moves the loss by far more than that from epoch to epoch; a loss identical to four
    digits means the weights no longer change. The onset is where the value gets fixed.

    Why it matters: the learning rate was cut to ~0 far too early (a scheduler stepped per batch
    instead of per epoch, a ReduceLROnPlateau with a hair trigger) or the updates vanish (dead units,
    a frozen parameter group): every epoch after the onset is wasted at a loss the model could beat.

    Does not count: a loss pinned while the logged learning rate is at most 1% of its peak in the last
    stretch of a schedule (``CL002`` also stays silent there), a loss that breaks to a new pinned level
    (``collapse``), a loss that never fell (``stagnation``), losses at (or rounded to) 0, a loss that
    still creeps down by more than 0.1%.

    Example: case "frozen_after_an_early_cut" in tests/rule_cases/PL002.toml: no lr logged; the loss
    falls 2.31 -> 1.146 by epoch 3 and reads 1.14551 to the end (epoch 17) -> "Training loss has not
    changed (to 0.1%) since epoch 3 (15 points) after falling from 2.31 to 1.15: the updates no longer change
    the model".
    """

    code = "PL002"
    kind = "plateau"
    severity = "warning"
    name = "training-frozen"

    min_frac: float = 0.2
    min_len: int = 5
    rel_tol: float = 1e-3
    rel_sigma: float = 1.5e-4
    #: isolated single points off the level allowed, as a share of the stretch (one odd epoch)
    max_off: float = 0.05
    min_points: int = 8

    def applies_to(self, s: Series) -> bool:
        return s.role == "loss" and s.split == "train" and s.n_finite >= self.min_points

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        idx, v = s.finite_view()
        n = v.size
        min_len = max(self.min_len, int(math.ceil(self.min_frac * n)))
        start = pinned_tail(
            v, rel_tol=self.rel_tol, abs_tol=0.0, min_len=min_len, rel_sigma=self.rel_sigma, max_off=self.max_off
        )
        if start is None or start == 0:
            return []
        level = median(v[start:])
        step0 = int(s.steps[idx[start]])
        if abs(level) <= 1e-6 or lr_frozen(ctx, step0) or not frozen_after_learning(ctx, "train", step0, loss=s):
            return []
        pos0 = int(idx[start])
        msg = (
            f"{s.label} has not changed (to 0.1%) since {s.where(pos0)} ({n - start} points) after falling from "
            f"{fmt(float(v[0]))} to {fmt(level)}: the updates no longer change the model"
        )
        ev = {
            "value_before": float(v[0]),
            "value_after": level,
            "plateau_points": n - start,
            "lr_reduced_during": _lr_reduced_after(ctx, step0),
        }
        return [self.finding(ctx, s, start=pos0, end=len(s) - 1, message=msg, evidence=ev)]


#: The progress a plateau must follow: a 1.25x fall on a log scale, else a tenth of the early level
#: (positive losses) or of the median level.
_MIN_PROGRESS_RATIO = 1.25
_MIN_PROGRESS_SHARE = 0.1


def _lr_reduced_after(ctx: RunView, step: int) -> bool | None:
    """Whether the learning rate was lowered (by 1.5x or more) at or after ``step``; None without an lr series."""
    if ctx.lr is None:
        return None
    return any(d >= step for d in ctx.lr_drop_steps())
