"""collapse: the model gives one answer (accuracy at chance or one class, loss pinned at ln(C))."""

from __future__ import annotations

import math
import re

import numpy as np

from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules.analysis import lr_points
from trainlog_doctor.rules.base import Rule, SeriesRule, fmt
from trainlog_doctor.run import RunView, Series, is_per_class_metric
from trainlog_doctor.signals.levels import (
    band_entry,
    chance_classes,
    classes_from_levels,
    entered_smoothly,
    flat_between,
    gain_kept,
    ln_classes,
    pinned_tail,
    still_falling,
    tail_level,
)
from trainlog_doctor.signals.lr import frozen_from
from trainlog_doctor.signals.transforms import median

_ACC_RE = re.compile(
    r"(^|[/_])(acc|accuracy|categorical_accuracy|binary_accuracy|sparse_categorical_accuracy|acc1|top1|top_1|"
    r"acc_?top-?1|accuracy_?top-?1|cls_accuracy)$",
    re.I,
)
_CE_RE = re.compile(r"(^|[/_])(loss|ce|nll|xent|cross_entropy|ce_loss|nll_loss|cls_loss|loss_cls)$", re.I)
_PRF_RE = re.compile(r"(^|[/_])(f1|f1_score|f1_metric|fscore|precision|recall|sensitivity)$", re.I)
MAX_GUESSED_CLASSES = 20


