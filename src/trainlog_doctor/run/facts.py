"""Run facts: the run-level numbers the knowledge base weighs, read from the view's series.

:func:`run_facts` is pure numpy over :class:`~trainlog_doctor.run.series.Series` objects: the
learning-rate points, the run length (last epoch, last step), the ``data_time``, ``time`` and memory
series as (step, value) pairs, and the step range of every series. ``RunView.facts`` holds the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from trainlog_doctor.run.series import Key, Series

Points = tuple[tuple[int, float], ...]

#: Long series are thinned to at most this many points before they become Python tuples.
MAX_FACT_POINTS = 5000
_MEMORY_RE = re.compile(r"(^|[/_])(memory|mem|max_mem|gpu_mem|memory_allocated|max_memory_allocated)(_mb|_gb)?$", re.IGNORECASE)


@dataclass(frozen=True)
class RunFacts:
    """Run-level facts, each point list as finite (step, value) pairs sorted by step.

    ``lr_points``: the run's learning rate; ``data_time`` and ``step_time``: the ``data_time`` and
    ``time`` series of split ``other`` (seconds per step as the view has them: per-step increments of a
    cumulative time, or derived from wall-clock times when the run logs no duration); ``memory``: the
    first memory series of split ``other`` by name; ``max_epoch``/``max_step``: the last epoch and step
    of any series; ``ranges``: the (first, last) step of every series.
    """

    lr_points: Points = ()
    max_epoch: float | None = None
    max_step: int | None = None
    data_time: Points = ()
    step_time: Points = ()
    memory: Points = ()
    ranges: Mapping[Key, tuple[int, int]] = field(default_factory=dict)


def fact_points(s: Series | None, *, piecewise_constant: bool = False) -> Points:
    """The finite (step, value) pairs of ``s``; a series longer than :data:`MAX_FACT_POINTS` is thinned.

    A ``piecewise_constant`` series (a learning rate) first keeps only its first and last points and
    the points next to a change of value, so lookups stay exact; what is still too long keeps every
    k-th point.
    """
    if s is None:
        return ()
    idx, values = s.finite_view()
    steps = s.steps[idx]
    if values.size > MAX_FACT_POINTS:
        if piecewise_constant:
            differs = values[1:] != values[:-1]
            keep = np.ones(values.size, dtype=bool)
            keep[1:-1] = differs[:-1] | differs[1:]  # changed from the previous value or to the next one
            steps, values = steps[keep], values[keep]
        if values.size > MAX_FACT_POINTS:
            stride = -(-values.size // MAX_FACT_POINTS)
            steps, values = steps[::stride], values[::stride]
    return tuple(zip(steps.tolist(), values.tolist()))


def run_facts(series: Mapping[Key, Series], lr: Series | None) -> RunFacts:
    """The facts of a run from its series by (metric, split) and its learning-rate series."""
    memory = next((m for m in sorted(m for m, split in series if split == "other") if _MEMORY_RE.search(m)), None)
    epochs = [e for e in (s.epochs[np.isfinite(s.epochs)] for s in series.values()) if e.size]
    steps = [s.steps for s in series.values() if len(s)]
    return RunFacts(
        lr_points=fact_points(lr, piecewise_constant=True),
        max_epoch=max(float(e.max()) for e in epochs) if epochs else None,
        max_step=max(int(st.max()) for st in steps) if steps else None,
        data_time=fact_points(series.get(("data_time", "other"))),
        step_time=fact_points(series.get(("time", "other"))),
        memory=fact_points(series[(memory, "other")]) if memory is not None else (),
        ranges={k: (int(s.steps[0]), int(s.steps[-1])) for k, s in series.items() if len(s)},
    )


def _median(values: Sequence[float]) -> float | None:
    v = sorted(values)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def data_time_share(facts: RunFacts, lo_step: int | None = None, hi_step: int | None = None) -> float | None:
    """Median ``data_time`` over median step ``time`` between two steps (the whole run where that
    stretch has no points), clipped to 0..1; ``None`` when the run logs either series not at all."""
    if not facts.data_time or not facts.step_time:
        return None
    lo = lo_step if lo_step is not None else -(2**62)
    hi = hi_step if hi_step is not None else 2**62
    dt = {s: v for s, v in facts.data_time if lo <= s <= hi} or dict(facts.data_time)
    tt = {s: v for s, v in facts.step_time if lo <= s <= hi} or dict(facts.step_time)
    mdt, mtt = _median(list(dt.values())), _median(list(tt.values()))
    if mdt is None or not mtt or mtt <= 0:
        return None
    return min(max(mdt / mtt, 0.0), 1.0)


def memory_growth(facts: RunFacts, min_points: int = 8) -> tuple[float, float] | None:
    """(first-quarter, last-quarter) median of the memory series, when it has ``min_points`` and a
    positive start."""
    if len(facts.memory) < min_points:
        return None
    vals = [v for _, v in facts.memory]
    q = len(vals) // 4
    a, b = _median(vals[:q]), _median(vals[-q:])
    return (a, b) if a is not None and b is not None and a > 0 else None
