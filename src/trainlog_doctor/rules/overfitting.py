"""overfitting: validation worsens while training improves (the gap grows)."""

from __future__ import annotations

import math

import numpy as np

from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules.analysis import analysis_of
from trainlog_doctor.rules.base import Rule, fmt, fmt_ratio
from trainlog_doctor.rules.collapse import _ACC_RE
from trainlog_doctor.run import RunView, Series, is_per_class_metric
from trainlog_doctor.signals.levels import fits_both
from trainlog_doctor.signals.short import find_short_turn, interval_medians
from trainlog_doctor.signals.trends import find_turn, levels_around, positive_ratio


class ValidationLossOverfitting(Rule):
    """Validation loss turned up while training loss kept falling.

    What it detects: the smoothed validation loss reaches its best point before the last 20% of the
    run, and the median of the last 20% is at least ``min_ratio`` (1.08) times that best level (positive
    losses; otherwise 10% of the range) and ``k_noise`` sigmas above it, while the training loss of
    the same metric (or the main training loss) fell by at least ``min_train_gain`` (relative) from
    that point to the end. The onset is the best validation point, where a person would point.

    Why it matters: the model memorizes the training set; every epoch after the turn makes the
    validation result worse. Early stopping, more data or augmentation, regularization help.

    Does not count: noisy validation without a lasting upward turn, a validation loss that rises
    while the training loss rises too (``divergence``) or stays flat, runs with fewer than 8
    validation points, a rise below 1.3x while the split's accuracy holds its best (within one
    point, at 0.9 or more) and ends within 5 points of the training accuracy (both sets fitted: the
    loss grows with confidence on the few examples still wrong).

    Example: case "memorizes_the_training_set" in tests/rule_cases/OF001.toml: val_loss 0.9, 0.6, 0.5
    ... 0.44 at epoch 8, then up to 0.8 by epoch 29 while the training loss falls to 0.05 -> "Validation
    loss rose 1.7x after epoch 8 (0.451 -> 0.761) while training loss kept falling (0.422 -> 0.0661)".
    """

    code = "OF001"
    kind = "overfitting"
    severity = "warning"
    name = "val-loss-overfitting"

    min_ratio: float = 1.08
    k_noise: float = 4.0
    min_train_gain: float = 0.05
    min_points: int = 8

    def check(self, ctx: RunView) -> list[Finding]:
        out: list[Finding] = []
        for s in ctx.series.values():
            if s.role != "loss" or s.split not in ("val", "test") or s.n_finite < self.min_points:
                continue
            if s.split == "test" and ctx.get(s.metric, "val") is not None:
                continue
            train = ctx.counterpart(s, "train") or ctx.primary_loss
            if train is None or train.n_finite < 4:
                continue
            f = self._pair(ctx, s, train)
            if f is not None:
                out.append(f)
        return out

    def _pair(self, ctx: RunView, val: Series, train: Series) -> Finding | None:
        an = analysis_of(val, log=val.positive)
        if an.logged:
            min_move = math.log10(self.min_ratio)
        else:
            min_move = _SPAN_SHARE * float(np.max(an.smooth) - np.min(an.smooth))
        turn = find_turn(an, min_move=min_move, k_noise=self.k_noise)
        if turn is None:
            return None
        start = an.pos(turn.best_at)
        tr = _train_levels(train, val.step_at(start), int(val.steps[-1]))
        if tr is None:
            return None
        t_before, t_after = tr
        gain = (t_before - t_after) / max(abs(t_before), 1e-12)
        if gain < self.min_train_gain:
            return None
        before, after = an.value(turn.best), an.value(turn.after)
        ratio = positive_ratio(before, after)
        if ratio is not None and ratio < _BENIGN_RATIO and accuracy_fits_both(ctx, val.split, val.step_at(start)):
            return None
        change = f"rose {fmt_ratio(ratio)}" if ratio is not None else f"rose by {fmt(after - before)}"
        msg = (
            f"{val.label} {change} after {val.where(start)} ({fmt(before)} -> {fmt(after)}) while "
            f"{train.label.lower()} kept falling ({fmt(t_before)} -> {fmt(t_after)})"
        )
        ev = {
            "value_before": before,
            "value_after": after,
            "ratio": ratio,
            "zscore": turn.zscore,
            "train_improving": True,
            "train_before": t_before,
            "train_after": t_after,
            "gap_before": before - t_before,
            "gap_after": after - t_after,
        }
        return self.finding(ctx, val, start=start, end=len(val) - 1, message=msg, evidence=ev)


