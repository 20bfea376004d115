"""The knowledge base (kb.toml) and the evidence-based ranking of causes and fixes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trainlog_doctor import knowledge as kn
from trainlog_doctor.model.frame import empty_frame, from_columns
from trainlog_doctor.model.kinds import KINDS
from trainlog_doctor.model.report import Finding
from trainlog_doctor.run import RunView, build_view
from trainlog_doctor.run.names import infer_split

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEEDS = SHARED / "seeds"
REAL_LOGS = SHARED / "real_logs"
KB_PATH = Path(kn.__file__).with_name("kb.toml")


def finding(kind: str, *, metric: str = "loss", split: str = "train", **evidence: object) -> Finding:
    """A finding as a rule would emit it (only what the ranking reads)."""
    return Finding(code="XX001", kind=kind, severity="warning", metric=metric, message="test",
                   split=split, evidence=dict(evidence))


def view(frame: pl.DataFrame | None = None, meta: dict | None = None) -> RunView:
    """The run view the ranking reads: ``frame`` (no series when ``None``) and ``meta``."""
    return build_view(empty_frame() if frame is None else frame, meta or {})


def ranked(f: Finding, meta: dict | None = None, frame: pl.DataFrame | None = None,
           others: list[Finding] | None = None) -> Finding:
    kn.explain([f, *(others or [])], view(frame, meta))
    return f


def ids(refs) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.id for r in refs]


def why_of(f: Finding, cause_id: str) -> str:
    return " | ".join(next(c for c in f.causes if c.id == cause_id).why)


# ------------------------------------------------------------------------------------------------
# The data file
# ------------------------------------------------------------------------------------------------


def test_kb_loads_validates_and_is_cached() -> None:
    kb = kn.load_kb()
    assert kn.load_kb() is kb
    assert len(kb.causes) >= 25 and len(kb.fixes) >= 20
    assert set(kb.kinds) == set(KINDS)
    # loading the file by path gives the same content
    again = kn.load_kb(KB_PATH)
    assert again.causes == kb.causes and again.fixes == kb.fixes


def test_every_kind_has_causes_and_every_cause_a_fix() -> None:
    kb = kn.load_kb()
    for kind in KINDS:
        causes = kn.causes_for_kind(kind)
        assert len(causes) >= 2, kind
        priors = [p for _, p in kb.kinds[kind].priors]
        assert priors == sorted(priors, reverse=True), f"{kind} priors are not in descending order"
    for c in kb.causes.values():
        assert c.fixes, c.id
        assert 1 <= len(re.findall(r"[.!?](\s|$)", c.text)) <= 3, f"{c.id}: text should be 1-3 sentences"
        assert set(c.signals) <= set(kn.SIGNALS)
    used = {f for c in kb.causes.values() for f in c.fixes}
    assert used == set(kb.fixes), f"fixes no cause uses: {set(kb.fixes) - used}"


def test_sources_are_the_seed_files() -> None:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is not present")
    kb = kn.load_kb()
    present = {p.name for p in SEEDS.iterdir()}
    assert set(kn.SEED_FILES) <= present
    cited = {s for e in [*kb.causes.values(), *kb.fixes.values()] for s in e.sources}
    assert cited <= present
    assert cited == set(kn.SEED_FILES), "every seed document should be used"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_no_entry_copies_the_seed_texts() -> None:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is not present")
    n = 12
    grams: set[tuple[str, ...]] = set()
    for p in SEEDS.glob("*.txt"):
        w = _words(p.read_text(encoding="utf-8", errors="replace"))
        grams.update(tuple(w[i : i + n]) for i in range(len(w) - n + 1))
    assert grams
    kb = kn.load_kb()
    texts = [(e.id, e.title + ". " + e.text) for e in [*kb.causes.values(), *kb.fixes.values()]]
    texts += [(k, e.summary) for k, e in kb.kinds.items()]
    for entry_id, text in texts:
        w = _words(text)
        copied = [" ".join(w[i : i + n]) for i in range(len(w) - n + 1) if tuple(w[i : i + n]) in grams]
        assert not copied, f"{entry_id} copies seed text: {copied[0]!r}"


GOOD_FIX = {"id": "lower-lr", "title": "t", "text": "x.", "sources": ["000_02205516640b384a.txt"]}
GOOD_CAUSE = {"id": "lr-too-high", "title": "t", "text": "x.", "kinds": ["spike"], "fixes": ["lower-lr"],
              "signals": ["lr_high"], "sources": ["000_02205516640b384a.txt"]}


def _kb_data(**changes: object) -> dict:
    cause = {**GOOD_CAUSE, **changes.get("cause", {})}  # type: ignore[dict-item]
    fix = {**GOOD_FIX, **changes.get("fix", {})}  # type: ignore[dict-item]
    kinds = {k: {"summary": "s", "causes": [{"id": "other", "prior": 1.0}, {"id": "lr-too-high", "prior": 0.5}]
                 if k == "spike" else [{"id": "other", "prior": 1.0}]} for k in KINDS}
    other = {**GOOD_CAUSE, "id": "other", "kinds": list(KINDS), "signals": []}
    data = {"causes": [cause, other], "fixes": [fix], "kinds": kinds}
    data.update(changes.get("top", {}))  # type: ignore[arg-type]
    return data


def test_minimal_valid_data_parses() -> None:
    kb = kn.parse_kb(_kb_data())
    assert [c.id for c in kb.causes_for_kind("spike")] == ["other", "lr-too-high"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cause": {"fixes": ["no-such-fix"]}}, "unknown fix 'no-such-fix'"),
        ({"fix": {"sources": ["seed.txt"]}}, "unknown source file 'seed.txt'"),
        ({"cause": {"sources": ["000_02205516640b384a.md"]}}, "unknown source file"),
        ({"cause": {"kinds": ["spike", "explosion"]}}, "unknown kind 'explosion'"),
        ({"cause": {"signals": ["lr_huge"]}}, "unknown signal 'lr_huge'"),
        ({"cause": {"kinds": ["spike", "plateau"]}}, "kinds.plateau does not list it"),
        ({"cause": {"kinds": ["plateau"]}}, "does not name kind 'spike'"),
        ({"cause": {"fixes": []}}, "'fixes' must be a non-empty list"),
        ({"cause": {"text": ""}}, "'text' must be a non-empty string"),
        ({"cause": {"id": "Not Kebab"}}, "kebab-case"),
        ({"top": {"fixes": [GOOD_FIX, GOOD_FIX]}}, "duplicate id"),
        ({"top": {"causes": "nope"}}, "array of tables"),
    ],
)
def test_validation_errors_are_clear(changes: dict, message: str) -> None:
    with pytest.raises(kn.KnowledgeError, match=re.escape(message)):
        kn.parse_kb(_kb_data(**changes))


def test_bad_prior_and_missing_kind_section() -> None:
    data = _kb_data()
    data["kinds"]["spike"]["causes"][1]["prior"] = 1.5
    with pytest.raises(kn.KnowledgeError, match=r"prior of 'lr-too-high' must be a number in \(0, 1\]"):
        kn.parse_kb(data)
    data = _kb_data()
    del data["kinds"]["slowdown"]
    with pytest.raises(kn.KnowledgeError, match=r"kind 'slowdown' has no \[kinds.slowdown\] section"):
        kn.parse_kb(data)


def test_broken_toml_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "kb.toml"
    bad.write_text('[[causes]]\nid = "x\n', encoding="utf-8")
    with pytest.raises(kn.KnowledgeError, match="not valid TOML") as exc:
        kn.load_kb(bad)
    assert "\n" not in str(exc.value)
    with pytest.raises(kn.KnowledgeError, match="cannot read"):
        kn.load_kb(tmp_path / "missing.toml")


def test_lookup_helpers() -> None:
    assert kn.fix("raise-adam-epsilon").sources == ("002_71796cd32a78356b.txt",)
    assert "1e-8" in kn.fix("raise-adam-epsilon").text
    assert kn.cause("adam-epsilon-blowup").kinds[0] == "divergence"
    assert [c.id for c in kn.causes_for_kind("slowdown")][0] == "input-pipeline-bottleneck"
    assert kn.causes_for_kind("lr_anomaly") == []
    with pytest.raises(KeyError, match="unknown cause 'nope'"):
        kn.cause("nope")
    with pytest.raises(KeyError, match="unknown fix 'nope'"):
        kn.fix("nope")


# ------------------------------------------------------------------------------------------------
# Ranking from evidence
# ------------------------------------------------------------------------------------------------


def test_divergence_with_huge_lr_ranks_lr_too_high_first_and_says_why() -> None:
    f = ranked(finding("divergence", lr_at_onset=1.0, onset_fraction=0.3, ratio=25.0), {"optimizer": "adam"})
    assert f.causes[0].id == "lr-too-high"
    why = why_of(f, "lr-too-high")
    assert "lr 1 at onset is far above the usual range for adam" in why
    assert "25x" in why
    assert f.fixes[0].id == "lower-lr"
    assert f.causes[0].sources and f.fixes[0].sources


def test_lr_note_carries_the_number_and_typical_range() -> None:
    f = ranked(finding("divergence", lr_at_onset=0.005, onset_fraction=0.5), {"optimizer": "Adam"})
    why = why_of(f, "lr-too-high")
    assert "lr 0.005 at onset is high for adam (typical 1e-05..0.003)" in why


def test_low_lr_argues_against_lr_too_high() -> None:
    base = ranked(finding("divergence", onset_fraction=0.5))
    low = ranked(finding("divergence", lr_at_onset=1e-6, onset_fraction=0.5), {"optimizer": "adam"})
    score = {c.id: c.score for c in low.causes}
    assert score["lr-too-high"] < next(c.score for c in base.causes if c.id == "lr-too-high")
    assert low.causes[0].id != "lr-too-high"
    assert "argues against a too-high rate" in why_of(low, "lr-too-high")


def test_configured_lr_is_used_when_the_log_has_none() -> None:
    f = ranked(finding("oscillation", onset_fraction=0.2), {"optimizer": "sgd", "lr": 2.0})
    assert f.causes[0].id == "lr-too-high"
    assert "configured lr 2 is high for sgd (typical 0.0001..0.5)" in why_of(f, "lr-too-high")


def _rank_of(f: Finding, cause_id: str) -> int:
    return ids(f.causes).index(cause_id) if cause_id in ids(f.causes) else 99


def test_late_spike_with_adam_raises_the_epsilon_cause() -> None:
    ev = {"lr_at_onset": 1e-5, "onset_fraction": 0.92, "lr_changed_near_onset": False}
    with_adam = ranked(finding("spike", **ev), {"optimizer": "Adam", "batch_size": 256})
    without = ranked(finding("spike", **ev), {"batch_size": 256})
    with_sgd = ranked(finding("spike", **ev), {"optimizer": "SGD", "batch_size": 256})

    def score(f: Finding) -> float:
        if "adam-epsilon-blowup" not in ids(f.causes):
            return 0.0
        return next((c.score or 0.0) for c in f.causes if c.id == "adam-epsilon-blowup")

    assert score(with_adam) > score(without) > score(with_sgd)
    assert _rank_of(with_adam, "adam-epsilon-blowup") == 0
    assert _rank_of(with_adam, "adam-epsilon-blowup") <= _rank_of(without, "adam-epsilon-blowup")
    why = why_of(with_adam, "adam-epsilon-blowup")
    assert "optimizer is adam" in why and "onset at 92% of the run" in why
    assert "raise-adam-epsilon" == with_adam.fixes[0].id


def test_early_spike_does_not_favour_epsilon() -> None:
    late = ranked(finding("spike", onset_fraction=0.9), {"optimizer": "adam"})
    early = ranked(finding("spike", onset_fraction=0.05), {"optimizer": "adam"})
    assert _rank_of(late, "adam-epsilon-blowup") < _rank_of(early, "adam-epsilon-blowup")


def test_small_batch_spike_ranks_batch_noise_and_names_the_size() -> None:
    f = ranked(finding("spike", onset_fraction=0.4, lr_at_onset=1e-3), {"optimizer": "adam", "batch_size": 8})
    assert f.causes[0].id in ("batch-too-small", "unshuffled-batches")
    assert "batch size 8 is small" in why_of(f, "batch-too-small")
    assert "increase-batch-size" in ids(f.fixes)


def test_overfitting_gives_regularization_and_data_causes() -> None:
    f = ranked(finding("overfitting", split="val", train_improving=True, onset_fraction=0.4), {"weight_decay": 0.0})
    assert f.causes[0].id == "regularization-missing"
    assert set(ids(f.causes)[:3]) <= {"regularization-missing", "model-too-complex", "low-data-diversity"}
    assert "no regularization in the run config (weight decay 0)" in why_of(f, "regularization-missing")
    assert "training kept improving while val got worse" in why_of(f, "model-too-complex")
    assert {"add-regularization", "augment-data"} <= set(ids(f.fixes))


def test_overfitting_with_regularization_already_set_scores_it_lower() -> None:
    bare = ranked(finding("overfitting", split="val", train_improving=True), {"weight_decay": 0.0})
    regd = ranked(finding("overfitting", split="val", train_improving=True), {"hparams": {"weight_decay": 5e-4, "dropout": 0.3}})
    s_bare = next(c.score for c in bare.causes if c.id == "regularization-missing")
    s_regd = next(c.score for c in regd.causes if c.id == "regularization-missing")
    assert s_regd < s_bare
    assert "regularization is already set (weight decay 0.0005, dropout 0.3)" in why_of(regd, "regularization-missing")


def test_large_batch_overfitting() -> None:
    f = ranked(finding("overfitting", split="val", train_improving=True), {"batch_size": 4096})
    assert "batch size 4096 is large" in why_of(f, "batch-too-large")


def test_slowdown_gives_input_pipeline_causes() -> None:
    f = ranked(finding("slowdown", metric="time", split="other", onset_fraction=0.5))
    assert f.causes[0].id == "input-pipeline-bottleneck"
    assert set(ids(f.causes)) == {"input-pipeline-bottleneck", "memory-pressure", "inefficient-compute"}
    assert f.fixes[0].id == "prefetch-data"


def test_stagnation_with_tiny_or_huge_lr() -> None:
    tiny = ranked(finding("stagnation", lr_at_onset=1e-7, onset_fraction=0.0), {"optimizer": "adamw"})
    assert tiny.causes[0].id == "lr-too-low"
    assert "lr 1e-07 at onset is far below the usual range for adamw" in why_of(tiny, "lr-too-low")
    assert tiny.fixes[0].id == "raise-lr"
    plain = ranked(finding("stagnation", onset_fraction=0.0))
    huge = ranked(finding("stagnation", lr_at_onset=5.0, onset_fraction=0.0), {"optimizer": "sgd"})
    assert _rank_of(huge, "lr-too-high") < _rank_of(plain, "lr-too-high")
    assert _rank_of(huge, "lr-too-high") <= 1
    assert "lr 5 at onset is far above" in why_of(huge, "lr-too-high")


def test_collapse_at_ln_c_points_to_dead_or_saturated_output() -> None:
    f = ranked(finding("collapse", value_after=2.301, ln_classes=math.log(10), onset_fraction=0.0))
    assert set(ids(f.causes)[:2]) == {"saturated-units", "poor-weight-init"}
    assert "loss 2.3 sits at ln(10) = 2.3" in why_of(f, "saturated-units")


def test_collapse_above_chance_points_to_class_imbalance() -> None:
    chance = ranked(finding("collapse", metric="accuracy", value_after=0.1, chance_level=0.1, onset_fraction=0.3))
    major = ranked(finding("collapse", metric="accuracy", value_after=0.62, chance_level=0.1, onset_fraction=0.3))
    assert _rank_of(major, "class-imbalance") < _rank_of(chance, "class-imbalance")
    assert _rank_of(major, "class-imbalance") == 0
    assert "stuck at 0.62, above chance 0.1" in why_of(major, "class-imbalance")


def test_non_finite_with_divergence_co_occurring() -> None:
    nan = finding("non_finite", onset_fraction=0.6)
    div = finding("divergence", onset_fraction=0.55, ratio=40.0)
    kn.explain([nan, div], view())
    assert ids(div.causes)[:2] == ["lr-too-high", "exploding-gradients"]
    assert "the same run also has a non-finite (NaN/Inf) finding" in why_of(div, "lr-too-high")
    assert ids(nan.causes)[:2] == ["lr-too-high", "exploding-gradients"]
    assert "also has a divergence finding" in why_of(nan, "exploding-gradients")


def test_val_only_divergence_prefers_data_drift_over_optimizer() -> None:
    f = ranked(finding("divergence", split="val", train_improving=True, onset_fraction=0.6))
    assert _rank_of(f, "distribution-drift") < _rank_of(f, "lr-too-high")
    assert "only the val curve shows it" in why_of(f, "lr-too-high")


def test_limits_shape_and_json() -> None:
    for kind in KINDS:
        f = ranked(finding(kind, onset_fraction=0.5, lr_at_onset=0.01), {"optimizer": "adam", "batch_size": 32})
        assert 2 <= len(f.causes) <= kn.MAX_CAUSES
        assert 1 <= len(f.fixes) <= kn.MAX_FIXES
        scores = [c.score for c in f.causes]
        assert scores == sorted(scores, reverse=True)
        assert f.causes[0].why[0].startswith("+") and f"prior for {kind}" in f.causes[0].why[0]
        # the best fix serves the best cause
        assert f.fixes[0].id in kn.cause(f.causes[0].id).fixes or any(
            f.fixes[0].id in kn.cause(c.id).fixes for c in f.causes[:2]
        )
        assert len(ids(f.fixes)) == len(set(ids(f.fixes)))
        d = json.loads(json.dumps(f.to_dict(), allow_nan=False))
        assert d["causes"][0]["why"] and d["fixes"][0]["sources"]


def test_unknown_kind_and_ugly_evidence_do_not_crash() -> None:
    odd = finding("lr_anomaly")
    ugly = finding(
        "spike",
        lr_at_onset="NaN",
        onset_fraction=np.float64(0.9),
        lr_changed_near_onset=np.bool_(False),
        ratio=float("inf"),
        zscore=None,
    )
    kn.explain([odd, ugly], view(meta={"optimizer": "torch.optim.AdamW", "batch_size": "eight"}))
    assert odd.causes == [] and odd.fixes == []
    assert ugly.causes[0].id == "adam-epsilon-blowup"
    assert "optimizer is adamw" in why_of(ugly, "adam-epsilon-blowup")


def test_hf_optimizer_name_and_strong_decay() -> None:
    f = ranked(finding("plateau", onset_fraction=0.3), {"hparams": {"optim": "adamw_torch", "weight_decay": 0.3}})
    assert "weight decay 0.3 is strong (>= 0.2)" in why_of(f, "regularization-too-strong")
    g = ranked(finding("plateau", onset_fraction=0.3), {"optimizer": "sgd", "weight_decay": 0.05, "dropout": 0.6})
    assert "weight decay 0.05 is strong (>= 0.01); dropout 0.6 is heavy" in why_of(g, "regularization-too-strong")
    assert _rank_of(g, "regularization-too-strong") == 0


def test_nested_hparams_meta() -> None:
    f = ranked(finding("oscillation", onset_fraction=0.3),
               {"hparams": {"optimizer": "AdamW", "per_device_train_batch_size": 4}})
    assert "batch size 4 is small" in why_of(f, "batch-too-small")


# ------------------------------------------------------------------------------------------------
# Evidence read from the log frame
# ------------------------------------------------------------------------------------------------


def _frame(series: dict[str, list[float]], steps: list[int], run_id: str = "r") -> pl.DataFrame:
    parts = []
    for name, values in series.items():
        metric, split = infer_split(name)
        parts.append(from_columns(run_id=run_id, source="t", metric=metric, split=split, step=steps, value=values))
    return pl.concat(parts)


def test_flat_lr_in_the_log_supports_missing_decay() -> None:
    steps = list(range(40))
    loss = [2.0 / (1 + s) + 0.3 for s in steps]
    flat = _frame({"loss": loss, "lr": [1e-3] * 40}, steps)
    decayed = _frame({"loss": loss, "lr": [1e-3 * 0.5 ** (s // 10) for s in steps]}, steps)
    f1 = finding("plateau", onset_fraction=0.6)
    f1.start_step = 24
    f2 = finding("plateau", onset_fraction=0.6)
    f2.start_step = 24
    kn.explain([f1], view(flat, {"optimizer": "adam"}))
    kn.explain([f2], view(decayed, {"optimizer": "adam"}))
    assert "the logged lr stayed at 0.001 for the whole run (no decay)" in why_of(f1, "lr-not-decayed")
    # the schedule cut the lr before the onset: "never reduced" is contradicted and left out
    assert "lr-not-decayed" not in [c.id for c in f2.causes]
    assert _rank_of(f1, "lr-not-decayed") == 0
    assert _rank_of(f1, "lr-not-decayed") < _rank_of(f2, "lr-not-decayed")


def test_onset_fraction_is_derived_from_the_frame_when_missing() -> None:
    steps = list(range(0, 1000, 10))
    fr = _frame({"loss": [1.0] * 100}, steps)
    f = finding("spike")
    f.start_step = 900
    kn.explain([f], view(fr, {"optimizer": "adam"}))
    assert "onset at 91% of the run: late" in why_of(f, "adam-epsilon-blowup")


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            rows.append(obj)
    return rows


def test_real_detectron2_warmup_is_read_from_the_lr_series() -> None:
    path = REAL_LOGS / "detectron2" / "detectron2_07" / "metrics.json"
    if not path.is_file():
        pytest.skip("../shared/real_logs is not present")
    rows = [r for r in _read_jsonl(path) if "lr" in r and "total_loss" in r]
    steps = [int(r["iteration"]) for r in rows]
    fr = _frame({"lr": [r["lr"] for r in rows], "total_loss": [r["total_loss"] for r in rows]}, steps)
    onset = steps[len(steps) // 4]  # inside the linear warm-up
    f = finding("divergence", metric="total_loss")
    f.start_step = onset
    kn.explain([f], view(fr))
    why = why_of(f, "lr-too-high")
    assert re.search(r"lr rose from [0-9.e-]+ to [0-9.e-]+ just before the onset", why), why
    assert f.causes[0].id == "lr-too-high"


def test_real_mmdet_timing_and_memory_feed_the_slowdown_ranking() -> None:
    path = REAL_LOGS / "mmdet" / "mmdet_01" / "20210313_194705.log.json"
    if not path.is_file():
        pytest.skip("../shared/real_logs is not present")
    rows = [r for r in _read_jsonl(path) if r.get("mode") == "train" and "time" in r]
    per_epoch = max(int(r["iter"]) for r in rows)
    steps = [(int(r["epoch"]) - 1) * per_epoch + int(r["iter"]) for r in rows]
    cols = {k: [float(r[k]) for r in rows] for k in ("time", "data_time", "memory", "lr")}
    fr = _frame(cols, steps)
    f = finding("slowdown", metric="time", split="other")
    start = steps[len(steps) * 7 // 12]
    f.start_step, f.end_step = start, steps[-1]
    kn.explain([f], view(fr))
    assert f.causes[0].id == "input-pipeline-bottleneck"
    why = why_of(f, "input-pipeline-bottleneck")
    share = re.search(r"data loading takes (\d+)% of the step time", why)
    assert share and 30 <= int(share.group(1)) <= 80
    assert re.search(r"logged memory stayed flat \(~29\d\d\)", why_of(f, "memory-pressure"))
    assert "-" in why_of(f, "inefficient-compute")  # compute-bound argued against
