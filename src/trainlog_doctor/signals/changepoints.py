"""Change-point detection that needs no tuning: the penalty comes from the series' own noise.

Pipeline: NaN/Inf are interpolated (indices keep their meaning), the series is rescaled (1e30 and
1e-30 behave like 1), isolated 1-3 point spikes are replaced by a line across them (a spike is not a
change of level), and the rest is standardized by the long-run sigma of its noise: the robust sigma of
the first differences, widened by ``(1 + phi) / (1 - phi)^2`` for AR(1)-like noise whose persistence
``phi`` is read from the lag-1 and lag-2 differences (:func:`noise_persistence`) and checked again on
the residuals of the segments found. Random walks, smoothed losses, seasonal and smooth curves therefore
cost what their wandering is worth instead of looking like many steps. PELT (Killick et al. 2012, exact
penalized least squares, vectorized here) then segments it with a BIC-like penalty of
``(LOCATION_WEIGHT + degree + 1) * ln(n)`` per change point; when the noise is persistent or the segments
are parabolas, each default break must also be a step: two local lines split at it must fit clearly better
than one local parabola (kinks between lines in white noise stay: the shape rules use them). Each segment is a
constant (``"l2"``), a straight line (``"linear"``) or a parabola (``"quadratic"``); ``"auto"`` (the
default) fits all three and keeps the one with the lowest penalized cost, so steps on flat curves,
steps on trends and steps on curved training-loss decays are all handled. Series longer than
``max_points`` are segmented on block means and each break is refined on the full-resolution data
(1,000,000 points take about 0.2 s).

Piecewise-constant segments are searched with ruptures' C kernel search (``KernelCPD`` with the
linear kernel, the same optimum as ``Pelt(model="l2")``); line and parabola segments use our own
vectorized PELT, because ruptures has no O(1) cost for them and its pure-Python ``Pelt`` needs
minutes for 5000 points. ``benchmarks/bench_changepoints.py`` compares against ruptures' baselines.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import pairwise
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
    "long_run_factor",
    "noise_persistence",
    "pelt",
    "segment_cost",
    "segments_from_changepoints",
]

Model = Literal["auto", "l2", "linear", "quadratic"]
MODELS: tuple[str, ...] = ("auto", "l2", "linear", "quadratic")
# Polynomial degree of the fit inside each segment, per model.
DEGREES: dict[str, int] = {"l2": 0, "linear": 1, "quadratic": 2}

# Cost of one change point, in sigma^2 * ln(n): (LOCATION_WEIGHT + degree + 1), i.e. BIC-like with the
# location counted as LOCATION_WEIGHT parameters. Chosen on benchmarks/changepoint_cases.py (seed 1) and
# kept (1.5 and 2 tried on the tuning part: no better, and the rules were tuned with 3).
LOCATION_WEIGHT = 3.0
# "auto" adds MODEL_WEIGHT * (degree + 1) * ln(n) per segment model before comparing models.
MODEL_WEIGHT = 5.0
# A jump into and back out of a 1-3 point excursion larger than this many sigmas is a spike (removed).
SPIKE_SIGMAS = 4.0
# Never resolve structure finer than this fraction of the series' range (keeps sums well conditioned).
_MIN_RELATIVE_SIGMA = 2e-5
# Up to this many points PELT builds the full segment-cost matrix instead of pruning candidates.
DENSE_MAX_POINTS = 200
# The residual-based persistence re-segments the series when it means a long-run variance this many times larger.
RECHECK_RATIO = 2.0
# Dependent noise (random walks, smoothed losses, seasonal or smooth curves) is measured by the lag-one
# autocorrelation phi of the noise (see noise_persistence) and the penalty scaled by its long-run variance.
# PHI_MAX: 0.97 bounds the widening at (1.97 / 0.03^2) = 2189x the white-noise variance, so that a random walk
# of 600 points keeps at most a couple of breaks while an AR(1) phi = 0.9 series keeps a clear step.
PHI_MAX = 0.97
# Estimates of phi below PHI_IGNORE_SE / sqrt(n) are read as white noise: for white noise the estimate
# scatters with sd about 1 / sqrt(n) (measured: 0.10 at 100 points, 0.043 at 600), so this is 2.5 sd.
PHI_IGNORE_SE = 2.5
# Shorter series get no correction: two robust scales of fewer points cannot tell phi from 0.
PHI_MIN_POINTS = 20
# The sigma is widened by long_run_factor(phi) ** (LONG_RUN_POWER / 2); 1.0 is the full long-run variance
# (0.6 and 0.8, tried on the tuning part, gave up random walks and seasonal curves for little on steps).
LONG_RUN_POWER = 1.0
_MAD_TO_SIGMA = 1.4826
# Default "auto" breaks must be steps: two local lines split at the break must beat one local parabola by
# JUMP_WEIGHT * ln(n) noise variances, over at most JUMP_WINDOW * n points on each side (see _confirm).
# Both chosen on the tuning part of benchmarks/changepoint_cases.py (weights 1-3, windows 0.05-0.3 tried).
JUMP_WEIGHT = 1.5
JUMP_WINDOW = 0.3
# The smooth alternative of that check: a parabola (a cubic, tried on the tuning part, also absorbs weak steps).
JUMP_SMOOTH_DEGREE = 2
# The check is also made over a window JUMP_SCALES times narrower and the smaller gain counts: a parabola
# follows a slow wave over a short stretch, while a step keeps a large gain at both widths.
JUMP_SCALES = 2
# A first difference further than this many robust sigmas from the median crosses a step or a spike.
JUMP_SIGMAS = 3.5
# Window (in differences) of the rolling median the differences are measured from: at most DRIFT_WINDOW
# (wide enough that subtracting it biases phi = 0.9 by less than 0.03) and at most n / DRIFT_SHARE, so that
# on a short run it follows a slope that changes (PL001's rule cases: a 20-epoch fall in a 60-epoch run).
DRIFT_WINDOW = 41
DRIFT_SHARE = 4


def segments_from_changepoints(n: int, cps: list[int] | np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` segments covering ``range(n)`` split at ``cps`` (out-of-range ones ignored)."""
    n = int(n)
    if n <= 0:
        return []
    cuts = sorted({int(c) for c in cps if 0 < int(c) < n})
    bounds = [0, *cuts, n]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def default_penalty(n: int, model: str = "l2") -> float:
    """The default cost of one change point for ``n`` points standardized to unit noise (fixed models)."""
    degree = DEGREES.get(model, 0)
    return (LOCATION_WEIGHT + degree + 1) * math.log(max(n, 3))


