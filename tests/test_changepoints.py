"""Behaviour of change-point detection in trainlog_doctor.signals.changepoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlog_doctor.signals.changepoints import (
    MODELS,
    default_penalty,
    detect_changepoints,
    detect_changepoints_auto,
    pelt,
    segment_cost,
    segments_from_changepoints,
)

REAL_LOGS = Path(__file__).resolve().parents[1].parent / "shared" / "real_logs"


def steps(levels: list[float], lengths: list[int], sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.full(n, lv) for lv, n in zip(levels, lengths)])
    return x + rng.normal(0.0, sigma, x.size)


@pytest.mark.parametrize("sigma", [0.05, 0.3, 0.6, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_found_within_three_samples(sigma: float, seed: int) -> None:
    x = steps([1.0, 4.0], [120, 80], sigma, seed)
    cps = detect_changepoints(x)
    assert len(cps) == 1
    assert abs(cps[0] - 120) <= 3


def test_several_steps_up_and_down() -> None:
    x = steps([0.0, 3.0, -1.0, 2.0], [60, 40, 70, 50], 0.5, 11)
    cps = detect_changepoints(x)
    assert len(cps) == 3
    for found, true in zip(cps, [60, 100, 170]):
        assert abs(found - true) <= 3


def test_spikes_are_not_change_points() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 0.2, 300) + 2.0
    x[[40, 41, 150, 230]] += [15.0, 12.0, -9.0, 30.0]
    assert detect_changepoints(x) == []
    y = x.copy()
    y[200:] += 2.0  # a real step next to the spikes is still found
    assert [abs(c - 200) <= 3 for c in detect_changepoints(y)] == [True]


def test_pure_noise_has_almost_no_change_points() -> None:
    false = sum(len(detect_changepoints(np.random.default_rng(s).normal(size=200))) for s in range(20))
    assert false <= 1
    heavy = sum(len(detect_changepoints(np.random.default_rng(s).standard_t(3, size=200))) for s in range(20))
    assert heavy <= 2


def test_smooth_training_curves_have_no_change_points() -> None:
    rng = np.random.default_rng(8)
    t = np.arange(400)
    line = 5.0 - 0.01 * t + rng.normal(0, 0.1, t.size)
    assert detect_changepoints(line) == []
    decay = 2.3 * np.exp(-t / 120.0) + 0.2 + rng.normal(0, 0.03, t.size)
    assert len(detect_changepoints(decay)) <= 1


def test_level_shift_on_a_decaying_loss() -> None:
    rng = np.random.default_rng(9)
    t = np.arange(300)
    loss = 2.0 * np.exp(-t / 80.0) + 0.3 + rng.normal(0, 0.02, t.size)
    loss[210:] += 0.4  # an instability the run never recovers from
    cps = detect_changepoints(loss)
    assert any(abs(c - 210) <= 3 for c in cps)
    assert len(cps) <= 2


@pytest.mark.parametrize(
    "values",
    [
        [],
        [1.0],
        [1.0, 2.0],
        [math.nan] * 50,
        [math.inf] * 10,
        [7.0] * 100,
        [0.0] * 100,
        [None, None, None],
        np.random.default_rng(0).normal(size=5),
    ],
)
def test_degenerate_inputs_give_no_change_points(values: list) -> None:
    assert detect_changepoints(values) == []
    assert detect_changepoints_auto(values) == []


def test_huge_negative_and_gappy_values() -> None:
    base = steps([0.0, 5.0], [100, 100], 1.0, 3)
    for scale in (1e30, 1e300, -1e-20):
        cps = detect_changepoints(base * scale)
        assert len(cps) == 1 and abs(cps[0] - 100) <= 3
    neg = base - 1000.0
    assert detect_changepoints(neg) == detect_changepoints(base)
    gappy = base.copy()
    gappy[[5, 50, 99, 100, 150]] = [math.nan, math.inf, math.nan, -math.inf, math.nan]
    cps = detect_changepoints(gappy)
    assert len(cps) == 1 and abs(cps[0] - 100) <= 3  # indices refer to the original positions
    assert all(isinstance(c, int) for c in cps)


def test_bad_options_raise_clear_errors() -> None:
    x = np.arange(50.0)
    with pytest.raises(ValueError, match="model"):
        detect_changepoints(x, model="rbf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="penalty"):
        detect_changepoints(x, penalty=-1.0)
    with pytest.raises(ValueError, match="min_size"):
        detect_changepoints(x, min_size=0)
    with pytest.raises(ValueError, match="numeric"):
        detect_changepoints(["a", "b", "c"])


def test_every_model_and_penalty_option_works() -> None:
    x = steps([0.0, 3.0, 0.0], [50, 50, 50], 0.5, 2)
    for model in MODELS:
        cps = detect_changepoints(x, model=model)  # type: ignore[arg-type]
        assert [round(c / 50) for c in cps] == [1, 2], model
    assert len(detect_changepoints(x, penalty=0.0, min_size=5)) > 2  # no penalty: many breaks
    assert detect_changepoints(x, penalty=1e9) == []
    assert detect_changepoints(x, min_size=60) == [] or len(detect_changepoints(x, min_size=60)) == 1


def test_log_view_helper_sees_decades() -> None:
    rng = np.random.default_rng(6)
    loss = np.r_[np.full(100, 1e-8), np.full(100, 1e-3)] * np.exp(rng.normal(0, 0.2, 200))
    cps = detect_changepoints_auto(loss)
    assert len(cps) == 1 and abs(cps[0] - 100) <= 3


def test_long_series_is_segmented_and_refined() -> None:
    rng = np.random.default_rng(12)
    n = 200_000
    x = rng.normal(0.0, 1.0, n)
    x[70_001:] += 1.0
    x[150_000:] -= 2.0
    x[rng.integers(0, n, 20)] += 50.0
    cps = detect_changepoints(x)
    assert len(cps) == 2
    assert abs(cps[0] - 70_001) <= 10 and abs(cps[1] - 150_000) <= 10


def test_segments_from_changepoints() -> None:
    assert segments_from_changepoints(10, [3, 7]) == [(0, 3), (3, 7), (7, 10)]
    assert segments_from_changepoints(10, []) == [(0, 10)]
    assert segments_from_changepoints(10, [0, 10, 12, 5, 5]) == [(0, 5), (5, 10)]
    assert segments_from_changepoints(0, [1]) == []


def test_pelt_and_costs_are_exact() -> None:
    x = np.r_[np.zeros(20), np.ones(20) * 10.0]
    cps, objective = pelt(x, penalty=5.0, min_size=2, model="l2")
    assert cps == [20] and objective == pytest.approx(5.0)
    t = np.arange(30.0)
    assert segment_cost(3.0 + 2.0 * t, "linear") == pytest.approx(0.0, abs=1e-8)
    assert segment_cost(1.0 + t * t, "quadratic") == pytest.approx(0.0, abs=1e-6)
    assert segment_cost(np.array([1.0, 3.0]), "l2") == pytest.approx(2.0)
    assert default_penalty(1000, "linear") > default_penalty(1000, "l2") > 0


@pytest.mark.parametrize("model", ["l2", "linear", "quadratic"])
def test_dense_and_pruned_pelt_find_the_same_optimum(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import trainlog_doctor.signals.changepoints as cp

    rng = np.random.default_rng(7)
    for n in (12, 57, 150, 399):
        y = np.cumsum(rng.normal(0.0, 1.0, n)) + np.repeat(rng.normal(0.0, 4.0, 3), -(-n // 3))[:n]
        pen = default_penalty(n, model)
        dense = pelt(y, pen, min_size=3, model=model)
        monkeypatch.setattr(cp, "DENSE_MAX_POINTS", 0)
        pruned = pelt(y, pen, min_size=3, model=model)
        monkeypatch.undo()
        assert dense[1] == pytest.approx(pruned[1], rel=1e-9, abs=1e-9)
        assert dense[0] == pruned[0]


def _hf_losses(path: Path) -> list[float]:
    history = json.loads(path.read_text())["log_history"]
    return [row["loss"] for row in history if "loss" in row]


def test_real_trainer_logs_give_sane_segments() -> None:
    root = REAL_LOGS / "hf_trainer_state"
    if not root.is_dir():
        pytest.skip("shared real logs not available")
    checked = 0
    for path in sorted(root.glob("*/trainer_state.json")):
        losses = _hf_losses(path)
        for detect in (detect_changepoints, detect_changepoints_auto):
            cps = detect(losses)
            assert cps == sorted(set(cps))
            assert all(0 < c < len(losses) for c in cps)
            assert len(cps) <= max(2, len(losses) // 10)
        checked += 1
    assert checked >= 5


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.floats(min_value=-1e6, max_value=1e6),
        ),
        max_size=120,
    )
)
def test_any_input_gives_valid_indices(values: list[float]) -> None:
    for detect in (detect_changepoints, detect_changepoints_auto):
        cps = detect(values)
        assert cps == sorted(set(cps))
        assert all(isinstance(c, int) and 0 < c < len(values) for c in cps)


def test_one_pass_over_models_matches_one_pelt_per_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import trainlog_doctor.signals.changepoints as cp
    from trainlog_doctor.signals.changepoints import _dense_partition_models

    monkeypatch.setattr(cp, "DENSE_MAX_POINTS", 0)  # the reference: pruned PELT, one model at a time

    rng = np.random.default_rng(11)
    models = ("l2", "linear", "quadratic")
    for n, min_size in ((9, 2), (40, 2), (120, 5), (200, 5)):
        y = np.cumsum(rng.normal(0.0, 1.0, n)) + 3.0 * (np.arange(n) > n // 2)
        pens = [default_penalty(n, m) for m in models]
        together = _dense_partition_models(y, models, pens, min_size)
        for m, pen, (cps, objective) in zip(models, pens, together):
            alone = pelt(y, pen, min_size=min_size, model=m)
            assert cps == alone[0]
            assert objective == pytest.approx(alone[1], rel=1e-9, abs=1e-9)
