"""Per-run views for the rules: one :class:`Series` per (metric, split), each with its role.

:func:`build_context` turns the normalized long frame of one run into a :class:`RunContext` once;
every rule reads that context. Roles come from the metric name (:func:`metric_role`): ``loss``
(lower is better), ``score`` (higher is better), ``lr``, ``time`` (seconds per step or epoch),
``throughput`` (samples or steps per second) and ``other``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from trainlog_doctor.frame import is_lr_name, split_series

Key = tuple[str, str]

_LOSS_TOKENS = {
    "loss", "nll", "ce", "xent", "mse", "mae", "rmse", "msle", "mape", "perplexity", "ppl", "error", "err",
    "wer", "cer", "ter", "bpd", "bpc", "kl", "kld", "huber", "smape",
}  # fmt: skip
_SCORE_TOKENS = {
    "acc", "accuracy", "acc1", "acc5", "top1", "top5", "auc", "auroc", "roc", "f1", "fscore", "precision",
    "recall", "map", "ap", "iou", "miou", "dice", "bleu", "rouge", "rouge1", "rouge2", "rougel", "rougelsum",
    "sensitivity", "specificity", "em", "exact", "match", "r2", "pearson", "spearman", "spearmanr", "mcc",
    "matthews", "kappa", "jaccard", "psnr", "ssim", "meteor", "chrf", "coef", "aps", "apm", "apl", "ar",
}  # fmt: skip
_TIME_TOKENS = {
    "time", "data_time", "runtime", "iter_time", "step_time", "epoch_time", "batch_time", "duration", "seconds",
    "sec", "elapsed",
}  # fmt: skip
_THROUGHPUT_RE = re.compile(r"(per_second|per_sec|/sec|_per_s$|samples_s|it_s$|throughput|tokens_per)", re.I)
_NOT_TIME_RE = re.compile(r"(eta|remaining|timestamp|time_stamp|wall)", re.I)
_PER_CLASS_RE = re.compile(r"(^|[/_])(ap|ar)[-_:][a-z]|(^|[/_])ap[sml]$|(^|[/_])ar[sml]$|_class|class_|/cls\d|\[", re.I)
_PRIMARY_LOSS_NAMES = ("loss", "total_loss", "train_loss", "loss_total", "overall_loss", "objective", "nll_loss")


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def metric_role(metric: str, split: str = "train") -> str:
    """The role of a metric from its name: ``loss``, ``score``, ``lr``, ``time``, ``throughput`` or ``other``.

    ``val_loss``/``box_loss``/``mean_absolute_error``/``wer`` are losses (lower is better);
    ``accuracy``/``bbox/AP50``/``mean_io_u``/``f1_score`` are scores (higher is better);
    ``lr``/``learning_rate``/``lr-Adam`` are learning rates; ``time``/``data_time``/``epoch_time`` are
    durations; ``train_samples_per_second`` is a throughput; counters and ``eta_seconds`` are ``other``.
    """
    m = metric.strip()
    low = m.lower()
    if is_lr_name(m):
        return "lr"
    if _THROUGHPUT_RE.search(low):
        return "throughput"
    toks = _tokens(m)
    if not toks:
        return "other"
    if any(t.endswith("loss") or t in _LOSS_TOKENS for t in toks) or "loss" in low:
        return "loss"
    if any(
        t in _SCORE_TOKENS or re.fullmatch(r"(m?ap|ar|acc|top|rouge|iou)\d+[a-z]?", t) for t in toks
    ) or re.search(r"accuracy|io_?u|dice|f1", low):
        return "score"
    if _NOT_TIME_RE.search(low):
        return "other"
    if low in _TIME_TOKENS or any(t in ("time", "runtime", "duration") for t in toks) or low.endswith("_time"):
        return "time"
    return "other"


def is_per_class_metric(metric: str) -> bool:
    """True for per-class or per-size breakdowns (``bbox/AP-person``, ``APs``, ``AP_cat``) that may be NaN."""
    return bool(_PER_CLASS_RE.search(metric))


@dataclass
class Series:
    """One (metric, split) series of a run, sorted by step, one point per step (the last one written).

    ``values`` keeps NaN and +-Inf; ``finite`` is the mask of usable points. ``epochs`` is NaN where
    unknown. ``x`` is ``"epoch"`` when every point sits on its own epoch, else ``"step"``.
    """

    metric: str
    split: str
    role: str
    steps: np.ndarray
    values: np.ndarray
    epochs: np.ndarray
    wall_time: np.ndarray
    derived: bool = False
    views: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)  # analysis views (rules.stats)

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def key(self) -> Key:
        return (self.metric, self.split)

    @cached_property
    def finite(self) -> np.ndarray:
        return np.isfinite(self.values)

    @cached_property
    def n_finite(self) -> int:
        return int(self.finite.sum())

    @cached_property
    def x(self) -> str:
        ep = self.epochs
        if ep.size and np.isfinite(ep).all():
            if ep.size < 2 or (np.diff(ep) > 0).all() and np.allclose(ep, np.round(ep)):
                return "epoch"
        return "step"

    @cached_property
    def higher_is_better(self) -> bool | None:
        if self.role in ("score", "throughput"):
            return True
        if self.role in ("loss", "time"):
            return False
        return None

    @cached_property
    def percent(self) -> bool:
        """Scores written in percent (max above 1.5 and at most 100)."""
        if self.role != "score" or not self.n_finite:
            return False
        mx = float(np.max(self.values[self.finite]))
        return 1.5 < mx <= 100.0 + 1e-6

    @cached_property
    def positive(self) -> bool:
        """Every finite value is > 0 (so ratios and a log view make sense)."""
        return bool(self.n_finite) and bool((self.values[self.finite] > 0).all())

    def step_at(self, i: int) -> int:
        return int(self.steps[i])

    def epoch_at(self, i: int) -> float | None:
        e = float(self.epochs[i])
        return e if math.isfinite(e) else None

    def fraction_at(self, i: int) -> float:
        """Where point ``i`` sits in the run, 0..1 by step."""
        if len(self) < 2:
            return 0.0
        lo, hi = float(self.steps[0]), float(self.steps[-1])
        return 0.0 if hi <= lo else float(np.clip((float(self.steps[i]) - lo) / (hi - lo), 0.0, 1.0))

    def where(self, i: int) -> str:
        """``epoch 13`` or ``step 4200`` for point ``i`` (used in messages)."""
        e = self.epoch_at(i)
        if self.x == "epoch" and e is not None:
            return f"epoch {e:g}"
        if e is not None and self.x == "step":
            return f"step {self.step_at(i)} (epoch {e:.3g})"
        return f"step {self.step_at(i)}"

    @property
    def label(self) -> str:
        """A human name: ``Training loss``, ``Validation accuracy``, ``test/bbox/AP``."""
        split = {"train": "Training", "val": "Validation", "test": "Test"}.get(self.split)
        return f"{split} {self.metric}" if split else self.metric

    def finite_view(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions, values) of the finite points."""
        idx = np.flatnonzero(self.finite)
        return idx, self.values[idx]

    def tolerance_points(self) -> int:
        """How many points count as 'near' an onset: 3 epochs or 10% of the run, whichever is larger."""
        n = len(self)
        by_frac = max(1, int(round(0.1 * n)))
        if self.x == "epoch":
            return max(3, by_frac)
        ep = self.epochs
        if np.isfinite(ep).all() and ep.size > 1 and ep[-1] > ep[0]:
            per_epoch = n / max(float(ep[-1] - ep[0]), 1e-9)
            return max(by_frac, int(round(3 * per_epoch)) if ep[-1] - ep[0] > 6 else by_frac)
        return by_frac


