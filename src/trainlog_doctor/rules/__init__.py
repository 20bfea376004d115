"""The rule catalogue (one code table) and :func:`detect`, which runs it over a run's frame.

Selection follows flake8: ``select``/``ignore`` entries are code prefixes (``"DV"``, ``"SP001"``),
kind names (``"spike"``) or ``"ALL"``; when a rule matches both lists the more specific entry wins
(a full code beats a prefix beats a kind name), and ``ignore`` wins ties.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from trainlog_doctor.model.kinds import KINDS
from trainlog_doctor.model.report import SEVERITY_RANK, Finding
from trainlog_doctor.rules.analysis import analysis_of, changepoints_of
from trainlog_doctor.rules.base import CODE_RE, Rule
from trainlog_doctor.rules.collapse import AccuracyAtChance, BackToChance, ClassMetricZero, PinnedLoss
from trainlog_doctor.rules.divergence import FinalEpochJump, LossDivergence
from trainlog_doctor.rules.non_finite import NonFiniteGradient, NonFiniteLoss, NonFiniteScore
from trainlog_doctor.rules.oscillation import BatchNoise, EpochPeriodicSwings, PersistentOscillation
from trainlog_doctor.rules.overfitting import ShortRunOverfitting, ValidationLossOverfitting, ValidationScoreOverfitting
from trainlog_doctor.rules.plateau import FrozenTraining, LossPlateau
from trainlog_doctor.rules.slowdown import StepTimeSlowdown
from trainlog_doctor.rules.spike import LossSpike, ScoreDrop, SparseEvalJump
from trainlog_doctor.rules.stagnation import LossAtChance, NoLearning
from trainlog_doctor.run import RunView, build_view

__all__ = [
    "KINDS",
    "RULES",
    "Rule",
    "detect",
    "get_rule",
    "rule_enabled",
    "select_rules",
    "series_changepoints",
]

log = logging.getLogger(__name__)

#: The single code table, in catalogue order.
RULES: list[type[Rule]] = [
    NonFiniteLoss,
    NonFiniteScore,
    NonFiniteGradient,
    LossDivergence,
    FinalEpochJump,
    LossSpike,
    ScoreDrop,
    SparseEvalJump,
    FrozenTraining,
    LossPlateau,
    LossAtChance,
    NoLearning,
    AccuracyAtChance,
    PinnedLoss,
    ClassMetricZero,
    BackToChance,
    EpochPeriodicSwings,
    PersistentOscillation,
    BatchNoise,
    ValidationLossOverfitting,
    ValidationScoreOverfitting,
    ShortRunOverfitting,
    StepTimeSlowdown,
]


def get_rule(code: str) -> type[Rule]:
    """The rule class with ``code`` (case-insensitive); KeyError with the known codes otherwise."""
    want = code.strip().upper()
    for rule in RULES:
        if rule.code == want:
            return rule
    raise KeyError(f"unknown rule code {code!r}; known codes: {', '.join(r.code for r in RULES)}")


def _specificity(rule: type[Rule], entries: Iterable[str]) -> int:
    """How specifically ``entries`` name ``rule``: 0 no match, 1 ALL, 2 kind, 2+len(prefix) for codes."""
    best = 0
    for raw in entries:
        e = raw.strip()
        if not e:
            continue
        if e.upper() == "ALL":
            best = max(best, 1)
        elif e.lower() == rule.kind:
            best = max(best, 2)
        elif rule.code.startswith(e.upper()):
            best = max(best, 2 + len(e))
    return best


def rule_enabled(rule: type[Rule], select: Sequence[str] | None = None, ignore: Sequence[str] | None = None) -> bool:
    """flake8's decision: selected (or no selection given) and not ignored more specifically."""
    sel = 1 if select is None else _specificity(rule, select)
    if sel == 0:
        return False
    ign = _specificity(rule, ignore or ())
    return sel > ign


def select_rules(select: Sequence[str] | None = None, ignore: Sequence[str] | None = None) -> list[type[Rule]]:
    """The rules left after ``select``/``ignore``; a ValueError names entries that match nothing."""
    for entry in [*(select or ()), *(ignore or ())]:
        e = entry.strip()
        if e and e.upper() != "ALL" and e.lower() not in KINDS and not any(r.code.startswith(e.upper()) for r in RULES):
            raise ValueError(f"unknown rule selector {entry!r}: use a code prefix (e.g. DV, SP001), a kind or ALL")
    return [r for r in RULES if rule_enabled(r, select, ignore)]


def detect(
    frame: pl.DataFrame,
    meta: dict[str, Any] | None = None,
    *,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    strict: bool = False,
    context: RunView | None = None,
) -> list[Finding]:
    """Run the selected rules over a normalized frame (one run, or several told apart by ``run_id``).

    Findings come back in a deterministic order: most severe first, then by start step, code,
    split and metric. A rule that fails on odd data is skipped (logged) unless ``strict``.
    ``context`` is the run's :func:`build_view` when the caller already has it (one run only).
    """
    rules = [r() for r in select_rules(select, ignore)]
    if context is not None:
        return _order(_detect_one(context, rules, strict))
    if frame is None or frame.height == 0:
        return []
    if "run_id" in frame.columns and frame["run_id"].n_unique() > 1:
        out: list[Finding] = []
        for (_rid,), part in frame.group_by(["run_id"], maintain_order=True):
            out.extend(_detect_one(build_view(part, meta), rules, strict))
        return _order(out)
    return _order(_detect_one(build_view(frame, meta), rules, strict))