class AccuracyAtChance(SeriesRule):
    """An accuracy is pinned at one value: the model answers with one class (or at chance).

    What it detects: an accuracy-like series (``acc``, ``accuracy``, ``categorical_accuracy``,
    ``acc1`` ...) whose last ``min_frac`` (20%, at least ``min_len`` points) stays within 0.1% of
    its level (robust sigma at most 0.015%), confirmed by at least one of: the
    value is a chance level 1/C within 2% (C = the logged class count, or 2..20), or the loss of the same split
    is pinned over that stretch too (within 0.2%), or that loss's median over the stretch is within
    ``ln_tol`` (3%) of ln(C) for C = round(1/value) up to ``max_ln_classes`` (5; a binary classifier
    stuck at the majority share 0.53 with its loss at ln 2 = 0.693), or it has not moved since the
    first point (and is at least 0.02). Isolated single epochs off the value (at most 5% of the stretch) are allowed.
    A model that always predicts one class scores exactly the share of that class, every
    epoch. The onset is where the value gets pinned.

    Why it matters: constant outputs mean dead units, a saturated output layer, a too-high learning
    rate that pushed everything to one class, class imbalance, or labels that do not reach the loss.

    Does not count: a pinned value while the learning rate is at most 1% of its peak (a frozen model),
    a model frozen at its best after learning (the split's loss fell below 60% of its first value or
    its accuracy went 30% of the way to 1, and the pinned level keeps 70% of that gain) unless the
    value is a chance level or the loss sits at ln(C), a validation accuracy pinned while the training
    accuracy still rises (the model is still changing, slowly), accuracies that keep moving, a high
    accuracy that is stable because the model converged on a small validation set while its loss still
    moves, a constant accuracy near 0 without a pinned loss (a regression model compiled with ``accuracy``), per-class metrics.

    Example: case "binary_accuracy_stuck_at_half" in tests/rule_cases/CL001.toml: a binary classifier
    that answers one class: val_accuracy is 0.4995 at every one of 140 epochs while val_loss climbs ->
    "Validation accuracy is stuck at 0.499 (chance for 2 classes) for the whole run (140 points)".
    """

    code = "CL001"
    kind = "collapse"
    severity = "error"
    name = "accuracy-at-chance"
    #: one confirmation is the loss at ln(C): a loss scaled by 10 no longer confirms it
    invariances = frozenset({"step_shift"})

    min_frac: float = 0.2
    min_len: int = 5
    rel_tol: float = 1e-3
    rel_sigma: float = 1.5e-4
    chance_tol: float = 0.02
    ln_tol: float = 0.03
    max_ln_classes: int = 5
    min_points: int = 5

    def applies_to(self, s: Series) -> bool:
        return (
            s.role == "score" and s.split != "other" and bool(_ACC_RE.search(s.metric))
            and not is_per_class_metric(s.metric) and s.n_finite >= self.min_points
        )  # fmt: skip

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        idx, v = s.finite_view()
        scale = 100.0 if s.percent else 1.0
        n = v.size
        min_len = max(self.min_len, int(math.ceil(self.min_frac * n)))
        start = pinned_tail(
            v, rel_tol=self.rel_tol, abs_tol=1e-6 * scale, min_len=min_len, rel_sigma=self.rel_sigma, max_off=0.05
        )
        if start is None:
            return []
        level = median(v[start:]) / scale
        if level > 0.995 or level <= 0.0:
            return []
        c_meta = ctx.n_classes
        chance = None
        if c_meta is not None and abs(level * c_meta - 1.0) <= self.chance_tol:
            chance = c_meta
        if chance is None:
            chance = chance_classes(level, max_classes=MAX_GUESSED_CLASSES, tol=self.chance_tol)
        loss = ctx.primary_loss_for(s.split) if s.split != "train" else ctx.primary_loss
        loss_flat = loss is not None and _flat_between(loss, int(s.steps[idx[start]]), int(s.steps[idx[-1]]))
        never_moved = start == 0 and level >= 0.02
        loss_c = _loss_at_ln_classes(loss, level, int(s.steps[idx[start]]), max_classes=self.max_ln_classes, rel_tol=self.ln_tol)
        if chance is None and not loss_flat and not never_moved and loss_c is None:
            return []
        step0 = int(s.steps[idx[start]])
        if lr_frozen(ctx, step0):
            return []
        if loss_c is None and chance is None and frozen_after_learning(ctx, s.split, step0):
            return []
        if loss_c is None and train_error_still_falling(ctx, s, step0):
            return []
        pos0 = int(idx[start])
        why = []
        if chance is not None:
            why.append(f"chance for {chance} classes")
        if loss_flat:
            why.append("the loss is flat too")
        elif loss_c is not None and chance is None:
            why.append(f"the loss sits at ln({loss_c})")
        if never_moved and not why:
            why.append("it never moved")
        span = "the whole run" if start == 0 else f"{s.where(pos0)} to the end"
        msg = f"{s.label} is stuck at {fmt(level * scale)} ({', '.join(why)}) for {span} ({n - start} points)"
        ev = {
            "value_after": level * scale,
            "chance_level": (1.0 / chance) * scale if chance else None,
            "ln_classes": math.log(chance) if chance else None,
            "n_classes": chance,
            "pinned_points": n - start,
            "loss_flat": loss_flat,
        }
        return [self.finding(ctx, s, start=pos0, end=len(s) - 1, message=msg, evidence=ev)]


