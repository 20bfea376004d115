"""The evidence for one finding: what the evidence tests may look at, gathered in one record.

:func:`build_evidence` collects it from the finding's own evidence, the run's facts, the run's meta
(optimizer, batch size, regularization) and the other findings of the same run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trainlog_doctor.knowledge.thresholds import TH
from trainlog_doctor.model.report import Finding
from trainlog_doctor.run.view import RunView


@dataclass(frozen=True)
class Evidence:
    """Everything the evidence tests may look at for one finding (``None`` = not known)."""

    kind: str
    metric: str
    split: str
    onset: float | None = None  # 0..1, where in the run the event starts
    lr: float | None = None
    lr_origin: str = "at onset"  # or "configured" when it came from meta
    lr_changed: bool | None = None
    lr_before: float | None = None  # lr a few points before the onset (from the log)
    lr_flat: bool | None = None  # the logged lr never changed
    lr_first: float | None = None
    lr_last_before_onset: float | None = None
    optimizer: str | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    dropout: float | None = None
    run_epochs: float | None = None
    run_steps: int | None = None
    co_kinds: frozenset[str] = frozenset()
    same_kind_on_train: bool = False
    train_improving: bool | None = None
    ratio: float | None = None
    zscore: float | None = None
    value_after: float | None = None
    ln_classes: float | None = None
    chance_level: float | None = None
    data_time_share: float | None = None
    memory_growth: tuple[float, float] | None = None  # (first-quarter, last-quarter) median


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


def _meta_get(meta: Mapping[str, Any], *keys: str) -> Any:
    """The first present key in meta or in its ``hparams`` / ``config`` / ``args`` sub-dicts."""
    tables: list[Mapping[str, Any]] = [meta]
    for sub in ("hparams", "config", "args", "optimizer_config"):
        v = meta.get(sub)
        if isinstance(v, Mapping):
            tables.append(v)
    for table in tables:
        for k in keys:
            if k in table and table[k] is not None:
                return table[k]
    return None


def _optimizer_name(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, Mapping):
        v = v.get("type") or v.get("name")
        if v is None:
            return None
    s = str(v).strip().lower()
    s = s.rsplit(".", 1)[-1]  # torch.optim.AdamW -> adamw
    s = re.sub(r"[^a-z0-9_]", "", s).strip("_")  # HF: adamw_torch
    return s or None


def _index_at(points: Sequence[tuple[int, float]], step: int) -> int:
    """Position of the last point at or before ``step`` (0 when all are after)."""
    idx = 0
    for i, (s, _) in enumerate(points):
        if s <= step:
            idx = i
        else:
            break
    return idx


def build_evidence(finding: Finding, others: Sequence[Finding], view: RunView) -> Evidence:
    """Collect the evidence for one finding of the run ``view``: the finding's own evidence, the run's
    facts and meta, and the other findings of the run (``others`` may include ``finding`` itself)."""
    meta, facts = view.meta, view.facts
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
        lr = _num(_meta_get(meta, "lr", "learning_rate", "base_lr"))
        lr_origin = "configured"

    opt = _optimizer_name(_meta_get(meta, "optimizer", "optim", "optimizer_name"))
    bs = _num(_meta_get(meta, "batch_size", "train_batch_size", "per_device_train_batch_size"))
    wd = _num(_meta_get(meta, "weight_decay", "wd", "l2"))
    dropout = _num(_meta_get(meta, "dropout", "dropout_rate", "hidden_dropout_prob", "drop_rate"))

    co = frozenset(o.kind for o in others if o is not finding)
    same_on_train = any(o is not finding and o.kind == finding.kind and o.split == "train" for o in others)

    share = view.data_time_share(finding.start_step, finding.end_step)
    if finding.metric == "data_time" and share is None:
        share = 1.0
    mem = view.memory_growth

    return Evidence(
        kind=finding.kind,
        metric=finding.metric,
        split=finding.split,
        onset=onset,
        lr=lr,
        lr_origin=lr_origin,
        lr_changed=lr_changed,
        lr_before=lr_before,
        lr_flat=lr_flat,
        lr_first=lr_first,
        lr_last_before_onset=lr_last,
        optimizer=opt,
        batch_size=int(bs) if bs is not None and bs >= 1 else None,
        weight_decay=wd,
        dropout=dropout,
        run_epochs=facts.max_epoch if facts.max_epoch is not None else _num(finding.end_epoch),
        run_steps=facts.max_step if facts.max_step is not None else finding.end_step,
        co_kinds=co,
        same_kind_on_train=same_on_train,
        train_improving=_bool(raw.get("train_improving")),
        ratio=_num(raw.get("ratio")),
        zscore=_num(raw.get("zscore")),
        value_after=_num(raw.get("value_after")),
        ln_classes=_num(raw.get("ln_classes")),
        chance_level=_num(raw.get("chance_level")),
        data_time_share=share,
        memory_growth=mem,
    )

