"""Extreme-preserving reduction of long series (readers._reduce)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlog_doctor.readers._reduce import RunReducer, SeriesReducer, reduce_indices, reduce_series, run_series_limit


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


# --- run budget ----------------------------------------------------------------------------------


def test_run_series_limit_halves_until_the_capped_total_fits() -> None:
    assert run_series_limit([100, 200], budget=1_000, start=1_000, floor=10) == 1_000  # under budget: untouched
    # 200 series of 100,000: 250k -> 125k -> 62,500 -> 31,250 -> 15,625 (3.125M) -> floor 10,000 (2M)
    assert run_series_limit([100_000] * 200, budget=4_000_000, start=250_000, floor=10_000) == 15_625
    assert run_series_limit([100_000] * 200, budget=3_000_000, start=250_000, floor=10_000) == 10_000
    # short series count whole: 10 x 50 + 4 x 1,000 needs a limit of 500 to total 2,500
    assert run_series_limit([50] * 10 + [1_000] * 4, budget=2_500, start=4_000, floor=10) == 500
    assert run_series_limit([1_000] * 100, budget=10, start=800, floor=100) == 100  # floor even when over
    assert run_series_limit([1_000] * 100, budget=10, start=50, floor=100) == 50  # a start under the floor stays
    assert run_series_limit([], budget=0, start=64, floor=4) == 64


def feed_run(series: list[np.ndarray], run: RunReducer, chunk: int, rng: np.random.Generator) -> None:
    """Feed ``series`` interleaved in chunks of random size up to ``chunk`` (as tags in one file), settling each at its end."""
    pos = [0] * len(series)
    live = list(range(len(series)))
    while live:
        k = live[int(rng.integers(len(live)))]
        a = pos[k]
        b = min(series[k].size, a + int(rng.integers(1, chunk + 1)))
        run.add(k, series[k][a:b], np.arange(a, b, dtype=np.int64))
        pos[k] = b
        if b == series[k].size:
            run.settle(k)
            live.remove(k)


def run_series(seed: int) -> list[np.ndarray]:
    """Series of mixed lengths, one with NaN enough to switch to compressed runs at a low limit."""
    rng = np.random.default_rng(seed)
    out = [noisy(int(n), seed=i) for i, n in enumerate(rng.integers(50, 6_000, size=12))]
    out[3] = noisy(5_000, seed=3)
    out[3][3_000:3_400] = np.nan  # 400 NaN: kept every one under a 500 limit, compressed under 250
    out[5][::97] = np.inf
    return out


@pytest.mark.parametrize("chunk", [5, 37, 700, 10_000])
def test_run_reducer_equals_one_pass_at_the_final_limit(chunk: int) -> None:
    series = run_series(0)
    counts = [x.size for x in series]
    limit = run_series_limit(counts, budget=6_000, start=4_000, floor=100)
    assert limit < 4_000  # the budget acts
    run = RunReducer(max_points=4_000, budget=6_000, floor=100)
    feed_run(series, run, chunk, np.random.default_rng(chunk))
    assert run.limit == limit and run.lowered and not run.over_budget
    assert run.counted == sum(min(n, limit) for n in counts) <= 6_000
    for k, x in enumerate(series):
        (values, ordinal), red = run.finish(k)
        want = reduce_series(x, limit)
        assert red.limit == limit and red.bucket == want.bucket and red.n == x.size
        assert np.array_equal(red.index, want.index) and np.array_equal(ordinal, want.index)
        assert np.array_equal(values, x[want.index], equal_nan=True)


def test_run_under_budget_is_the_per_series_reduction() -> None:
    series = [noisy(30_000, seed=1), noisy(500, seed=2)]
    run = RunReducer(max_points=2_000, budget=10**6, floor=100)
    feed_run(series, run, 3_000, np.random.default_rng(0))
    assert run.limit == 2_000 and not run.lowered
    for k, x in enumerate(series):
        (_v, _o), red = run.finish(k)
        assert np.array_equal(red.index, reduce_series(x, 2_000).index) and red.limit == 2_000


def test_run_reducer_memory_bounded_while_streaming() -> None:
    # 200 series of 5,000 points fed step-major (a chunk of 100 points of each in turn)
    rng = np.random.default_rng(7)
    run = RunReducer(max_points=100_000, budget=50_000, floor=100)
    peak = 0
    for _ in range(50):
        for k in range(200):
            run.add(k, rng.standard_normal(100))
        peak = max(peak, run.buffered)
    assert run.limit == 195  # 100,000 halved nine times: 200 x 195 = 39,000 (390 would be 78,000)
    assert peak <= 2 * 50_000 + 200 * (4 + 100)  # twice the budget plus a chunk and the slack per series
    for k in range(200):
        run.settle(k)
    assert run.buffered <= 50_000


def test_run_floor_kept_when_even_it_does_not_fit() -> None:
    run = RunReducer(max_points=1_000, budget=500, floor=200)
    for k in range(10):
        run.add(k, noisy(800, seed=k))
        run.settle(k)
    assert run.limit == 200 and run.over_budget and run.counted == 2_000 and run.series == 10
    (_v,), red = run.finish(0)
    assert red.reduced and red.index.size <= 200


def test_discarded_series_leaves_the_count() -> None:
    run = RunReducer(max_points=1_000, budget=10_000, floor=10)
    run.add("a", noisy(900))
    run.add("b", noisy(300))
    run.discard("b")
    assert run.counted == 900 and run.series == 1


def test_settled_series_lowered_later_is_exact_and_closed() -> None:
    x = noisy(20_000, seed=9)
    x[[100, 15_000]] = np.nan
    r = SeriesReducer(max_points=4_000)
    r.add(x[:12_345])
    r.add(x[12_345:])
    r.settle()
    assert r.buffered <= 4_000 + 2
    r.lower(1_000)
    assert r.buffered <= 1_000 + 2
    r.lower(5_000)  # never raised back
    (_v,), red = r.finish()
    assert red.limit == 1_000 and np.array_equal(red.index, reduce_series(x, 1_000).index)
    with pytest.raises(ValueError):
        r.add(x[:3])


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=8),
    budget=st.integers(min_value=0, max_value=2_000),
    chunk=st.integers(min_value=1, max_value=200),
    nan_every=st.integers(min_value=0, max_value=7),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_run_reducer_properties(lengths: list[int], budget: int, chunk: int, nan_every: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = []
    for n in lengths:
        x = rng.standard_normal(n)
        if nan_every:
            x[rng.random(n) < 1 / (nan_every + 1)] = np.nan
        series.append(x)
    run = RunReducer(max_points=300, budget=budget, floor=8)
    feed_run(series, run, chunk, rng)
    limit = run_series_limit([x.size for x in series], budget=budget, start=300, floor=8)
    assert run.limit == limit
    for k, x in enumerate(series):
        (values, ordinal), red = run.finish(k)
        want = reduce_series(x, limit)
        assert np.array_equal(red.index, want.index) and red.bucket == want.bucket
        assert np.array_equal(ordinal, want.index) and np.array_equal(values, x[want.index], equal_nan=True)
