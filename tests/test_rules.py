"""Detection rules: the code table, one table of cases per rule, healthy schedules, bad input, select/ignore."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trainlog_doctor.model.frame import from_columns
from trainlog_doctor.model.report import Finding
from trainlog_doctor.rules import (
    KINDS,
    RULES,
    Rule,
    detect,
    get_rule,
    select_rules,
    series_changepoints,
)
from trainlog_doctor.run import build_view, metric_role

REAL_LOGS = Path(__file__).resolve().parents[1].parent / "shared" / "real_logs"

Series = dict[tuple[str, str], np.ndarray]


def frame_of(series: Series, *, epochs: bool = True, run_id: str = "r") -> pl.DataFrame:
    """A normalized frame with one point per index (step = epoch = index)."""
    parts = []
    for (metric, split), values in series.items():
        n = len(values)
        parts.append(
            from_columns(
                run_id=run_id,
                source="test",
                metric=metric,
                split=split,
                step=list(range(n)),
                epoch=[float(i) for i in range(n)] if epochs else None,
                value=[None if v is None else float(v) for v in values],
            )
        )
    return pl.concat(parts)


def run(series: Series, meta: dict | None = None, **kw) -> list[Finding]:
    return detect(frame_of(series), meta or {}, strict=True, **kw)


def serious(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in ("warning", "error")]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def decay(n: int, start: float = 2.3, floor: float = 0.2, tau: float | None = None, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    t = np.arange(n, dtype=float)
    tau = tau if tau is not None else n / 3
    v = floor + (start - floor) * np.exp(-t / tau)
    return v * (1 + noise * rng(seed).standard_normal(n))


# ---- the code table ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_conforms(rule: type[Rule]) -> None:
    assert re.fullmatch(r"[A-Z]{2}\d{3}", rule.code)
    assert rule.kind in KINDS
    assert rule.severity in ("error", "warning", "info")
    assert re.fullmatch(r"[a-z0-9-]+", rule.name)
    doc = inspect.cleandoc(rule.__doc__ or "")
    assert doc and "What it detects" in doc and "Example" in doc, rule.code
    assert get_rule(rule.code.lower()) is rule
    params = rule.default_params()
    inst = rule(**params)
    assert inst.get_params() == params
    with pytest.raises(TypeError):
        rule(not_a_parameter=1)


def test_codes_unique_and_every_kind_covered() -> None:
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes))
    assert {r.kind for r in RULES} == set(KINDS)
    with pytest.raises(KeyError, match="unknown rule code"):
        get_rule("XX999")


def test_parameters_override_defaults() -> None:
    rule = get_rule("DV001")(min_ratio=3.0)
    assert rule.get_params()["min_ratio"] == 3.0
    assert get_rule("DV001")().get_params()["min_ratio"] == 1.5


# ---- select / ignore ------------------------------------------------------------------------------------

SELECT_CASES = [
    # (select, ignore, expected subset of codes that must be in, codes that must be out)
    (None, None, {"DV001", "SP001", "NF001"}, set()),
    (["DV"], None, {"DV001"}, {"SP001", "NF001"}),
    (["spike"], None, {"SP001", "SP002"}, {"DV001"}),
    (None, ["SP"], {"DV001"}, {"SP001", "SP002"}),
    (["SP"], ["SP002"], {"SP001"}, {"SP002", "DV001"}),
    (["SP002"], ["SP"], {"SP002"}, {"SP001"}),  # the more specific entry wins
    (["ALL"], ["collapse"], {"DV001"}, {"CL001", "CL002", "CL003", "CL004"}),
]


@pytest.mark.parametrize(("select", "ignore", "inside", "outside"), SELECT_CASES)
def test_select_ignore(select, ignore, inside, outside) -> None:
    codes = {r.code for r in select_rules(select, ignore)}
    assert inside <= codes
    assert not (outside & codes)


def test_select_unknown_entry_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown rule selector 'ZZ'"):
        select_rules(["ZZ"], None)


def test_detect_honours_select_and_ignore() -> None:
    loss = np.r_[decay(30), np.full(30, 3.0)] * (1 + 0.01 * rng(1).standard_normal(60))
    loss[45] = np.nan
    s = {("loss", "train"): loss}
    assert {f.code for f in run(s)} >= {"DV001", "NF001"}
    assert {f.code for f in run(s, select=["NF"])} == {"NF001"}
    assert "DV001" not in {f.code for f in run(s, ignore=["divergence"])}


# ---- one table of cases per rule ------------------------------------------------------------------------


@dataclass
class Case:
    """Series in, the codes expected out (with an onset when given), codes that must not appear."""

    id: str
    series: Callable[[], Series]
    expect: dict[str, int | None] = field(default_factory=dict)  # code -> onset step (None: anywhere)
    forbid: set[str] = field(default_factory=set)
    meta: dict = field(default_factory=dict)
    split: str | None = None


def _nan_tail() -> Series:
    v = decay(50)
    v[35:] = np.nan
    return {("loss", "train"): v}


def _nan_blip() -> Series:
    v = decay(50)
    v[20] = np.inf
    return {("loss", "train"): v}


def _score_nan() -> Series:
    acc = np.linspace(0.5, 0.9, 30)
    acc[25:] = np.nan
    return {("loss", "train"): decay(30), ("accuracy", "val"): acc}


def _per_class_ap_nan() -> Series:
    ap = np.linspace(20, 40, 12)
    return {
        ("total_loss", "train"): decay(40, start=3, floor=0.5),
        ("bbox/AP", "val"): ap,
        ("bbox/AP-person", "val"): np.full(12, np.nan),
        ("bbox/APs", "val"): np.full(12, np.nan),
    }


def _grad_nan() -> Series:
    g = np.abs(rng(2).normal(1.0, 0.1, 40))
    g[30:] = np.nan
    return {("loss", "train"): decay(40), ("grad_norm", "other"): g}


def _explode() -> Series:
    v = decay(60)
    v[30:] = v[29] * np.linspace(2, 12, 30)
    return {("loss", "train"): v}


def _explode_val_too() -> Series:
    s = _explode()
    s[("loss", "val")] = s[("loss", "train")] * 1.2
    return s


def _spike() -> Series:
    v = decay(60, noise=0.005)
    v[40] *= 6
    return {("loss", "train"): v}


def _rounded_tail() -> Series:
    v = np.r_[np.linspace(0.3, 0.0002, 40), np.full(40, 0.0001)]
    v[[50, 61, 70]] = 0.0002
    return {("loss", "train"): np.round(v, 4)}


def _acc_dip() -> Series:
    acc = np.r_[np.linspace(0.3, 0.9, 20), np.full(30, 0.9)] + 0.003 * rng(3).standard_normal(50)
    acc[35] = 0.45
    return {("loss", "train"): decay(50), ("accuracy", "val"): acc}


def _plateau() -> Series:
    t = np.arange(60, dtype=float)
    v = np.where(t < 20, 2.5 - 0.08 * t, 0.9) * (1 + 0.005 * rng(4).standard_normal(60))
    return {("loss", "train"): v}


def _stagnation() -> Series:
    return {("loss", "train"): 1.7 * (1 + 0.01 * rng(5).standard_normal(60))}


def _acc_pinned() -> Series:
    return {("loss", "train"): np.full(40, math.log(10)) + 1e-5 * rng(6).standard_normal(40), ("accuracy", "val"): np.full(40, 0.1)}


def _f1_zero() -> Series:
    return {("loss", "train"): decay(20), ("f1_metric", "val"): np.zeros(20)}


def _back_to_chance() -> Series:
    acc = np.r_[np.linspace(0.2, 0.95, 20), np.full(20, 0.1)] + 0.01 * rng(7).standard_normal(40)
    loss = np.r_[np.linspace(2.2, 0.2, 20), np.full(20, 2.31)] * (1 + 0.01 * rng(8).standard_normal(40))
    return {("loss", "train"): loss, ("accuracy", "val"): acc}


def _oscillation() -> Series:
    t = np.arange(80, dtype=float)
    v = np.r_[decay(10, start=2, floor=1), np.ones(70)] * (1 + np.where(t >= 10, 0.3 * np.sin(2 * np.pi * t / 6), 0))
    return {("loss", "train"): v * (1 + 0.005 * rng(9).standard_normal(80))}


def _overfit() -> Series:
    t = np.arange(60, dtype=float)
    val = np.where(t < 20, 1.0 - 0.03 * t, 0.4 + 0.015 * (t - 20)) * (1 + 0.01 * rng(10).standard_normal(60))
    return {("loss", "train"): decay(60, floor=0.05), ("loss", "val"): val}


def _overfit_score() -> Series:
    t = np.arange(40, dtype=float)
    val = np.where(t < 15, 0.5 + 0.02 * t, 0.8 - 0.006 * (t - 15)) + 0.003 * rng(11).standard_normal(40)
    return {("accuracy", "train"): np.linspace(0.5, 0.99, 40), ("accuracy", "val"): val}


def _slowdown() -> Series:
    time = np.where(np.arange(50) < 30, 0.2, 0.5) * (1 + 0.01 * rng(12).standard_normal(50))
    return {("loss", "train"): decay(50), ("time", "other"): time}


def _one_slow_step() -> Series:
    time = 0.2 * (1 + 0.01 * rng(13).standard_normal(50))
    time[[0, 25]] = [2.0, 1.5]
    return {("loss", "train"): decay(50), ("time", "other"): time}


RULE_CASES = [
    Case("nf-tail", _nan_tail, {"NF001": 35}),
    Case("nf-blip", _nan_blip, {"NF001": 20}),
    Case("nf-score", _score_nan, {"NF002": 25}),
    Case("nf-per-class-ap-is-fine", _per_class_ap_nan, forbid={"NF001", "NF002"}),
    Case("nf-grad", _grad_nan, {"NF003": 30}),
    Case("dv-explode", _explode, {"DV001": 30}, forbid={"SP001", "PL001"}),
    Case("dv-val-too", _explode_val_too, {"DV001": 30}, forbid={"OF001"}),
    Case("sp-spike", _spike, {"SP001": 40}, forbid={"DV001"}),
    Case("sp-rounding-is-not-a-spike", _rounded_tail, forbid={"SP001"}),
    Case("sp-acc-dip", _acc_dip, {"SP002": 35}),
    Case("pl-kink", _plateau, {"PL001": 20}, forbid={"ST001"}),
    Case("st-flat", _stagnation, {"ST001": 0}, forbid={"PL001"}),
    Case("cl-pinned", _acc_pinned, {"CL001": 0, "CL002": 0}, forbid={"ST001"}, meta={"num_classes": 10}),
    Case("cl-f1-zero", _f1_zero, {"CL003": 0}),
    Case("cl-back-to-chance", _back_to_chance, {"CL004": 20}, forbid={"DV001"}, meta={"num_classes": 10}),
    Case("os-sine", _oscillation, {"OS001": 10}, forbid={"PL001", "ST001"}),
    Case("of-val-loss", _overfit, {"OF001": 20}, forbid={"DV001"}),
    Case("of-val-score", _overfit_score, {"OF002": 15}),
    Case("sl-step", _slowdown, {"SL001": 30}),
    Case("sl-one-slow-step-is-fine", _one_slow_step, forbid={"SL001"}),
]


@pytest.mark.parametrize("case", RULE_CASES, ids=lambda c: c.id)
def test_rule_case(case: Case) -> None:
    findings = run(case.series(), case.meta)
    by_code: dict[str, list[Finding]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    for code, onset in case.expect.items():
        assert code in by_code, f"{code} missing; got {[(f.code, f.message) for f in findings]}"
        if onset is not None:
            # onset tolerance: 3 epochs or 10% of the run
            assert any(abs(f.start_step - onset) <= 3 for f in by_code[code]), [f.start_step for f in by_code[code]]
    for code in case.forbid:
        assert code not in by_code, f"unexpected {code}: {[f.message for f in by_code[code]]}"


def test_finding_fields_and_evidence() -> None:
    s = _explode()
    s[("lr", "other")] = np.full(60, 0.1)
    f = next(f for f in run(s) if f.code == "DV001")
    assert f.kind == "divergence" and f.severity == "error" and f.metric == "loss" and f.split == "train"
    assert f.start_epoch == f.start_step and f.end_step == 59
    assert re.search(r"rose \d+(\.\d)?x after epoch \d+ and never came back", f.message)
    ev = f.evidence
    assert ev["ratio"] > 5 and ev["value_after"] > ev["value_before"]
    assert 0.4 < ev["onset_fraction"] < 0.6
    assert ev["lr_at_onset"] == pytest.approx(0.1) and ev["lr_changed_near_onset"] is False


def test_collapse_evidence_names_chance() -> None:
    f = next(f for f in run(_acc_pinned(), {"num_classes": 10}) if f.code == "CL002")
    assert f.evidence["ln_classes"] == pytest.approx(math.log(10), rel=1e-5)
    assert f.evidence["chance_level"] == pytest.approx(0.1)


def test_overfitting_evidence_train_improving() -> None:
    f = next(f for f in run(_overfit()) if f.code == "OF001")
    assert f.evidence["train_improving"] is True
    assert f.evidence["train_after"] < f.evidence["train_before"]


def test_ordering_is_by_severity_then_step() -> None:
    s = _nan_tail()
    s[("loss", "val")] = _spike()[("loss", "train")][:50]
    findings = run(s)
    ranks = [{"error": 0, "warning": 1, "info": 2}[f.severity] for f in findings]
    assert ranks == sorted(ranks)
    assert findings == run(s)  # deterministic


# ---- healthy runs stay clean ----------------------------------------------------------------------------


def _step_decay() -> Series:
    n, cuts = 90, (30, 60)
    t = np.arange(n, dtype=float)
    loss = np.empty(n)
    level = 2.3
    for a, b in zip((0, *cuts), (*cuts, n)):
        m = b - a
        floor = level * 0.6
        loss[a:b] = floor + (level - floor) * np.exp(-np.arange(m) / (m * 0.25))
        level = floor * 0.5
    lr = np.where(t < 30, 0.1, np.where(t < 60, 0.01, 0.001))
    noise = 1 + 0.01 * rng(20).standard_normal(n)
    return {("loss", "train"): loss * noise, ("loss", "val"): loss * 1.2 * noise[::-1], ("lr", "other"): lr}


def _warmup_cosine() -> Series:
    n, warm = 100, 10
    t = np.arange(n, dtype=float)
    lr = np.where(t < warm, (t + 1) / warm, 0.5 * (1 + np.cos(np.pi * (t - warm) / (n - warm)))) * 1e-3
    progress = np.cumsum(lr) / lr.sum()
    loss = 0.3 + 2.0 * np.exp(-4 * progress)
    return {("loss", "train"): loss * (1 + 0.01 * rng(21).standard_normal(n)), ("learning_rate", "other"): lr}


def _one_cycle() -> Series:
    n = 80
    t = np.arange(n, dtype=float)
    lr = np.interp(t, [0, 24, 79], [0.004, 0.1, 0.0004])
    loss = 0.2 + 2.1 * np.exp(-np.cumsum(lr) / 1.5)
    return {("loss", "train"): loss * (1 + 0.01 * rng(22).standard_normal(n)), ("lr-SGD", "other"): lr}


def _first_epoch_drop() -> Series:
    loss = decay(40, start=1.0, floor=0.1, tau=15)
    loss[0] = 25.0
    acc = np.clip(1 - loss / 1.2, 0, 1)
    return {("loss", "train"): loss, ("accuracy", "train"): acc}


def _noisy_val() -> Series:
    train = decay(80, floor=0.3)
    val = decay(80, floor=0.4, seed=23) * (1 + 0.2 * rng(24).standard_normal(80))
    return {("loss", "train"): train, ("loss", "val"): np.abs(val)}


def _log_tail() -> Series:
    t = np.arange(120, dtype=float)
    loss = 10 ** (-9 + 9 * np.exp(-t / 25)) * 10 ** (0.3 * rng(25).standard_normal(120) * (t > 60))
    return {("loss", "train"): loss}


def _resumed_warm_restart() -> Series:
    a = decay(40, floor=0.3)
    b = decay(40, start=0.45, floor=0.2, seed=26)
    lr = np.r_[np.linspace(0.1, 0.001, 40), np.linspace(0.05, 0.0005, 40)]
    return {("loss", "train"): np.r_[a, b], ("lr", "other"): lr}


def _detectron_like() -> Series:
    s = _per_class_ap_nan()
    s[("time", "other")] = 0.3 * (1 + 0.05 * rng(27).standard_normal(40))
    s[("data_time", "other")] = 0.01 * (1 + 0.3 * rng(28).standard_normal(40))
    return s


HEALTHY = {
    "step-decay": _step_decay,
    "warmup-cosine": _warmup_cosine,
    "one-cycle": _one_cycle,
    "first-epoch-drop": _first_epoch_drop,
    "noisy-val": _noisy_val,
    "log-tail-1e-9": _log_tail,
    "warm-restart": _resumed_warm_restart,
    "detectron-per-class-nan": _detectron_like,
}


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_runs_are_clean(name: str) -> None:
    findings = run(HEALTHY[name]())
    assert not serious(findings), [(f.code, f.message) for f in serious(findings)]


# ---- bad input never crashes ----------------------------------------------------------------------------

BAD = {
    "one-point": {("loss", "train"): np.array([0.5])},
    "two-points": {("loss", "train"): np.array([0.5, 0.4])},
    "constant": {("loss", "train"): np.full(30, 0.7), ("accuracy", "val"): np.full(30, 1.0)},
    "negative-loss": {("loss", "train"): -np.logspace(3, 8, 60)},
    "huge": {("loss", "train"): np.r_[decay(20), np.full(20, 1e30)]},
    "all-inf": {("loss", "val"): np.full(10, np.inf)},
    "zeros": {("loss", "train"): np.zeros(40), ("lr", "other"): np.zeros(40)},
    "tiny": {("loss", "train"): np.full(40, 1e-300) * np.linspace(1, 2, 40)},
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_does_not_crash(name: str) -> None:
    findings = run(BAD[name])
    assert all(isinstance(f, Finding) for f in findings)
    for f in findings:
        assert f.to_dict()["message"]


def test_all_nan_loss_is_non_finite() -> None:
    findings = run({("loss", "train"): np.full(12, np.nan), ("accuracy", "train"): np.linspace(0.1, 0.5, 12)})
    assert [f.code for f in findings] == ["NF001"]
    assert "all 12" in findings[0].message


def test_short_series_get_no_trend_verdict() -> None:
    s = {("loss", "train"): np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), ("loss", "val"): np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])}
    assert not {f.kind for f in run(s)} & {"divergence", "plateau", "stagnation", "overfitting", "oscillation"}


def test_empty_and_odd_frames() -> None:
    assert detect(pl.DataFrame(), {}) == []
    assert detect(frame_of({("loss", "train"): np.array([])}) if False else pl.DataFrame(schema={"metric": pl.Utf8}), {}) == []
    nulls = frame_of({("loss", "train"): np.array([None, None, 1.0, None], dtype=object)})
    assert isinstance(detect(nulls, {}), list)


def test_several_runs_in_one_frame() -> None:
    a = frame_of(_nan_tail(), run_id="a")
    b = frame_of(_plateau(), run_id="b")
    codes = {f.code for f in detect(pl.concat([a, b]), {})}
    assert {"NF001", "PL001"} <= codes


# ---- context and change points --------------------------------------------------------------------------

ROLE_CASES = [
    ("loss", "loss"),
    ("box_loss", "loss"),
    ("mean_absolute_error", "loss"),
    ("wer", "loss"),
    ("accuracy", "score"),
    ("bbox/AP50", "score"),
    ("mean_io_u_5", "score"),
    ("dice_coef", "score"),
    ("f1_score", "score"),
    ("lr", "lr"),
    ("lr-Adam", "lr"),
    ("learning_rate", "lr"),
    ("time", "time"),
    ("data_time", "time"),
    ("eta_seconds", "other"),
    ("train_samples_per_second", "throughput"),
    ("grad_norm", "other"),
    ("rpn/num_pos_anchors", "other"),
]


@pytest.mark.parametrize(("metric", "role"), ROLE_CASES)
def test_metric_role(metric: str, role: str) -> None:
    assert metric_role(metric) == role


def test_context_dedupes_steps_and_finds_primary_loss() -> None:
    df = pl.concat(
        [
            frame_of({("loss_cls", "train"): np.linspace(1, 0.5, 10), ("total_loss", "train"): np.linspace(2, 1, 10)}),
            frame_of({("total_loss", "train"): np.array([9.0])}),  # a second write of step 0 wins
        ]
    )
    ctx = build_view(df, {})
    s = ctx.get("total_loss", "train")
    assert s is not None and len(s) == 10 and s.values[0] == 9.0
    assert ctx.primary_loss is s


def test_cumulative_time_becomes_durations() -> None:
    cum = np.cumsum(np.full(20, 30.0))
    ctx = build_view(frame_of({("loss", "train"): decay(20), ("time", "other"): cum}), {})
    t = ctx.get("time", "other")
    assert t is not None and t.derived and np.nanmedian(t.values) == pytest.approx(30.0)


def test_series_changepoints_are_steps() -> None:
    y = np.r_[np.full(30, 1.0), np.full(30, 3.0)] + 0.01 * rng(30).standard_normal(60)
    df = frame_of({("loss", "train"): y})
    df = df.with_columns((pl.col("step") * 10).alias("step"))
    cps = series_changepoints(df)
    assert cps[("loss", "train")] and all(c % 10 == 0 for c in cps[("loss", "train")])
    assert any(abs(c - 300) <= 20 for c in cps[("loss", "train")])


# ---- real logs ----------------------------------------------------------------------------------------------

REAL_CASES = [
    ("keras_csv/keras_csv_09/log.csv", {"CL002"}),  # val_loss pinned at ln(10)
    ("mmdet/mmdet_09/20210222_195422.log.json", {"NF001"}),
    ("keras_csv/keras_csv_22/history_log.csv", {"OF001"}),
    ("keras_csv/keras_csv_13/training_log.csv", set()),  # healthy
    ("hf_trainer_state/hf_trainer_state_10/trainer_state.json", set()),  # loss rounded to 1e-4: no spikes
]


@pytest.mark.parametrize(("rel", "codes"), REAL_CASES)
def test_real_logs(rel: str, codes: set[str]) -> None:
    if not REAL_LOGS.is_dir():
        pytest.skip("../shared/real_logs is not present")
    from trainlog_doctor.readers import reader_for_file

    path = REAL_LOGS / rel
    reader = reader_for_file(path)
    assert reader is not None
    data = reader.read(path, "real")[0]
    found = {f.code for f in serious(detect(data.frame, data.meta))}
    if codes:
        assert codes <= found, found
    else:
        assert not found, found