@dataclass
class RunContext:
    """Everything the rules need about one run: its series by (metric, split) and shared lookups."""

    run_id: str
    series: dict[Key, Series]
    meta: dict[str, Any] = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    # ---- lookups -----------------------------------------------------------------------------------

    def get(self, metric: str, split: str) -> Series | None:
        return self.series.get((metric, split))

    def by_role(self, role: str, splits: tuple[str, ...] | None = None) -> list[Series]:
        return [s for s in self.series.values() if s.role == role and (splits is None or s.split in splits)]

    def counterpart(self, s: Series, split: str) -> Series | None:
        """The same metric in another split (``val`` loss for the ``train`` loss)."""
        return self.series.get((s.metric, split))

    @cached_property
    def lr(self) -> Series | None:
        """The learning-rate series (the first param group when several are logged), if any."""
        cands = [s for s in self.series.values() if s.role == "lr" and s.n_finite >= 1]
        if not cands:
            return None

        def rank(s: Series) -> tuple[int, int, str]:
            m = s.metric.lower()
            exact = 0 if m in ("lr", "learning_rate", "train_lr") else 1
            return (exact, -s.n_finite, m)

        return sorted(cands, key=rank)[0]

    @cached_property
    def primary_loss(self) -> Series | None:
        """The run's main training loss: ``loss``/``total_loss`` ... else the longest training loss."""
        train = [s for s in self.series.values() if s.role == "loss" and s.split == "train" and s.n_finite]
        if not train:
            return None
        for name in _PRIMARY_LOSS_NAMES:
            for s in train:
                if s.metric.lower() == name:
                    return s
        return sorted(train, key=lambda s: (-s.n_finite, s.metric))[0]

    def primary_loss_for(self, split: str) -> Series | None:
        """The main loss of ``split`` (same metric as the primary training loss when logged)."""
        if split == "train":
            return self.primary_loss
        p = self.primary_loss
        if p is not None and (p.metric, split) in self.series:
            return self.series[(p.metric, split)]
        cands = [s for s in self.series.values() if s.role == "loss" and s.split == split and s.n_finite]
        for name in _PRIMARY_LOSS_NAMES:
            for s in cands:
                if s.metric.lower() == name:
                    return s
        return sorted(cands, key=lambda s: (-s.n_finite, s.metric))[0] if cands else None

    @cached_property
    def n_classes(self) -> int | None:
        """Number of classes when the run's meta says so (``num_classes``, ``n_classes``, ``num_labels``)."""
        for key in ("num_classes", "n_classes", "num_labels", "classes", "nc"):
            v = self.meta.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and 2 <= v <= 1_000_000:
                return int(v)
        return None

    # ---- learning rate at a step ---------------------------------------------------------------------

    def lr_at(self, step: int) -> float | None:
        """The learning rate in force at ``step`` (last logged value at or before it)."""
        lr = self.lr
        if lr is None:
            return None
        idx, vals = lr.finite_view()
        if idx.size == 0:
            return None
        steps = lr.steps[idx]
        j = int(np.searchsorted(steps, step, side="right")) - 1
        return float(vals[max(j, 0)])

    def lr_changed_near(self, step: int, series: Series | None = None, rel: float = 0.1) -> bool:
        """True when the learning rate moved by more than ``rel`` (relative) close to ``step``.

        Close means within the onset tolerance of ``series`` (3 epochs or 10% of the run), counted in steps.
        """
        lr = self.lr
        if lr is None:
            return False
        idx, vals = lr.finite_view()
        if idx.size < 2:
            return False
        steps = lr.steps[idx]
        if series is not None and len(series) >= 2:
            tol_pts = series.tolerance_points()
            span = float(series.steps[-1] - series.steps[0])
            window = span * tol_pts / max(len(series) - 1, 1)
        else:
            window = 0.05 * float(steps[-1] - steps[0])
        lo = int(np.searchsorted(steps, step - window, side="left"))
        hi = int(np.searchsorted(steps, step + window, side="right"))
        lo = max(lo - 1, 0)
        seg = vals[lo : max(hi, lo + 1)]
        if seg.size < 2:
            return False
        ref = max(float(np.max(np.abs(seg))), 1e-30)
        return bool((float(np.max(seg)) - float(np.min(seg))) / ref > rel)

    def lr_segments(self) -> list[tuple[int, int, float]]:
        """Stretches of constant learning rate as (first step, last step, lr), 1% relative tolerance."""
        key = "lr_segments"
        if key in self._cache:
            return self._cache[key]
        out: list[tuple[int, int, float]] = []
        lr = self.lr
        if lr is not None:
            idx, vals = lr.finite_view()
            steps = lr.steps[idx]
            start = 0
            for j in range(1, vals.size + 1):
                if j == vals.size or abs(vals[j] - vals[start]) > 0.01 * max(abs(vals[start]), 1e-30):
                    out.append((int(steps[start]), int(steps[j - 1]), float(vals[start])))
                    start = j
        self._cache[key] = out
        return out

    def lr_drop_steps(self, min_factor: float = 1.5) -> list[int]:
        """Steps where the learning rate fell by ``min_factor`` or more from one constant stretch to the next.

        Smooth schedules (cosine, linear decay) have no such steps; step decays and ReduceLROnPlateau do.
        """
        segs = self.lr_segments()
        out: list[int] = []
        for (_, _, a), (s1, _, b) in zip(segs, segs[1:]):
            if b > 0 and a / b >= min_factor:
                out.append(s1)
        return out

    def lr_is_schedule(self) -> bool:
        """True when the learning rate changes at all during the run (any schedule or decay)."""
        lr = self.lr
        if lr is None:
            return False
        _, vals = lr.finite_view()
        if vals.size < 2:
            return False
        return bool(np.max(vals) - np.min(vals) > 0.01 * max(float(np.max(np.abs(vals))), 1e-30))