class _Sums:
    """Prefix sums that give the least-squares cost of any segment in O(1), vectorized over segments.

    The cost of ``y[s:e]`` is the residual sum of squares around its best polynomial of ``degree``
    (0, 1 or 2) in time. A global polynomial of the same degree is removed first: segment costs do
    not change and the sums stay small.
    """

    def __init__(self, y: np.ndarray, degree: int) -> None:
        n = y.size
        self.degree = degree
        t = (np.arange(n, dtype=np.float64) - 0.5 * (n - 1)) / max(n - 1, 1) * 2.0
        if degree > 0 and n > degree:
            basis = np.vander(t, degree + 1)  # t spans [-1, 1]: the normal equations are well conditioned
            coef = np.linalg.solve(basis.T @ basis, basis.T @ y)
            y = y - basis @ coef
        else:
            y = y - y.mean() if n else y
        zero = np.zeros(1)

        def cum(a: np.ndarray) -> np.ndarray:
            return np.concatenate([zero, np.cumsum(a)])

        self.y0, self.yy = cum(y), cum(y * y)
        if degree >= 1:
            self.t1, self.t2, self.ty = cum(t), cum(t * t), cum(t * y)
        if degree >= 2:
            self.t3, self.t4, self.tty = cum(t**3), cum(t**4), cum(t * t * y)

    def cost(self, start: np.ndarray | int, end: np.ndarray | int) -> np.ndarray:
        """Residual sum of squares of ``y[start:end]`` around its best polynomial fit (broadcasts)."""
        start = np.asarray(start)
        end = np.asarray(end)
        inv = 1.0 / (end - start)  # segments are never empty
        y0 = self.y0[end] - self.y0[start]
        syy = self.yy[end] - self.yy[start] - y0 * y0 * inv
        if self.degree == 0:
            return np.maximum(syy, 0.0)
        s1 = self.t1[end] - self.t1[start]
        s2 = self.t2[end] - self.t2[start]
        g11 = s2 - s1 * s1 * inv
        h1 = self.ty[end] - self.ty[start] - s1 * y0 * inv
        ok1 = g11 > 0.0
        fit1 = np.divide(h1 * h1, g11, out=np.zeros_like(g11), where=ok1)
        if self.degree == 1:
            return np.maximum(syy - fit1, 0.0)
        s3 = self.t3[end] - self.t3[start]
        s4 = self.t4[end] - self.t4[start]
        g12 = s3 - s1 * s2 * inv
        g22 = s4 - s2 * s2 * inv
        h2 = self.tty[end] - self.tty[start] - s2 * y0 * inv
        det = g11 * g22 - g12 * g12
        ok2 = det > 1e-9 * g11 * g22  # near-singular (tiny segments): keep the straight-line fit
        num = g22 * h1 * h1 - 2.0 * g12 * h1 * h2 + g11 * h2 * h2
        fit = np.divide(num, det, out=fit1, where=ok2)
        return np.maximum(syy - fit, 0.0)


