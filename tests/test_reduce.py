"""Extreme-preserving reduction of long series (readers._reduce)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlog_doctor.readers._reduce import SeriesReducer, reduce_indices, reduce_series


def noisy(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 2.0 * np.exp(-np.arange(n) / (n / 5)) + 0.05 * rng.standard_normal(n)


def test_short_input_untouched() -> None:
    x = noisy(1000)
    red = reduce_series(x, max_points=1000)
    assert not red.reduced and red.bucket == 1
    assert np.array_equal(red.index, np.arange(1000))
    assert reduce_series(np.zeros(0), 10).index.size == 0
    assert np.array_equal(reduce_indices(x, 1), np.arange(1000))


def test_long_input_bounded_first_last_kept() -> None:
    x = noisy(100_000)
    red = reduce_series(x, max_points=5_000)
    assert red.reduced and red.index.size <= 5_000
    assert red.index[0] == 0 and red.index[-1] == x.size - 1
    assert np.all(np.diff(red.index) > 0)
    assert red.bucket & (red.bucket - 1) == 0  # a power of two
    # the smallest such bucket: half of it would not fit
    assert reduce_indices(x, red.bucket // 2).size > 5_000


def test_every_bucket_keeps_first_last_min_max() -> None:
    x = noisy(10_000, seed=3)
    idx = reduce_indices(x, 64)
    kept = set(idx.tolist())
    for b in range(0, x.size, 64):
        seg = x[b : b + 64]
        e = min(b + 64, x.size) - 1
        assert {b, e, b + int(np.argmin(seg)), b + int(np.argmax(seg))} <= kept
    assert idx.size <= 4 * (-(-x.size // 64))


def test_spike_preserved() -> None:
    x = noisy(200_000, seed=1)
    x[123_457] = 50.0  # one-point spike up
    x[77_001] = -9.0  # and down
    red = reduce_series(x, max_points=2_000)
    assert 123_457 in red.index and 77_001 in red.index
    assert x[red.index].max() == 50.0 and x[red.index].min() == -9.0


def test_every_nonfinite_point_and_its_finite_neighbours_kept() -> None:
    x = noisy(300_000, seed=2)
    bad = np.array([5, 1000, 1001, 150_000, 299_998])
    x[bad] = [np.nan, np.inf, -np.inf, np.nan, np.nan]
    red = reduce_series(x, max_points=3_000)
    kept = set(red.index.tolist())
    assert set(bad.tolist()) <= kept
    assert {4, 6, 999, 1002, 149_999, 150_001, 299_997, 299_999} <= kept  # last finite before, first after
    assert not red.compress_nonfinite
    assert np.isnan(x[red.index]).sum() == 3 and np.isinf(x[red.index]).sum() == 2


def test_long_nan_tail_compressed_when_over_the_limit() -> None:
    x = noisy(100_000)
    x[40_000:] = np.nan  # diverged: NaN for the rest of the run
    red = reduce_series(x, max_points=1_000)
    assert red.compress_nonfinite and red.index.size <= 1_000
    kept = set(red.index.tolist())
    assert {39_999, 40_000, 99_999} <= kept  # last finite value, first NaN, last point
    # with room for every NaN they are all kept
    loose = reduce_series(x, max_points=70_000)
    assert not loose.compress_nonfinite and np.isnan(x[loose.index]).sum() == 60_000


def test_nonfinite_points_kept_do_not_cost_resolution() -> None:
    x = noisy(100_000)
    x[::20] = np.nan  # 5,000 NaN: every one is kept, and the finite points still get the whole budget
    red = reduce_series(x, max_points=30_000)
    assert not red.compress_nonfinite and np.isnan(x[red.index]).sum() == 5_000
    finite = int(np.isfinite(x[red.index]).sum())
    assert finite <= 30_000 < int(np.isfinite(x[reduce_indices(x, red.bucket // 2)]).sum())


def test_nan_heavy_series_streamed_like_one_pass() -> None:
    x = noisy(40_000)
    x[15_000:] = np.nan
    red = reduce_series(x, max_points=2_000)
    r = SeriesReducer(max_points=2_000)
    for a in range(0, x.size, 1_000):  # strict while under 2,000 NaN seen, then compressed
        r.add(x[a : a + 1_000])
    (_v,), info = r.finish()
    assert red.compress_nonfinite and info.bucket == red.bucket and np.array_equal(info.index, red.index)


def test_second_pass_is_idempotent_and_aligned() -> None:
    x = noisy(50_000, seed=4)
    x[[10, 20_000]] = np.nan
    once = reduce_indices(x, 32)
    again = once[reduce_indices(x[once], 32, ordinal=once)]
    assert np.array_equal(once, again)
    # coarser second pass on the reduced subset == one coarse pass on everything
    coarse = once[reduce_indices(x[once], 128, ordinal=once)]
    assert np.array_equal(coarse, reduce_indices(x, 128))


def test_constant_series_keeps_bucket_ends_only() -> None:
    x = np.full(10_000, 0.001)
    idx = reduce_indices(x, 100)
    assert idx.size == 200  # first == min == max of each bucket, plus its last


@pytest.mark.parametrize("chunk", [1, 7, 999, 4_096, 100_000])
def test_streaming_equals_one_pass(chunk: int) -> None:
    x = noisy(60_000, seed=5)
    x[[3, 30_000, 30_001, 59_999]] = [np.nan, np.inf, np.nan, -np.inf]
    steps = np.arange(x.size, dtype=np.int64) * 10
    red = reduce_series(x, max_points=1_500)
    r = SeriesReducer(max_points=1_500)
    for a in range(0, x.size, chunk):
        r.add(x[a : a + chunk], steps[a : a + chunk])
        assert r.buffered <= 2 * 1_500 + chunk + r.nonfinite  # NaN/Inf are held on top
    (values, st_), info = r.finish()
    assert info.bucket == red.bucket and info.n == x.size
    assert np.array_equal(info.index, red.index)
    assert np.array_equal(values, x[red.index], equal_nan=True)
    assert np.array_equal(st_, steps[red.index])


def test_streaming_short_series_untouched() -> None:
    r = SeriesReducer(max_points=100)
    r.add(np.arange(60.0), np.arange(60))
    r.add(np.arange(40.0), np.arange(40))
    (values, extra), info = r.finish()
    assert not info.reduced and values.size == 100 and extra.size == 100


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=400),
    limit=st.integers(min_value=4, max_value=120),
    chunk=st.integers(min_value=1, max_value=150),
)
def test_reduction_properties(values: list[float], limit: int, chunk: int) -> None:
    x = np.asarray(values, dtype=np.float64)
    red = reduce_series(x, max_points=limit)
    idx = red.index
    if x.size <= limit:
        assert np.array_equal(idx, np.arange(x.size))
        return
    assert idx[0] == 0 and idx[-1] == x.size - 1 and np.all(np.diff(idx) > 0)
    fin = np.isfinite(x)
    if fin.any():
        assert x[idx][np.isfinite(x[idx])].max() == x[fin].max()
        assert x[idx][np.isfinite(x[idx])].min() == x[fin].min()
    if not red.compress_nonfinite:
        assert set(np.flatnonzero(~fin).tolist()) <= set(idx.tolist())
    r = SeriesReducer(max_points=limit)
    for a in range(0, x.size, chunk):
        r.add(x[a : a + chunk])
    (_values,), info = r.finish()
    assert np.array_equal(info.index, idx) and info.bucket == red.bucket
    counted = idx.size if red.compress_nonfinite else int(np.isfinite(x[idx]).sum())
    assert counted <= limit or red.bucket >= x.size
