"""Pure numpy transforms for metric series: cleaning, log view, robust noise, smoothing, downsampling.

Every function takes anything array-like (list, numpy array, polars/pandas series), never mutates its
input and never raises on empty, all-NaN or constant input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "NonFinite",
    "as_float_array",
    "bucket_medians",
    "downsample_indices",
    "fill_nonfinite",
    "finite",
    "window_means",
    "window_medians",
    "log_view",
    "nonfinite_runs",
    "odd_window",
    "robust_noise",
    "robust_scale",
    "rolling_mad_zscore",
    "rolling_median",
    "should_use_log",
    "smooth",
    "suffix_share",
]

_MAD_TO_SIGMA = 1.4826
# Relative floor for noise estimates of non-constant series, as a fraction of the series' scale.
_NOISE_FLOOR = 1e-9
# Beyond these magnitudes sums and differences may leave the float64 range: rescale first.
_BIG = 1e150
_TINY = 1e-150


def median(v: np.ndarray) -> float:
    """The median of a non-empty array, halving before adding the middle pair (numpy's mean of 1e308 and 1e308 overflows)."""
    n = v.size
    part = np.partition(v, [(n - 1) // 2, n // 2])
    return float(part[(n - 1) // 2] / 2 + part[n // 2] / 2)


def as_float_array(values: Any) -> np.ndarray:
    """A 1-D float64 copy of ``values`` (None becomes NaN); a ValueError for non-numeric input."""
    if values is None:
        return np.empty(0, dtype=np.float64)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"values must be numeric: {exc}") from None
    return arr.reshape(-1)


#: Rows of sliding windows sorted at once by :func:`window_medians` (bounds its scratch memory).
_MEDIAN_CHUNK = 1 << 15
#: Above this many window elements :func:`window_medians` hands over to ``scipy.ndimage`` (imported
#: then, ~30x faster on long series); below it numpy alone is quicker than importing scipy.
_SCIPY_MEDIAN_ABOVE = 1_000_000


def window_medians(x: np.ndarray, w: int) -> np.ndarray:
    """Median of every full window of odd length ``w`` in ``x`` (``x.size - w + 1`` values)."""
    x = np.asarray(x, dtype=np.float64)
    n_out = x.size - w + 1
    if n_out * w > _SCIPY_MEDIAN_ABOVE:
        from scipy.ndimage import median_filter

        h = w // 2
        return median_filter(x, size=w, mode="nearest")[h : h + n_out]
    windows = sliding_window_view(x, w)
    out = np.empty(n_out, dtype=np.float64)
    for lo in range(0, n_out, _MEDIAN_CHUNK):
        out[lo : lo + _MEDIAN_CHUNK] = np.median(windows[lo : lo + _MEDIAN_CHUNK], axis=1)
    return out


def window_means(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of every full window of length ``w`` in ``x`` (``x.size - w + 1`` values), by a running sum."""
    x = np.asarray(x, dtype=np.float64)
    n_out = x.size - w + 1
    steps = np.empty(n_out, dtype=np.float64)
    steps[0] = x[:w].sum()
    steps[1:] = x[w:] - x[: n_out - 1]
    return np.add.accumulate(steps) / w


def finite(values: Any) -> np.ndarray:
    """The finite values of ``values`` as a float64 copy (NaN and +-Inf dropped)."""
    arr = as_float_array(values)
    return arr[np.isfinite(arr)]


def fill_nonfinite(values: Any) -> np.ndarray:
    """A float64 copy with NaN/Inf replaced by linear interpolation (edges take the nearest finite value).

    All-non-finite input comes back unchanged (still non-finite); same length as the input.
    """
    arr = as_float_array(values)
    ok = np.isfinite(arr)
    if ok.all() or not ok.any():
        return arr
    idx = np.arange(arr.size)
    arr[~ok] = np.interp(idx[~ok], idx[ok], arr[ok])
    return arr


@dataclass(frozen=True)
class NonFinite:
    """Where a series is NaN or +-Inf: the first such position (-1 when none), the counts, and
    whether the series stays non-finite from that position to its end."""

    first: int
    nan_count: int
    inf_count: int
    until_end: bool


def nonfinite_runs(values: Any) -> NonFinite:
    """The :class:`NonFinite` summary of ``values``."""
    arr = as_float_array(values)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return NonFinite(first=-1, nan_count=0, inf_count=0, until_end=False)
    first = int(np.argmax(bad))
    nan = int(np.isnan(arr).sum())
    return NonFinite(first=first, nan_count=nan, inf_count=int(bad.sum()) - nan, until_end=not np.isfinite(arr[first:]).any())


def should_use_log(values: Any, min_decades: float = 1.5) -> bool:
    """True when every finite value is > 0 and they span at least ``min_decades`` powers of ten."""
    f = finite(values)
    if f.size < 2 or f.min() <= 0.0:
        return False
    return bool(np.log10(f.max()) - np.log10(f.min()) >= min_decades)


def log_view(values: Any) -> np.ndarray:
    """log10 of a strictly positive series (non-finite entries stay non-finite).

    Returns the input unchanged (as float64) when any finite value is <= 0 or none is finite, so the
    caller can always pass the result on; a jump from 1e-8 to 1e-3 becomes a jump of 5.
    """
    arr = as_float_array(values)
    ok = np.isfinite(arr)
    if not ok.any() or (arr[ok] <= 0.0).any():
        return arr
    out = arr.copy()
    out[ok] = np.log10(arr[ok])
    return out


def robust_scale(values: Any) -> float:
    """A scale for ``values``: 1.4826 * MAD of the finite values, else their range, else max |x|, else 1."""
    f = finite(values)
    if f.size == 0:
        return 1.0
    top = float(np.abs(f).max())
    if top > _BIG or 0.0 < top < _TINY:  # near the float64 limits: work on a rescaled copy
        with np.errstate(over="ignore", under="ignore"):
            return float(min(robust_scale(f / top) * top, np.finfo(np.float64).max)) or 1.0
    med = float(np.median(f))
    mad = float(np.median(np.abs(f - med)))
    span = float(f.max() - f.min())
    for s in (_MAD_TO_SIGMA * mad, span, float(np.abs(f).max())):
        if s > 0.0 and np.isfinite(s):
            return s
    return 1.0


def robust_noise(values: Any) -> float:
    """Noise sigma from first differences: 1.4826 * MAD(diff(x)) / sqrt(2).

    Robust to level steps, isolated spikes and linear trends. Non-finite values are dropped first.
    Returns 0.0 for fewer than two finite values or a constant series; for any other series the
    result is > 0 (quantized series fall back to the mean absolute deviation of the differences,
    then to a tiny fraction of the range).
    """
    f = finite(values)
    if f.size < 2:
        return 0.0
    top = float(np.abs(f).max())
    if top > _BIG or 0.0 < top < _TINY:  # near the float64 limits: work on a rescaled copy
        with np.errstate(over="ignore", under="ignore"):
            return float(min(robust_noise(f / top) * top, np.finfo(np.float64).max))
    span = float(f.max() - f.min())
    if span == 0.0:
        return 0.0
    d = np.diff(f)
    dev = np.abs(d - np.median(d))
    sigma = _MAD_TO_SIGMA * float(np.median(dev)) / np.sqrt(2.0)
    if sigma <= 0.0:
        # Most differences identical (quantized or perfectly linear pieces): mean absolute deviation
        # (x1.2533 to a Gaussian sigma) still sees the rare moves.
        sigma = 1.2533 * float(dev.mean()) / np.sqrt(2.0)
    return max(sigma, _NOISE_FLOOR * span)


def odd_window(n: int, *, size: int | None = None, frac: float = 1 / 20, lo: int = 3, hi: int = 51) -> int:
    """An odd window length for ``n`` points: ``size``, else ``frac * n`` clipped to ``[lo, hi]``.

    Even lengths grow by one; the result shrinks by two until it fits in ``n`` (1 for tiny series).
    A ValueError for a ``size`` below 1.
    """
    if size is None:
        size = min(max(int(n * frac), lo), hi)
    window = int(size)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if window % 2 == 0:
        window += 1
    while window > n and window > 1:
        window -= 2
    return max(window, 1)


def bucket_medians(idx: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``y`` reduced to at most ``max_points`` bucket medians; positions are each bucket's middle ``idx``."""
    n = y.size
    if n <= max_points:
        return idx, y
    size = -(-n // max_points)
    nb = n // size
    body = y[: nb * size].reshape(nb, size)
    med = np.median(body, axis=1)
    pos = idx[: nb * size].reshape(nb, size)[:, size // 2]
    if nb * size < n:
        med = np.append(med, np.median(y[nb * size :]))
        pos = np.append(pos, idx[nb * size + (n - nb * size) // 2])
    return pos, med


def suffix_share(mask: np.ndarray) -> np.ndarray:
    """``out[j]`` = share of True in ``mask[j:]``."""
    m = mask.astype(np.float64)
    csum = np.cumsum(m[::-1])[::-1]
    counts = np.arange(m.size, 0, -1, dtype=np.float64)
    return csum / counts


def _pad_odd(x: np.ndarray, h: int) -> np.ndarray:
    """Pad by point reflection about each end, which keeps linear trends straight at the edges."""
    if h == 0:
        return x
    left = 2.0 * x[0] - x[h:0:-1]
    right = 2.0 * x[-1] - x[-2 : -h - 2 : -1]
    return np.concatenate([left, x, right])


def rolling_median(values: Any, window: int) -> np.ndarray:
    """Centered rolling median with trend-preserving edges; NaN/Inf are interpolated first.

    The window is made odd and no longer than the series. All-non-finite input comes back as is.
    """
    x = fill_nonfinite(values)
    n = x.size
    if n < 3 or not np.isfinite(x).all():
        return x
    scale = float(np.abs(x).max())
    if scale > _BIG or 0.0 < scale < _TINY:  # keep the edge reflection inside float range
        return rolling_median(x / scale, window) * scale
    w = odd_window(n, size=window)
    h = w // 2
    if h == 0:
        return x
    # Reflection needs h < n; odd_window guarantees w <= n, so h <= (n - 1) / 2.
    return window_medians(_pad_odd(x, h), w)


def smooth(values: Any, window: int | None = None, k: float = 5.0) -> np.ndarray:
    """A smoothed copy that never hides a spike.

    The body is a centered rolling median followed by a rolling mean (window from the length when
    None); points further than ``k`` robust sigmas from the rolling median are kept as they are.
    Non-finite inputs stay non-finite at their positions.
    """
    raw = as_float_array(values)
    n = raw.size
    if n < 3:
        return raw
    x = fill_nonfinite(raw)
    if not np.isfinite(x).all():
        return raw
    scale = float(np.abs(x).max())
    if scale > _BIG or 0.0 < scale < _TINY:  # keep padding and differences inside float range
        return smooth(raw / scale, window, k) * scale
    w = odd_window(n, size=window, frac=1 / 25, lo=5, hi=101)
    if w < 3:
        return raw
    med = rolling_median(x, w)
    h = w // 2
    body = window_means(_pad_odd(med, h), w)
    resid = x - med
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(resid)))
    if sigma <= 0.0:
        sigma = robust_noise(x)
    out = body
    if sigma > 0.0:
        keep = np.abs(resid) > k * sigma
        out[keep] = x[keep]
    out[~np.isfinite(raw)] = raw[~np.isfinite(raw)]
    return out


def downsample_indices(values: Any, max_points: int) -> np.ndarray:
    """Sorted unique indices (at most ``max_points``) that keep the first, last, and each bucket's min and max.

    For series no longer than ``max_points`` this is every index. +Inf counts as a maximum and -Inf as
    a minimum; NaN is ignored unless a whole bucket is NaN (then its first index is kept).
    """
    x = as_float_array(values)
    n = x.size
    max_points = int(max_points)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points < 2:
        return np.array([0] if max_points == 1 else [], dtype=np.int64)
    nb = max((max_points - 2) // 2, 1)
    size = -(-n // nb)  # ceil: buckets of equal size, the last one padded
    nb = -(-n // size)
    pad = nb * size - n
    hi = np.where(np.isnan(x), -np.inf, x)
    lo = np.where(np.isnan(x), np.inf, x)
    hi = np.concatenate([hi, np.full(pad, -np.inf)]).reshape(nb, size)
    lo = np.concatenate([lo, np.full(pad, np.inf)]).reshape(nb, size)
    base = np.arange(nb, dtype=np.int64) * size
    imax = base + np.argmax(hi, axis=1)
    imin = base + np.argmin(lo, axis=1)
    idx = np.concatenate([[0, n - 1], imax, imin])
    idx = np.unique(np.minimum(idx, n - 1))
    if idx.size > max_points:  # only possible for max_points < 4
        keep = np.linspace(0, idx.size - 1, max_points).round().astype(np.int64)
        idx = idx[np.unique(keep)]
    return idx


def rolling_mad_zscore(values: Any, window: int | None = None) -> np.ndarray:
    """Hampel-style z-scores: (x - rolling median) / (1.4826 * rolling median of |residual|).

    The local scale is floored at half the global residual scale so quiet stretches do not turn
    tiny wiggles into huge scores. Non-finite inputs get NaN scores; output has the input's length.
    """
    raw = as_float_array(values)
    n = raw.size
    out = np.full(n, np.nan)
    if n < 3:
        out[np.isfinite(raw)] = 0.0
        return out
    x = fill_nonfinite(raw)
    if not np.isfinite(x).all():
        return out
    scale = float(np.abs(x).max())
    if scale > _BIG or 0.0 < scale < _TINY:  # z-scores are scale-free: rescale to stay in range
        x = x / scale
    w = odd_window(n, size=window if window is not None else max(7, min(51, n // 20)))
    med = rolling_median(x, w)
    resid = x - med
    absr = np.abs(resid)
    h = w // 2
    padded = np.concatenate([absr[h:0:-1], absr, absr[-2 : -h - 2 : -1]])  # mirror: scales stay >= 0
    local = _MAD_TO_SIGMA * window_medians(padded, w)
    glob = _MAD_TO_SIGMA * float(np.median(absr))
    floor = max(0.5 * glob, robust_noise(x) * 0.5, _NOISE_FLOOR * robust_scale(x))
    local_scale = np.maximum(local, floor)
    out = resid / local_scale
    out[~np.isfinite(raw)] = np.nan
    return out
