"""divergence: a loss leaves its trend and rises for good."""

from __future__ import annotations

from trainlog_doctor.model.report import Finding, Severity
from trainlog_doctor.rules.analysis import analysis_of
from trainlog_doctor.rules.base import Rule, fmt, fmt_ratio
from trainlog_doctor.run import RunView, Series
from trainlog_doctor.signals.analysis import AnalysisSeries
from trainlog_doctor.signals.short import find_final_jump
from trainlog_doctor.signals.trends import (
    Rise,
    find_sustained_rise,
    improves_between,
    positive_ratio,
    rise_threshold,
)


class LossDivergence(Rule):
    """A loss rose for good: it left its best level and never came back (explosion, blow-up, runaway).

    What it detects: in a training loss (and in a validation/test loss when its training loss
    diverges too, is not logged, or is not improving), the level at the end of the run (median of the last 12% of points) is at
    least ``min_ratio`` (1.5) times the best smoothed level reached before (a log-scale comparison for
    positive losses; for losses that can be negative, half the series' range; ``min_ratio_eval``
    for an evaluation loss whose training loss does not diverge), at least ``k_noise`` (5)
    standard errors above it (robust point noise scaled for the two medians compared), and the
    series stays above the half-way level
    from some point to the end (85% of points). The onset is where the smoothed loss leaves its best
    level, snapped to a change point when one is close.

    Why it matters: the optimizer left the basin it was in, typically from too high a learning rate,
    an lr warm restart that was too strong, exploding gradients or bad data late in the run.

    Does not count: a short jump that recovers (``spike``), validation loss rising while training
    loss still falls (``overfitting``), loss drops at lr steps, warm-up bumps that come back down,
    regularizer terms named ``kl``/``kld`` (they grow by design) and series shorter than 8 points.
    A rise in a loss component is reported as ``info`` when the run's main loss does not rise.

    Example: case "lr_too_high_explodes" in tests/rule_cases/DV001.toml: lr 0.5: training loss falls
    from 2.3 to 0.38 by epoch 13, jumps to 3.9 at epoch 14 and stays there; validation follows ->
    "Training loss rose 9.9x after epoch 14 and never came back (0.395 -> 3.9 at the end)".
    """

    code = "DV001"
    kind = "divergence"
    severity = "error"
    name = "loss-divergence"

    min_ratio: float = 1.5
    min_ratio_eval: float = 2.0
    k_noise: float = 5.0
    min_points: int = 8

    def check(self, ctx: RunView) -> list[Finding]:
        found: dict[tuple[str, str], tuple[Series, AnalysisSeries, Rise]] = {}
        evals: list[tuple[Series, AnalysisSeries]] = []
        for s in ctx.series.values():
            if s.role != "loss" or s.split == "other" or s.n_finite < self.min_points:
                continue
            if any(t in ("kl", "kld") for t in s.metric.lower().replace("/", "_").split("_")):
                continue
            an = analysis_of(s)
            if s.split != "train":
                evals.append((s, an))
                continue
            rise = find_sustained_rise(
                an, min_rise=rise_threshold(an, self.min_ratio), k_noise=self.k_noise, min_points=self.min_points
            )
            if rise is not None:
                found[s.key] = (s, an, rise)
        out: list[Finding] = []
        primary = ctx.primary_loss
        for s, an, rise in found.values():
            severity: Severity = self.severity
            if primary is not None and s.key != primary.key and primary.key not in found:
                severity = "info"
            out.append(self._finding(ctx, s, an, rise, severity))
        for s, an in evals:
            train = ctx.counterpart(s, "train") or primary
            train_diverged = train is not None and train.key in found
            factor = self.min_ratio if train_diverged else self.min_ratio_eval
            rise = find_sustained_rise(
                an, min_rise=rise_threshold(an, factor), k_noise=self.k_noise, min_points=self.min_points
            )
            if rise is None:
                continue
            if train is not None and train.n_finite >= 4 and not train_diverged:
                onset_step = s.step_at(an.pos(rise.onset))
                t_idx, t_values = train.finite_view()
                if improves_between(train.steps[t_idx], t_values, onset_step, int(s.steps[-1])) is not False:
                    continue  # training still improves (overfitting) or cannot tell
            out.append(self._finding(ctx, s, an, rise, self.severity if train_diverged else "warning"))
        return out

    def _finding(self, ctx: RunView, s: Series, an: AnalysisSeries, rise: Rise, severity: Severity) -> Finding:
        start = an.pos(rise.onset)
        before, after = an.value(rise.best), an.value(rise.after)
        ratio = positive_ratio(before, after)
        change = f"rose {fmt_ratio(ratio)}" if ratio is not None else f"rose by {fmt(after - before)}"
        msg = (
            f"{s.label} {change} after {s.where(start)} and never came back "
            f"({fmt(before)} -> {fmt(after)} at the end)"
        )
        ev = {
            "value_before": before,
            "value_after": after,
            "ratio": ratio,
            "zscore": rise.zscore,
            "best_step": s.step_at(an.pos(rise.best_at)),
        }
        return self.finding(ctx, s, start=start, end=len(s) - 1, message=msg, evidence=ev, severity=severity)


class FinalEpochJump(Rule):
    """The training loss jumped at the very last logged point, and the run ended there.

    What it detects: the last point of the main training loss (positive, at least ``min_points`` (5)
    finite points) is at least ``min_ratio`` (2x) the point before it, ``k_noise`` (8) robust noise
    sigmas of the earlier points above it (log scale) and above each of the three points before. Nothing after
    it shows a recovery, so it is reported as the start of a ``divergence``, as a warning: the
    weights saved at the end are those of the jump.

    Why it matters: the last epoch left the trend of all the ones before (a learning rate too high
    for the end of training, a bad batch, an overflow); the final checkpoint is worse than the one
    before it, and a longer run would have shown whether the loss comes back.

    Does not count: rises that build up over several points (DV001), a last point within 2x of the
    ones before, a training loss that is not the run's main one, losses that can be negative.

    Example: case "last_epoch_doubles" in tests/rule_cases/DV002.toml: 7 epochs of a regression: loss
    3.9, 3.0, 2.8, 2.5, 2.2, 1.9, then 4.0 at the last epoch -> "Training loss jumped 2.1x at the last
    point, epoch 6 (1.9 -> 4); the run ended there, so nothing shows whether it recovers".
    """

    code = "DV002"
    kind = "divergence"
    severity = "warning"
    name = "final-epoch-jump"

    min_ratio: float = 2.0
    k_noise: float = 8.0
    min_points: int = 5

    def check(self, ctx: RunView) -> list[Finding]:
        s = ctx.primary_loss
        if s is None or s.n_finite < self.min_points:
            return []
        idx, v = s.finite_view()
        if int(idx[-1]) != len(s) - 1:
            return []  # the series ends in non-finite values: NF001 tells that story
        jump = find_final_jump(v, min_ratio=self.min_ratio, k_noise=self.k_noise, min_points=self.min_points)
        if jump is None:
            return []
        pos = len(s) - 1
        msg = (
            f"{s.label} jumped {fmt_ratio(jump.ratio)} at the last point, {s.where(pos)} ({fmt(jump.before)} -> "
            f"{fmt(jump.last)}); the run ended there, so nothing shows whether it recovers"
        )
        ev = {"value_before": jump.before, "value_after": jump.last, "ratio": jump.ratio, "zscore": jump.zscore}
        return [self.finding(ctx, s, start=pos, end=pos, message=msg, evidence=ev)]
