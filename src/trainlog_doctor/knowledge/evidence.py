"""The evidence for one finding: what the evidence tests may look at, gathered in one record.

:func:`build_evidence` collects it from the finding's own evidence, the run's facts, the run's configuration
(``view.config``: optimizer, batch size, regularization), the shape of the logged learning rate and
the other findings of the same run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainlog_doctor.knowledge.incidents import near
from trainlog_doctor.knowledge.thresholds import TH
from trainlog_doctor.model.report import Finding
from trainlog_doctor.run.series import Series
from trainlog_doctor.run.view import RunView
from trainlog_doctor.signals.lr import LRSchedule, lr_schedule


@dataclass(frozen=True)
class Evidence:
    """Everything the evidence tests may look at for one finding (``None`` = not known)."""

    kind: str
    metric: str
    split: str
    onset: float | None = None  # 0..1, where in the run the event starts
    onset_step: int | None = None
    lr: float | None = None
    lr_origin: str = "at onset"  # or "configured" when it came from the run's configuration
    lr_changed: bool | None = None
    lr_before: float | None = None  # lr a few points before the onset (from the log)
    lr_flat: bool | None = None  # the logged lr never changed
    lr_first: float | None = None
    lr_last_before_onset: float | None = None
    schedule: LRSchedule | None = None  # the shape of the logged lr series
    lr_cut_before: tuple[int, float] | None = None  # last scheduler cut before the onset (step, ratio)
    lr_cuts_before: int = 0
    lr_raised_before: tuple[int, float] | None = None  # last jump up before the onset (step, ratio)
    in_warmup: bool | None = None  # the onset falls inside the warm-up
    lr_min_after: float | None = None  # the lowest logged lr from the onset on
    lr_at_best: tuple[int, float] | None = None  # (step, lr) where the train loss last made a new low before the onset
    optimizer: str | None = None
    eps: float | None = None
    momentum: float | None = None
    grad_clip: float | None = None
    precision: str | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    dropout: float | None = None
    run_epochs: float | None = None
    run_steps: int | None = None
    steps_per_epoch: float | None = None
    co_kinds: frozenset[str] = frozenset()
    same_kind_on_train: bool = False
    train_events_of_kind: int = 0  # findings of this kind on training curves in the run
    train_improving: bool | None = None
    ratio: float | None = None
    zscore: float | None = None
    value_after: float | None = None
    ln_classes: float | None = None
    chance_level: float | None = None
    loss_start: float | None = None  # first logged primary training loss
    loss_descent: tuple[float, float] | None = None  # (relative drop start -> end, share of falling steps)
    data_time_share: float | None = None
    memory_growth: tuple[float, float] | None = None  # (first-quarter, last-quarter) median
    period_steps: float | None = None  # an oscillation's period in steps
    grad_norm_pct: tuple[float, float, float] | None = None  # p50, p90, p99 of the grad norm before the onset
    best_val: tuple[float, float | None, int] | None = None  # (value, epoch, step) of the lowest validation loss
    train_val_gap: float | None = None  # last validation loss / last training loss (same metric)
    val_step_share: float | None = None  # share of the validation loss's rise after its low made in one evaluation
    train_left_at_onset: tuple[float, float] | None = None  # (train loss at onset / first, last / at onset)


def _num(v: Any) -> float | None:
    """A finite float from evidence or meta values (numbers, numpy scalars, numeric strings)."""
    if v is None or isinstance(v, bool):
        return None
    if hasattr(v, "item") and not isinstance(v, (int, float)):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if hasattr(v, "item"):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return None
        return v if isinstance(v, bool) else None
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None


def _index_at(points: Sequence[tuple[int, float]], step: int) -> int:
    """Position of the last point at or before ``step`` (0 when all are after)."""
    idx = 0
    for i, (s, _) in enumerate(points):
        if s <= step:
            idx = i
        else:
            break
    return idx


def schedule_of(view: RunView) -> LRSchedule | None:
    """The shape of the run's logged learning rate (cached on the view; ``None`` when none is logged)."""
    key = "knowledge.lr_schedule"
    if key not in view._cache:
        lr = view.lr
        sched = None
        if lr is not None:
            idx, vals = lr.finite_view()
            sched = lr_schedule(lr.steps[idx], vals, scheduler=view.config.scheduler)
        view._cache[key] = sched
    return view._cache[key]


def _lr_at_best(view: RunView, loss: Series | None, step: int | None) -> tuple[int, float] | None:
    """(step, lr) at the last new low of the training loss before ``step``."""
    if loss is None or step is None or view.lr is None:
        return None
    idx, vals = loss.finite_view()
    steps = loss.steps[idx]
    keep = steps < step
    if not np.any(keep):
        return None
    j = int(np.argmin(vals[keep]))
    at = int(steps[keep][j])
    lr = view.lr_at(at)
    return (at, lr) if lr is not None and lr > 0 else None


