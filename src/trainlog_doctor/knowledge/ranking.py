"""Ranking: a cause scores its prior for the finding's kind plus the deltas of its evidence tests;
fixes follow the causes they address. :func:`explain` fills the causes and fixes of a run's findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trainlog_doctor.knowledge.evidence import Evidence, build_evidence
from trainlog_doctor.knowledge.kb import Cause, KnowledgeBase, load_kb
from trainlog_doctor.knowledge.signals import SIGNALS
from trainlog_doctor.model.report import Finding, Reference
from trainlog_doctor.run.view import RunView

MAX_CAUSES = 5
MAX_FIXES = 6


@dataclass
class ScoredCause:
    """A cause with its score for one finding and the notes that explain the score."""

    cause: Cause
    prior: float
    score: float
    why: list[str]


def _signed(d: float) -> str:
    return f"{d:+.2f}"


def rank_causes(kb: KnowledgeBase, ev: Evidence) -> list[ScoredCause]:
    """All causes of ``ev.kind`` scored and sorted (best first; ties keep the prior order)."""
    entry = kb.kinds.get(ev.kind)
    if entry is None:
        return []
    out: list[ScoredCause] = []
    for cid, prior in entry.priors:
        c = kb.causes[cid]
        score = prior
        why = [f"{_signed(prior)} prior for {ev.kind}"]
        for name in c.signals:
            res = SIGNALS[name][0](ev)
            if res is None or res[0] == 0:
                continue
            delta, note = res
            score += delta
            why.append(f"{_signed(delta)} {note}")
        out.append(ScoredCause(c, prior, round(max(score, 0.0), 6), why))
    order = {cid: i for i, (cid, _) in enumerate(entry.priors)}
    out.sort(key=lambda s: (-s.score, order[s.cause.id]))
    return out


def rank_fixes(kb: KnowledgeBase, ranked: Sequence[ScoredCause], limit: int = MAX_FIXES) -> list[Reference]:
    """Fixes of the given causes, ordered by the causes' scores and each fix's place in their lists.

    A fix scores the best ``cause score * 0.85**position`` over the causes proposing it, plus 0.05 for
    each further cause it also addresses.
    """
    best: dict[str, float] = {}
    by: dict[str, list[str]] = {}
    first_seen: dict[str, int] = {}
    for sc in ranked:
        for pos, fid in enumerate(sc.cause.fixes):
            s = sc.score * 0.85**pos
            by.setdefault(fid, []).append(f"{sc.cause.id} ({sc.score:.2f})")
            first_seen.setdefault(fid, len(first_seen))
            best[fid] = max(best.get(fid, 0.0), s)
    scored = {fid: round(best[fid] + 0.05 * (len(by[fid]) - 1), 6) for fid in best}
    order = sorted(scored, key=lambda f: (-scored[f], first_seen[f]))[:limit]
    return [kb.fixes[f].reference(score=scored[f], why=["addresses " + ", ".join(by[f])]) for f in order]


def explain(findings: list[Finding], view: RunView) -> None:
    """Fill ``causes`` and ``fixes`` of every finding in place, ranked by the evidence of its run.

    ``findings`` are the findings of one run (co-occurring kinds are evidence); ``view`` is that run's
    view (its facts and its meta: optimizer, batch_size, lr, hparams ...). Findings of kinds the
    knowledge base does not cover get empty lists.
    """
    if not findings:
        return
    kb = load_kb()
    for f in findings:
        ranked = rank_causes(kb, build_evidence(f, findings, view))[:MAX_CAUSES]
        f.causes = [sc.cause.reference(score=sc.score, why=sc.why) for sc in ranked]
        f.fixes = rank_fixes(kb, ranked)