class ValidationScoreOverfitting(Rule):
    """A validation score fell from its best while the training score kept rising (no validation loss logged).

    What it detects: for score-like metrics (accuracy, F1, mAP ...) with a training counterpart,
    the validation score's last-20% median is at least ``min_drop`` (0.03 of a fraction, 3 points of
    a percentage) and ``k_noise`` sigmas below its best smoothed level, while the training score
    rose by at least ``min_train_gain`` (same units) after that point. Only used when the run logs
    no validation loss for the same split, which OF001 judges better.

    Why it matters: the same memorization as OF001, seen through the metric people report.

    Example: case "val_accuracy_peaks_then_falls" in tests/rule_cases/OF002.toml: no validation loss
    logged: val_accuracy peaks at 0.86 at epoch 12 and ends at 0.79 while training accuracy climbs to
    0.99 -> "Validation accuracy fell from 0.863 to 0.801 after epoch 13 while training accuracy kept
    rising (0.88 -> 0.988)".
    """

    code = "OF002"
    kind = "overfitting"
    severity = "warning"
    name = "val-score-overfitting"

    min_drop: float = 0.03
    k_noise: float = 4.0
    min_train_gain: float = 0.02
    min_points: int = 8

    def check(self, ctx: RunView) -> list[Finding]:
        out: list[Finding] = []
        for s in ctx.series.values():
            if s.role != "score" or s.split != "val" or s.n_finite < self.min_points or is_per_class_metric(s.metric):
                continue
            if ctx.by_role("loss", ("val",)):
                continue
            train = ctx.counterpart(s, "train")
            if train is None or train.n_finite < 4:
                continue
            scale = 100.0 if s.percent else 1.0
            an = analysis_of(s, log=False)
            turn = find_turn(an, min_move=self.min_drop * scale, k_noise=self.k_noise, lower_is_better=False)
            if turn is None:
                continue
            start = an.pos(turn.best_at)
            tr = _train_levels(train, s.step_at(start), int(s.steps[-1]))
            if tr is None:
                continue
            t_before, t_after = tr
            t_scale = 100.0 if train.percent else 1.0
            if (t_after - t_before) < self.min_train_gain * t_scale:
                continue
            msg = (
                f"{s.label} fell from {fmt(turn.best)} to {fmt(turn.after)} after {s.where(start)} while "
                f"{train.label.lower()} kept rising ({fmt(t_before)} -> {fmt(t_after)})"
            )
            ev = {
                "value_before": turn.best,
                "value_after": turn.after,
                "zscore": turn.zscore,
                "train_improving": True,
                "train_before": t_before,
                "train_after": t_after,
            }
            out.append(self.finding(ctx, s, start=start, end=len(s) - 1, message=msg, evidence=ev))
        return out