def segment_cost(y: np.ndarray, model: str = "l2") -> float:
    """Least-squares cost of one whole segment under ``model`` (constant, line or parabola)."""
    y = np.asarray(y, dtype=np.float64)
    degree = DEGREES[model]
    if y.size <= degree + 1:
        return 0.0
    return float(_Sums(y, degree).cost(0, y.size))


def pelt(y: np.ndarray, penalty: float, min_size: int = 2, model: str = "l2") -> tuple[list[int], float]:
    """Exact penalized segmentation (PELT, Killick et al. 2012) of ``y``.

    Minimizes sum(segment cost) + penalty * (number of change points) over segmentations whose
    segments have at least ``min_size`` points (vectorized over the candidate set). Returns the
    segment starts (without 0) and the minimized objective.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    degree = DEGREES[model]
    min_size = _model_min_size(model, min_size)
    if n < 2 * min_size:
        return [], float(_Sums(y, degree).cost(0, n)) if n > degree + 1 else 0.0
    if n <= DENSE_MAX_POINTS:
        return _dense_partition_models(y, (model,), [penalty], min_size)[0]
    sums = _Sums(y, degree)
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    last = np.zeros(n + 1, dtype=np.int64)
    cand = np.zeros(1, dtype=np.int64)
    # Segment ends t only need starts s <= t - min_size, so min_size ends are solved per step at once.
    t = min_size
    while t <= n:
        hi = min(t + min_size, n + 1)
        ends = np.arange(t, hi)
        total = best[cand][:, None] + sums.cost(cand[:, None], ends[None, :])
        # The newest starts are too close to the first ends of this block.
        first_bad = np.searchsorted(cand, ends - min_size, side="right")
        for j in range(ends.size):
            total[first_bad[j] :, j] = np.inf
        k = np.argmin(total, axis=0)
        cols = np.arange(ends.size)
        best[ends] = total[k, cols] + penalty
        last[ends] = cand[k]
        # Pruning (K = 0): a start that cannot beat the optimum at this end never will later.
        keep = total[:, -1] <= best[hi - 1]
        keep[first_bad[-1] :] = True  # not yet comparable at this end
        cand = cand[keep]
        cand = np.concatenate([cand, ends[ends >= min_size]])
        t = hi
    return _backtrack(last, n), float(best[n])


@lru_cache(maxsize=64)
def _segment_pairs(n: int, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every segment of ``range(n)`` with at least ``min_size`` points."""
    s_idx, e_idx = np.triu_indices(n + 1, k=min_size)
    s_idx.setflags(write=False)
    e_idx.setflags(write=False)
    return s_idx, e_idx


def _model_min_size(model: str, min_size: int) -> int:
    """The shortest segment :func:`pelt` allows for ``model`` (a line needs 3 points, a parabola 4)."""
    degree = DEGREES[model]
    return max(int(min_size), degree + 2 if degree else 1)


