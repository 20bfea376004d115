"""The run view: one run's series by (metric, split), their roles and every run-level question.

:func:`build_view` turns the normalized long frame of one run into a :class:`RunView` once; the
rules, the knowledge base, the renderers and the audit index all read that view. Roles come from
the metric name (:func:`~trainlog_doctor.run.names.metric_role`): ``loss`` (lower is better),
``score`` (higher is better), ``lr``, ``time`` (seconds per step or epoch), ``throughput`` and ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from trainlog_doctor.model.frame import SPLITS
from trainlog_doctor.run.config import RunConfig, config_from_meta
from trainlog_doctor.run.facts import RunFacts, data_time_share, memory_growth, run_facts
from trainlog_doctor.run.names import PRIMARY_LOSS_NAMES, PRIMARY_SCORE_NAMES, is_per_class_metric
from trainlog_doctor.run.series import (
    Key,
    Series,
    cumulative_to_increments,
    make_series,
    split_series,
    wall_time_series,
)


@dataclass
class RunView:
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
    def config(self) -> RunConfig:
        """The run's configuration as normalized facts (optimizer, LR, batch size ...) from its meta."""
        return config_from_meta(self.meta)

    @cached_property
    def primary_loss(self) -> Series | None:
        """The run's main training loss: ``loss``/``total_loss`` ... else the longest training loss."""
        train = [s for s in self.series.values() if s.role == "loss" and s.split == "train" and s.n_finite]
        if not train:
            return None
        for name in PRIMARY_LOSS_NAMES:
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
        for name in PRIMARY_LOSS_NAMES:
            for s in cands:
                if s.metric.lower() == name:
                    return s
        return sorted(cands, key=lambda s: (-s.n_finite, s.metric))[0] if cands else None

    @cached_property
    def n_classes(self) -> int | None:
        """Number of classes when the run's meta or configuration says so (``num_classes``, ``num_labels`` ...)."""
        for key in ("num_classes", "n_classes", "num_labels", "classes", "nc"):
            v = self.meta.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and 2 <= v <= 1_000_000:
                return int(v)
        configured = self.config.num_classes
        return configured if configured is not None and 2 <= configured <= 1_000_000 else None

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

    @cached_property
    def facts(self) -> RunFacts:
        """Run-level facts for the knowledge base: lr points, run length, timing and memory series."""
        return run_facts(self.series, self.lr)

    # ---- the main score and the splits of a metric (what the renderers chart) ---------------------------

    @cached_property
    def primary_score(self) -> Series | None:
        """The run's main score (accuracy-like, no per-class breakdown) on its first split of train, val, test.

        Preferred: a metric logged for both train and val, then the order of ``PRIMARY_SCORE_NAMES``
        (other names containing ``acc`` next), then the longest series.
        """
        by_metric: dict[str, list[Series]] = {}
        for s in self.series.values():
            if s.role == "score" and s.split != "other" and not is_per_class_metric(s.metric):
                by_metric.setdefault(s.metric, []).append(s)
        if not by_metric:
            return None

        def rank(metric: str) -> tuple[int, int, int, str]:
            low = metric.lower()
            pref = PRIMARY_SCORE_NAMES.index(low) if low in PRIMARY_SCORE_NAMES else (20 if "acc" in low else 50)
            both = 0 if {"train", "val"} <= {s.split for s in by_metric[metric]} else 1
            return (both, pref, -max(len(s) for s in by_metric[metric]), metric)

        return min(by_metric[min(by_metric, key=rank)], key=lambda s: self._split_order(s.split))

    def splits_of(self, metric: str) -> list[str]:
        """The splits that hold ``metric``: train, val, test, other, then any other split by name."""
        return sorted((split for m, split in self.series if m == metric), key=self._split_order)

    @staticmethod
    def _split_order(split: str) -> tuple[int, str]:
        return (SPLITS.index(split) if split in SPLITS else len(SPLITS), split)

    # ---- timing and memory (what the knowledge base weighs for slowdowns) ---------------------------

    def data_time_share(self, lo_step: int | None = None, hi_step: int | None = None) -> float | None:
        """Share of the step time spent waiting for data between two steps (None when not logged)."""
        return data_time_share(self.facts, lo_step, hi_step)

    @cached_property
    def memory_growth(self) -> tuple[float, float] | None:
        """(first-quarter, last-quarter) median of the run's memory series, when it is logged."""
        return memory_growth(self.facts)


def build_view(frame: pl.DataFrame, meta: dict[str, Any] | None = None, run_id: str | None = None) -> RunView:
    """The :class:`RunView` of one run's normalized frame (all rows are taken as one run)."""
    meta = dict(meta or {})
    need = {"metric", "split", "step", "value"}
    if frame is None or not need.issubset(set(frame.columns)):
        return RunView(run_id=run_id or "", series={}, meta=meta)
    if run_id is None:
        ids = frame["run_id"].drop_nulls() if "run_id" in frame.columns else pl.Series([], dtype=pl.Utf8)
        run_id = str(ids[0]) if ids.len() else ""
    series: dict[Key, Series] = {}
    for a in split_series(frame):
        s = make_series(a)
        if s.role == "time":
            s = cumulative_to_increments(s)
        series[(s.metric, s.split)] = s
    ctx = RunView(run_id=run_id, series=series, meta=meta)
    if not any(s.role in ("time", "throughput") for s in series.values()):
        base = ctx.primary_loss
        if base is not None:
            derived = wall_time_series(base)
            if derived is not None:
                series[(derived.metric, derived.split)] = derived
    return ctx