class PinnedLoss(SeriesRule):
    """A loss is pinned at one value to four digits: the model's output no longer depends on the input.

    What it detects: a loss-like series (any split but ``other``) whose last ``min_frac`` (20%, at
    least ``min_len`` points) stays within ``rel_tol`` (0.1%) of its level with a robust sigma of at
    most ``rel_sigma`` (0.015%), the level being above 1e-6. Training losses of a learning model
    move by far more than that from epoch to epoch (batch
    noise alone does); a model that answers every input the same way gets the same average loss on
    the same data every epoch. When the level is ln(C) for the logged class count C (or C in 2..20)
    the model outputs the uniform distribution (``ln_classes`` in the evidence); otherwise it predicts
    one fixed distribution, often the class prior.

    Why it matters: dead ReLUs, a saturated output layer, vanishing gradients, a learning rate so high
    that the weights blew into a flat region, or a frozen model: training has stopped for good.

    Does not count: losses at (or rounded to) 0, losses that wobble by more than 0.1%, a loss pinned
    for fewer than ``min_len`` points, a loss pinned while the learning rate is at most 1% of its
    peak (a frozen model after the schedule decayed to ~0), a loss not at ln(C) that is frozen at
    (near) its best after the split clearly learned (loss below 60% of its first value or accuracy 30%
    of the way to 1, 70% of the gain kept: an lr cut to ~0 or a fitted training set, not one answer).

    Example: case "val_loss_pinned_at_ln10" in tests/rule_cases/CL002.toml: dead units: val_loss reads
    2.30178, 2.30181, 2.30177 ... for 100 epochs; accuracies at 0.1 -> "Validation loss is pinned at 2.3
    = ln(10) for the whole run (100 points): the model predicts uniformly over 10 classes".
    """

    code = "CL002"
    kind = "collapse"
    severity = "error"
    name = "pinned-loss"

    min_frac: float = 0.2
    min_len: int = 4
    rel_tol: float = 1e-3
    rel_sigma: float = 1.5e-4
    ln_tol: float = 0.015

    def applies_to(self, s: Series) -> bool:
        return s.role == "loss" and s.split != "other" and s.n_finite >= self.min_len

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        idx, v = s.finite_view()
        n = v.size
        min_len = max(self.min_len, int(math.ceil(self.min_frac * n)))
        start = pinned_tail(v, rel_tol=self.rel_tol, abs_tol=0.0, min_len=min_len, rel_sigma=self.rel_sigma)
        if start is None:
            return []
        level = median(v[start:])
        if abs(level) <= 1e-6 or lr_frozen(ctx, int(s.steps[idx[start]])):
            return []
        c = None
        c_meta = ctx.n_classes
        if c_meta is not None and abs(level - math.log(c_meta)) <= self.ln_tol * math.log(c_meta):
            c = c_meta
        if c is None and _CE_RE.search(s.metric):
            c = ln_classes(level, max_classes=MAX_GUESSED_CLASSES, rel_tol=self.ln_tol)
        if c is None and frozen_after_learning(ctx, s.split, int(s.steps[idx[start]]), loss=s):
            return []
        pos0 = int(idx[start])
        span = "the whole run" if start == 0 else f"{s.where(pos0)} to the end"
        if c is not None:
            what = f"= ln({c}) for {span} ({n - start} points): the model predicts uniformly over {c} classes"
        else:
            what = (
                f"(to 0.1%) for {span} ({n - start} points): "
                "the model no longer changes its output (dead units or a constant prediction)"
            )
        msg = f"{s.label} is pinned at {fmt(level)} {what}"
        ev = {
            "value_after": level,
            "ln_classes": math.log(c) if c else None,
            "n_classes": c,
            "chance_level": 1.0 / c if c else None,
            "pinned_points": n - start,
        }
        return [self.finding(ctx, s, start=pos0, end=len(s) - 1, message=msg, evidence=ev)]


