"""slowdown: the time per step or per epoch rises for good."""

from __future__ import annotations

import math

import numpy as np

from trainlog_doctor.model.report import Finding, Severity
from trainlog_doctor.rules.analysis import analysis_of
from trainlog_doctor.rules.base import Rule, fmt, fmt_ratio
from trainlog_doctor.run import RunView, Series
from trainlog_doctor.signals.trends import find_sustained_rise


class StepTimeSlowdown(Rule):
    """Training got slower and stayed slower: the time per step or epoch rose for good.

    What it detects: in a duration series (``time``, ``data_time``, ``epoch_time``, ultralytics'
    cumulative ``time`` turned into per-epoch durations, or seconds per step derived from the
    wall-clock times of the main loss when no time is logged) the median of the last 12% of points
    is at least ``min_ratio`` times the fastest smoothed level before it and ``k_noise`` robust
    sigmas above it (log scale), and stays above the half-way level to the end. Throughput series
    (``samples_per_second``) are judged the same way on their inverse. The first ``skip_head``
    points (start-up, compilation, cache warm-up) are ignored. ``data_time`` only counts when its rise
    is at least 10% of the step time, when that is logged. A slowdown seen only in the wall-clock
    times is ``info`` below ``min_ratio_derived`` (3x): those gaps also hold evaluation,
    checkpointing and logging.

    Why it matters: an input pipeline that falls behind, a memory leak that makes the host swap,
    growing logging or checkpoint costs, a throttled GPU: the same run costs more and more.

    Does not count: one slow step (an evaluation, a checkpoint, a resume gap), a slow first epoch,
    a rise of less than ``min_seconds`` (10 ms) per step or epoch (timer noise of a tiny workload),
    series shorter than 8 points.

    Example: case "input_pipeline_falls_behind" in tests/rule_cases/SL001.toml: detectron2, logged every
    20 iterations: time ~0.21 s/iter for 3000 iterations, then ~0.55 s/iter until iteration 5000 ->
    "time rose 2.6x after step 3019 (0.208 -> 0.545 s) and stayed there".
    """

    code = "SL001"
    kind = "slowdown"
    severity = "warning"
    name = "step-time-slowdown"

    min_ratio: float = 1.3
    min_ratio_derived: float = 3.0
    min_seconds: float = 0.01
    k_noise: float = 5.0
    skip_head: int = 2
    min_points: int = 8

    def check(self, ctx: RunView) -> list[Finding]:
        out: list[Finding] = []
        step_time = self._step_time_level(ctx)
        for s in ctx.series.values():
            if s.role not in ("time", "throughput") or s.n_finite < self.min_points:
                continue
            f = self._series(ctx, s, step_time)
            if f is not None:
                out.append(f)
        return out

    @staticmethod
    def _step_time_level(ctx: RunView) -> float | None:
        for name in ("time", "iter_time", "batch_time", "step_time"):
            for split in ("other", "train"):
                s = ctx.get(name, split)
                if s is not None and s.n_finite:
                    return float(np.median(s.values[s.finite]))
        return None

    def _series(self, ctx: RunView, s: Series, step_time: float | None) -> Finding | None:
        if not s.positive:
            return None
        an = analysis_of(s, log=True)
        if s.role == "throughput":
            an = an.negated()  # a falling throughput is a rising time per sample
        if len(an) <= self.skip_head + self.min_points - 2:
            return None
        cut = self.skip_head
        trimmed = an.without_head(cut)
        rise = find_sustained_rise(
            trimmed, min_rise=math.log10(self.min_ratio), k_noise=self.k_noise, min_points=self.min_points - cut
        )
        if rise is None:
            return None
        if s.role == "throughput":
            before, after = 10.0 ** (-rise.best), 10.0 ** (-rise.after)
            ratio = before / after
        else:
            before, after = 10.0**rise.best, 10.0**rise.after
            ratio = after / before
            if "data" in s.metric.lower() and step_time is not None and (after - before) < 0.1 * step_time:
                return None
            if after - before < self.min_seconds:
                return None
        start = trimmed.pos(rise.onset)
        if s.role == "throughput":
            msg = (
                f"Throughput {s.metric} fell {fmt_ratio(ratio)} after {s.where(start)} "
                f"({fmt(before)} -> {fmt(after)}) and stayed low"
            )
        else:
            what = "Time per step (from wall-clock times)" if s.derived else f"{s.metric}"
            msg = (
                f"{what} rose {fmt_ratio(ratio)} after {s.where(start)} ({fmt(before)} -> {fmt(after)} s) "
                "and stayed there"
            )
        ev = {"value_before": before, "value_after": after, "ratio": ratio, "zscore": rise.zscore, "derived": bool(s.derived)}
        # wall-clock gaps also hold evaluation, checkpointing and logging: trust big changes only
        severity: Severity = "info" if s.derived and ratio < self.min_ratio_derived else self.severity
        return self.finding(ctx, s, start=start, end=len(s) - 1, message=msg, evidence=ev, severity=severity)
