"""stagnation: no meaningful progress from the start (the model never learns)."""

from __future__ import annotations

import math

import numpy as np

from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules.analysis import analysis_of, shape_share
from trainlog_doctor.rules.base import Rule, fmt
from trainlog_doctor.rules.collapse import _ACC_RE, _CE_RE
from trainlog_doctor.run import RunView, Series, is_per_class_metric
from trainlog_doctor.signals.levels import ln_classes, still_falling
from trainlog_doctor.signals.short import stays_in_band
from trainlog_doctor.signals.trends import measure_progress


class NoLearning(Rule):
    """The main training loss never made meaningful progress (the model does not learn).

    What it detects: the run's main training loss (or, when no training loss is logged, the main
    validation loss, then the training accuracy; the validation loss is also reported when the
    training loss stagnates and it does too) has a late level (median of the last 20% of points)
    that is less than ``min_rel`` (5%) better than its early level (median of points 2..10%, so a
    first-epoch drop is allowed) and never got that much better anywhere in between, and the segment
    classifier (change points + shape labels) does not label more than ``max_falling_share`` (half)
    of the run as ``falling`` (no veto for a loss that creeps down at ``steady_share``, 75%, of its
    steps by less than ``min_veto_gain``, a quarter, of the 5%: a loss falling steadily by 1% over the
    whole run, as with a learning rate 100x too small, has not learned). Positive losses are
    compared on a log scale when they span decades.

    Why it matters: a model whose loss does not move from the start is not training: a learning
    rate far too small (or far too large), frozen weights, a detached graph, labels that do not match
    the inputs, a wrong loss for the output layer.

    Does not count: series shorter than ``min_points`` (8), runs that improved and then stopped
    (``plateau``), runs that improved and then got worse (``divergence``), losses pinned exactly at
    the chance level ln(C) (reported as ``collapse``).

    Example: case "loss_never_moves" in tests/rule_cases/ST001.toml: lr 1e-7: the loss reads 2.31, 2.31,
    2.30, 2.30 ... for 30 epochs -> "Training loss made no progress over 30 epochs (2.3 early, 2.3 at
    the end; best 2.3)".
    """

    code = "ST001"
    kind = "stagnation"
    severity = "warning"
    name = "no-learning"

    min_rel: float = 0.05
    max_falling_share: float = 0.5
    #: a steady descent vetoes only when it gained at least this share of the progress threshold
    min_veto_gain: float = 0.25
    #: ... and falls at (at least) this share of its steps: a steady creep, not noise around a level
    steady_share: float = 0.75
    min_points: int = 8

    def check(self, ctx: RunView) -> list[Finding]:
        target = self.target(ctx)
        if target is None:
            return []
        s, lower = target
        first = self._series(ctx, s, lower)
        if first is None:
            return []
        out = [first]
        if s.split == "train" and lower:
            val = ctx.primary_loss_for("val")
            if val is not None:
                second = self._series(ctx, val, True)
                if second is not None:
                    out.append(second)
        return out

    def _series(self, ctx: RunView, s: Series, lower: bool) -> Finding | None:
        if s.n_finite < self.min_points:
            return None
        an = analysis_of(s, log=None if lower else False)
        scale = (100.0 if s.percent else 1.0) if not lower else None
        min_rel = self.min_rel if lower else _MIN_SCORE_GAIN
        pr = measure_progress(an, min_rel=min_rel, lower_is_better=lower, scale=scale)
        if pr.gain >= pr.threshold or pr.best_gain >= _BEST_GAIN_FACTOR * pr.threshold:
            return None
        # the shape classifier must agree that the run (after its first point) is not a descent, unless the
        # loss crept down steadily by too little to matter (under ``min_veto_gain`` of the threshold)
        tiny_fall = 0.0 <= pr.gain < self.min_veto_gain * pr.threshold and still_falling(
            s.finite_view()[1], min_drop=0.0, min_share=self.steady_share
        )
        if lower and not tiny_fall and shape_share(s, 1, ("falling",)) > self.max_falling_share:
            return None
        early, late, best = an.value(pr.early), an.value(pr.late), an.value(pr.best)
        n = len(s)
        span = f"{n} epochs" if s.x == "epoch" else f"{n} logged points"
        msg = f"{s.label} made no progress over {span} ({fmt(early)} early, {fmt(late)} at the end; best {fmt(best)})"
        ev = {"value_before": early, "value_after": late, "best": best, "points": n}
        return self.finding(ctx, s, start=0, end=n - 1, message=msg, evidence=ev)

    @staticmethod
    def target(ctx: RunView) -> tuple[Series, bool] | None:
        """The series that should show learning, and whether lower is better for it."""
        if ctx.primary_loss is not None:
            return ctx.primary_loss, True
        val = ctx.primary_loss_for("val")
        if val is not None:
            return val, True
        scores = [
            s for s in ctx.by_role("score", ("train",)) if not is_per_class_metric(s.metric) and s.n_finite
        ]
        for name in ("accuracy", "acc", "categorical_accuracy", "binary_accuracy", "acc1", "top1"):
            for s in scores:
                if s.metric.lower() == name:
                    return s, False
        return None