def _make_series(metric: str, split: str, steps: np.ndarray, values: np.ndarray, epochs: np.ndarray, wall: np.ndarray) -> Series:
    role = metric_role(metric, split)
    if split == "other" and role in ("loss", "score") and is_lr_name(metric):
        role = "lr"
    return Series(metric=metric, split=split, role=role, steps=steps, values=values, epochs=epochs, wall_time=wall)


def _cumulative_to_increments(s: Series) -> Series:
    """A ``time`` series written as cumulative seconds (ultralytics ``time``) turned into per-row durations."""
    idx, v = s.finite_view()
    if v.size < 4:
        return s
    d = np.diff(v)
    if (d >= -1e-9).all() and v[-1] > 3 * max(v[1], 1e-9) and np.median(d) > 0:
        vals = np.full(len(s), np.nan)
        vals[idx[1:]] = d / np.maximum(np.diff(s.steps[idx]), 1)
        return Series(
            metric=s.metric, split=s.split, role="time", steps=s.steps, values=vals, epochs=s.epochs,
            wall_time=s.wall_time, derived=True,
        )  # fmt: skip
    return s


def _wall_time_series(base: Series) -> Series | None:
    """Seconds per step derived from the wall-clock times of ``base`` (None when too few or unusable).

    The series is called ``time`` (split ``other``) like a logged one and marked ``derived``; it is
    only built when the run logs no duration or throughput of its own.
    """
    wt = base.wall_time
    ok = np.isfinite(wt)
    if ok.sum() < 8:
        return None
    idx = np.flatnonzero(ok)
    t = wt[idx]
    st = base.steps[idx].astype(np.float64)
    dt = np.diff(t)
    ds = np.diff(st)
    good = (ds > 0) & (dt >= 0)
    if good.sum() < 6:
        return None
    per = np.full(len(base), np.nan)
    per[idx[1:][good]] = dt[good] / ds[good]
    if not np.isfinite(per).any() or np.nanmax(per) <= 0:
        return None
    return Series(
        metric="time", split="other", role="time", steps=base.steps, values=per, epochs=base.epochs,
        wall_time=base.wall_time, derived=True,
    )  # fmt: skip


def build_context(frame: pl.DataFrame, meta: dict[str, Any] | None = None, run_id: str | None = None) -> RunContext:
    """The :class:`RunContext` of one run's normalized frame (all rows are taken as one run)."""
    meta = dict(meta or {})
    need = {"metric", "split", "step", "value"}
    if frame is None or not need.issubset(set(frame.columns)):
        return RunContext(run_id=run_id or "", series={}, meta=meta)
    if run_id is None:
        ids = frame["run_id"].drop_nulls() if "run_id" in frame.columns else pl.Series([], dtype=pl.Utf8)
        run_id = str(ids[0]) if ids.len() else ""
    series: dict[Key, Series] = {}
    for a in split_series(frame):
        s = _make_series(a.metric, a.split, a.steps, a.values, a.epochs, a.wall_time)
        if s.role == "time":
            s = _cumulative_to_increments(s)
        series[(s.metric, s.split)] = s
    ctx = RunContext(run_id=run_id, series=series, meta=meta)
    if not any(s.role in ("time", "throughput") for s in series.values()):
        base = ctx.primary_loss
        if base is not None:
            derived = _wall_time_series(base)
            if derived is not None:
                series[(derived.metric, derived.split)] = derived
    return ctx
