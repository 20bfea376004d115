"""non_finite: NaN or Inf in a metric that should always be finite."""

from __future__ import annotations

import re

import numpy as np

from trainlog_doctor.model.report import Finding, Severity
from trainlog_doctor.rules.base import Rule, SeriesRule, fmt
from trainlog_doctor.run import RunView, Series, is_per_class_metric
from trainlog_doctor.signals.transforms import nonfinite_runs


class NonFiniteLoss(SeriesRule):
    """A loss became NaN or Inf.

    What it detects: any NaN, +Inf or -Inf point in a loss-like series (``loss``, ``val_loss``,
    ``box_loss``, ``mse`` ...) of any split. A loss that turns non-finite and stays so until the
    end of the run means training broke (error); isolated non-finite points that are followed by
    finite values again (a skipped batch, an overflowing fp16 step) are a warning. A loss that is
    non-finite in every point is an error too.

    Why it matters: once a loss is NaN the weights usually are as well and every later epoch is
    wasted; even a transient NaN points at an unstable step (too high a learning rate, a log of
    zero, a division by zero, fp16 overflow).

    Does not count: learning rate, time and counter columns; score metrics (see NF002).

    Example: case "blows_up_then_nan" in tests/rule_cases/NF001.toml: the training loss falls from 2.3
    to 0.41 by epoch 10, reads 1e3 at epoch 11 and is NaN from epoch 12 to the end -> "Training loss
    became NaN at epoch 12 (last finite value 1e+03) and stayed non-finite for the last 38 point(s)".
    """

    code = "NF001"
    kind = "non_finite"
    severity = "error"
    name = "non-finite-loss"

    def applies_to(self, s: Series) -> bool:
        return s.role == "loss" and s.split != "other" and len(s) > 0

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        return _check_series(self, ctx, s, transient_severity="warning")


class NonFiniteScore(SeriesRule):
    """A headline evaluation score (accuracy, mAP, F1 ...) became NaN or Inf.

    What it detects: NaN/Inf in a score-like series that is not a per-class or per-size breakdown.
    Per-class and per-size AP (``bbox/AP-person``, ``bbox/APs``/``APm``/``APl``) are NaN by design
    when a class or size has no instances in the evaluation set, so they never count.

    Why it matters: a NaN accuracy or mAP usually means the evaluation saw NaN predictions or an
    empty evaluation set.

    Example: case "val_accuracy_nan_after_two_epochs" in tests/rule_cases/NF002.toml: val_accuracy 0.71,
    0.74, 0.77, then NaN from epoch 3 on while the training loss keeps falling -> "Validation accuracy
    became NaN at epoch 3 (last finite value 0.769) and stayed non-finite for the last 17 point(s)".
    """

    code = "NF002"
    kind = "non_finite"
    severity = "warning"
    name = "non-finite-score"

    def applies_to(self, s: Series) -> bool:
        return s.role == "score" and s.split != "other" and not is_per_class_metric(s.metric) and len(s) > 0

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        return _check_series(self, ctx, s, transient_severity="warning")


class NonFiniteGradient(SeriesRule):
    """The gradient norm became NaN or Inf.

    What it detects: NaN/Inf in a logged gradient norm (``grad_norm``, ``gradient_norm``,
    ``train/grad_norm``). The optimizer step that follows a non-finite gradient writes NaN into the
    weights unless a loss scaler skips it; persistent non-finite gradients are an error, isolated
    ones (fp16 loss-scale overflows that the scaler skipped) a warning.

    Example: case "grad_norm_grows_then_nan" in tests/rule_cases/NF003.toml: HF Trainer logging every 10
    steps: grad_norm 0.8 for 250 steps, 1.9, 7.5, then NaN from step 290 with the loss -> "grad_norm
    became NaN at step 290 (epoch 7.07) (last finite value 7.5) and stayed non-finite for the last 20
    point(s)".
    """

    code = "NF003"
    kind = "non_finite"
    severity = "error"
    name = "non-finite-gradient"

    def applies_to(self, s: Series) -> bool:
        return len(s) > 0 and bool(_GRAD_RE.search(s.metric))

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        return _check_series(self, ctx, s, transient_severity="warning")


_GRAD_RE = re.compile(r"grad(ient)?[_ ]?norm", re.I)


def _check_series(rule: Rule, ctx: RunView, s: Series, *, transient_severity: Severity) -> list[Finding]:
    runs = nonfinite_runs(s.values)
    first, nan, inf, to_end = runs.first, runs.nan_count, runs.inf_count, runs.until_end
    if first < 0:
        return []
    n = len(s)
    bad = nan + inf
    what = "NaN" if nan and not inf else ("Inf" if inf and not nan else "NaN/Inf")
    before = s.values[:first]
    before = before[np.isfinite(before)]
    value_before = float(before[-1]) if before.size else None
    ev = {"nan_count": nan, "inf_count": inf, "points": n, "stays_non_finite": to_end, "value_before": value_before}
    if bad == n:
        msg = f"{s.label} is {what} in all {n} logged point(s)"
        return [rule.finding(ctx, s, start=0, end=n - 1, message=msg, evidence=ev, severity=rule.severity)]
    if to_end:
        last = f" (last finite value {fmt(value_before)})" if value_before is not None else ""
        rest = n - first
        msg = f"{s.label} became {what} at {s.where(first)}{last} and stayed non-finite for the last {rest} point(s)"
        return [rule.finding(ctx, s, start=first, end=n - 1, message=msg, evidence=ev, severity=rule.severity)]
    last_bad = int(np.flatnonzero(~np.isfinite(s.values))[-1])
    msg = f"{s.label} was {what} at {bad} of {n} point(s), first at {s.where(first)}, and finite again afterwards"
    return [rule.finding(ctx, s, start=first, end=last_bad, message=msg, evidence=ev, severity=transient_severity)]