def _grad_norm_pct(view: RunView, step: int | None) -> tuple[float, float, float] | None:
    cands = [s for s in view.series.values() if "grad_norm" in s.metric.lower() or s.metric.lower() in ("gnorm", "grad-norm")]
    if not cands:
        return None
    s = sorted(cands, key=lambda x: (-x.n_finite, x.metric))[0]
    idx, vals = s.finite_view()
    steps = s.steps[idx]
    if step is not None:
        vals = vals[steps < step]
    if vals.size < 5:
        return None
    p50, p90, p99 = np.percentile(vals, [50, 90, 99])
    return float(p50), float(p90), float(p99)


def _best_val(view: RunView) -> tuple[float, float | None, int] | None:
    s = view.primary_loss_for("val") or view.primary_loss_for("test")
    if s is None:
        return None
    idx, vals = s.finite_view()
    if vals.size < 3:
        return None
    j = int(np.argmin(vals))
    ep = float(s.epochs[idx][j])
    return float(vals[j]), (ep if math.isfinite(ep) else None), int(s.steps[idx][j])


def _period_steps(finding: Finding, view: RunView) -> float | None:
    per = _num((finding.evidence or {}).get("period_points"))
    s = view.get(finding.metric, finding.split)
    if per is None or s is None or len(s) < 2:
        return None
    gap = float(np.median(np.diff(s.steps)))
    return per * gap if gap > 0 else None


def _descent(loss: Series | None) -> tuple[float, float] | None:
    """How far the training loss fell over the run (share of its first value) and how steadily
    (share of point-to-point changes that are falls); ``None`` under 5 points."""
    if loss is None:
        return None
    _, v = loss.finite_view()
    if v.size < 5 or v[0] <= 0:
        return None
    first, last = float(v[0]), float(v[-1])
    fell = 1.0 - last / first  # Python floats: a huge last value gives -inf, not a numpy overflow warning
    return fell, float(np.mean(v[1:] < v[:-1]))


def _val_step_share(view: RunView) -> float | None:
    """How much of the validation loss's rise after its lowest point came in a single evaluation
    (1.0: one step up, then flat; small: a gradual climb); ``None`` without a real rise."""
    s = view.primary_loss_for("val") or view.primary_loss_for("test")
    if s is None:
        return None
    _, v = s.finite_view()
    if v.size < 4:
        return None
    j = int(np.argmin(v))
    after = v[j:]
    rise = float(np.max(after) - v[j])
    if after.size < 3 or rise <= 0.25 * abs(float(v[j])):
        return None
    return float(np.max(np.diff(after))) / rise


def _train_left(loss: Series | None, step: int | None) -> tuple[float, float] | None:
    """(train loss at ``step`` / its first value, its last value / the one at ``step``); ``None`` when
    the step falls within the first two logged points (nothing to compare yet)."""
    if loss is None or step is None:
        return None
    idx, v = loss.finite_view()
    steps = loss.steps[idx]
    if v.size < 3 or v[0] <= 0:
        return None
    j = int(np.searchsorted(steps, step, side="right")) - 1
    if j < 2 or v[j] <= 0:
        return None
    return float(v[j]) / float(v[0]), float(v[-1]) / float(v[j])  # Python floats: inf rather than a warning


def _gap(view: RunView) -> float | None:
    t, v = view.primary_loss, view.primary_loss_for("val")
    if t is None or v is None:
        return None
    _, tv = t.finite_view()
    _, vv = v.finite_view()
    if tv.size == 0 or vv.size == 0 or tv[-1] <= 0 or vv[-1] <= 0:
        return None
    return float(vv[-1] / tv[-1])


def _distinct_events(findings: Sequence[Finding], view: RunView) -> int:
    """How many separate moments ``findings`` start at (findings on several metrics at once count once)."""
    firsts: list[Finding] = []
    for f in findings:
        if not any(near(f, g, view) for g in firsts):
            firsts.append(f)
    return len(firsts)


def _steps_per_epoch(view: RunView) -> float | None:
    s = view.primary_loss
    if s is None:
        return None
    ep = s.epochs
    ok = np.isfinite(ep)
    if ok.sum() < 2:
        return None
    de = float(ep[ok][-1] - ep[ok][0])
    ds = float(s.steps[ok][-1] - s.steps[ok][0])
    return ds / de if de > 0 and ds > 0 else None


