"""divergence: a loss leaves its trend and rises for good."""

from __future__ import annotations

from trainlog_doctor.model.report import Finding, Severity
from trainlog_doctor.rules.analysis import analysis_of
from trainlog_doctor.rules.base import Rule, fmt, fmt_ratio
from trainlog_doctor.run import RunView, Series
from trainlog_doctor.signals.analysis import AnalysisSeries
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
