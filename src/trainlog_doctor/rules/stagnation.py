"""stagnation: no meaningful progress from the start (the model never learns)."""

from __future__ import annotations

from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules.analysis import analysis_of, shape_share
from trainlog_doctor.rules.base import Rule, fmt
from trainlog_doctor.run import RunView, Series, is_per_class_metric
from trainlog_doctor.signals.trends import measure_progress


class NoLearning(Rule):
    """The main training loss never made meaningful progress (the model does not learn).

    What it detects: the run's main training loss (or, when no training loss is logged, the main
    validation loss, then the training accuracy; the validation loss is also reported when the
    training loss stagnates and it does too) has a late level (median of the last 20% of points)
    that is less than ``min_rel`` (5%) better than its early level (median of points 2..10%, so a
    first-epoch drop is allowed) and never got that much better anywhere in between, and the segment
    classifier (change points + shape labels) does not label more than ``max_falling_share`` (half)
    of the run as ``falling``. Positive losses are compared on a log scale when they span decades.

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
        # the shape classifier must agree that the run (after its first point) is not a descent
        if lower and shape_share(s, 1, ("falling",)) > self.max_falling_share:
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