def build_evidence(finding: Finding, others: Sequence[Finding], view: RunView) -> Evidence:
    """Collect the evidence for one finding of the run ``view``: the finding's own evidence, the run's
    facts and configuration (``view.config``), the shape of its logged learning rate, and the other
    findings of the run (``others`` may include ``finding`` itself)."""
    cfg, facts = view.config, view.facts
    raw = finding.evidence or {}

    onset = _num(raw.get("onset_fraction"))
    if onset is None and finding.start_step is not None:
        lo_hi = facts.ranges.get((finding.metric, finding.split))
        if lo_hi and lo_hi[1] > lo_hi[0]:
            onset = (finding.start_step - lo_hi[0]) / (lo_hi[1] - lo_hi[0])
    if onset is not None:
        onset = min(max(onset, 0.0), 1.0)

    lr = _num(raw.get("lr_at_onset"))
    lr_origin = "at onset"
    lr_changed = _bool(raw.get("lr_changed_near_onset"))
    lr_before = lr_flat = lr_first = lr_last = None
    pts = facts.lr_points
    if pts:
        values = [v for _, v in pts]
        lo, hi = min(values), max(values)
        lr_flat = lo > 0 and hi / lo < TH.lr_flat_ratio
        if finding.start_step is not None:
            i = _index_at(pts, finding.start_step)
            if lr is None:
                lr = pts[i][1]
            lr_first, lr_last = pts[0][1], pts[i][1]
            w = TH.lr_change_window
            lr_before = pts[max(i - w, 0)][1]
            if lr_changed is None:
                window = [v for _, v in pts[max(i - w, 0): i + w + 1]]
                ref = max(abs(x) for x in window) or 1.0
                lr_changed = (max(window) - min(window)) / ref > TH.lr_change_rel
    if lr is None:
        lr = cfg.lr
        lr_origin = "configured"

    opt = cfg.optimizer
    bs = cfg.batch_size
    sched = schedule_of(view)
    step = finding.start_step
    cut = raised = None
    n_cuts = 0
    in_warmup = None
    if sched is not None and step is not None:
        cut, raised = sched.cut_before(step), sched.raised_before(step)
        n_cuts = sum(1 for c in sched.cuts if c[0] <= step)
        in_warmup = sched.warmup_end is not None and step <= sched.warmup_end
    loss = view.primary_loss
    loss_start = None
    if loss is not None:
        _, lv = loss.finite_view()
        loss_start = float(lv[0]) if lv.size else None
    ln_c = _num(raw.get("ln_classes"))
    n_classes = view.n_classes or cfg.num_classes
    if ln_c is None and n_classes and n_classes >= 2:
        ln_c = math.log(n_classes)

    co = frozenset(o.kind for o in others if o is not finding)
    same_on_train = any(o is not finding and o.kind == finding.kind and o.split == "train" for o in others)
    train_events = _distinct_events([o for o in others if o.kind == finding.kind and o.split == "train"], view)

    share = view.data_time_share(finding.start_step, finding.end_step)
    if finding.metric == "data_time" and share is None:
        share = 1.0
    mem = view.memory_growth

    return Evidence(
        kind=finding.kind,
        metric=finding.metric,
        split=finding.split,
        onset=onset,
        onset_step=step,
        lr=lr,
        lr_origin=lr_origin,
        lr_changed=lr_changed,
        lr_before=lr_before,
        lr_flat=lr_flat,
        lr_first=lr_first,
        lr_last_before_onset=lr_last,
        schedule=sched,
        lr_cut_before=cut,
        lr_cuts_before=n_cuts,
        lr_raised_before=raised,
        in_warmup=in_warmup,
        lr_min_after=min((v for s_, v in pts if step is not None and s_ >= step), default=None) if pts else None,
        lr_at_best=_lr_at_best(view, loss, step),
        optimizer=opt,
        eps=cfg.eps,
        momentum=cfg.momentum,
        grad_clip=cfg.grad_clip,
        precision=cfg.precision,
        batch_size=int(bs) if bs is not None and bs >= 1 else None,
        weight_decay=cfg.weight_decay,
        dropout=cfg.dropout,
        run_epochs=facts.max_epoch if facts.max_epoch is not None else _num(finding.end_epoch),
        run_steps=facts.max_step if facts.max_step is not None else finding.end_step,
        steps_per_epoch=_steps_per_epoch(view),
        co_kinds=co,
        same_kind_on_train=same_on_train,
        train_events_of_kind=train_events,
        train_improving=_bool(raw.get("train_improving")),
        ratio=_num(raw.get("ratio")),
        zscore=_num(raw.get("zscore")),
        value_after=_num(raw.get("value_after")),
        ln_classes=ln_c,
        chance_level=_num(raw.get("chance_level")),
        loss_start=loss_start,
        loss_descent=_descent(loss),
        data_time_share=share,
        memory_growth=mem,
        period_steps=_period_steps(finding, view),
        grad_norm_pct=_grad_norm_pct(view, step),
        best_val=_best_val(view),
        train_val_gap=_gap(view),
        val_step_share=_val_step_share(view) if finding.kind in ("overfitting", "divergence") else None,
        train_left_at_onset=_train_left(loss, step),
    )