class BackToChance(Rule):
    """After learning, the model fell back to chance: accuracy at 1/C, cross-entropy at ln(C), and it stays there.

    What it detects: the last ``tail_frac`` (25%, at least ``min_len`` points) of an accuracy sits
    within ``max(0.02, 0.1/C)`` of the chance level 1/C, or of a cross-entropy loss within
    ``ln_tol`` (3%) of ln(C), without a trend, after the series had clearly left chance earlier
    (accuracy at least 30% of the way from chance to 1, loss below 60% of ln(C)). C is the logged
    class count, else the C on which the final training loss (ln C, 3%) and accuracy (1/C, 30%)
    agree; from a loss alone only C up to 5 is guessed (larger ln(C) values are too close to tell
    apart), from an accuracy alone up to 10. Unlike CL001/CL002 the values may still jitter: per-batch
    losses of a constant predictor vary with the label mix of each batch. The onset is where the series
    enters the chance band for good.

    Why it matters: the network collapsed to a constant (or uniform) output: dead ReLUs after a too
    large step, a learning rate raised by mistake, a numerically broken layer.

    Does not count: runs that never left chance (``stagnation``), accuracy that drops but stays above
    chance, losses that keep rising (``divergence``), series shorter than ``min_points``.

    Example: case "lr_raised_tenfold_collapse" in tests/rule_cases/CL004.toml: mmcls, 10 classes: top-1
    accuracy 97% by epoch 8; the lr is raised 10x at epoch 9 and accuracy falls to 11.4, 9.1, 10.4 ...
    9.4%, the loss back at 2.33 -> "Validation accuracy_top-1 fell to chance (9.71 ~ 1/10) at epoch 9
    and stayed there (best before: 97.3)".
    """

    code = "CL004"
    kind = "collapse"
    severity = "error"
    name = "back-to-chance"
    #: the chance level of a loss is ln(C) itself: a loss scaled by 10 is no longer at chance
    invariances = frozenset({"step_shift"})

    tail_frac: float = 0.25
    min_len: int = 4
    ln_tol: float = 0.03
    min_points: int = 8

    def check(self, ctx: RunView) -> list[Finding]:
        c = self._classes(ctx)
        if c is None:
            return []
        out: list[Finding] = []
        for s in ctx.series.values():
            if s.split == "other" or s.n_finite < self.min_points:
                continue
            if s.role == "score" and _ACC_RE.search(s.metric) and not is_per_class_metric(s.metric):
                f = self._score(ctx, s, c)
            elif s.role == "loss" and _CE_RE.search(s.metric):
                f = self._loss(ctx, s, c)
            else:
                f = None
            if f is not None:
                out.append(f)
        return out

    def _classes(self, ctx: RunView) -> int | None:
        """C from the run's meta, else the C that the final loss (ln C) and accuracy (1/C) agree on.

        With only a loss, C is guessed up to 5 (above that ln(C) values are too close together to
        tell one from another); with only an accuracy, up to 10.
        """
        if ctx.n_classes is not None:
            return ctx.n_classes
        loss_level = acc_level = None
        p = ctx.primary_loss
        if p is not None and p.n_finite >= self.min_points and _CE_RE.search(p.metric):
            loss_level = self._tail_level(p)
        for s in sorted(ctx.series.values(), key=lambda s: (s.split != "val", s.metric)):
            if s.role == "score" and _ACC_RE.search(s.metric) and s.n_finite >= self.min_points:
                acc_level = self._tail_level(s) / (100.0 if s.percent else 1.0)
                break
        return classes_from_levels(loss_level, acc_level, ln_tol=self.ln_tol)

    def _tail_level(self, s: Series) -> float:
        return tail_level(s.finite_view()[1], tail_frac=self.tail_frac, min_len=self.min_len)

    def _score(self, ctx: RunView, s: Series, c: int) -> Finding | None:
        idx, v = s.finite_view()
        scale = 100.0 if s.percent else 1.0
        y = v / scale
        chance = 1.0 / c
        band = max(0.02, 0.1 / c)
        start = band_entry(y, chance - band, chance + band, tail_frac=self.tail_frac, min_len=self.min_len)
        if start is None or float(np.max(y[:start])) < chance + _LEFT_CHANCE * (1.0 - chance):
            return None
        pos0 = int(idx[start])
        after = median(y[start:])
        msg = (
            f"{s.label} fell to chance ({fmt(after * scale)} ~ 1/{c}) at {s.where(pos0)} and stayed there "
            f"(best before: {fmt(float(np.max(y[:start])) * scale)})"
        )
        ev = {
            "value_before": float(np.max(y[:start])) * scale,
            "value_after": after * scale,
            "chance_level": chance * scale,
            "ln_classes": math.log(c),
            "n_classes": c,
        }
        return self.finding(ctx, s, start=pos0, end=len(s) - 1, message=msg, evidence=ev)

    def _loss(self, ctx: RunView, s: Series, c: int) -> Finding | None:
        idx, y = s.finite_view()
        ln_c = math.log(c)
        start = band_entry(y, ln_c * (1 - self.ln_tol), ln_c * (1 + self.ln_tol), tail_frac=self.tail_frac, min_len=self.min_len)
        if start is None or float(np.min(y[:start])) > _LEFT_LN * ln_c:
            return None
        pos0 = int(idx[start])
        after = median(y[start:])
        msg = (
            f"{s.label} went back to {fmt(after)} ~ ln({c}) = {fmt(ln_c)} at {s.where(pos0)} and stayed there "
            f"(it had reached {fmt(float(np.min(y[:start])))}): the model outputs the uniform distribution"
        )
        ev = {
            "value_before": float(np.min(y[:start])),
            "value_after": after,
            "ln_classes": ln_c,
            "n_classes": c,
            "chance_level": 1.0 / c,
        }
        return self.finding(ctx, s, start=pos0, end=len(s) - 1, message=msg, evidence=ev)


