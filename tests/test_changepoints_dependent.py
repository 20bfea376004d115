"""Change points under dependent noise: random walks, AR(1) noise, seasonal and smooth curves (issue 14)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainlog_doctor.signals.changepoints import (
    PHI_MAX,
    detect_changepoints,
    long_run_factor,
    noise_persistence,
)


def ar1(n: int, phi: float, seed: int) -> np.ndarray:
    """Stationary AR(1) noise with unit marginal variance."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n) * math.sqrt(1.0 - phi * phi)
    out = np.empty(n)
    out[0] = rng.normal()
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_walk_is_not_cut_to_pieces(seed: int) -> None:
    walk = np.cumsum(np.random.default_rng(seed).normal(size=600))
    assert len(detect_changepoints(walk)) <= 2


@pytest.mark.parametrize("seed", range(4))
def test_step_in_strongly_dependent_noise_is_found(seed: int) -> None:
    x = ar1(600, 0.9, seed)
    x[350:] += 6.0  # six marginal sigmas: plain to the eye, a few long-run sigmas
    cps = detect_changepoints(x)
    assert any(abs(c - 350) <= 5 for c in cps)
    assert len(cps) <= 2


@pytest.mark.parametrize("seed", range(4))
def test_step_on_a_decaying_loss_is_found(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(400, dtype=np.float64)
    loss = 2.0 * np.exp(-t / 60.0) + 0.3 + rng.normal(0.0, 0.02, t.size)
    loss[260:] += 0.15  # an instability lifts the loss for good
    cps = detect_changepoints(loss)
    assert any(abs(c - 260) <= 3 for c in cps)
    assert len(cps) <= 2


@pytest.mark.parametrize("seed", range(3))
def test_seasonal_and_smooth_series_have_no_change_points(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(500, dtype=np.float64)
    seasonal = 1.5 * np.sin(2 * np.pi * t / 40.0) + ar1(t.size, 0.4, seed)
    assert detect_changepoints(seasonal) == []
    wave = 6.0 * np.cos(2 * np.pi * t / t.size) + rng.normal(size=t.size)  # one slow period of 6 sigmas
    assert detect_changepoints(wave) == []


def test_white_noise_still_finds_a_small_step() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=300)
    x[150:] += 1.5
    assert noise_persistence(x) < 0.2
    assert [abs(c - 150) <= 5 for c in detect_changepoints(x)] == [True]


def test_noise_persistence_tracks_phi_and_ignores_steps() -> None:
    for phi in (0.0, 0.5, 0.9):
        est = np.mean([noise_persistence(ar1(1000, phi, s)) for s in range(8)])
        assert abs(est - phi) < 0.08
    x = ar1(1000, 0.0, 9)
    x[[200, 500, 800]] += 40.0  # spikes
    x[600:] += 30.0  # and a big step
    assert noise_persistence(x) < 0.1
    walk = np.cumsum(np.random.default_rng(1).normal(size=1000))
    assert noise_persistence(walk) > 0.9


def test_long_run_factor_is_one_for_white_noise_and_bounded() -> None:
    assert long_run_factor(0.0) == 1.0
    assert long_run_factor(0.5) == pytest.approx(1.5 / 0.25)
    assert long_run_factor(1.0) == long_run_factor(PHI_MAX) < 1e4


@pytest.mark.parametrize(
    "values",
    [[], [1.0], [1.0, 2.0], [1.0, 2.0, 3.0], [math.nan] * 40, [2.5] * 40, [1e30] * 40, [1e30, -1e30] * 20],
)
def test_degenerate_input_gives_no_crash_and_no_persistence(values: list[float]) -> None:
    assert 0.0 <= noise_persistence(values) <= PHI_MAX
    cps = detect_changepoints(values)
    assert all(0 < c < len(values) for c in cps)
    if len(values) <= 3 or len(set(values)) <= 1 or all(math.isnan(v) for v in values):
        assert cps == []


def test_huge_values_behave_like_unit_values() -> None:
    x = ar1(400, 0.8, 2)
    x[200:] += 6.0
    assert detect_changepoints(x * 1e30) == detect_changepoints(x)
    assert noise_persistence(x * 1e30) == pytest.approx(noise_persistence(x))
