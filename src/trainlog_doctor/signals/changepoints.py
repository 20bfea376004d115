"""Change-point detection with a default penalty derived from the series' own noise.

The series is cleaned (NaN/Inf interpolated), rescaled, stripped of isolated spikes (a spike is not a
change of level), standardized by its robust noise sigma and segmented by PELT (exact penalized
least squares) with penalty ``c * ln(n)`` in units of sigma^2. Long series are segmented on block
means and each break is then refined on the full-resolution data.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from trainlog_doctor.signals.transforms import (
    as_float_array,
    fill_nonfinite,
    log_view,
    robust_noise,
    rolling_median,
    should_use_log,
)

__all__ = [
    "MODELS",
    "default_penalty",
    "detect_changepoints",
    "detect_changepoints_auto",
    "pelt",
    "segment_cost",
    "segments_from_changepoints",
]

Model = Literal["l2", "linear"]
MODELS: tuple[str, ...] = ("l2", "linear")

# Penalty per change point in units of sigma^2 * ln(n), per model; chosen on benchmarks/changepoint_cases.py.
PENALTY_FACTOR: dict[str, float] = {"l2": 3.0, "linear": 4.0}
# Points further than this many sigmas from the rolling median count as spikes and are clipped.
SPIKE_SIGMAS = 4.0
# Never resolve structure finer than this fraction of the series' range (keeps sums well conditioned).
_MIN_RELATIVE_SIGMA = 2e-5


def segments_from_changepoints(n: int, cps: list[int] | np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` segments covering ``range(n)`` split at ``cps`` (out-of-range ones ignored)."""
    n = int(n)
    if n <= 0:
        return []
    cuts = sorted({int(c) for c in cps if 0 < int(c) < n})
    bounds = [0, *cuts, n]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def default_penalty(n: int, model: str = "l2") -> float:
    """The default cost of one change point for a series of length ``n`` standardized to unit noise."""
    return PENALTY_FACTOR[model] * math.log(max(n, 3))


class _Sums:
    """Prefix sums that give the least-squares cost of any segment in O(1), vectorized over starts."""

    def __init__(self, y: np.ndarray, model: str) -> None:
        self.model = model
        zero = np.zeros(1)
        self.y1 = np.concatenate([zero, np.cumsum(y)])
        self.y2 = np.concatenate([zero, np.cumsum(y * y)])
        if model == "linear":
            t = (np.arange(y.size, dtype=np.float64) - 0.5 * y.size) / max(y.size, 1)
            self.t1 = np.concatenate([zero, np.cumsum(t)])
            self.t2 = np.concatenate([zero, np.cumsum(t * t)])
            self.ty = np.concatenate([zero, np.cumsum(t * y)])

    def cost(self, start: np.ndarray | int, end: np.ndarray | int) -> np.ndarray:
        """Residual sum of squares of ``y[start:end]`` around its best constant (l2) or line (linear)."""
        length = np.asarray(end, dtype=np.float64) - np.asarray(start, dtype=np.float64)
        sy = self.y1[end] - self.y1[start]
        syy = self.y2[end] - self.y2[start] - sy * sy / length
        if self.model == "l2":
            return np.maximum(syy, 0.0)
        st = self.t1[end] - self.t1[start]
        stt = self.t2[end] - self.t2[start] - st * st / length
        sty = self.ty[end] - self.ty[start] - st * sy / length
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.where(stt > 0.0, sty * sty / stt, 0.0)
        return np.maximum(syy - fit, 0.0)


def segment_cost(y: np.ndarray, model: str = "l2") -> float:
    """Least-squares cost of one whole segment (constant or straight-line fit)."""
    y = np.asarray(y, dtype=np.float64)
    if y.size < 2:
        return 0.0
    return float(_Sums(y, model).cost(0, y.size))


