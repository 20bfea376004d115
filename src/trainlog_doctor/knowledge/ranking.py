"""Ranking: a cause scores its prior for the finding's kind plus the deltas of its evidence tests;
fixes follow the causes they address. :func:`explain` fills the causes and fixes of a run's findings.

A cause or fix that a fact of the run contradicts (an Adam-only mechanism on an SGD run) is left
out, whatever its score. A cause no test could judge is marked ``basis = "prior only"``. When the
two leading causes end within ``TH.undecided_margin`` the finding says so and names what to log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trainlog_doctor.knowledge.derive import DERIVE
from trainlog_doctor.knowledge.evidence import Evidence, build_evidence
from trainlog_doctor.knowledge.incidents import group_incidents
from trainlog_doctor.knowledge.kb import Cause, KnowledgeBase, load_kb
from trainlog_doctor.knowledge.signals import CONTRADICTIONS, SIGNALS
from trainlog_doctor.knowledge.thresholds import TH
from trainlog_doctor.model.report import Finding, Reference
from trainlog_doctor.run.view import RunView

MAX_CAUSES = 5
MAX_FIXES = 6
MAX_PRACTICE = 3


@dataclass
class ScoredCause:
    """A cause with its score for one finding and the notes that explain the score."""

    cause: Cause
    prior: float
    score: float
    why: list[str]
    judged: bool = True  # at least one evidence test moved the score

    @property
    def basis(self) -> str:
        return "evidence" if self.judged else "prior only"


def contradicted(names: Sequence[str], ev: Evidence) -> str | None:
    """The note of the first contradiction test among ``names`` that the evidence triggers."""
    for name in names:
        note = CONTRADICTIONS[name][0](ev)
        if note:
            return note
    return None


def _signed(d: float) -> str:
    return f"{d:+.2f}"


def rank_causes(kb: KnowledgeBase, ev: Evidence) -> list[ScoredCause]:
    """The causes of ``ev.kind`` that the run does not contradict, scored and sorted (best first; ties
    keep the prior order)."""
    entry = kb.kinds.get(ev.kind)
    if entry is None:
        return []
    out: list[ScoredCause] = []
    for cid, prior in entry.priors:
        c = kb.causes[cid]
        if contradicted(c.contradicted_by, ev):
            continue
        score = prior
        why = [f"{_signed(prior)} prior for {ev.kind}"]
        for name in c.signals:
            res = SIGNALS[name][0](ev)
            if res is None or res[0] == 0:
                continue
            delta, note = res
            score += delta
            why.append(f"{_signed(delta)} {note}")
        judged = len(why) > 1
        if not judged:
            why.append("no evidence either way in this log: ranked by its prior only")
        out.append(ScoredCause(c, prior, round(max(score, 0.0), 6), why, judged=judged))
    order = {cid: i for i, (cid, _) in enumerate(entry.priors)}
    out.sort(key=lambda s: (-s.score, order[s.cause.id]))
    return out


def rank_fixes(kb: KnowledgeBase, ranked: Sequence[ScoredCause], limit: int = MAX_FIXES,
               ev: Evidence | None = None) -> list[Reference]:
    """Fixes of the given causes, ordered by the causes' scores and each fix's place in their lists.

    A fix scores the best ``cause score * 0.85**position`` over the causes proposing it, plus 0.05 for
    each further cause it also addresses. With ``ev``, fixes the run contradicts are left out and each
    fix carries the number to try for this run (``derived``) where one can be computed.
    """
    best: dict[str, float] = {}
    by: dict[str, list[str]] = {}
    first_seen: dict[str, int] = {}
    for sc in ranked:
        for pos, fid in enumerate(sc.cause.fixes):
            if ev is not None and contradicted(kb.fixes[fid].contradicted_by, ev):
                continue
            s = sc.score * 0.85**pos
            by.setdefault(fid, []).append(f"{sc.cause.id} ({sc.score:.2f})")
            first_seen.setdefault(fid, len(first_seen))
            best[fid] = max(best.get(fid, 0.0), s)
    scored = {fid: round(best[fid] + 0.05 * (len(by[fid]) - 1), 6) for fid in best}
    order = sorted(scored, key=lambda f: (-scored[f], first_seen[f]))[:limit]
    out = []
    for f in order:
        derived = DERIVE[f](ev) if ev is not None and f in DERIVE else None
        out.append(kb.fixes[f].reference(score=scored[f], why=["addresses " + ", ".join(by[f])], derived=derived))
    return out


def _requirement_met(requires: str, ev: Evidence) -> bool:
    if requires == "grad_norm":
        return ev.grad_norm_pct is not None
    if requires == "mixed_precision":
        return ev.precision in ("fp16", "mixed")
    if requires == "batch_size":
        return ev.batch_size is not None
    if requires == "val_loss":
        return ev.best_val is not None
    if requires == "no_warmup":
        return ev.schedule is None or ev.schedule.warmup_end is None
    return True


def rank_practice(kb: KnowledgeBase, ranked: Sequence[ScoredCause], ev: Evidence, limit: int = MAX_PRACTICE) -> list[Reference]:
    """General-practice remedies for the leading causes (the first three), in the order of those causes."""
    lead = [sc.cause.id for sc in ranked[:3]]
    out = []
    for p in kb.practice.values():
        hit = [cid for cid in lead if cid in p.causes]
        if not hit or not _requirement_met(p.requires, ev):
            continue
        derived = DERIVE[p.id](ev) if p.id in DERIVE else None
        out.append((lead.index(hit[0]), p.reference(why=["general practice for " + ", ".join(hit)], derived=derived)))
    out.sort(key=lambda t: t[0])
    return [r for _, r in out[:limit]]


def undecided(ranked: Sequence[ScoredCause]) -> str | None:
    """A sentence when the two leading causes are too close to tell apart, naming what to log."""
    if len(ranked) < 2 or ranked[0].score - ranked[1].score > TH.undecided_margin:
        return None
    a, b = ranked[0].cause, ranked[1].cause
    tells = [t for t in (a.tell, b.tell) if t]
    what = ("; ".join(dict.fromkeys(tells))) if tells else "more of the run's configuration"
    return (f"This log cannot tell '{a.title}' from '{b.title}' (scores {ranked[0].score:.2f} and "
            f"{ranked[1].score:.2f}). To tell them apart, log: {what}.")  # fmt: skip


def explain(findings: list[Finding], view: RunView) -> None:
    """Fill ``causes``, ``fixes``, ``practice``, ``undecided`` and the incident of every finding in place.

    ``findings`` are the findings of one run (co-occurring kinds are evidence); ``view`` is that run's
    view (its facts, its configuration and its logged learning rate). Findings of kinds the
    knowledge base does not cover get empty lists.
    """
    if not findings:
        return
    kb = load_kb()
    for f in findings:
        ev = build_evidence(f, findings, view)
        ranked = rank_causes(kb, ev)[:MAX_CAUSES]
        f.causes = [sc.cause.reference(score=sc.score, why=sc.why, basis=sc.basis) for sc in ranked]
        f.fixes = rank_fixes(kb, ranked, ev=ev)
        f.practice = rank_practice(kb, ranked, ev)
        f.undecided = undecided(ranked)
    group_incidents(findings, view)
