"""spike: a short jump that recovers."""

from __future__ import annotations

import math

import numpy as np

from trainlog_doctor.model.report import Finding, Severity
from trainlog_doctor.rules.analysis import analysis_of, lr_points
from trainlog_doctor.rules.base import Rule, SeriesRule, fmt, fmt_ratio
from trainlog_doctor.run import RunView, Series, is_per_class_metric
from trainlog_doctor.signals.excursions import find_jumps, within_rounding
from trainlog_doctor.signals.lr import raised_within
from trainlog_doctor.signals.short import find_sparse_jumps
from trainlog_doctor.signals.trends import positive_ratio


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
        an = analysis_of(s, log=s.positive, max_points=None)
        n = len(an)
        max_len = int(min(self.max_len, max(self.min_len_cap, n // 5)))
        if an.logged:
            min_h, big_h = math.log10(self.min_ratio), math.log10(self.big_ratio)
        else:
            span = float(np.percentile(an.y, 95) - np.percentile(an.y, 5)) if n else 0.0
            min_h, big_h = _SPAN_SHARE * span, None
        jumps = find_jumps(
            an.y, k=self.k, min_height=min_h, max_len=max_len, k_big=self.k_big if big_h else None, big_height=big_h
        )
        values = s.finite_view()[1]
        jumps = [j for j in jumps if not within_rounding(values, an.value(j.base), an.value(j.peak))]
        total = len(jumps)
        jumps = sorted(jumps, key=lambda j: -j.zscore)[: self.max_per_series]
        out = []
        for jmp in sorted(jumps, key=lambda j: j.start):
            start, end = an.pos(jmp.start), an.pos(jmp.end)
            before, peak, after = an.value(jmp.base), an.value(jmp.peak), an.value(jmp.after)
            r = positive_ratio(before, peak)
            what = f"spiked {fmt_ratio(r)}" if r is not None else f"jumped by {fmt(peak - before)}"
            length = end - start + 1
            lasting = "" if length == 1 else f" for {length} points"
            msg = (
                f"{s.label} {what} at {s.where(an.pos(jmp.peak_at))}{lasting} "
                f"({fmt(before)} -> {fmt(peak)}) and recovered to {fmt(after)}"
            )
            ev = {
                "value_before": before,
                "value_peak": peak,
                "value_after": after,
                "ratio": r,
                "zscore": jmp.zscore,
                "spikes_in_series": total,
            }
            severity: Severity = "warning"
            if ctx.lr is not None:
                lr_up = _lr_raised_near(ctx, s, start)
                ev["lr_raised_near_onset"] = lr_up
                if lr_up:
                    severity = "info"
            out.append(self.finding(ctx, s, start=start, end=end, message=msg, evidence=ev, severity=severity))
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


class SparseEvalJump(SeriesRule):
    """One of a few evaluations jumped far above the evaluations on either side and the next one came back.

    What it detects: in a validation or test loss of ``min_points`` (4) to ``max_points`` (7) finite
    positive points, too few for SP001's rolling noise, an evaluation (neither the first nor the
    last) at least ``min_ratio`` (1.25) times both neighbours, after which the next evaluation is back
    within 35% of the jump height of the one before. With so few evaluations a swing cannot be told to
    be periodic (``oscillation`` needs many cycles): each jump that comes back is a ``spike``, an
    unstable model state at that evaluation (the message counts them when there are several).

    Why it matters: the weights at some evaluations are much worse than at the ones around them: a
    learning rate too high for the stage of training, a bad batch just before the evaluation, or an
    evaluation set so small that it cannot rank checkpoints.

    Does not count: a first or last evaluation that is high (no before or no after), rises that
    last (``overfitting``, ``divergence``), wobbles under 25%, series with 8 points or more (SP001
    judges those).

    Example: case "eval_loss_jumps_twice" in tests/rule_cases/SP003.toml: five evaluations of a
    fine-tune: eval loss 0.84, 1.12, 0.8, 1.3, 0.66 while training loss falls 1.1 -> 0.4 ->
    "Validation loss jumped 1.6x at epoch 3 (evaluation 4 of 5: 0.8 -> 1.3) and came back to 0.66 (2
    such jumps)".
    """

    code = "SP003"
    kind = "spike"
    severity = "warning"
    name = "sparse-eval-jump"

    min_ratio: float = 1.25
    min_points: int = 4
    max_points: int = 7

    def applies_to(self, s: Series) -> bool:
        return s.role == "loss" and s.split in ("val", "test") and self.min_points <= s.n_finite <= self.max_points

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        idx, v = s.finite_view()
        jumps = find_sparse_jumps(v, min_ratio=self.min_ratio, min_points=self.min_points)
        out = []
        several = f" ({len(jumps)} such jumps)" if len(jumps) > 1 else ""
        for j in jumps:
            pos = int(idx[j.at])
            msg = (
                f"{s.label} jumped {fmt_ratio(j.ratio)} at {s.where(pos)} (evaluation {j.at + 1} of {v.size}: "
                f"{fmt(j.before)} -> {fmt(j.peak)}) and came back to {fmt(j.after)}{several}"
            )
            ev = {
                "value_before": j.before,
                "value_peak": j.peak,
                "value_after": j.after,
                "ratio": j.ratio,
                "spikes_in_series": len(jumps),
                "points": int(v.size),
            }
            out.append(self.finding(ctx, s, start=pos, end=pos, message=msg, evidence=ev))
        return out


def _lr_raised_near(ctx: RunView, s: Series, pos: int, points: int = 3) -> bool:
    """True when the learning rate went up (by more than 20%) within ``points`` points of ``s`` before ``pos``."""
    lr = lr_points(ctx)
    if lr is None:
        return False
    return raised_within(*lr, int(s.steps[max(0, pos - points)]), int(s.steps[pos]), min_factor=1.2)


#: Without a log scale, a loss spike must be this share of the series' 5th-95th percentile range.
_SPAN_SHARE = 0.25