#: A training accuracy (the fallback target) must gain this much (of a fraction) to count as learning.
_MIN_SCORE_GAIN = 0.02
#: Progress anywhere in the run: the best level beating the early one by this many thresholds.
_BEST_GAIN_FACTOR = 2


class LossAtChance(Rule):
    """A cross-entropy loss sits at ln(C) for a few classes all run, noisy but flat: the model never learns.

    What it detects: a cross-entropy-like loss (``loss``, ``ce``, ``nll``, ``cls_loss`` ...; train,
    val or test) of at least ``min_points`` (5) finite points of which, after the first,
    ``min_share`` (90%) lie within ``ln_tol`` (3%) of ln(C) and the last fifth is no more than 2%
    below the first fifth, for C from 2 to ``max_classes`` (5): the logged class count or, without
    one, the C the level points to. Many classes are left to ST001 (a loss near ln(10) that does not
    move is judged as no learning) and larger ln(C) values are too close together to guess. When the same
    split logs an accuracy, it must agree: its 5th-95th percentile spread at most
    ``max_acc_spread`` (0.06) and its level within 0.15 of 1/C or above it (the majority class's
    share). Unlike CL002 (an exactly pinned loss, ``collapse``) the loss may wobble: per-batch losses
    of a model that has not learned vary with each batch's label mix. ST001 misses such runs when the
    noise hides the absence of progress; the level ln(C) tells. The onset is the start of the run.

    Why it matters: a loss at ln(C) means the model puts equal probability on every class, or
    answers with the class prior; with an accuracy at the majority share it predicts one class. Labels
    that do not reach the loss, a frozen or dead network, a learning rate far too small or too large,
    inputs that carry no signal (unnormalized, shuffled against labels).

    Does not count: a loss that falls below the band for more than 10% of the run, an accuracy that
    moves, C above ``max_classes`` without a logged class count, losses that never were near ln(C),
    a run that learned first and fell back (CL004).

    Example: case "binary_never_learns" in tests/rule_cases/ST002.toml: a binary classifier, 30
    epochs: loss 0.693 +- 0.004, val_loss 0.692 +- 0.002, accuracy 0.51-0.53, val_accuracy 0.51-0.54 ->
    "Training loss stays at 0.692 ~ ln(2) for the whole run (30 points): the model never left chance
    for 2 classes".
    """

    code = "ST002"
    kind = "stagnation"
    severity = "warning"
    name = "loss-at-chance"
    #: the chance level of a loss is ln(C) itself: a loss scaled by 10 is no longer at chance
    invariances = frozenset({"step_shift"})

    ln_tol: float = 0.03
    min_share: float = 0.9
    max_classes: int = 5
    max_acc_spread: float = 0.06
    min_points: int = 5

    def check(self, ctx: RunView) -> list[Finding]:
        out: list[Finding] = []
        for s in ctx.series.values():
            if s.role != "loss" or s.split not in ("train", "val", "test") or s.n_finite < self.min_points:
                continue
            if not _CE_RE.search(s.metric):
                continue
            f = self._series(ctx, s)
            if f is not None:
                out.append(f)
        return out

    def _series(self, ctx: RunView, s: Series) -> Finding | None:
        _, v = s.finite_view()
        level = float(np.median(v[1:]))
        c = ctx.n_classes
        if c is None or abs(level - math.log(c)) > self.ln_tol * math.log(c):
            c = ln_classes(level, max_classes=self.max_classes, rel_tol=self.ln_tol)
        if c is None or c > self.max_classes:
            return None
        stay = stays_in_band(v, math.log(c), rel_tol=self.ln_tol, min_share=self.min_share, min_points=self.min_points)
        if stay is None:
            return None
        acc = self._accuracy(ctx, s.split)
        if acc is not None:
            a = acc.finite_view()[1] / (100.0 if acc.percent else 1.0)
            if a.size >= 3:
                spread = float(np.percentile(a[1:], 95) - np.percentile(a[1:], 5))
                if spread > self.max_acc_spread or float(np.median(a[1:])) < 1.0 / c - _ACC_BELOW_CHANCE:
                    return None
        n = len(s)
        msg = (
            f"{s.label} stays at {fmt(level)} ~ ln({c}) for the whole run ({s.n_finite} points): "
            f"the model never left chance for {c} classes"
        )
        ev = {
            "value_before": stay.early,
            "value_after": stay.late,
            "ln_classes": math.log(c),
            "n_classes": c,
            "chance_level": 1.0 / c,
            "share_at_chance": stay.share,
            "points": s.n_finite,
        }
        return self.finding(ctx, s, start=0, end=n - 1, message=msg, evidence=ev)

    @staticmethod
    def _accuracy(ctx: RunView, split: str) -> Series | None:
        for s in sorted(ctx.series.values(), key=lambda s: s.metric):
            if s.split == split and s.role == "score" and _ACC_RE.search(s.metric) and not is_per_class_metric(s.metric):
                return s
        return None


#: An accuracy this far below 1/C does not fit a model at chance (ST002).
_ACC_BELOW_CHANCE = 0.15
