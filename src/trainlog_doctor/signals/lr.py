"""Questions about a learning-rate schedule, asked of its finite ``(steps, values)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LRSchedule", "frozen_from", "lr_schedule", "raised_within", "rises_repeatedly"]


def frozen_from(steps: np.ndarray, values: np.ndarray, step_from: int, *, rel: float = 0.01) -> bool:
    """True when the learning rate in force from ``step_from`` on is at most ``rel`` of its peak.

    A model whose learning rate was decayed to ~0 stops changing: its losses and accuracies stay
    constant because it is frozen, not because it gives one answer to every input.
    """
    if values.size == 0:
        return False
    top = float(np.max(np.abs(values)))
    if top <= 0:
        return True
    j = int(np.searchsorted(steps, step_from, side="right")) - 1
    tail = values[max(j, 0) :]
    return bool(tail.size) and float(np.max(np.abs(tail))) <= rel * top


def rises_repeatedly(values: np.ndarray, *, min_rise: float = 0.2, min_runs: int = 2, min_points: int = 4) -> bool:
    """True when the learning rate goes up (by more than ``min_rise`` from one point to the next) in
    at least ``min_runs`` separate runs: cyclic schedules, warm restarts."""
    if values.size < min_points:
        return False
    d = np.diff(values)
    ups = np.flatnonzero(d > min_rise * np.abs(values[:-1]))
    if ups.size == 0:
        return False
    runs = 1 + int(np.sum(np.diff(ups) > 1))
    return runs >= min_runs


def raised_within(steps: np.ndarray, values: np.ndarray, step_lo: int, step_hi: int, *, min_factor: float = 1.2) -> bool:
    """True when the learning rate rose above ``min_factor`` times its running minimum between two
    steps (the value in force at ``step_lo`` included)."""
    if values.size < 2:
        return False
    sel = np.flatnonzero((steps >= step_lo) & (steps <= step_hi))
    if sel.size == 0:
        return False
    first = max(int(sel[0]) - 1, 0)
    seg = values[first : int(sel[-1]) + 1]
    if seg.size < 2:
        return False
    return bool(np.max(seg[1:] / np.maximum(np.minimum.accumulate(seg)[:-1], 1e-30)) > min_factor)


#: Schedule shapes :func:`lr_schedule` tells apart.
SHAPES = ("constant", "warm-up", "step", "cosine-like", "plateau cuts", "cyclic")


@dataclass(frozen=True)
class LRSchedule:
    """The shape of a logged learning-rate series.

    ``peak``/``peak_step``: the largest rate and the first step it is reached; ``warmup_end``: the step
    where a gradual rise from the first point to the peak ends (``None``: no warm-up); ``cuts``: the
    drops of ``cut_factor`` or more from one constant stretch to the next, as (step of the new rate,
    old/new ratio); ``raises``: the jumps up by ``cut_factor`` or more after a constant stretch, as
    (step, new/old ratio); ``shape`` one of :data:`SHAPES` (``cosine-like`` covers every smooth decay).
    """

    first: float
    last: float
    peak: float
    peak_step: int
    shape: str
    warmup_end: int | None = None
    cuts: tuple[tuple[int, float], ...] = ()
    raises: tuple[tuple[int, float], ...] = ()

    def cut_before(self, step: int) -> tuple[int, float] | None:
        """The last cut at or before ``step`` (``None`` when the rate was never cut before it)."""
        before = [c for c in self.cuts if c[0] <= step]
        return before[-1] if before else None

    def raised_before(self, step: int) -> tuple[int, float] | None:
        """The last jump up at or before ``step``."""
        before = [r for r in self.raises if r[0] <= step]
        return before[-1] if before else None


def _stretches(values: np.ndarray, rel: float) -> list[tuple[int, int]]:
    """(first index, last index) of the runs of equal values (``rel`` relative tolerance)."""
    out: list[tuple[int, int]] = []
    start = 0
    for j in range(1, values.size + 1):
        if j == values.size or abs(values[j] - values[start]) > rel * max(abs(values[start]), 1e-30):
            out.append((start, j - 1))
            start = j
    return out


def rise_phases(values: np.ndarray, *, min_factor: float = 1.5) -> int:
    """How many times the series climbs by ``min_factor`` or more from a low, each climb ended by a fall
    of the same factor from its high (the upswings of a cyclic schedule, gradual or stepped)."""
    count, rising = 0, False
    low = high = float(values[0]) if values.size else 0.0
    for v in values[1:]:
        v = float(v)
        if not rising:
            low = min(low, v)
            if low > 0 and v / low >= min_factor:
                count, rising, high = count + 1, True, v
        else:
            high = max(high, v)
            if v > 0 and high / v >= min_factor:
                rising, low = False, v
    return count


def _evenly_spaced(steps: list[int], tol: float = 0.15) -> bool:
    gaps = np.diff(np.asarray(steps, dtype=float))
    return bool(gaps.size >= 1 and np.all(np.abs(gaps - gaps.mean()) <= tol * gaps.mean()))


def lr_schedule(steps: np.ndarray, values: np.ndarray, *, scheduler: str | None = None,
                cut_factor: float = 1.5, flat_rel: float = 0.01) -> LRSchedule | None:
    """The shape of the finite, positive learning-rate points ``(steps, values)`` (``None``: fewer than 2).

    Constant: max/min within ``flat_rel``. Warm-up: the rate rises over at least 3 points from the first
    one to the peak. After the peak, a drop of ``cut_factor`` or more out of a stretch of at least two
    equal points is a cut; cuts make the shape ``step`` (evenly spaced, or fewer than three) or
    ``plateau cuts`` (three or more at uneven intervals, or a configured ``scheduler`` naming a plateau);
    a rate that goes up more than once after the warm-up is ``cyclic``; any other decay is ``cosine-like``.
    """
    keep = np.isfinite(values) & (values > 0)
    steps, values = np.asarray(steps)[keep], np.asarray(values, dtype=float)[keep]
    if values.size < 2:
        return None
    ip = int(np.argmax(values))
    peak = float(values[ip])
    first, last = float(values[0]), float(values[-1])
    peak_step = int(steps[ip])
    if peak <= float(np.min(values)) * (1 + flat_rel):
        return LRSchedule(first, last, peak, peak_step, "constant")
    runs = _stretches(values, flat_rel)
    cuts: list[tuple[int, float]] = []
    raises: list[tuple[int, float]] = []
    for (a0, a1), (b0, _) in zip(runs, runs[1:]):
        old, new = values[a0], values[b0]
        if a1 > a0 and old / new >= cut_factor:
            cuts.append((int(steps[b0]), float(old / new)))
        elif a1 > a0 and new / old >= cut_factor:
            raises.append((int(steps[b0]), float(new / old)))
    rise = values[: ip + 1]
    warmup_end = None
    if ip >= 2 and first <= 0.5 * peak and np.all(np.diff(rise) >= -flat_rel * peak) and not raises:
        warmup_end = int(steps[ip])
    after = values[ip:]
    if rises_repeatedly(after) or rise_phases(after, min_factor=cut_factor) >= 2:
        shape = "cyclic"
    elif cuts:
        plateau = scheduler is not None and "plateau" in scheduler.lower()
        uneven = len(cuts) >= 3 and not _evenly_spaced([c[0] for c in cuts])
        shape = "plateau cuts" if plateau or uneven else "step"
    elif after.size >= 2 and after[-1] < after[0] * (1 - flat_rel):
        shape = "cosine-like"
    elif warmup_end is not None:
        shape = "warm-up"
    else:
        shape = "constant" if not raises else "step"
    return LRSchedule(first, last, peak, peak_step, shape, warmup_end, tuple(cuts), tuple(raises))
