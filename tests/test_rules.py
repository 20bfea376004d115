"""Detection rules: the code table, select/ignore, finding fields and evidence, bad input, the run view.

The rule cases (curves in, codes out) are data in ``tests/rule_cases/`` (``test_rule_cases.py``); the
generic contract every rule meets is ``test_conformance.py``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

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
from trainlog_doctor.testing import RuleCase, SeriesSpec, decay, frame_of, load_cases, noisy

REAL_LOGS = Path(__file__).resolve().parents[1].parent / "shared" / "real_logs"
CASE_DIR = Path(__file__).resolve().parent / "rule_cases"

Series = dict[tuple[str, str], np.ndarray]


def run(series: Series, meta: dict | None = None, **kw) -> list[Finding]:
    return detect(frame_of(series), meta or {}, strict=True, **kw)


def serious(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in ("warning", "error")]


def case(code: str, name: str) -> RuleCase:
    """The case ``name`` of ``tests/rule_cases/<code>.toml``."""
    return next(c for c in load_cases(CASE_DIR / f"{code}.toml") if c.name == name)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


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
    loss = noisy(np.r_[decay(30), np.full(30, 3.0)], noise=0.01, seed=1)
    loss[45] = np.nan
    s = {("loss", "train"): loss}
    assert {f.code for f in run(s)} >= {"DV001", "NF001"}
    assert {f.code for f in run(s, select=["NF"])} == {"NF001"}
    assert "DV001" not in {f.code for f in run(s, ignore=["divergence"])}


# ---- finding fields and evidence ----------------------------------------------------------------------


def test_finding_fields_and_evidence() -> None:
    climb = case("DV001", "runaway_climb")
    lr = SeriesSpec(metric="lr", split="other", recipe="constant", params={"n": 60, "level": 0.1})
    f = next(f for f in dataclasses.replace(climb, series=(*climb.series, lr)).findings() if f.code == "DV001")
    assert f.kind == "divergence" and f.severity == "error" and f.metric == "loss" and f.split == "train"
    assert f.start_epoch == f.start_step and f.end_step == 59
    assert re.search(r"rose \d+(\.\d)?x after epoch \d+ and never came back", f.message)
    ev = f.evidence
    assert ev["ratio"] > 5 and ev["value_after"] > ev["value_before"]
    assert 0.4 < ev["onset_fraction"] < 0.6
    assert ev["lr_at_onset"] == pytest.approx(0.1) and ev["lr_changed_near_onset"] is False


def test_collapse_evidence_names_chance() -> None:
    f = next(f for f in case("CL001", "one_answer_for_ten_classes").findings() if f.code == "CL002")
    assert f.evidence["ln_classes"] == pytest.approx(math.log(10), rel=1e-5)
    assert f.evidence["chance_level"] == pytest.approx(0.1)


def test_overfitting_evidence_train_improving() -> None:
    f = next(f for f in case("OF001", "validation_turns_up_at_epoch_20").findings() if f.code == "OF001")
    assert f.evidence["train_improving"] is True
    assert f.evidence["train_after"] < f.evidence["train_before"]


def test_ordering_is_by_severity_then_step() -> None:
    nan_tail = case("NF001", "nan_tail").series[0].values()
    spiky = case("SP001", "sixfold_spike").series[0].values()[:50]
    s = {("loss", "train"): nan_tail, ("loss", "val"): spiky}
    findings = run(s)
    ranks = [{"error": 0, "warning": 1, "info": 2}[f.severity] for f in findings]
    assert ranks == sorted(ranks)
    assert findings == run(s)  # deterministic


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
    a = case("NF001", "nan_tail").frame().with_columns(pl.lit("a").alias("run_id"))
    b = case("PL001", "kink_at_epoch_20").frame().with_columns(pl.lit("b").alias("run_id"))
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


# ---- notes: what could not be judged ------------------------------------------------------------------


def test_notes_name_series_too_short_for_a_verdict() -> None:
    from trainlog_doctor.rules.notes import series_notes

    short_val = {("loss", "val"): [0.9, 0.7, 0.6, 0.55], ("accuracy", "val"): [0.5, 0.6]}
    view = build_view(frame_of({("loss", "train"): decay(30), **short_val}))
    notes = series_notes(view)
    assert notes == [
        "val/accuracy: 2 points, too few for a trend verdict (trends need 8)",
        "val/loss: 4 points, too few for a trend verdict (trends need 8, overfitting 5)",
    ]
    assert series_notes(build_view(frame_of({("loss", "train"): decay(30)}))) == []
    assert series_notes(build_view(frame_of({("loss", "val"): [math.nan] * 3}))) == []  # NF rules tell that story


def test_notes_are_in_the_json_and_in_every_renderer(tmp_path: Path) -> None:
    from trainlog_doctor.api import analyze
    from trainlog_doctor.report.formats import render

    log = tmp_path / "training.log"
    log.write_text("epoch,loss,val_loss\n0,1.2,1.3\n1,0.9,1.0\n2,0.7,0.85\n")
    report = analyze([str(log)])
    run_dict = report.to_dict()["runs"][0]
    assert run_dict["notes"] and all("too few for a trend verdict" in n for n in run_dict["notes"])
    assert "train/loss: 3 points" in run_dict["notes"][0]
    assert "note: train/loss: 3 points" in render(report, "text")
    assert "train/loss: 3 points" in render(report, "markdown")
    assert "train/loss: 3 points" in render(report, "html")
    empty = analyze([str(tmp_path / "missing")]).to_dict()["runs"]
    assert all(r["notes"] == [] for r in empty)


def test_notes_are_escaped_like_warnings() -> None:
    from trainlog_doctor.model.report import Report, RunReport
    from trainlog_doctor.report.formats import render

    run = RunReport("r", "p", "keras_csv", notes=["val/<script>x</script>: 2 points, too few for a trend verdict"])
    html = render(Report([run]), "html")
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert "<script>" not in render(Report([run]), "markdown")
