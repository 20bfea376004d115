"""Behaviour of the pure transforms in trainlog_doctor.signals.transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlog_doctor.signals.transforms import (
    as_float_array,
    downsample_indices,
    fill_nonfinite,
    finite,
    log_view,
    robust_noise,
    robust_scale,
    rolling_mad_zscore,
    rolling_median,
    should_use_log,
    smooth,
)

UGLY_INPUTS = [
    [],
    [1.0],
    [1.0, 2.0],
    [math.nan] * 6,
    [math.inf, -math.inf, math.nan],
    [3.0] * 12,
    [1e30, 2e30, 1e30, 5e30, 1e30, 1e30, 2e30],
    [1e308, -1e308, 1e308, 1e308, -1e308],
    [-5.0, -4.0, -6.0, -5.5, -4.5, -5.0],
    [1.0, None, 2.0, math.nan, math.inf, 3.0, 2.0, 1.0],
]


def noisy_step(seed: int, n: int = 400, sigma: float = 0.5, jump: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    x[n // 2 :] = jump
    return x + rng.normal(0.0, sigma, n)


def test_as_float_array_and_finite() -> None:
    arr = as_float_array([1, None, "2.5", 3])
    assert arr.dtype == np.float64
    assert np.isnan(arr[1]) and arr[2] == 2.5
    assert finite([1.0, math.nan, math.inf, -math.inf, 2.0]).tolist() == [1.0, 2.0]
    src = np.array([1.0, math.nan])
    out = finite(src)
    out[0] = 99.0
    assert src[0] == 1.0  # a copy, never a view
    with pytest.raises(ValueError, match="numeric"):
        as_float_array(["a", "b"])
    assert as_float_array(None).size == 0


def test_fill_nonfinite_interpolates_and_keeps_length() -> None:
    out = fill_nonfinite([math.nan, 1.0, math.nan, 3.0, math.inf])
    assert out.tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert np.isnan(fill_nonfinite([math.nan, math.nan])).all()


def test_log_view_counts_decades() -> None:
    x = np.r_[np.full(20, 1e-8), np.full(20, 1e-3)]
    lv = log_view(x)
    assert lv[25] - lv[5] == pytest.approx(5.0)
    assert should_use_log(x)
    assert not should_use_log([1.0, 2.0, 3.0])  # less than 1.5 decades
    assert not should_use_log([-1.0, 10.0, 1000.0])
    assert log_view([-1.0, 2.0]).tolist() == [-1.0, 2.0]  # non-positive: unchanged
    assert log_view([0.0, 10.0]).tolist() == [0.0, 10.0]
    kept = log_view([10.0, math.nan, 1000.0])
    assert kept[0] == 1.0 and np.isnan(kept[1]) and kept[2] == 3.0


@pytest.mark.parametrize("sigma", [0.05, 0.5, 2.0])
def test_robust_noise_close_to_true_sigma_on_noisy_steps(sigma: float) -> None:
    estimates = []
    for seed in range(10):
        x = noisy_step(seed, n=500, sigma=sigma, jump=10 * sigma)
        x[[50, 300, 301]] += 40 * sigma  # spikes must not inflate the estimate
        estimates.append(robust_noise(x))
    assert np.median(estimates) == pytest.approx(sigma, rel=0.1)
    assert all(abs(e / sigma - 1.0) < 0.25 for e in estimates)


def test_robust_noise_ignores_linear_trend_and_edges() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(1000)
    x = 100.0 - 0.05 * t + rng.normal(0, 0.3, t.size)
    assert robust_noise(x) == pytest.approx(0.3, rel=0.15)
    assert robust_noise([]) == 0.0
    assert robust_noise([4.0]) == 0.0
    assert robust_noise([2.0] * 50) == 0.0
    assert robust_noise([0, 0, 0, 0, 1, 1, 1, 1]) > 0.0  # quantized but not constant
    assert robust_noise(np.arange(100.0)) > 0.0  # perfectly linear: tiny but not 0
    assert robust_noise([math.nan, 1.0, math.inf, 3.0, 2.0, 5.0]) > 0.0


def test_robust_scale_is_positive() -> None:
    assert robust_scale([]) == 1.0
    assert robust_scale([0.0, 0.0]) == 1.0
    assert robust_scale([5.0, 5.0, 5.0]) == 5.0
    assert robust_scale(np.random.default_rng(0).normal(0, 3, 5000)) == pytest.approx(3.0, rel=0.1)


@pytest.mark.parametrize("values", UGLY_INPUTS)
def test_transforms_never_crash_on_ugly_input(values: list) -> None:
    n = len(values)
    assert smooth(values).shape == (n,)
    assert rolling_mad_zscore(values).shape == (n,)
    assert rolling_median(values, 5).shape == (n,)
    idx = downsample_indices(values, 4)
    assert idx.size <= max(n, 0) and (np.diff(idx) > 0).all()
    noise = robust_noise(values)
    assert noise >= 0.0 and math.isfinite(noise)
    log_view(values)
    should_use_log(values)


def test_smooth_keeps_spike_and_reduces_noise() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(300)
    truth = 2.0 * np.exp(-t / 60.0) + 0.5
    x = truth + rng.normal(0, 0.05, t.size)
    x[150] = 5.0
    out = smooth(x)
    assert out[150] == 5.0  # the spike survives
    body = np.delete(np.arange(t.size), 150)
    assert np.abs(out - truth)[body].mean() < 0.5 * np.abs(x - truth)[body].mean()
    # NaN stays where it was
    x[10] = math.nan
    assert np.isnan(smooth(x)[10])
    assert smooth(x, window=1)[20] == x[20]


def test_downsample_keeps_extremes_first_and_last() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=100_003)
    x[77_777] = 50.0
    x[12_345] = -60.0
    idx = downsample_indices(x, 500)
    assert idx.size <= 500
    assert (np.diff(idx) > 0).all()
    assert {0, x.size - 1, 77_777, 12_345} <= set(idx.tolist())
    assert x[idx].max() == x.max() and x[idx].min() == x.min()
    # non-finite values: +Inf is a maximum, NaN is ignored
    y = np.arange(1000.0)
    y[400] = math.inf
    y[600] = math.nan
    kept = downsample_indices(y, 20).tolist()
    assert 400 in kept and 600 not in kept
    assert downsample_indices([1.0, 2.0, 3.0], 10).tolist() == [0, 1, 2]


def test_rolling_mad_zscore_flags_spike_only() -> None:
    x = noisy_step(7, n=400, sigma=0.2, jump=3.0)
    x[100] += 5.0
    z = rolling_mad_zscore(x)
    assert z[100] > 10.0
    others = np.delete(np.abs(z), 100)
    assert (others > 6.0).sum() <= 2  # the level step itself is not a spike
    x[50] = math.nan
    assert np.isnan(rolling_mad_zscore(x)[50])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=60), st.integers(1, 30))
def test_transforms_on_arbitrary_floats(values: list[float], k: int) -> None:
    n = len(values)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no silent overflow on any input
        assert smooth(values).shape == (n,)
        assert rolling_mad_zscore(values).shape == (n,)
        idx = downsample_indices(values, k)
        assert idx.size <= max(k, 0) and (np.diff(idx) > 0).all()
        assert all(0 <= i < n for i in idx)
        noise = robust_noise(values)
        assert 0.0 <= noise < math.inf
        assert log_view(values).shape == (n,)
