"""Questions about a learning-rate schedule, asked of its finite ``(steps, values)``."""

from __future__ import annotations

import numpy as np

__all__ = ["frozen_from", "raised_within", "rises_repeatedly"]


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