def _dense_partition_models(
    y: np.ndarray, models: tuple[str, ...], penalties: list[float], min_size: int
) -> list[tuple[list[int], float]]:
    """:func:`pelt` for several segment models of one short series in one pass of the recursion.

    Same optima as one :func:`pelt` call per model (each model keeps its own shortest segment).
    """
    n = y.size
    mins = [_model_min_size(m, min_size) for m in models]
    step = min(mins)
    s_idx, e_idx = _segment_pairs(n, step)
    k = len(models)
    cost = np.full((k, n + 1, n + 1), np.inf)
    for i, (model, m) in enumerate(zip(models, mins)):
        c = _Sums(y, DEGREES[model]).cost(s_idx, e_idx)
        if m > step:
            c = np.where(e_idx - s_idx >= m, c, np.inf)
        cost[i, s_idx, e_idx] = c
    pen = np.asarray(penalties, dtype=np.float64)
    best = np.full((k, n + 1), np.inf)
    best[:, 0] = -pen
    last = np.zeros((k, n + 1), dtype=np.int64)
    for t in range(step, n + 1, step):
        hi = min(t + step, n + 1)
        total = best[:, :t, None] + cost[:, :t, t:hi]
        last[:, t:hi] = total.argmin(axis=1)
        best[:, t:hi] = total.min(axis=1) + pen[:, None]
    return [(_backtrack(last[i], n), float(best[i, n])) for i in range(k)]


def _backtrack(last: np.ndarray, n: int) -> list[int]:
    cps: list[int] = []
    t = n
    while t > 0:
        s = int(last[t])
        if s > 0:
            cps.append(s)
        t = s
    return sorted(cps)


def _despike(y: np.ndarray, sigma: float, min_size: int, max_width: int = 3) -> np.ndarray:
    """Replace isolated spikes (1 to ``max_width`` points) by a straight line across them.

    A spike is a jump of more than SPIKE_SIGMAS noise sigmas away from the local trend followed, at
    most ``max_width`` points later, by a jump back that roughly cancels it. Level steps, ramps,
    resets and smooth curves (even noise-free ones) are left alone.
    """
    n = y.size
    if n < 4 or sigma <= 0.0:
        return y
    out = y.copy()
    threshold = SPIKE_SIGMAS * sigma
    window = max(5, 2 * min_size + 1)
    r: np.ndarray | None = None
    for width in range(1, max_width + 1):
        if n < width + 2:
            break
        if r is None:  # recomputed only after a spike was replaced
            d = np.diff(out)
            r = d - rolling_median(d, window) if d.size >= 3 else d
        a, b = r[:-width], r[width:]
        big_a, big_b = np.abs(a), np.abs(b)
        hit = (
            (big_a > threshold)
            & (big_b > threshold)
            & (np.sign(a) != np.sign(b))
            & (np.abs(a + b) < 0.5 * np.maximum(big_a, big_b))
        )
        for j in np.flatnonzero(hit):
            # d[j] jumps into the spike at j + 1, d[j + width] jumps back out after j + width.
            left, right = int(j), int(j) + width + 1
            out[left + 1 : right] = np.linspace(out[left], out[right], width + 2)[1:-1]
            r = None
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


def _noise_sigma(x: np.ndarray) -> float:
    """Robust noise sigma of ``x``, floored at a small fraction of its range."""
    span = float(x.max() - x.min())
    return max(robust_noise(x), _MIN_RELATIVE_SIGMA * span)