def pelt(y: np.ndarray, penalty: float, min_size: int = 2, model: str = "l2") -> list[int]:
    """Exact penalized segmentation (PELT, Killick et al. 2012) of ``y``; returns segment starts (no 0).

    Minimizes sum(segment cost) + penalty * (number of change points) over segmentations whose
    segments have at least ``min_size`` points; vectorized over the candidate set.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    min_size = max(int(min_size), 2 if model == "linear" else 1)
    if n < 2 * min_size:
        return []
    sums = _Sums(y, model)
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    last = np.zeros(n + 1, dtype=np.int64)
    cand = np.zeros(0, dtype=np.int64)
    for t in range(min_size, n + 1):
        s_new = t - min_size
        if s_new == 0 or s_new >= min_size:
            cand = np.append(cand, s_new)
        total = best[cand] + sums.cost(cand, t)
        k = int(np.argmin(total))
        best[t] = total[k] + penalty
        last[t] = cand[k]
        cand = cand[total <= best[t]]
    cps: list[int] = []
    t = n
    while t > 0:
        s = int(last[t])
        if s > 0:
            cps.append(s)
        t = s
    return sorted(cps)


def _despike(y: np.ndarray, sigma: float, min_size: int) -> np.ndarray:
    """Replace points more than SPIKE_SIGMAS noise sigmas from a short rolling median by that median."""
    if y.size < 5 or sigma <= 0.0:
        return y
    window = max(5, 2 * min_size + 1)
    med = rolling_median(y, window)
    out = y.copy()
    bad = np.abs(y - med) > SPIKE_SIGMAS * sigma
    out[bad] = med[bad]
    return out


def _prepare(x: np.ndarray) -> np.ndarray | None:
    """Finite, rescaled copy of ``x`` (None when nothing finite or constant)."""
    x = fill_nonfinite(x)
    if x.size == 0 or not np.isfinite(x).all():
        return None
    top = float(np.abs(x).max())
    if top == 0.0:
        return None
    x = x / top
    x = x - float(np.median(x))
    if float(x.max() - x.min()) == 0.0:
        return None
    return x


def _standardize(x: np.ndarray, min_size: int) -> np.ndarray:
    """Despiked copy of ``x`` in units of its robust noise sigma (floored at a fraction of the range)."""
    span = float(x.max() - x.min())
    sigma = max(robust_noise(x), _MIN_RELATIVE_SIGMA * span)
    return _despike(x, sigma, min_size) / sigma


def _best_split(y: np.ndarray, lo: int, hi: int, model: str, min_size: int) -> int | None:
    """The single split of ``y`` in ``[lo, hi)`` with the lowest two-segment cost."""
    n = y.size
    lo = max(lo, min_size)
    hi = min(hi, n - min_size + 1)
    if hi <= lo:
        return None
    sums = _Sums(y, model)
    splits = np.arange(lo, hi)
    total = sums.cost(np.zeros_like(splits), splits) + sums.cost(splits, np.full_like(splits, n))
    return int(splits[int(np.argmin(total))])


def _detect_long(x: np.ndarray, penalty: float | None, min_size: int, model: str, max_points: int) -> list[int]:
    """Segment block means of a long series, then refine each break on the full data near it."""
    n = x.size
    block = -(-n // max_points)
    nb = n // block
    body = x[: nb * block].reshape(nb, block).mean(axis=1)
    small_min = max(2, -(-min_size // block))
    coarse = _detect_core(body, penalty, small_min, model)
    if not coarse:
        return []
    out: list[int] = []
    edges = [0, *[c * block for c in coarse], n]
    for i, c in enumerate(coarse, start=1):
        centre = c * block
        lo = max(edges[i - 1] + min_size, centre - 2 * block, (out[-1] + min_size) if out else 0)
        hi = min(edges[i + 1] - min_size, centre + 2 * block)
        seg_lo = max(edges[i - 1], centre - 4 * block)
        seg_hi = min(edges[i + 1], centre + 4 * block)
        local = x[seg_lo:seg_hi]
        local = _standardize(local, min_size) if local.size > 5 else local
        split = _best_split(local, lo - seg_lo, hi - seg_lo + 1, model, min_size)
        out.append(centre if split is None else seg_lo + split)
    return sorted(set(out))


def _detect_core(x: np.ndarray, penalty: float | None, min_size: int, model: str) -> list[int]:
    y = _standardize(x, min_size)
    pen = default_penalty(y.size, model) if penalty is None else float(penalty)
    return pelt(y, pen, min_size=min_size, model=model)


def detect_changepoints(
    values: Any,
    *,
    penalty: float | None = None,
    min_size: int | None = None,
    model: Model = "l2",
    max_points: int = 2000,
) -> list[int]:
    """0-based indices where a new segment starts (sorted, never 0 or ``len(values)``).

    ``values`` are used as given (see :func:`detect_changepoints_auto` for the log view of losses).
    NaN/Inf are interpolated (indices keep their meaning), isolated spikes are ignored, and the
    series is standardized by its robust noise sigma, so ``penalty`` (the cost of one change point,
    in units of sigma^2; default ``c * ln(n)``) rarely needs tuning. ``model`` is ``"l2"``
    (piecewise-constant level) or ``"linear"`` (piecewise straight-line trend). ``min_size`` is the
    shortest segment (default 5, less for short series). Series longer than ``max_points`` are
    segmented on block means and each break is refined on the full data.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if penalty is not None and not (penalty >= 0.0 and math.isfinite(penalty)):
        raise ValueError(f"penalty must be a finite number >= 0, got {penalty!r}")
    raw = as_float_array(values)
    n = raw.size
    if n < 3:
        return []
    if min_size is None:
        min_size = int(min(5, max(2, n // 10)))
    min_size = int(min_size)
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1, got {min_size}")
    if max_points < 10:
        raise ValueError(f"max_points must be >= 10, got {max_points}")
    x = _prepare(raw)
    if x is None or n < 2 * min_size:
        return []
    if n > max_points:
        cps = _detect_long(x, penalty, min_size, model, max_points)
    else:
        cps = _detect_core(x, penalty, min_size, model)
    return [int(c) for c in cps if 0 < c < n]


def detect_changepoints_auto(values: Any, **options: Any) -> list[int]:
    """:func:`detect_changepoints` on the log10 view when the series is positive and spans decades."""
    arr = as_float_array(values)
    if should_use_log(arr):
        arr = log_view(arr)
    return detect_changepoints(arr, **options)
