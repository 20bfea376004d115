"""Causes and fixes for findings (data in ``kb.toml``) and their evidence-based ranking.

The knowledge base (:mod:`.kb`) is plain data: one entry per cause and per fix, each citing the seed
documents it comes from, plus a default ordering of causes (prior weights) for every finding kind.
For each finding, :mod:`.evidence` gathers what is known (the finding's own evidence, the run's facts
and meta, the other findings of the run); the evidence tests of :mod:`.signals` each look at one piece
of it and return a score delta with a note that says what they saw, with the numbers. :mod:`.ranking`
scores a cause as its prior for the finding's kind plus the deltas of the tests it declares in
``kb.toml``. Every threshold and weight is in :class:`.thresholds.Thresholds`.
"""

from __future__ import annotations

from trainlog_doctor.knowledge.evidence import Evidence, build_evidence
from trainlog_doctor.knowledge.incidents import group_incidents, one_story
from trainlog_doctor.knowledge.kb import (
    SEED_FILES,
    Cause,
    Fix,
    KindEntry,
    KnowledgeBase,
    KnowledgeError,
    cause,
    causes_for_kind,
    fix,
    load_kb,
    parse_kb,
)
from trainlog_doctor.knowledge.ranking import (
    MAX_CAUSES,
    MAX_FIXES,
    ScoredCause,
    explain,
    rank_causes,
    rank_fixes,
    rank_practice,
    undecided,
)
from trainlog_doctor.knowledge.signals import CONTRADICTIONS, SIGNALS
from trainlog_doctor.knowledge.thresholds import TH, Thresholds

__all__ = [
    "MAX_CAUSES",
    "MAX_FIXES",
    "SEED_FILES",
    "SIGNALS",
    "CONTRADICTIONS",
    "TH",
    "Cause",
    "Evidence",
    "Fix",
    "KindEntry",
    "KnowledgeBase",
    "KnowledgeError",
    "ScoredCause",
    "Thresholds",
    "build_evidence",
    "cause",
    "causes_for_kind",
    "explain",
    "group_incidents",
    "one_story",
    "fix",
    "load_kb",
    "parse_kb",
    "rank_causes",
    "rank_fixes",
    "rank_practice",
    "undecided",
]