def _difference_scales(x: np.ndarray) -> tuple[float, float]:
    """Sigmas of the lag-1 and lag-2 differences of ``x``, without the differences that cross a jump.

    A lag-1 difference more than JUMP_SIGMAS robust sigmas (1.4826 * MAD) from the median is a step or a
    spike: it and the two lag-2 differences containing it are left out, and the rest give plain standard
    deviations (near full efficiency; Gaussian differences are cut at that level 0.05% of the time).
    """
    d1 = np.diff(x)
    d2 = d1[:-1] + d1[1:]
    # Deviations from a rolling median of the differences: a trend that changes slope (a fall that stops,
    # a decay) shifts the differences for long stretches, which is drift, not persistent noise.
    window = min(DRIFT_WINDOW, max(5, x.size // DRIFT_SHARE))
    dev1 = d1 - rolling_median(d1, window) if d1.size >= 3 else d1 - np.median(d1)
    dev2 = d2 - rolling_median(d2, window) if d2.size >= 3 else d2 - np.median(d2)
    mad = _MAD_TO_SIGMA * float(np.median(np.abs(dev1)))
    if mad <= 0.0:
        return 0.0, 0.0
    jump = np.abs(dev1) > JUMP_SIGMAS * mad
    keep1 = ~jump
    keep2 = ~(jump[:-1] | jump[1:])
    if keep1.sum() < 4 or keep2.sum() < 4:
        return 0.0, 0.0
    s1 = float(np.sqrt(np.mean(dev1[keep1] ** 2)))
    s2 = float(np.sqrt(np.mean(dev2[keep2] ** 2)))
    return s1, s2


def noise_persistence(values: Any) -> float:
    """Lag-one autocorrelation ``phi`` of the noise of a series with level steps, in ``[0, PHI_MAX]``.

    For AR(1) noise the lag-h variogram is ``sigma^2 (1 - phi^h)``, so ``phi = (s2 / s1)^2 - 1`` with
    ``s_h`` the scale of the lag-h differences (the estimator of Chakar, Lebarbier, Levy-Leduc and Robin
    2017, Bernoulli 23(2), with jumps left out instead of a MAD); a step or spike changes only a few
    differences. White noise gives 0, a random walk or a smooth curve 1 or more (clipped). Degenerate input
    (fewer than 8 finite points, constant) gives 0.
    """
    x = as_float_array(values)
    x = x[np.isfinite(x)]
    if x.size < 8:
        return 0.0
    top = float(np.abs(x).max())
    if top == 0.0:
        return 0.0
    s1, s2 = _difference_scales(x / top)
    if not (s1 > 0.0 and math.isfinite(s1) and math.isfinite(s2)):
        return 0.0
    phi = (s2 / s1) ** 2 - 1.0
    return float(min(max(phi, 0.0), PHI_MAX))


def long_run_factor(phi: float) -> float:
    """Long-run variance of AR(1) noise over the variance :func:`robust_noise` sees: ``(1 + phi) / (1 - phi)^2``.

    ``robust_noise`` measures the first differences, ``sigma^2 (1 - phi)``; the sum of all autocovariances
    is ``sigma^2 (1 + phi) / (1 - phi)``, which is what a mean difference between long segments varies by.
    """
    phi = min(max(float(phi), 0.0), PHI_MAX)
    return (1.0 + phi) / (1.0 - phi) ** 2


def _effective_phi(phi: float, n: int) -> float:
    """``phi`` of ``n`` points; estimates below PHI_IGNORE_SE / sqrt(n) (white-noise scatter) read as 0."""
    return 0.0 if phi < PHI_IGNORE_SE / math.sqrt(max(n, 1)) else min(phi, PHI_MAX)


def _penalty_sigma(x: np.ndarray, sigma: float, phi: float | None = None) -> float:
    """The sigma a series is standardized by before segmenting: ``sigma`` widened for persistent noise.

    ``phi`` defaults to :func:`noise_persistence` of ``x``; series shorter than PHI_MIN_POINTS get none.
    """
    if x.size < PHI_MIN_POINTS:
        return sigma
    phi = _effective_phi(noise_persistence(x) if phi is None else phi, x.size)
    return sigma * math.sqrt(long_run_factor(phi) ** LONG_RUN_POWER)


def _residual_phi(x: np.ndarray, cps: list[int], model: str) -> float:
    """Lag-one autocorrelation of the residuals of ``x`` around its fitted segments (0 when undefined).

    Once the steps are fitted the residuals show the noise's persistence directly, with far less scatter
    than the difference-based estimate (about sqrt((1 - phi^2) / n)); a random walk or a curve the
    segments cannot follow leaves residuals that stay on one side for long.
    """
    degree = DEGREES[model]
    parts: list[np.ndarray] = []
    for a, b in segments_from_changepoints(x.size, cps):
        seg = x[a:b]
        if seg.size <= degree + 1:
            parts.append(np.zeros(seg.size))
            continue
        t = np.linspace(-1.0, 1.0, seg.size)
        coef = np.polynomial.polynomial.polyfit(t, seg, degree)
        parts.append(seg - np.polynomial.polynomial.polyval(t, coef))
    r = np.concatenate(parts) if parts else np.zeros(0)
    denom = float(r @ r)
    if r.size < PHI_MIN_POINTS or denom <= 0.0:
        return 0.0
    return float(min(max(float(r[1:] @ r[:-1]) / denom, 0.0), PHI_MAX))


def _segment_dependent(
    clean: np.ndarray, sigma: float, penalty: float | None, min_size: int, model: str, white: bool = False
) -> tuple[list[int], str, np.ndarray, bool]:
    """Segment ``clean`` standardized by its long-run noise sigma.

    Returns the breaks, the segment model, the standardized series and whether the noise was found
    persistent. With the default penalty the persistence is checked again on the residuals of the segments
    found: when they are clearly more persistent (long-run variance RECHECK_RATIO times larger) the series
    is segmented once more with that persistence.
    """
    n = clean.size
    if white:  # the noise taken as independent: standardized by its robust sigma alone
        y = clean / sigma
        cps, chosen = _segment(y, penalty, min_size, model)
        return cps, chosen, y, False
    phi = _effective_phi(noise_persistence(clean), n) if n >= PHI_MIN_POINTS else 0.0
    y = clean / _penalty_sigma(clean, sigma, phi)
    cps, chosen = _segment(y, penalty, min_size, model)
    if penalty is None and n >= PHI_MIN_POINTS:
        phi_res = _effective_phi(_residual_phi(clean, cps, chosen), n)
        if long_run_factor(phi_res) > RECHECK_RATIO * long_run_factor(phi):
            phi = phi_res
            y = clean / _penalty_sigma(clean, sigma, phi)
            cps, chosen = _segment(y, penalty, min_size, model)
    return cps, chosen, y, phi > 0.0


def _needs_jump_check(penalty: float | None, model: str, chosen: str, dependent: bool, white: bool = False) -> bool:
    """Default breaks of ``"auto"`` must be steps when the noise is persistent or the segments are parabolas
    (never under ``noise="white"``, the rules' segmentation).

    Between straight lines or constants in white noise a break may be a kink (where a fall ends), which
    the shape rules build on; between parabolas a smooth bend needs no break, and persistent noise makes
    smooth wandering look like structure.
    """
    return not white and penalty is None and model == "auto" and (dependent or chosen == "quadratic")


def _search(y: np.ndarray, penalty: float, min_size: int, model: str) -> tuple[list[int], float]:
    """Exact penalized search: ruptures' C kernel search for piecewise-constant segments, our
    vectorized PELT for line and parabola segments (ruptures has no fast cost for those)."""
    if model != "l2" or penalty <= 0 or y.size < 2 * max(min_size, 1):
        return pelt(y, penalty, min_size=min_size, model=model)
    import ruptures as rpt

    size = max(int(min_size), 1)
    bkps = rpt.KernelCPD(kernel="linear", min_size=size, jump=1).fit(y).predict(pen=penalty)
    cps = [int(b) for b in bkps[:-1]]
    sums = _Sums(y, 0)
    edges = [0, *cps, y.size]
    objective = sum(float(sums.cost(a, b)) for a, b in pairwise(edges)) + penalty * len(cps)
    return cps, objective


def _best_split(y: np.ndarray, lo: int, hi: int, degree: int, min_size: int) -> int | None:
    """The single split of ``y`` in ``[lo, hi)`` with the lowest two-segment cost."""
    n = y.size
    lo = max(lo, min_size)
    hi = min(hi, n - min_size + 1)
    if hi <= lo:
        return None
    sums = _Sums(y, degree)
    splits = np.arange(lo, hi)
    total = sums.cost(np.zeros_like(splits), splits) + sums.cost(splits, np.full_like(splits, n))
    return int(splits[int(np.argmin(total))])


def _segment(y: np.ndarray, penalty: float | None, min_size: int, model: str) -> tuple[list[int], str]:
    """PELT on a standardized series; for ``"auto"`` the model with the lowest BIC-like score wins."""
    n = y.size
    names = ("l2", "linear", "quadratic") if model == "auto" else (model,)
    pens = [default_penalty(n, name) if penalty is None else float(penalty) for name in names]
    if len(names) > 1 and n <= DENSE_MAX_POINTS and n >= 2 * max(_model_min_size(m, min_size) for m in names):
        results = _dense_partition_models(y, names, pens, min_size)
    else:
        results = [_search(y, pen, min_size, name) for name, pen in zip(names, pens)]
    best: tuple[float, list[int], str] | None = None
    for name, (cps, objective) in zip(names, results):
        score = objective + MODEL_WEIGHT * (DEGREES[name] + 1) * math.log(max(n, 3))
        if best is None or score < best[0]:
            best = (score, cps, name)
    assert best is not None
    return best[1], best[2]


def _poly_rss(y: np.ndarray, degree: int) -> float:
    """Residual sum of squares of ``y`` around its least-squares polynomial of ``degree`` in time."""
    t = np.linspace(-1.0, 1.0, y.size)
    basis = np.vander(t, degree + 1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    r = y - basis @ coef
    return float(r @ r)


def _jump_gain(y: np.ndarray, left: int, c: int, right: int) -> float:
    """How much better two straight lines split at ``c`` fit ``y[left:right]`` than one parabola.

    A smooth stretch (a drift, an S-curve, a decay, a bend of a random walk) is fit about as well by one
    parabola; a step is not, whatever curve it sits on.
    """
    if c - left < 3 or right - c < 3:
        return math.inf  # too short to judge: keep
    window = y[left:right]
    one = _poly_rss(window, JUMP_SMOOTH_DEGREE)
    two = _poly_rss(window[: c - left], 1) + _poly_rss(window[c - left :], 1)
    return one - two


def _confirm(y: np.ndarray, cps: list[int], min_size: int) -> list[int]:
    """Drop, weakest first, the breaks whose local jump gain is below JUMP_WEIGHT * ln(n).

    ``y`` is standardized to unit long-run noise. The gain is measured over the neighbouring segments,
    at most JUMP_WINDOW * n (and at least 2 * min_size) points on each side.
    """
    n = y.size
    reach = max(int(JUMP_WINDOW * n), 2 * min_size)
    need = JUMP_WEIGHT * math.log(max(n, 3))
    out = list(cps)
    while out:
        edges = [0, *out, n]
        gains = [
            min(
                _jump_gain(y, max(edges[i - 1], c - r), c, min(edges[i + 1], c + r))
                for r in {reach, max(reach // JUMP_SCALES, 2 * min_size)}
            )
            for i, c in enumerate(out, start=1)
        ]
        weakest = int(np.argmin(gains))
        if gains[weakest] >= need:
            break
        del out[weakest]
    return out


def _detect_short(x: np.ndarray, penalty: float | None, min_size: int, model: str, white: bool = False) -> list[int]:
    """Despike, standardize by the long-run noise sigma and segment a series of at most ``max_points`` points."""
    sigma = _noise_sigma(x)
    clean = _despike(x, sigma, min_size)
    cps, chosen, y, dependent = _segment_dependent(clean, sigma, penalty, min_size, model, white)
    return _confirm(y, cps, min_size) if _needs_jump_check(penalty, model, chosen, dependent, white) else cps


def _detect_long(
    x: np.ndarray, penalty: float | None, min_size: int, model: str, max_points: int, white: bool = False
) -> list[int]:
    """Segment block means of a long series, then refine each break on the full data near it."""
    n = x.size
    # PELT time grows with the square of a change-free stretch, so the coarse pass uses about
    # max_points / 2 block means; the refinement restores full resolution.
    block = -(-n // max(max_points // 2, 5))
    nb = n // block
    means = x[: nb * block].reshape(nb, block).mean(axis=1)
    coarse_min = max(2, -(-min_size // block))
    sigma = _noise_sigma(means)
    clean = _despike(means, sigma, coarse_min)
    coarse, chosen, y, dependent = _segment_dependent(clean, sigma, penalty, coarse_min, model, white)
    if _needs_jump_check(penalty, model, chosen, dependent, white):
        coarse = _confirm(y, coarse, coarse_min)
    if not coarse:
        return []
    degree = DEGREES[chosen]
    edges = [0, *[c * block for c in coarse], n]
    out: list[int] = []
    for i, c in enumerate(coarse, start=1):
        centre = c * block
        # Search +-2 blocks around the coarse break, fitting on up to +-4 blocks of raw data.
        seg_lo = max(edges[i - 1], centre - 4 * block, out[-1] if out else 0)
        seg_hi = min(edges[i + 1], centre + 4 * block)
        local = x[seg_lo:seg_hi]
        local = _despike(local, _noise_sigma(local), min_size) if local.size > 2 else local
        lo = max(centre - 2 * block, (out[-1] + min_size) if out else 0) - seg_lo
        hi = centre + 2 * block + 1 - seg_lo
        split = _best_split(local, lo, hi, degree, min_size)
        found = centre if split is None else seg_lo + split
        if not out or found >= out[-1] + min_size:
            out.append(found)
    return out


def detect_changepoints(
    values: Any,
    *,
    penalty: float | None = None,
    min_size: int | None = None,
    model: Model = "auto",
    max_points: int = 2000,
    noise: Literal["dependent", "white"] = "dependent",
) -> list[int]:
    """0-based indices where a new segment starts (sorted, never 0 or ``len(values)``).

    ``values`` are used as given; :func:`detect_changepoints_auto` first takes the log10 view of
    positive series spanning decades (losses). NaN/Inf are interpolated, isolated spikes ignored, and
    degenerate input (fewer than 3 points, all NaN, constant) gives ``[]``.

    - ``penalty``: cost of one change point in units of the noise variance (the series is divided by
      its long-run noise sigma first); default ``(3 + degree + 1) * ln(n)``. With the default penalty the
      noise persistence is re-checked on the residuals of the segments; with the default penalty and
      ``model="auto"`` every break must also pass the local jump check.
    - ``min_size``: shortest segment; default 5 (n // 10 for series shorter than 50, at least 2).
    - ``model``: ``"auto"`` (best of the three by penalized cost), ``"l2"`` (piecewise-constant
      level), ``"linear"`` (piecewise straight line) or ``"quadratic"`` (piecewise parabola).
    - ``max_points``: longer series are segmented on about ``max_points / 2`` block means, then each
      break is moved to its best position on the full data.
    - ``noise``: ``"dependent"`` (default) allows for autocorrelated noise and slow drift as above;
      ``"white"`` takes the noise as independent (robust sigma only, no persistence re-check, no jump
      check), the segmentation the detection rules were tuned with: it keeps every kink of a decaying
      training curve, which the plateau and stagnation rules read.
    """
    if noise not in ("dependent", "white"):
        raise ValueError(f"noise must be 'dependent' or 'white', got {noise!r}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if penalty is not None:
        try:
            penalty = float(penalty)
        except (TypeError, ValueError):
            raise ValueError(f"penalty must be a finite number >= 0, got {penalty!r}") from None
        if not (penalty >= 0.0 and math.isfinite(penalty)):
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
        cps = _detect_long(x, penalty, min_size, model, max_points, noise == "white")
    else:
        cps = _detect_short(x, penalty, min_size, model, noise == "white")
    return [int(c) for c in cps if 0 < c < n]


def detect_changepoints_auto(values: Any, **options: Any) -> list[int]:
    """:func:`detect_changepoints` on the log10 view when :func:`should_use_log` says so.

    Use it for losses: a loss falling from 1 to 1e-4 has noise proportional to its level, which the
    log view makes uniform; other series are passed through unchanged.
    """
    arr = as_float_array(values)
    if should_use_log(arr):
        arr = log_view(arr)
    return detect_changepoints(arr, **options)
