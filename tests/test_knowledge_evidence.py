"""Issue 12: causes ranked by the run's own evidence, the contradiction rules, and fixes with numbers.

The runs are built as a training loop would log them: a loss that falls and then does what the
scenario makes it do, the learning rate its scheduler produced, the configuration its writer saved.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from trainlog_doctor import knowledge as kn
from trainlog_doctor.model.frame import from_columns
from trainlog_doctor.model.report import Finding
from trainlog_doctor.run import build_view
from trainlog_doctor.signals.lr import lr_schedule

SPE = 50  # steps per epoch


def frame(series: dict[tuple[str, str], list[float]], steps: list[int]) -> pl.DataFrame:
    parts = [from_columns(run_id="r", source="t", metric=m, split=split, step=steps, value=v,
                          epoch=[s / SPE for s in steps]) for (m, split), v in series.items()]
    return pl.concat(parts)


def finding(kind: str, step: int, *, metric: str = "loss", split: str = "train", **evidence: object) -> Finding:
    return Finding(code="XX001", kind=kind, severity="warning", metric=metric, message="test", split=split,
                   start_step=step, start_epoch=step / SPE, evidence=dict(evidence))


def explain(findings: list[Finding], series: dict[tuple[str, str], list[float]], steps: list[int],
            meta: dict | None = None) -> list[Finding]:
    kn.explain(findings, build_view(frame(series, steps), meta or {}))
    return findings


def ids(refs) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.id for r in refs]


def why(f: Finding, cause_id: str) -> str:
    return " | ".join(next(c for c in f.causes if c.id == cause_id).why)


def falling(n: int, start: float = 2.3, floor: float = 0.3, rate: float = 0.01, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.arange(n)
    return floor + (start - floor) * np.exp(-rate * s) + rng.normal(0, 0.01, n)


# ---- the schedule shape ------------------------------------------------------------------------------


def test_schedule_shapes_from_logged_lr() -> None:
    s = np.arange(0, 1000, 10)
    warm_cos = np.where(s < 100, 1e-3 * (s + 10) / 110, 1e-3 * 0.5 * (1 + np.cos(np.pi * (s - 100) / 900)) + 1e-7)
    sch = lr_schedule(s, warm_cos)
    assert sch is not None and sch.shape == "cosine-like" and sch.warmup_end == 100 and not sch.cuts
    step = 0.1 * 0.1 ** (s // 300)
    sch = lr_schedule(s, step)
    assert sch.shape == "step" and [c[0] for c in sch.cuts] == [300, 600, 900]
    assert all(abs(r - 10) < 1e-6 for _, r in sch.cuts)
    uneven = 0.03 * 0.2 ** np.searchsorted([120, 230, 270, 300], s, side="right")
    assert lr_schedule(s, uneven).shape == "plateau cuts"
    assert lr_schedule(s, step, scheduler="ReduceLROnPlateau").shape == "plateau cuts"
    raised = np.where(s < 400, 0.05, 0.5)
    sch = lr_schedule(s, raised)
    assert sch.raises == ((400, 10.0),) and sch.warmup_end is None and sch.raised_before(500) == (400, 10.0)
    assert lr_schedule(s, np.full(s.size, 3e-4)).shape == "constant"
    tri = 1e-3 * (1 + (s % 200) / 200)
    assert lr_schedule(s, tri).shape == "cyclic"
    assert lr_schedule(s[:1], tri[:1]) is None


# ---- contradictions ----------------------------------------------------------------------------------


def test_adam_mechanism_and_adam_fix_never_on_an_sgd_run() -> None:
    steps = list(range(0, 3000, 10))
    loss = falling(len(steps), rate=0.005)
    loss[250:] += 2.0  # late jump after a long fall: the Adam-epsilon story, if it were Adam
    series = {("loss", "train"): list(loss), ("lr", "train"): [1e-3] * len(steps)}
    for opt, expect_adam in (("SGD", False), ("torch.optim.AdamW", True)):
        f = finding("divergence", 2500, onset_fraction=0.83)
        explain([f], series, steps, {"optimizer": opt, "epochs": 300})
        assert ("adam-epsilon-blowup" in ids(f.causes)) is expect_adam
        if not expect_adam:
            assert "raise-adam-epsilon" not in ids(f.fixes) and "try-other-loss" not in ids(f.fixes[:1])


def test_lr_raised_before_a_collapse_rules_out_a_too_low_rate() -> None:
    steps = list(range(0, 1200, 10))
    loss = falling(len(steps))
    loss[40:] = math.log(10) + 0.01  # pinned at ln(10) after the raise
    lr = [0.05 if s < 400 else 0.5 for s in steps]
    f = finding("collapse", 400, value_after=2.31, ln_classes=math.log(10))
    explain([f], {("loss", "train"): list(loss), ("lr", "train"): lr}, steps, {"optimizer": "sgd"})
    assert f.causes[0].id == "lr-too-high"
    assert "lr-too-low" not in ids(f.causes)
    assert "lr jumped 10x (from 0.05 to 0.5) just before the onset" in why(f, "lr-too-high")  # counted once


def test_plateau_after_scheduler_cuts_is_a_rate_cut_too_far_not_a_missing_decay() -> None:
    steps = list(range(0, 2000, 50))
    loss = falling(len(steps), rate=0.1)
    lr = [2.5e-4 * 0.1 ** (s // 150) for s in steps]  # cut 10x every 3 epochs
    f = finding("plateau", 350, onset_fraction=0.18)
    explain([f], {("loss", "train"): list(loss), ("lr", "train"): lr}, steps, {"optimizer": "adam"})
    assert "lr-not-decayed" not in ids(f.causes)
    assert f.causes[0].id == "lr-too-low"
    assert "the scheduler cut the lr 2 time(s) before the onset" in why(f, "lr-too-low")
    raise_lr = next(x for x in f.fixes if x.id == "raise-lr")
    assert raise_lr.derived is not None and raise_lr.derived["value"] == pytest.approx(2.5e-4)
    assert "peak" in raise_lr.derived["how"]


def test_spike_on_a_cosine_schedule_is_not_a_missing_decay() -> None:
    steps = list(range(0, 1500, 10))
    n = len(steps)
    lr = [1e-3 * 0.5 * (1 + math.cos(math.pi * s / 1500)) for s in steps]
    loss = falling(n)
    loss[60] *= 8  # one corrupt batch
    f = finding("spike", 600, onset_fraction=0.4, ratio=8.0, zscore=300.0)
    explain([f], {("loss", "train"): list(loss), ("lr", "train"): lr}, steps, {"optimizer": "adamw"})
    assert "lr-not-decayed" not in ids(f.causes)
    assert f.causes[0].id == "noisy-data"
    assert "one batch unlike the others" in why(f, "noisy-data")


# ---- evidence tests on curves ------------------------------------------------------------------------


def test_swing_with_the_epoch_period_points_at_the_data_order() -> None:
    steps = list(range(0, 2000, 5))
    n = len(steps)
    base = falling(n, rate=0.002)
    wave = 0.3 * np.sin(2 * np.pi * np.asarray(steps) / SPE)  # class-sorted batches: one cycle per epoch
    series = {("loss", "train"): list(base + wave), ("lr", "train"): [0.01] * n}
    f = finding("oscillation", 500, onset_fraction=0.25, period_points=10.0)
    explain([f], series, steps, {"optimizer": "sgd", "batch_size": 64})
    assert f.causes[0].id == "unshuffled-batches"
    assert "1 time(s) per epoch" in why(f, "unshuffled-batches")
    g = finding("oscillation", 500, onset_fraction=0.25, period_points=37.0)
    explain([g], series, steps, {"optimizer": "sgd", "batch_size": 64})
    assert "not tied to the epoch" in why(g, "unshuffled-batches")


def test_a_start_far_above_chance_loss_points_at_input_scale() -> None:
    steps = list(range(0, 1000, 10))
    loss = list(40.0 - np.arange(len(steps)) * 0.01)  # starts at 40, ln(10) = 2.3
    f = finding("stagnation", 0, onset_fraction=0.0)
    explain([f], {("loss", "train"): loss}, steps, {"optimizer": "sgd", "lr": 0.01, "num_classes": 10})
    assert "far above ln(C)" in why(f, "no-input-standardization")
    assert "far above ln(C)" in why(f, "poor-weight-init")


def test_strong_weight_decay_and_small_epsilon_are_weighed() -> None:
    steps = list(range(0, 1000, 10))
    loss = falling(len(steps), rate=0.05)
    f = finding("plateau", 300, onset_fraction=0.3)
    explain([f], {("loss", "train"): list(loss)}, steps, {"optimizer": "sgd", "lr": 0.05, "weight_decay": 0.05})
    assert "weight decay 0.05 is strong" in why(f, "regularization-too-strong")
    g = finding("divergence", 900, onset_fraction=0.9)
    explain([g], {("loss", "train"): list(loss)}, steps, {"optimizer": "adam", "eps": 1e-2, "epochs": 500})
    assert "epsilon 0.01 is already large" in why(g, "adam-epsilon-blowup")


def test_a_cause_without_evidence_is_marked_prior_only() -> None:
    f = Finding(code="XX001", kind="slowdown", severity="warning", metric="time", message="t", split="other")
    kn.explain([f], build_view(frame({("time", "other"): [1.0] * 10}, list(range(10))), {}))
    assert {c.basis for c in f.causes} == {"prior only"}
    assert all("no evidence either way" in c.why[-1] for c in f.causes)


def test_undecided_leaders_name_what_to_log() -> None:
    f = Finding(code="XX001", kind="slowdown", severity="warning", metric="time", message="t", split="other")
    kb = kn.load_kb()
    ev = kn.build_evidence(f, [f], build_view(frame({("time", "other"): [1.0] * 10}, list(range(10))), {}))
    ranked = kn.rank_causes(kb, ev)
    ranked[1].score = ranked[0].score  # two causes the log cannot separate
    text = kn.undecided(ranked)
    assert text is not None and "cannot tell" in text and "data loading time of every step" in text
    ranked[1].score = ranked[0].score - 0.5
    assert kn.undecided(ranked) is None


# ---- fixes with the run's numbers --------------------------------------------------------------------


def test_lower_lr_from_where_the_loss_last_improved_and_clip_from_grad_norms() -> None:
    steps = list(range(0, 1000, 10))
    n = len(steps)
    lr = [1e-4 * (1 + s / 10) for s in steps]  # a warm-up that never stops rising: 1e-4 .. 1e-2
    loss = list(falling(n, rate=0.05))
    for i in range(40, n):
        loss[i] = loss[39] * (1 + 0.05 * (i - 39))  # diverges from step 400
    rng = np.random.default_rng(1)
    gn = list(np.abs(rng.normal(1.0, 0.3, n)))
    f = finding("divergence", 400, onset_fraction=0.4)
    series = {("loss", "train"): loss, ("lr", "train"): lr, ("grad_norm", "other"): gn}
    explain([f], series, steps, {"optimizer": "adamw"})
    assert f.causes[0].id == "lr-too-high"
    lower = next(x for x in f.fixes if x.id == "lower-lr")
    assert lower.derived is not None and lower.derived["value"] < 4e-3  # below the onset lr of ~4e-3
    assert "improved" in lower.derived["how"] or "divided" in lower.derived["how"]
    clip = next(p for p in f.practice if p.id == "gradient-clipping")
    p90 = float(np.percentile(gn[:40], 90))
    assert clip.derived is not None and clip.derived["value"] == pytest.approx(p90, rel=0.05)
    assert clip.references and not clip.sources  # general practice: public references, no seed file


def test_overfitting_gets_the_best_epoch_to_stop_at() -> None:
    steps = list(range(0, 3000, 50))
    n = len(steps)
    train = list(falling(n, rate=0.05, floor=0.01))
    val = [0.5 + 0.002 * (s / 50 - 20) ** 2 for s in steps]  # lowest at epoch 20
    f = finding("overfitting", 1050, split="val", train_improving=True)
    explain([f], {("loss", "train"): train, ("loss", "val"): val}, steps, {"optimizer": "adam", "weight_decay": 0})
    stop = next(p for p in f.practice if p.id == "early-stopping")
    assert stop.derived == {"value": 20.0, "unit": "epoch", "how": stop.derived["how"]}
    assert "epoch 20" in stop.derived["how"]


def test_references_carry_titles_not_file_names() -> None:
    kb = kn.load_kb()
    for entry in [*kb.causes.values(), *kb.fixes.values()]:
        ref = entry.reference()
        assert len(ref.titles) == len(ref.sources)
        assert not any(t.endswith(".txt") for t in ref.titles)
    lr = kb.causes["lr-too-high"].reference().to_dict()
    assert "Why are CNN outputs anomalous during epochs 10-12? (section: Example 1: Oscillating Loss with High Learning Rate)" \
        in lr["titles"]


def test_every_evidence_test_and_contradiction_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "KNOWLEDGE.md").read_text(encoding="utf-8")
    names = [n for n in kn.SIGNALS if not n.startswith("co_")] + list(kn.CONTRADICTIONS)
    assert [n for n in names if f"`{n}`" not in doc] == []


def test_validation_shift_vs_overfitting_vs_label_noise() -> None:
    steps = list(range(0, 2400, 100))  # 24 epochs of 2 evaluations... one point per 2 epochs of SPE=50
    n = len(steps)
    train = list(falling(n, start=2.0, floor=0.02, rate=0.3))
    shifted = [max(1.5 * 0.75**i, 0.15) if i < 12 else 1.0 + 0.01 * i for i in range(n)]  # one jump, then flat
    gradual = [0.3 + 0.03 * (i - 6) ** 2 if i > 6 else 1.5 * 0.75**i for i in range(n)]
    drift = finding("overfitting", 1200, split="val", train_improving=True)
    explain([drift], {("loss", "train"): train, ("loss", "val"): shifted}, steps, {"optimizer": "adam", "weight_decay": 0})
    assert drift.causes[0].id == "distribution-drift"
    assert "came in one evaluation" in why(drift, "distribution-drift")
    over = finding("overfitting", 700, split="val", train_improving=True)
    explain([over], {("loss", "train"): train, ("loss", "val"): gradual}, steps, {"optimizer": "adam", "weight_decay": 0})
    assert over.causes[0].id == "regularization-missing"
    # label noise: validation turns worse while training is still near its start, then training memorizes
    slow = [2.0 - 0.02 * i if i < 10 else max(1.8 * 0.6 ** (i - 9), 0.01) for i in range(n)]
    noisy = finding("overfitting", 300, split="val", train_improving=True)
    explain([noisy], {("loss", "train"): slow, ("loss", "val"): gradual}, steps, {"optimizer": "adam", "weight_decay": 0})
    assert noisy.causes[0].id == "noisy-data"
    assert "does not carry over" in why(noisy, "noisy-data")


def test_stagnating_loss_that_creeps_up_points_at_the_penalty() -> None:
    steps = list(range(0, 1500, 10))
    n = len(steps)
    creeping = list(2.23 + 0.06 * (1 - np.exp(-np.arange(n) / 30)))  # rises to ln(10) as weight decay shrinks the weights
    f = finding("stagnation", 0, onset_fraction=0.0)
    explain([f], {("loss", "train"): creeping}, steps, {"lr": 1e-3})
    assert f.causes[0].id == "regularization-too-strong"
    assert "rose 3% over the run" in why(f, "regularization-too-strong")
    assert "not raise it" in why(f, "lr-too-low")


def test_no_gap_between_train_and_validation_points_at_capacity() -> None:
    steps = list(range(0, 1000, 50))
    n = len(steps)
    train = list(falling(n, start=2.3, floor=1.2, rate=0.5))

    def capacity_why(val: list[float]) -> str:
        f = finding("plateau", 300, onset_fraction=0.3)
        v = build_view(frame({("loss", "train"): train, ("loss", "val"): val}, steps), {"optimizer": "adam", "lr": 1e-3})
        ranked = kn.rank_causes(kn.load_kb(), kn.build_evidence(f, [f], v))  # every cause, not only the shown five
        return " | ".join(next(sc for sc in ranked if sc.cause.id == "capacity-too-small").why)

    assert "no generalization gap" in capacity_why([x * 1.05 for x in train])
    assert "far better than it generalizes" in capacity_why([x * 3 for x in train])