class ClassMetricZero(Rule):
    """Precision, recall or F1 is exactly 0 for a long stretch: the model never predicts the positive class.

    What it detects: a precision/recall/F1 series whose last ``min_frac`` (20%, at least ``min_len``
    points) is exactly 0 (below 1e-6) after the score had been positive or from the start.

    Why it matters: with F1 = 0 the classifier answers "negative" for every sample: a collapse to
    the majority class, common with heavy class imbalance and a too-high learning rate.

    Does not count: per-class entries, a score that is 0 only for a few epochs.

    Example: case "f1_zero_whole_run" in tests/rule_cases/CL003.toml: 5% positives: val_f1_metric is 0.0
    at all 9 epochs while the loss settles at the prior's cross-entropy -> "Validation f1_metric is 0
    for the whole run (9 points): the model never predicts the positive class".
    """

    code = "CL003"
    kind = "collapse"
    severity = "warning"
    name = "class-metric-zero"

    min_frac: float = 0.2
    min_len: int = 5

    def check(self, ctx: RunView) -> list[Finding]:
        out: list[Finding] = []
        for s in ctx.series.values():
            if s.role != "score" or s.split == "other" or not _PRF_RE.search(s.metric) or is_per_class_metric(s.metric):
                continue
            idx, v = s.finite_view()
            n = v.size
            if n < self.min_len:
                continue
            min_len = max(self.min_len, int(math.ceil(self.min_frac * n)))
            start = pinned_tail(v, rel_tol=0.0, abs_tol=1e-6, min_len=min_len)
            if start is None or abs(float(v[-1])) > 1e-6:
                continue
            pos0 = int(idx[start])
            span = "the whole run" if start == 0 else f"{s.where(pos0)} to the end"
            msg = f"{s.label} is 0 for {span} ({n - start} points): the model never predicts the positive class"
            ev = {"value_after": 0.0, "pinned_points": n - start}
            out.append(self.finding(ctx, s, start=pos0, end=len(s) - 1, message=msg, evidence=ev))
        return out


#: Before falling back to chance, an accuracy had gone this share of the way from chance to 1,
#: a cross-entropy below this share of ln(C).
_LEFT_CHANCE = 0.3
_LEFT_LN = 0.6


def lr_frozen(ctx: RunView, step_from: int, rel: float = 0.01) -> bool:
    """True when the learning rate from ``step_from`` on is at most ``rel`` of its peak (a frozen model)."""
    lr = lr_points(ctx)
    return lr is not None and frozen_from(*lr, step_from, rel=rel)


#: A loss that fell below 60% of its first value (an accuracy that went 30% of the way from its first
#: value to 1) has learned: a constant predictor cannot beat the prior the run started near.
_LEARNED_LOSS = 0.4
_LEARNED_SCORE = 0.3
#: Frozen at its best: the pinned level gave back at most this share of the improvement (a collapse
#: after learning gives it back, CL004).
_GIVEN_BACK = 0.3
#: ... and came to rest where it was heading: the step into the pinned level is at most 3x the typical
#: move of the steps before (a collapse breaks to a new level at once).
_MAX_JUMP = 3.0
#: Still learning: the training error over the pinned stretch fell by over 0.1% with at least 75% of
#: steps down (a constant output scores the same class share every epoch).
_FALL_REL = 1e-3
_FALL_SHARE = 0.75


