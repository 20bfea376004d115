"""divergence: a loss leaves its trend and rises for good."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules.base import Rule, fmt, fmt_ratio
from trainlog_doctor.run import RunView, Series
from trainlog_doctor.rules.stats import View, hinge_break, make_view, odd_window, suffix_share


@dataclass(frozen=True)
class Rise:
    """A sustained rise found in a view: indices into the view, levels in analysis space."""

    best_at: int  # where the best (lowest smoothed) level before the rise is
    onset: int  # where the rise starts
    sustained_from: int  # from here on the series stays high
    best: float
    after: float  # median level of the tail
    zscore: float


def find_sustained_rise(
    view: View,
    *,
    min_rise: float,
    k_noise: float = 6.0,
    tail_frac: float = 0.12,
    hold_share: float = 0.85,
    min_points: int = 8,
) -> Rise | None:
    """A rise of the level that lasts until the end of the series, or None.

    The tail level (median of the last ``tail_frac`` of points) must exceed the lowest smoothed level
    before the tail by at least ``min_rise`` (analysis units) and ``k_noise`` standard errors (the
    robust point noise scaled for a median of the tail and a smoothed point); from
    some point on, ``hold_share`` of the smoothed points must stay above the half-way level. The onset
    is where the smoothed series leaves the best level (snapped to a change point when one is near).
    """
    y, s = view.y, view.smooth
    n = y.size
    if n < min_points:
        return None
    tail_n = max(3, int(math.ceil(tail_frac * n)))
    if n - tail_n < 2:
        return None
    after = float(np.median(y[-tail_n:]))
    head = s[: n - tail_n]
    m = int(np.argmin(head))
    best = float(head[m])
    rise = after - best
    noise = max(view.noise, 1e-12 * max(abs(best), abs(after), 1e-300))
    # both levels are medians: the tail of tail_n points and a smoothed point of about w points
    w = odd_window(n)
    z = rise / (noise * math.sqrt(1.0 / tail_n + 1.0 / w))
    if rise < min_rise or z < k_noise:
        return None
    half = best + 0.5 * rise
    share = suffix_share(s > half)
    cand = np.flatnonzero((np.arange(n) > m) & (s > half) & (share >= hold_share))
    if cand.size == 0:
        return None
    j = int(cand[0])
    r0 = max(0, m - max(3, (n - m) // 2))
    lo = max(r0 + 1, m - max(2, (j - m) // 2))
    onset = r0 + hinge_break(y[r0:], lo - r0, j - r0)
    onset = int(min(max(onset, 0), j))
    return Rise(best_at=m, onset=onset, sustained_from=j, best=best, after=after, zscore=float(z))


def rise_threshold(view: View, factor: float) -> float:
    """Minimum rise in analysis units for a ``factor``-fold increase (log views) or its linear analogue."""
    if view.logged:
        return math.log10(factor)
    y = view.y
    if y.size and (y > 0).all():
        return float(np.min(view.smooth)) * (factor - 1.0) if np.min(view.smooth) > 0 else 0.0
    span = float(np.max(view.smooth) - np.min(view.smooth)) if y.size else 0.0
    return 0.5 * span


def rise_ratio(view: View, rise: Rise) -> float | None:
    before, after = view.value(rise.best), view.value(rise.after)
    return after / before if before > 0 and after > 0 else None


def improving_over(train: Series, step_from: int, step_to: int, *, min_rel: float = 0.02) -> bool | None:
    """Whether ``train`` kept falling between two steps (None when it has too few points there)."""
    idx, v = train.finite_view()
    if v.size < 4:
        return None
    st = train.steps[idx]
    before = v[(st >= step_from - (st[-1] - st[0]) * 0.05) & (st <= step_from)]
    after_mask = st >= step_to - (step_to - step_from) * 0.2
    after = v[after_mask & (st <= step_to)]
    if before.size == 0:
        before = v[: max(1, v.size // 10)]
    if after.size == 0:
        return None
    b, a = float(np.median(before)), float(np.median(after))
    scale = max(abs(b), 1e-12)
    return (b - a) / scale > min_rel


class LossDivergence(Rule):
    """A loss rose for good: it left its best level and never came back (explosion, blow-up, runaway).

    What it detects: in a training loss (and in a validation/test loss when its training loss
    diverges too, is not logged, or is not improving), the level at the end of the run (median of the last 12% of points) is at
    least ``min_ratio`` (1.5) times the best smoothed level reached before (a log-scale comparison for
    positive losses; for losses that can be negative, half the series' range; ``min_ratio_eval``
    for an evaluation loss whose training loss does not diverge), at least ``k_noise`` (5)
    standard errors above it (robust point noise scaled for the two medians compared), and the series stays above the half-way level
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
        found: dict[tuple[str, str], tuple[Series, View, Rise]] = {}
        evals: list[tuple[Series, View]] = []
        for s in ctx.series.values():
            if s.role != "loss" or s.split == "other" or s.n_finite < self.min_points:
                continue
            if any(t in ("kl", "kld") for t in s.metric.lower().replace("/", "_").split("_")):
                continue
            view = make_view(s)
            if s.split != "train":
                evals.append((s, view))
                continue
            rise = find_sustained_rise(
                view, min_rise=rise_threshold(view, self.min_ratio), k_noise=self.k_noise, min_points=self.min_points
            )
            if rise is not None:
                found[s.key] = (s, view, rise)
        out: list[Finding] = []
        primary = ctx.primary_loss
        for s, view, rise in found.values():
            severity = self.severity
            if primary is not None and s.key != primary.key and primary.key not in found:
                severity = "info"
            out.append(self._finding(ctx, s, view, rise, severity))
        for s, view in evals:
            train = ctx.counterpart(s, "train") or primary
            train_diverged = train is not None and train.key in found
            factor = self.min_ratio if train_diverged else self.min_ratio_eval
            rise = find_sustained_rise(
                view, min_rise=rise_threshold(view, factor), k_noise=self.k_noise, min_points=self.min_points
            )
            if rise is None:
                continue
            if train is not None and train.n_finite >= 4 and not train_diverged:
                onset_step = s.step_at(view.pos(rise.onset))
                if improving_over(train, onset_step, int(s.steps[-1])) is not False:
                    continue  # training still improves (overfitting) or cannot tell
            out.append(self._finding(ctx, s, view, rise, self.severity if train_diverged else "warning"))
        return out

    def _finding(self, ctx: RunView, s: Series, view: View, rise: Rise, severity: str) -> Finding:
        start = view.pos(rise.onset)
        before, after = view.value(rise.best), view.value(rise.after)
        ratio = rise_ratio(view, rise)
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
            "best_step": s.step_at(view.pos(rise.best_at)),
        }
        return self.finding(ctx, s, start=start, end=len(s) - 1, message=msg, evidence=ev, severity=severity)  # type: ignore[arg-type]
