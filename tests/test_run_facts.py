"""Run facts (run/facts.py): the run-level numbers the knowledge base reads from the run view."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from trainlog_doctor.model.frame import empty_frame, from_columns
from trainlog_doctor.run import build_view
from trainlog_doctor.run.facts import MAX_FACT_POINTS, RunFacts, fact_points


def _part(metric: str, split: str, steps: list[int], values: list[float], **cols: list[float]) -> pl.DataFrame:
    return from_columns(run_id="r", source="t", metric=metric, split=split, step=steps, value=values, **cols)


def test_an_empty_view_has_empty_facts() -> None:
    assert build_view(empty_frame(), {}).facts == RunFacts()


def test_facts_are_computed_once_per_view() -> None:
    v = build_view(_part("loss", "train", [0, 1, 2], [3.0, 2.0, 1.0]), {})
    assert v.facts is v.facts


def test_run_length_ranges_and_finite_points() -> None:
    fr = pl.concat([
        _part("loss", "train", [0, 10, 20, 30], [3.0, 2.0, float("nan"), 1.0], epoch=[0.0, 1.0, 2.0, 3.0]),
        _part("loss", "val", [10, 30], [2.5, 2.2], epoch=[1.0, 3.5]),
        _part("data_time", "other", [0, 10, 20], [0.1, float("inf"), 0.3]),
        _part("time", "other", [0, 10, 20], [0.5, 0.6, 0.7]),
        _part("gpu_mem", "other", [0, 20], [100.0, 120.0]),
    ])
    facts = build_view(fr, {}).facts
    assert facts.max_epoch == 3.5 and facts.max_step == 30
    assert facts.ranges[("loss", "train")] == (0, 30) and facts.ranges[("loss", "val")] == (10, 30)
    assert facts.data_time == ((0, 0.1), (20, 0.3))  # only finite points
    assert facts.step_time == ((0, 0.5), (10, 0.6), (20, 0.7))
    assert facts.memory == ((0, 100.0), (20, 120.0))
    assert facts.lr_points == ()


def test_a_repeated_step_keeps_the_view_s_point() -> None:
    fr = _part("lr", "other", [0, 5, 5, 9], [1e-3, 1e-3, 5e-4, 5e-4], wall_time=[0.0, 2.0, 1.0, 3.0])
    v = build_view(fr, {})
    assert v.facts.lr_points == ((0, 1e-3), (5, 1e-3), (9, 5e-4))  # the row written last (wall time) wins
    assert v.facts.lr_points == tuple(zip(v.lr.steps.tolist(), v.lr.values.tolist()))


def test_the_lr_points_are_those_of_the_view_s_lr_series() -> None:
    steps = list(range(10))
    fr = pl.concat([_part("lr/pg1", "other", steps, [0.5] * 10), _part("lr", "other", steps, [0.1] * 10)])
    v = build_view(fr, {})
    assert v.lr is not None and v.lr.metric == "lr"
    assert {x for _, x in v.facts.lr_points} == {0.1}


def test_a_long_step_schedule_keeps_its_change_points_exactly() -> None:
    n = 3 * MAX_FACT_POINTS
    values = [1e-3 * 0.1 ** (i // MAX_FACT_POINTS) for i in range(n)]
    pts = build_view(_part("lr", "other", list(range(n)), values), {}).facts.lr_points
    k = MAX_FACT_POINTS
    assert [s for s, _ in pts] == [0, k - 1, k, 2 * k - 1, 2 * k, n - 1]
    assert [x for _, x in pts] == [values[i] for i in (0, k - 1, k, 2 * k - 1, 2 * k, n - 1)]


def test_long_smooth_series_are_thinned_to_every_k_th_point() -> None:
    n = 2 * MAX_FACT_POINTS + 3
    cosine = [0.5 * (1 + math.cos(math.pi * i / n)) for i in range(n)]
    v = build_view(pl.concat([_part("lr", "other", list(range(n)), cosine),
                              _part("time", "other", list(range(n)), [0.2] * n)]), {})
    for pts in (v.facts.lr_points, v.facts.step_time):
        assert len(pts) <= MAX_FACT_POINTS
        assert [s for s, _ in pts] == list(range(0, n, 3))


def test_fact_points_of_no_series() -> None:
    assert fact_points(None) == ()
    s = build_view(_part("loss", "train", [0, 1], [float("nan"), np.inf]), {}).get("loss", "train")
    assert fact_points(s) == ()