def _detect_one(ctx: RunView, rules: list[Rule], strict: bool) -> list[Finding]:
    found: list[Finding] = []
    for rule in rules:
        try:
            found.extend(rule.check(ctx))
        except Exception as exc:  # noqa: BLE001 - one rule must not break the report
            if strict:
                raise
            log.warning("rule %s failed on run %s: %s", rule.code, ctx.run_id, exc)
    return _reconcile(found)


#: On one series, a finding of the key kind already explains findings of these kinds.
EXPLAINS: dict[str, tuple[str, ...]] = {
    "collapse": ("divergence", "plateau", "stagnation", "oscillation", "overfitting"),
    "oscillation": ("plateau", "stagnation", "overfitting", "spike", "divergence"),
    "divergence": ("plateau",),
}


def _reconcile(findings: list[Finding]) -> list[Finding]:
    """Drop findings another finding on the same series already explains.

    A pinned (collapsed) series cannot also plateau, stagnate or diverge in any useful sense, and a
    model that gives one answer explains why no loss of the run makes progress; the
    swings of an oscillating series make any plateau, stagnation or late rise part of the swing; a
    loss that diverges after a flat stretch is one event. Spikes after the onset of a divergence or
    of a non-finite stretch are part of that event, and once a loss has gone NaN for good, other
    series pinning, rising or flattening afterwards are its fallout.
    """
    kinds_on: dict[tuple[str, str], set[str]] = {}
    ends: dict[tuple[str, str], int] = {}
    for f in findings:
        key = (f.metric, f.split)
        kinds_on.setdefault(key, set()).add(f.kind)
        if f.kind in ("divergence", "non_finite") and f.start_step is not None:
            ends[key] = min(ends.get(key, f.start_step), f.start_step)
    run_collapsed = any(f.kind == "collapse" for f in findings)
    # a loss that went NaN for good broke the model: what its other series do afterwards is fallout
    broken_at = min(
        (f.start_step for f in findings if f.code == "NF001" and f.severity == "error" and f.start_step is not None),
        default=None,
    )
    out: list[Finding] = []
    for f in findings:
        key = (f.metric, f.split)
        present = kinds_on.get(key, set())
        if f.kind == "stagnation" and run_collapsed:
            continue
        if broken_at is not None and f.kind in ("collapse", "divergence", "plateau") and (f.start_step or 0) >= broken_at:
            continue
        if any(f.kind in EXPLAINS.get(k, ()) for k in present if k != f.kind):
            continue
        if f.kind == "spike" and key in ends and f.start_step is not None and f.start_step >= ends[key]:
            continue
        out.append(f)
    return _one_per_series(out, ("collapse", "non_finite", "divergence", "plateau", "stagnation", "oscillation", "overfitting"))


def _one_per_series(findings: list[Finding], kinds: tuple[str, ...]) -> list[Finding]:
    """Keep one finding per (kind, metric, split) for kinds that describe a whole stretch of a series.

    Two rules can see the same event (a loss pinned exactly and at ln(C)); the first in catalogue
    order wins, which is the more specific one.
    """
    seen: set[tuple[str, str, str]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.kind, f.metric, f.split)
        if f.kind in kinds:
            if key in seen:
                continue
            seen.add(key)
        out.append(f)
    return out


def _order(findings: list[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (
            -SEVERITY_RANK.get(f.severity, 0),
            f.start_step if f.start_step is not None else -1,
            f.code,
            f.split,
            f.metric,
        ),
    )


def series_changepoints(
    frame: pl.DataFrame | None, *, context: RunView | None = None
) -> dict[tuple[str, str], list[int]]:
    """Change points of every loss, score and time series as step values, keyed by (metric, split).

    Computed on the same analysis series the rules use (log scale for positive losses that span
    decades, long series reduced to bucket medians), for marking on charts; pass the run's
    ``context`` to reuse it (and the change points the rules already found).
    """
    if context is None:
        if frame is None or frame.height == 0:
            return {}
        context = build_view(frame, {})
    ctx = context
    out: dict[tuple[str, str], list[int]] = {}
    for key, s in ctx.series.items():
        if s.role not in ("loss", "score", "time") or s.n_finite < 6:
            continue
        try:
            a = analysis_of(s)
            out[key] = sorted({s.step_at(a.pos(c)) for c in changepoints_of(s)})
        except Exception as exc:  # noqa: BLE001
            log.warning("change points failed for %s/%s: %s", key[1], key[0], exc)
    return out


def _check_table() -> None:
    """Fail fast on a malformed code table (unique codes of the right shape, known kinds)."""
    seen: set[str] = set()
    for r in RULES:
        if not CODE_RE.match(r.code) or r.code in seen or r.kind not in KINDS or not r.__doc__:
            raise RuntimeError(f"bad rule table entry {r.__name__} ({r.code!r}, {r.kind!r})")
        seen.add(r.code)


_check_table()
