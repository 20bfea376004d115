"""Behaviour of the pure signal functions: transforms, analysis series, trends, excursions, swings, levels, lr."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlog_doctor.signals import levels, lr, short, trends
from trainlog_doctor.signals.analysis import analysis_series
from trainlog_doctor.signals.excursions import find_jumps, within_rounding
from trainlog_doctor.signals.periodic import find_oscillation, fisher_p, peak_to_peak
from trainlog_doctor.signals.transforms import (
    as_float_array,
    bucket_medians,
    downsample_indices,
    fill_nonfinite,
    finite,
    log_view,
    nonfinite_runs,
    odd_window,
    robust_noise,
    robust_scale,
    rolling_mad_zscore,
    rolling_median,
    should_use_log,
    smooth,
    suffix_share,
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


# -- windows, buckets, shares, non-finite runs ------------------------------------------------------


def test_odd_window_from_size_or_share() -> None:
    assert odd_window(1000) == 51  # 1000 / 20 = 50 -> 51, the cap
    assert odd_window(100) == 5  # 100 / 20 = 5
    assert odd_window(10) == 3  # the floor of 3
    assert odd_window(2) == 1 and odd_window(0) == 1
    assert odd_window(500, frac=1 / 25, lo=5, hi=101) == 21
    assert odd_window(9, size=8) == 9 and odd_window(6, size=8) == 5
    with pytest.raises(ValueError, match="window must be"):
        odd_window(10, size=0)


def test_bucket_medians_keep_short_series_and_reduce_long_ones() -> None:
    idx = np.arange(10)
    y = np.arange(10, dtype=float)
    same_idx, same_y = bucket_medians(idx, y, 10)
    assert same_idx is idx and same_y is y
    pos, med = bucket_medians(idx, y, 4)  # buckets of 3: [0,1,2] [3,4,5] [6,7,8] and the rest [9]
    assert pos.tolist() == [1, 4, 7, 9] and med.tolist() == [1.0, 4.0, 7.0, 9.0]


def test_suffix_share() -> None:
    assert suffix_share(np.array([True, False, True, True])).tolist() == [0.75, 2 / 3, 1.0, 1.0]


def test_nonfinite_runs() -> None:
    clean = nonfinite_runs([1.0, 2.0])
    assert clean.first == -1 and clean.nan_count == clean.inf_count == 0 and not clean.until_end
    broken = nonfinite_runs([1.0, math.nan, math.inf, math.nan])
    assert (broken.first, broken.nan_count, broken.inf_count, broken.until_end) == (1, 2, 1, True)
    assert not nonfinite_runs([1.0, math.nan, 2.0]).until_end


# -- the analysis series and the trend searches -----------------------------------------------------


def _analysis(values: np.ndarray, log: bool | None = None):
    return analysis_series(np.arange(values.size), values, log=log)


def test_analysis_series_takes_logs_only_of_positive_values_spanning_decades() -> None:
    decay = 10.0 ** -np.linspace(0, 3, 60)
    a = _analysis(decay)
    assert a.logged and np.allclose(a.y, np.log10(decay)) and not a.y.flags.writeable
    assert a.value(a.y[-1]) == pytest.approx(decay[-1])
    assert not _analysis(np.linspace(1.0, 2.0, 60)).logged  # less than a decade
    assert _analysis(np.linspace(1.0, 2.0, 60), log=True).logged
    assert not _analysis(np.linspace(-1.0, 2.0, 60), log=True).logged  # not positive
    long = analysis_series(np.arange(4000), np.ones(4000), log=False, max_points=1000)
    assert len(long) == 1000 and long.pos(0) == 2 and long.pos(10**6) == long.idx[-1]
    flipped = long.negated().without_head(5)
    assert len(flipped) == 995 and flipped.y[0] == -1.0


def _loss_that_rises(rng: np.random.Generator, n: int = 80, at: int = 50, factor: float = 5.0) -> np.ndarray:
    base = 2.0 * np.exp(-np.arange(n) / 15.0) + 0.3
    base[at:] = base[at] * factor
    return base * (1 + 0.01 * rng.standard_normal(n))


def test_find_sustained_rise_finds_a_lasting_rise_and_its_onset() -> None:
    a = _analysis(_loss_that_rises(np.random.default_rng(1)), log=True)
    rise = trends.find_sustained_rise(a, min_rise=trends.rise_threshold(a, 1.5))
    assert rise is not None and abs(rise.onset - 50) <= 2 and a.value(rise.after) / a.value(rise.best) > 4
    # the same curve with a higher bar, and a curve that falls the whole time
    assert trends.find_sustained_rise(a, min_rise=trends.rise_threshold(a, 10.0)) is None
    falling = _analysis(2.0 * np.exp(-np.arange(80) / 15.0) + 0.3, log=True)
    assert trends.find_sustained_rise(falling, min_rise=trends.rise_threshold(falling, 1.5)) is None


def test_find_turn_and_levels_around() -> None:
    rng = np.random.default_rng(2)
    t = np.arange(60, dtype=float)
    val = 0.4 + 0.002 * (t - 25.0) ** 2 * (t > 25) + 0.5 * np.exp(-t / 6) + 0.005 * rng.standard_normal(60)
    a = _analysis(val, log=True)
    turn = trends.find_turn(a, min_move=np.log10(1.08), k_noise=4.0)
    assert turn is not None and 20 <= turn.best_at <= 30
    assert trends.find_turn(a, min_move=np.log10(10.0), k_noise=4.0) is None
    steps = np.arange(100)
    around = trends.levels_around(steps, 1.0 - steps / 100.0, 20, 99)
    assert around is not None and around[0] == pytest.approx(0.8) and around[1] > around[0] - 0.8
    assert trends.levels_around(steps[:3], np.ones(3), 0, 2) is None  # too few points
    assert trends.improves_between(steps, 1.0 - steps / 100.0, 20, 99) is True
    assert trends.improves_between(steps, np.ones(100), 20, 99) is False


def test_find_stall_and_measure_progress() -> None:
    rng = np.random.default_rng(3)
    n = 90
    curve = np.where(np.arange(n) < 30, 2.3 - 1.4 * np.arange(n) / 30, 0.9) * (1 + 0.003 * rng.standard_normal(n))
    a = _analysis(curve, log=False)
    stall = trends.find_stall(a, min_frac=0.35, min_len=6, flat_tol=0.05, min_progress=0.2)
    assert stall is not None and abs(stall.start - 30) <= 3 and stall.abruptness > 0.42
    progress = trends.measure_progress(a, min_rel=0.05)
    assert progress.gain > progress.threshold
    flat = _analysis(2.3 * (1 + 0.003 * rng.standard_normal(n)), log=False)
    assert trends.find_stall(flat, min_frac=0.35, min_len=6, flat_tol=0.05, min_progress=0.2) is None
    still = trends.measure_progress(flat, min_rel=0.05)
    assert still.gain < still.threshold and still.best_gain < 2 * still.threshold


def test_slope_hinge_and_ratio() -> None:
    assert trends.slope(np.array([1.0])) == 0.0
    assert trends.slope(3.0 * np.arange(10.0) + 1.0) == pytest.approx(3.0)
    bend = np.concatenate([np.zeros(30), np.arange(1.0, 31.0)])
    assert trends.hinge_break(bend, 5, 55) in (29, 30)
    assert trends.positive_ratio(2.0, 6.0) == 3.0 and trends.positive_ratio(-1.0, 2.0) is None


# -- excursions, swings ----------------------------------------------------------------------------


def test_find_jumps_sees_a_spike_that_recovers_but_not_a_step() -> None:
    rng = np.random.default_rng(4)
    y = 0.3 * (1 + 0.01 * rng.standard_normal(60))
    spiked = y.copy()
    spiked[30] = 2.1
    jumps = find_jumps(np.log10(spiked), k=15.0, min_height=np.log10(1.25), max_len=5)
    assert [(j.start, j.end, j.peak_at) for j in jumps] == [(30, 30, 30)]
    stepped = y.copy()
    stepped[30:] *= 7.0
    assert find_jumps(np.log10(stepped), k=15.0, min_height=np.log10(1.25), max_len=5) == []
    assert find_jumps(np.log10(spiked[:6]), k=15.0, min_height=0.1, max_len=5) == []  # too short


def test_within_rounding() -> None:
    rounded = np.round(np.linspace(0.0001, 0.0009, 40), 4)
    assert within_rounding(rounded, 0.0001, 0.0003)
    assert not within_rounding(rounded, 0.0001, 0.0009)
    assert not within_rounding(np.ones(5), 1.0, 2.0)


def test_find_oscillation_needs_a_persistent_swing() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(120, dtype=float)
    swing = np.log10(1.0 + 0.4 * np.sin(2 * np.pi * t / 8) + 0.01 * rng.standard_normal(120) + 0.5)
    sw = find_oscillation(swing, min_amplitude=np.log10(1.01))
    assert sw is not None and sw.period == pytest.approx(8.0, rel=0.1) and sw.start >= 12
    noise = np.log10(1.0 + 0.05 * rng.standard_normal(120) + 0.5)
    assert find_oscillation(noise, min_amplitude=np.log10(1.01)) is None
    assert find_oscillation(swing, min_amplitude=10.0) is None  # far larger than the swing
    assert fisher_p(0.0, 10) == 1.0 and fisher_p(0.9, 10) < 1e-6
    assert peak_to_peak(np.arange(101.0)) == pytest.approx(90.0)


# -- levels and the learning rate ------------------------------------------------------------------


def test_pinned_tail_and_band_entry() -> None:
    rng = np.random.default_rng(6)
    v = np.concatenate([np.linspace(0.5, 0.2, 20) + 0.01 * rng.standard_normal(20), np.full(30, 0.1)])
    assert levels.pinned_tail(v, rel_tol=1e-3, abs_tol=0.0, min_len=10) == 20
    flicker = v.copy()
    flicker[25] = 0.12
    assert levels.pinned_tail(flicker, rel_tol=1e-3, abs_tol=0.0, min_len=10) == 26
    assert levels.pinned_tail(flicker, rel_tol=1e-3, abs_tol=0.0, min_len=10, max_off=0.05) == 20
    assert levels.pinned_tail(v + 0.01 * rng.standard_normal(50), rel_tol=1e-3, abs_tol=0.0, min_len=10) is None
    acc = np.concatenate([np.linspace(0.2, 0.95, 20), np.full(20, 0.1)])
    assert levels.band_entry(acc, 0.08, 0.12, tail_frac=0.25, min_len=4) == 20
    assert levels.band_entry(acc[::-1], 0.08, 0.12, tail_frac=0.25, min_len=4) is None


def test_class_counts_from_levels() -> None:
    assert levels.chance_classes(0.1, max_classes=20, tol=0.02) == 10
    assert levels.chance_classes(0.9, max_classes=20, tol=0.02) is None
    assert levels.ln_classes(math.log(10), max_classes=20, rel_tol=0.015) == 10
    assert levels.classes_from_levels(math.log(10) * 1.01, 0.1, ln_tol=0.03) == 10
    assert levels.classes_from_levels(math.log(3), None, ln_tol=0.03) == 3
    assert levels.classes_from_levels(math.log(10), None, ln_tol=0.03) is None  # too close to tell from a loss alone
    assert levels.classes_from_levels(None, None, ln_tol=0.03) is None
    assert levels.tail_level(np.arange(10.0), tail_frac=0.2, min_len=4) == 7.5
    steps = np.arange(10)
    assert levels.flat_between(steps, np.full(10, 2.3), 2, 8)
    assert not levels.flat_between(steps, np.arange(10.0), 2, 8)


def test_learning_rate_questions() -> None:
    steps = np.arange(0, 100, 10)
    decayed = np.array([1.0, 1.0, 0.5, 0.1, 0.01, 0.005, 0.005, 0.005, 0.005, 0.005])
    assert lr.frozen_from(steps, decayed, 50) and not lr.frozen_from(steps, decayed, 20)
    cyclic = np.tile([0.1, 0.5, 1.0, 0.5], 3)
    assert lr.rises_repeatedly(cyclic) and not lr.rises_repeatedly(decayed)
    restart = np.array([1.0, 0.5, 0.25, 1.0, 0.5])
    assert lr.raised_within(np.arange(5), restart, 2, 3) and not lr.raised_within(np.arange(5), restart, 0, 2)


# ---- short series (signals/short.py) ---------------------------------------------------------------


def test_short_turn_on_a_ten_epoch_run() -> None:
    val = np.array([7.24, 5.97, 3.96, 2.90, 2.66, 2.80, 2.77, 2.79, 2.87, 2.91])
    train = np.array([7.77, 6.27, 3.53, 1.61, 0.69, 0.36, 0.25, 0.19, 0.16, 0.14])
    turn = short.find_short_turn(val, train)
    assert turn is not None and turn.best_at == 4
    assert turn.rise == pytest.approx(2.87 / 2.66 - 1, rel=1e-6)
    assert turn.gap_after > turn.gap_before


def test_short_turn_keeps_the_training_fall_despite_a_last_epoch_jump() -> None:
    val = np.array([2.89, 2.66, 2.52, 2.62, 2.61, 2.87, 3.18])
    train = np.array([3.88, 3.03, 2.76, 2.49, 2.20, 1.89, 3.97])
    turn = short.find_short_turn(val, train)
    assert turn is not None and turn.best_at == 2


@pytest.mark.parametrize(
    ("val", "train"),
    [
        ([1.6, 1.1, 0.8, 0.62, 0.52, 0.47, 0.43, 0.5], [1.9, 1.2, 0.9, 0.7, 0.5, 0.4, 0.35, 0.3]),  # last-point uptick
        ([0.9, 1.0, 1.1, 1.2, 1.3], [1.0, 0.8, 0.6, 0.5, 0.4]),  # minimum at the first point
        ([1.5, 1.05, 0.85, 0.95, 1.05, 1.2], [1.5, 1.0, 0.8, 0.9, 1.0, 1.1]),  # training rises too
        ([1.4, 0.75, 0.66, 0.63, 0.61, 0.64, 0.62, 0.63, 0.61, 0.63], [1.5] + [0.5] * 9),  # wobble under 6%
        ([1.0, 0.8, 0.9, 1.0], [1.0, 0.8, 0.6, 0.5]),  # four points
        ([1.0, math.nan, 0.8, 0.9, 1.0], [1.0, 0.9, 0.8, 0.7, 0.6]),  # non-finite
        ([1.0, 0.0, 0.8, 0.9, 1.0], [1.0, 0.9, 0.8, 0.7, 0.6]),  # not positive
    ],
)
def test_short_turn_refuses(val: list[float], train: list[float]) -> None:
    assert short.find_short_turn(np.array(val), np.array(train)) is None


def test_sparse_jumps_find_each_unstable_evaluation() -> None:
    jumps = short.find_sparse_jumps(np.array([0.84, 1.12, 0.8, 1.3, 0.66]))
    assert [j.at for j in jumps] == [1, 3]
    assert jumps[1].ratio == pytest.approx(1.3 / 0.8)


@pytest.mark.parametrize(
    "y",
    [
        [0.62, 0.55, 0.57, 0.52, 0.5],
        [0.7, 0.6, 0.55, 0.9],
        [1.0, 2.0, 1.9, 1.8],
        [1.0, 1.3],
        [1.0, math.inf, 1.0, 1.0],
        [0.5] * 5,
    ],
)
def test_sparse_jumps_ignore_noise_edges_and_levels_that_stay(y: list[float]) -> None:
    assert short.find_sparse_jumps(np.array(y)) == []


def test_stays_in_band_allows_noise_but_not_progress() -> None:
    rng = np.random.default_rng(0)
    flat = math.log(2) + 0.004 * rng.standard_normal(30)
    stay = short.stays_in_band(flat, math.log(2))
    assert stay is not None and stay.share >= 0.9
    learning = np.linspace(0.693, 0.5, 30)
    assert short.stays_in_band(learning, math.log(2)) is None
    assert short.stays_in_band(np.full(30, math.nan), math.log(2)) is None
    assert short.stays_in_band(flat, math.nan) is None


def test_final_jump() -> None:
    jump = short.find_final_jump(np.array([3.88, 3.03, 2.76, 2.49, 2.20, 1.89, 3.97]))
    assert jump is not None and jump.ratio == pytest.approx(3.97 / 1.89)
    rng = np.random.default_rng(1)
    noisy_tail = 0.5 * np.exp(0.15 * rng.standard_normal(20))
    noisy_tail[-1] = 0.68
    assert short.find_final_jump(noisy_tail) is None
    assert short.find_final_jump(np.array([1.0, 0.8, 0.6, 0.5, 0.55])) is None
    assert short.find_final_jump(np.array([1.0, 0.8, 0.6, 0.5, 1e30])) is not None
    assert short.find_final_jump(np.array([1.0, 0.8, math.nan, 0.5, 3.0])) is None


def test_interval_medians_put_step_losses_on_eval_points() -> None:
    steps = np.arange(1, 11)
    values = np.arange(10, 0, -1, dtype=float)
    out = short.interval_medians(steps, values, np.array([0, 5, 10]))
    assert math.isnan(out[0])
    assert out[1] == pytest.approx(8.0) and out[2] == pytest.approx(3.0)


def test_relative_gain() -> None:
    assert short.relative_gain(np.linspace(1.0, 0.5, 20)) == pytest.approx(0.45, abs=0.03)
    assert short.relative_gain(np.full(10, 5.8)) == 0.0
    assert short.relative_gain(np.array([1.0, 0.9, math.nan])) is None
    assert short.relative_gain(np.zeros(10)) is None