def frozen_after_learning(ctx: RunView, split: str, step_from: int, loss: Series | None = None) -> bool:
    """True when the split's primary loss or accuracy improved clearly before ``step_from`` and both
    (where logged) kept that gain and came to rest smoothly: the model stopped changing at (near) its best, after
    an lr cut to ~0 or after fitting its training set. A collapse to one answer gives the loss's gain
    back (the loss jumps to the prior's cross-entropy) even where the accuracy lands on a high class share.
    ``loss`` is the loss to judge (default: the split's primary loss)."""
    if loss is None:
        loss = ctx.primary_loss_for(split) if split != "train" else ctx.primary_loss
    learned = False
    for s, better_up, min_gain in _level_series(ctx, split, loss):
        idx, v = s.finite_view()
        if better_up and s.percent:
            v = v / 100.0
        start = int(np.searchsorted(s.steps[idx], step_from, side="left"))
        gk = gain_kept(v, start, higher_is_better=better_up)
        if gk is None:
            continue
        gain, given_back = gk
        if given_back > _GIVEN_BACK or not entered_smoothly(v, start, max_jump=_MAX_JUMP):
            return False
        learned = learned or gain >= min_gain
    return learned


def _level_series(ctx: RunView, split: str, loss: Series | None) -> list[tuple[Series, bool, float]]:
    """The split's primary loss and first accuracy, each with its direction and the gain that counts as learned."""
    out: list[tuple[Series, bool, float]] = []
    if loss is not None:
        out.append((loss, False, _LEARNED_LOSS))
    for s in ctx.series.values():
        if s.split == split and s.role == "score" and _ACC_RE.search(s.metric) and not is_per_class_metric(s.metric):
            out.append((s, True, _LEARNED_SCORE))
            break
    return out


def train_error_still_falling(ctx: RunView, s: Series, step_from: int) -> bool:
    """True when, while ``s`` (a validation or test accuracy) is pinned, the training accuracy keeps
    rising (its error 1 - acc still falling, :func:`still_falling`): the model still changes, slowly
    (a too-low learning rate), whereas a model that gives one answer scores one class share every epoch."""
    if s.split == "train":
        return False
    for t in ctx.series.values():
        if t.split == "train" and t.role == "score" and _ACC_RE.search(t.metric) and not is_per_class_metric(t.metric):
            idx, v = t.finite_view()
            err = 1.0 - v[t.steps[idx] >= step_from] / (100.0 if t.percent else 1.0)
            return still_falling(err, min_drop=_FALL_REL, min_share=_FALL_SHARE)
    return False


def _loss_at_ln_classes(
    loss: Series | None, acc_level: float, step_from: int, *, max_classes: int, rel_tol: float
) -> int | None:
    """C = round(1 / ``acc_level``) (2..``max_classes``) when the median of ``loss`` from ``step_from``
    on is within ``rel_tol`` of ln(C), else None."""
    if loss is None or not 0.0 < acc_level < 1.0:
        return None
    c = round(1.0 / acc_level)
    if not 2 <= c <= max_classes:
        return None
    idx, v = loss.finite_view()
    seg = v[loss.steps[idx] >= step_from]
    if seg.size < 3:
        return None
    return c if abs(float(np.median(seg)) - math.log(c)) <= rel_tol * math.log(c) else None


def _flat_between(loss: Series, step_from: int, step_to: int) -> bool:
    """True when ``loss`` stays within 0.2% of its median between two steps (:func:`flat_between`)."""
    idx, v = loss.finite_view()
    return flat_between(loss.steps[idx], v, step_from, step_to, rel=2e-3)