class ShortRunOverfitting(Rule):
    """On a short run, the validation loss rose clearly after its minimum while the training loss kept falling.

    What it detects: a validation (or test) loss of ``min_points`` (5) to ``max_points`` (15) finite
    points, too few for OF001's noise estimate, whose minimum lies after the first point with at
    least ``min_after`` (2) points after it; at least 75% of those points and the last one are
    ``step_rise`` (2%) above the minimum and the median of the last three (at most) is ``min_rise``
    (6%) above it and above the largest step up the validation loss took before its minimum (its
    noise), while the training loss of the same metric (or the main training loss), taken at
    the validation points, falls by ``min_train_gain`` (5%) after the minimum (its median there
    against its value at the minimum, so one bad last epoch does not hide the fall) and the
    validation/training gap widens. The onset is the validation minimum.

    Why it matters: the model memorizes the training set within a few epochs (a small data set, a
    large model, no regularization); the best weights are those of the minimum.

    Does not count: a single uptick at the last point, a minimum at the first point (validation
    never improved), a validation loss that rises with the training loss, runs of more than
    ``max_points`` validation points (OF001 judges those), non-positive losses, a rise below 1.3x
    with both sets fitted (as in OF001: validation accuracy holding at 0.9 or more, within 5 points
    of the training accuracy).

    Example: case "seven_epochs_memorize" in tests/rule_cases/OF003.toml: 7 epochs: val_loss 1.9,
    1.2, 0.95 at epoch 2, then 1.02, 1.05, 1.13, 1.2 while the training loss falls 1.8 -> 0.35 ->
    "Validation loss rose 1.2x after epoch 2 (0.95 -> 1.13) while training loss kept falling (1.12 -> 0.545)".
    """

    code = "OF003"
    kind = "overfitting"
    severity = "warning"
    name = "short-run-overfitting"

    min_rise: float = 0.06
    step_rise: float = 0.02
    min_after: int = 2
    min_train_gain: float = 0.05
    min_points: int = 5
    max_points: int = 15

    def check(self, ctx: RunView) -> list[Finding]:
        out: list[Finding] = []
        for s in ctx.series.values():
            if s.role != "loss" or s.split not in ("val", "test") or not self.min_points <= s.n_finite <= self.max_points:
                continue
            if s.split == "test" and ctx.get(s.metric, "val") is not None:
                continue
            train = ctx.counterpart(s, "train") or ctx.primary_loss
            if train is None or train.n_finite < 2:
                continue
            idx, v = s.finite_view()
            t_idx, t_v = train.finite_view()
            t_at = interval_medians(train.steps[t_idx], t_v, s.steps[idx])
            turn = find_short_turn(
                v, t_at, min_rise=self.min_rise, step_rise=self.step_rise, min_after=self.min_after,
                min_train_gain=self.min_train_gain, min_points=self.min_points,
            )  # fmt: skip
            if turn is None:
                continue
            start = int(idx[turn.best_at])
            if turn.after / turn.best < _BENIGN_RATIO and accuracy_fits_both(ctx, s.split, int(s.steps[start])):
                continue
            msg = (
                f"{s.label} rose {fmt_ratio(turn.after / turn.best)} after {s.where(start)} ({fmt(turn.best)} -> "
                f"{fmt(turn.after)}) while {train.label.lower()} kept falling ({fmt(turn.train_at_best)} -> "
                f"{fmt(turn.train_after)})"
            )
            ev = {
                "value_before": turn.best,
                "value_after": turn.after,
                "ratio": turn.after / turn.best,
                "train_improving": True,
                "train_before": turn.train_at_best,
                "train_after": turn.train_after,
                "gap_before": turn.gap_before,
                "gap_after": turn.gap_after,
                "points": int(v.size),
            }
            out.append(self.finding(ctx, s, start=start, end=len(s) - 1, message=msg, evidence=ev))
        return out


#: A validation loss rise below 1.3x is not overfitting when the split's accuracy holds within one point
#: of its best, at 0.9 or more, and ends within 5 points of the training accuracy (the model fits both
#: sets; the loss grows with confidence on the few examples still wrong).
_BENIGN_RATIO = 1.3
_HOLD_DROP = 0.01
_FIT_LEVEL = 0.9
_MAX_GAP = 0.05


def accuracy_fits_both(ctx: RunView, split: str, step_from: int) -> bool:
    """True when the split's accuracy and the training accuracy satisfy :func:`fits_both` from ``step_from``."""
    for s in ctx.series.values():
        if s.split != split or s.role != "score" or not _ACC_RE.search(s.metric) or is_per_class_metric(s.metric):
            continue
        train = ctx.counterpart(s, "train")
        if train is None or train.n_finite < 2:
            return False
        idx, v = s.finite_view()
        t_idx, t = train.finite_view()
        start = int(np.searchsorted(s.steps[idx], step_from, side="left"))
        return fits_both(
            v / (100.0 if s.percent else 1.0), t / (100.0 if train.percent else 1.0), start,
            max_drop=_HOLD_DROP, max_gap=_MAX_GAP, min_level=_FIT_LEVEL,
        )  # fmt: skip
    return False


#: Without a log scale, a validation loss must rise by this share of its smoothed range.
_SPAN_SHARE = 0.1


def _train_levels(train: Series, step_from: int, step_to: int) -> tuple[float, float] | None:
    """The training series' levels around ``step_from`` and near ``step_to`` (:func:`levels_around`)."""
    idx, v = train.finite_view()
    return levels_around(train.steps[idx], v, step_from, step_to)
