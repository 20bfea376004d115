"""Causes and fixes for findings (data in ``kb.toml``) and their evidence-based ranking.

The knowledge base is plain data: one entry per cause and per fix, each citing the seed documents
it comes from, plus a default ordering of causes (prior weights) for every finding kind. The ranking
is a set of small, transparent rules (:data:`SIGNALS`): each looks at one piece of evidence from the
finding, the run's log frame or the run's meta and returns a score delta with a note that says what
it saw, with the numbers. A cause's score is its prior for the finding's kind plus the deltas of the
signals it declares in ``kb.toml``. Every threshold and weight is in :class:`Thresholds`.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from trainlog_doctor.run.names import is_lr_name
from trainlog_doctor.model.kinds import KINDS
from trainlog_doctor.model.report import Finding, Reference

__all__ = [
    "KINDS",
    "SEED_FILES",
    "SIGNALS",
    "TH",
    "Cause",
    "Context",
    "Fix",
    "KindEntry",
    "KnowledgeBase",
    "KnowledgeError",
    "ScoredCause",
    "Thresholds",
    "build_context",
    "cause",
    "causes_for_kind",
    "explain",
    "fix",
    "load_kb",
    "parse_kb",
    "rank_causes",
    "rank_fixes",
]

SEED_FILES: tuple[str, ...] = (
    "000_02205516640b384a.txt",
    "001_e2b1d9b6e993effa.txt",
    "002_71796cd32a78356b.txt",
    "003_29fc3971449554af.txt",
    "004_88078e569b070fcb.txt",
)
MAX_CAUSES = 5
MAX_FIXES = 6
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class KnowledgeError(ValueError):
    """The knowledge base file is malformed or inconsistent (the message names the entry)."""


# ------------------------------------------------------------------------------------------------
# Thresholds: every number the ranking uses
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Every threshold and weight of the ranking, in one place.

    Learning-rate ranges are ``(low, high)`` per optimizer family: a rate below ``low`` counts as low,
    above ``high`` as high, and ``lr_far_factor`` times beyond either bound as far off. The Adam range
    follows the seeds (5e-3 oscillated, 1e-3 was the working value, 1e-5 trained for 1500 epochs).
    Positions in the run are ``onset_fraction`` values (0 = first point, 1 = last point).
    """

    lr_range_adam: tuple[float, float] = (1e-5, 3e-3)  # adam, adamw, nadam, adamax, radam, lamb
    lr_range_sgd: tuple[float, float] = (1e-4, 0.5)  # sgd, momentum, nesterov
    lr_range_other: tuple[float, float] = (1e-5, 0.3)  # unknown or other optimizer (half weight)
    lr_far_factor: float = 10.0
    lr_flat_ratio: float = 1.01  # logged lr max/min below this: the schedule was flat
    lr_decayed_ratio: float = 2.0  # lr fell at least this much before the onset: it was decayed
    lr_change_window: int = 3  # lr points either side of the onset searched for a schedule step
    lr_change_rel: float = 0.05  # relative lr change that counts as a schedule step
    early_fraction: float = 0.15  # onset before 15% of the run: early
    late_fraction: float = 0.5  # onset after half of the run: late
    after_start_fraction: float = 0.3  # onset after 30% of the run: not a start-of-training problem
    lr_jump_ratio: float = 3.0  # the lr multiplied by 3 or more just before the onset: strong evidence
    mid_fraction: tuple[float, float] = (0.1, 0.6)  # "after the fast first descent"
    long_run_epochs: float = 200.0  # a long run for Adam's v_t to decay (the seed ran 1500 epochs)
    long_run_steps: int = 100_000
    short_run_epochs: float = 20.0
    batch_small: int = 16  # the seed's unstable example used 8
    batch_smallish: int = 32
    batch_noise_free: int = 256  # batches this big argue against gradient noise
    batch_large: int = 512  # batches this big may generalize worse
    batch_not_large: int = 64
    severe_ratio: float = 10.0  # after/before ratio of a jump that counts as severe
    severe_zscore: float = 10.0
    chance_rel_tol: float = 0.1  # loss within 10% of ln(C)
    chance_abs_tol: float = 0.02  # accuracy within 0.02 of the chance level
    majority_margin: float = 0.05  # accuracy this far above chance, yet collapsed: a majority class
    weight_decay_strong: float = 1e-2  # coupled L2 / SGD weight decay
    weight_decay_strong_decoupled: float = 0.2  # AdamW-style decoupled weight decay
    dropout_strong: float = 0.5
    data_time_high: float = 0.3  # data_time / time at or above this: input-bound
    data_time_low: float = 0.1  # at or below this: compute-bound
    memory_growth: float = 1.2  # last-quarter / first-quarter memory at or above this: growing
    memory_flat: float = 1.05
    w_strong: float = 0.5  # score deltas
    w: float = 0.3
    w_weak: float = 0.15


TH = Thresholds()

# ------------------------------------------------------------------------------------------------
# Knowledge base entries
# ------------------------------------------------------------------------------------------------


class _Cited:
    """Shared by causes and fixes: an id, a title, a text and the seed files it comes from."""

    id: str
    title: str
    text: str
    sources: tuple[str, ...]

    def reference(self, score: float | None = None, why: Sequence[str] = ()) -> Reference:
        """This entry as a report reference (``title: text``, its sources, score and why notes)."""
        return Reference(id=self.id, text=f"{self.title}: {self.text}", sources=list(self.sources),
                         score=score, why=list(why))


@dataclass(frozen=True)
class Fix(_Cited):
    """A concrete change to try, citing its seed documents."""

    id: str
    title: str
    text: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Cause(_Cited):
    """A possible cause of findings of some kinds, with its fixes, sources and evidence signals."""

    id: str
    title: str
    text: str
    kinds: tuple[str, ...]
    fixes: tuple[str, ...]
    sources: tuple[str, ...]
    signals: tuple[str, ...]


@dataclass(frozen=True)
class KindEntry:
    """A finding kind: a one-line summary and the default ordering of its causes (prior weights)."""

    kind: str
    summary: str
    priors: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class KnowledgeBase:
    """All causes, fixes and per-kind priors, validated."""

    causes: Mapping[str, Cause]
    fixes: Mapping[str, Fix]
    kinds: Mapping[str, KindEntry]

    def causes_for_kind(self, kind: str) -> list[Cause]:
        """Causes that can explain ``kind``, in default (prior) order; empty for an unknown kind."""
        entry = self.kinds.get(kind)
        return [self.causes[cid] for cid, _ in entry.priors] if entry else []

    def prior(self, kind: str, cause_id: str) -> float:
        """The prior weight of a cause for a kind (0.0 when it is not listed)."""
        entry = self.kinds.get(kind)
        return dict(entry.priors).get(cause_id, 0.0) if entry else 0.0


def _str(entry: Mapping[str, Any], key: str, where: str) -> str:
    v = entry.get(key)
    if not isinstance(v, str) or not v.strip():
        raise KnowledgeError(f"{where}: '{key}' must be a non-empty string")
    return " ".join(v.split())


def _strs(entry: Mapping[str, Any], key: str, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    v = entry.get(key, [] if allow_empty else None)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v) or (not v and not allow_empty):
        raise KnowledgeError(f"{where}: '{key}' must be a {'' if allow_empty else 'non-empty '}list of strings")
    if len(set(v)) != len(v):
        raise KnowledgeError(f"{where}: '{key}' lists an entry twice")
    return tuple(v)


def _check_sources(sources: Iterable[str], where: str) -> None:
    for s in sources:
        if s not in SEED_FILES:
            raise KnowledgeError(f"{where}: unknown source file '{s}' (expected one of {', '.join(SEED_FILES)})")


def _tables(data: Mapping[str, Any], key: str, origin: str) -> list[Mapping[str, Any]]:
    v = data.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise KnowledgeError(f"{origin}: '{key}' must be an array of tables ([[{key}]])")
    return v


def parse_kb(data: Mapping[str, Any], *, origin: str = "kb.toml") -> KnowledgeBase:
    """Build and validate a knowledge base from parsed TOML data.

    Checks: ids are unique kebab-case; every referenced fix exists; every source is one of the seed
    files; every kind is known; every cause is listed in the priors of each kind it names and vice
    versa; every signal name is known; every kind has at least one cause.
    """
    fixes: dict[str, Fix] = {}
    for i, raw in enumerate(_tables(data, "fixes", origin)):
        where = f"{origin}: fixes[{i}]"
        fid = _str(raw, "id", where)
        where = f"{origin}: fix '{fid}'"
        if not _ID_RE.match(fid):
            raise KnowledgeError(f"{where}: id must be kebab-case")
        if fid in fixes:
            raise KnowledgeError(f"{where}: duplicate id")
        sources = _strs(raw, "sources", where)
        _check_sources(sources, where)
        fixes[fid] = Fix(fid, _str(raw, "title", where), _str(raw, "text", where), sources)

    causes: dict[str, Cause] = {}
    for i, raw in enumerate(_tables(data, "causes", origin)):
        where = f"{origin}: causes[{i}]"
        cid = _str(raw, "id", where)
        where = f"{origin}: cause '{cid}'"
        if not _ID_RE.match(cid):
            raise KnowledgeError(f"{where}: id must be kebab-case")
        if cid in causes:
            raise KnowledgeError(f"{where}: duplicate id")
        kinds = _strs(raw, "kinds", where)
        for k in kinds:
            if k not in KINDS:
                raise KnowledgeError(f"{where}: unknown kind '{k}' (expected one of {', '.join(KINDS)})")
        cfixes = _strs(raw, "fixes", where)
        for f in cfixes:
            if f not in fixes:
                raise KnowledgeError(f"{where}: references unknown fix '{f}'")
        signals = _strs(raw, "signals", where, allow_empty=True)
        for s in signals:
            if s not in SIGNALS:
                raise KnowledgeError(f"{where}: unknown signal '{s}' (known: {', '.join(sorted(SIGNALS))})")
        sources = _strs(raw, "sources", where)
        _check_sources(sources, where)
        causes[cid] = Cause(cid, _str(raw, "title", where), _str(raw, "text", where), kinds, cfixes, sources, signals)

    kinds_raw = data.get("kinds", {})
    if not isinstance(kinds_raw, dict):
        raise KnowledgeError(f"{origin}: [kinds] must be a table")
    kinds: dict[str, KindEntry] = {}
    for kind, raw in kinds_raw.items():
        where = f"{origin}: kinds.{kind}"
        if not isinstance(raw, dict):
            raise KnowledgeError(f"{where}: must be a table")
        if kind not in KINDS:
            raise KnowledgeError(f"{where}: unknown kind '{kind}' (expected one of {', '.join(KINDS)})")
        listed = raw.get("causes")
        if not isinstance(listed, list) or not listed:
            raise KnowledgeError(f"{where}: 'causes' must be a non-empty list of {{ id, prior }} tables")
        priors: list[tuple[str, float]] = []
        for item in listed:
            cid = item.get("id") if isinstance(item, dict) else None
            prior = item.get("prior") if isinstance(item, dict) else None
            if not isinstance(cid, str) or cid not in causes:
                raise KnowledgeError(f"{where}: references unknown cause {cid!r}")
            if isinstance(prior, bool) or not isinstance(prior, (int, float)) or not 0.0 < float(prior) <= 1.0:
                raise KnowledgeError(f"{where}: prior of '{cid}' must be a number in (0, 1]")
            if kind not in causes[cid].kinds:
                raise KnowledgeError(f"{where}: lists '{cid}' but that cause does not name kind '{kind}'")
            if any(cid == c for c, _ in priors):
                raise KnowledgeError(f"{where}: lists '{cid}' twice")
            priors.append((cid, float(prior)))
        kinds[kind] = KindEntry(kind, _str(raw, "summary", where), tuple(priors))

    for kind in KINDS:
        if kind not in kinds:
            raise KnowledgeError(f"{origin}: kind '{kind}' has no [kinds.{kind}] section")
    for c in causes.values():
        for k in c.kinds:
            if all(cid != c.id for cid, _ in kinds[k].priors):
                raise KnowledgeError(f"{origin}: cause '{c.id}' names kind '{k}' but kinds.{k} does not list it")
    return KnowledgeBase(causes=causes, fixes=fixes, kinds=kinds)


def _read_default() -> tuple[str, str]:
    res = resources.files(__name__).joinpath("kb.toml")
    return res.read_text(encoding="utf-8"), "kb.toml"


@lru_cache(maxsize=1)
def _load_default() -> KnowledgeBase:
    text, origin = _read_default()
    return _parse_text(text, origin)


def _parse_text(text: str, origin: str) -> KnowledgeBase:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"{origin}: not valid TOML ({exc})") from None
    return parse_kb(data, origin=origin)


def load_kb(path: str | Path | None = None) -> KnowledgeBase:
    """The knowledge base (the packaged ``kb.toml``, cached), or the one at ``path`` (not cached)."""
    if path is None:
        return _load_default()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return _parse_text(text, str(p))


def causes_for_kind(kind: str) -> list[Cause]:
    """Causes of a finding kind in default order (empty for an unknown kind)."""
    return load_kb().causes_for_kind(kind)


def cause(cause_id: str) -> Cause:
    """One cause by id; ``KeyError`` with a clear message when unknown."""
    kb = load_kb()
    if cause_id not in kb.causes:
        raise KeyError(f"unknown cause '{cause_id}'")
    return kb.causes[cause_id]


def fix(fix_id: str) -> Fix:
    """One fix by id; ``KeyError`` with a clear message when unknown."""
    kb = load_kb()
    if fix_id not in kb.fixes:
        raise KeyError(f"unknown fix '{fix_id}'")
    return kb.fixes[fix_id]


# ------------------------------------------------------------------------------------------------
# Evidence context
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Everything the signals may look at for one finding (``None`` = not known)."""

    kind: str
    metric: str
    split: str
    onset: float | None = None  # 0..1, where in the run the event starts
    lr: float | None = None
    lr_origin: str = "at onset"  # or "configured" when it came from meta
    lr_changed: bool | None = None
    lr_before: float | None = None  # lr a few points before the onset (from the log)
    lr_flat: bool | None = None  # the logged lr never changed
    lr_first: float | None = None
    lr_last_before_onset: float | None = None
    optimizer: str | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    dropout: float | None = None
    run_epochs: float | None = None
    run_steps: int | None = None
    co_kinds: frozenset[str] = frozenset()
    same_kind_on_train: bool = False
    train_improving: bool | None = None
    ratio: float | None = None
    zscore: float | None = None
    value_after: float | None = None
    ln_classes: float | None = None
    chance_level: float | None = None
    data_time_share: float | None = None
    memory_growth: tuple[float, float] | None = None  # (first-quarter, last-quarter) median


def _num(v: Any) -> float | None:
    """A finite float from evidence or meta values (numbers, numpy scalars, numeric strings)."""
    if v is None or isinstance(v, bool):
        return None
    if hasattr(v, "item") and not isinstance(v, (int, float)):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if hasattr(v, "item"):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return None
        return v if isinstance(v, bool) else None
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None


def _meta_get(meta: Mapping[str, Any], *keys: str) -> Any:
    """The first present key in meta or in its ``hparams`` / ``config`` / ``args`` sub-dicts."""
    tables: list[Mapping[str, Any]] = [meta]
    for sub in ("hparams", "config", "args", "optimizer_config"):
        v = meta.get(sub)
        if isinstance(v, Mapping):
            tables.append(v)
    for table in tables:
        for k in keys:
            if k in table and table[k] is not None:
                return table[k]
    return None


def _optimizer_name(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, Mapping):
        v = v.get("type") or v.get("name")
        if v is None:
            return None
    s = str(v).strip().lower()
    s = s.rsplit(".", 1)[-1]  # torch.optim.AdamW -> adamw
    s = re.sub(r"[^a-z0-9_]", "", s).strip("_")  # HF: adamw_torch
    return s or None


def _family(opt: str | None) -> str | None:
    """``adam`` for the Adam family, ``sgd`` for SGD variants, ``other`` for the rest, ``None`` unknown."""
    if not opt:
        return None
    if "adam" in opt or opt in ("lamb", "adabelief"):
        return "adam"
    if "sgd" in opt or opt in ("momentum", "nesterov"):
        return "sgd"
    return "other"


@dataclass(frozen=True)
class _RunFacts:
    """Facts computed once per run from the frame."""

    lr_points: tuple[tuple[int, float], ...] = ()
    max_epoch: float | None = None
    max_step: int | None = None
    data_time: tuple[tuple[int, float], ...] = ()
    step_time: tuple[tuple[int, float], ...] = ()
    memory: tuple[tuple[int, float], ...] = ()
    ranges: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


_MEMORY_RE = re.compile(r"(^|[/_])(memory|mem|max_mem|gpu_mem|memory_allocated|max_memory_allocated)(_mb|_gb)?$", re.I)


_MAX_FACT_POINTS = 5000  # long series are thinned before they become Python tuples (memory and speed)


def _points(frame: pl.DataFrame, mask: pl.Expr, *, piecewise_constant: bool = False) -> tuple[tuple[int, float], ...]:
    """(step, value) pairs of one series, sorted by step; long series are reduced.

    A ``piecewise_constant`` series (a learning rate) keeps exactly the points where its value
    changes, so lookups stay exact; others keep an evenly spaced subset of at most
    ``_MAX_FACT_POINTS`` points (the medians and levels the signals use barely move).
    """
    sub = (
        frame.filter(mask & pl.col("step").is_not_null() & pl.col("value").is_not_null() & pl.col("value").is_finite())
        .group_by("step")
        .agg(pl.col("value").last())
        .sort("step")
    )
    if sub.height > _MAX_FACT_POINTS:
        if piecewise_constant:
            changed = (pl.col("value") != pl.col("value").shift(1)).fill_null(True)
            last = pl.int_range(pl.len()) == pl.len() - 1
            nxt = (pl.col("value") != pl.col("value").shift(-1)).fill_null(True)
            sub = sub.filter(changed | nxt | last)
        if sub.height > _MAX_FACT_POINTS:
            stride = -(-sub.height // _MAX_FACT_POINTS)
            sub = sub.gather_every(stride)
    return tuple(zip(sub["step"].to_list(), sub["value"].to_list()))


def _run_facts(frame: pl.DataFrame | None) -> _RunFacts:
    """Read the lr series, run length, timing and memory series from a normalized frame."""
    needed = {"metric", "split", "step", "value"}
    if frame is None or frame.height == 0 or not needed.issubset(frame.columns):
        return _RunFacts()
    other = frame.filter(pl.col("split") == "other")
    names = sorted(set(other["metric"].drop_nulls().to_list()))
    lr_names = [n for n in names if is_lr_name(n)]
    lr_points: tuple[tuple[int, float], ...] = ()
    if lr_names:
        # prefer the plain name, then the first param group
        best = min(lr_names, key=lambda n: (n.lower() not in ("lr", "learning_rate"), len(n), n))
        lr_points = _points(other, pl.col("metric") == best, piecewise_constant=True)
    data_time = _points(other, pl.col("metric") == "data_time") if "data_time" in names else ()
    step_time = _points(other, pl.col("metric") == "time") if "time" in names else ()
    mem_names = [n for n in names if _MEMORY_RE.search(n)]
    memory = _points(other, pl.col("metric") == mem_names[0]) if mem_names else ()
    max_epoch = None
    if "epoch" in frame.columns:
        e = frame["epoch"].drop_nulls()
        e = e.filter(e.is_finite()) if e.len() else e
        max_epoch = float(e.max()) if e.len() else None  # type: ignore[arg-type]
    s = frame["step"].drop_nulls()
    max_step = int(s.max()) if s.len() else None  # type: ignore[arg-type]
    rng = (
        frame.filter(pl.col("step").is_not_null())
        .group_by("metric", "split")
        .agg(pl.col("step").min().alias("lo"), pl.col("step").max().alias("hi"))
    )
    ranges = {(m, sp): (int(lo), int(hi)) for m, sp, lo, hi in rng.iter_rows()}
    return _RunFacts(lr_points, max_epoch, max_step, data_time, step_time, memory, ranges)


def _index_at(points: Sequence[tuple[int, float]], step: int) -> int:
    """Position of the last point at or before ``step`` (0 when all are after)."""
    idx = 0
    for i, (s, _) in enumerate(points):
        if s <= step:
            idx = i
        else:
            break
    return idx


def _median(values: Sequence[float]) -> float | None:
    v = sorted(values)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def build_context(
    finding: Finding,
    others: Sequence[Finding] = (),
    frame: pl.DataFrame | None = None,
    meta: Mapping[str, Any] | None = None,
    *,
    facts: _RunFacts | None = None,
) -> Context:
    """Collect the evidence for one finding: its own evidence, the log frame, meta and co-findings."""
    meta = meta or {}
    facts = facts if facts is not None else _run_facts(frame)
    ev = finding.evidence or {}

    onset = _num(ev.get("onset_fraction"))
    if onset is None and finding.start_step is not None:
        lo_hi = facts.ranges.get((finding.metric, finding.split))
        if lo_hi and lo_hi[1] > lo_hi[0]:
            onset = (finding.start_step - lo_hi[0]) / (lo_hi[1] - lo_hi[0])
    if onset is not None:
        onset = min(max(onset, 0.0), 1.0)

    lr = _num(ev.get("lr_at_onset"))
    lr_origin = "at onset"
    lr_changed = _bool(ev.get("lr_changed_near_onset"))
    lr_before = lr_flat = lr_first = lr_last = None
    pts = facts.lr_points
    if pts:
        values = [v for _, v in pts]
        lo, hi = min(values), max(values)
        lr_flat = lo > 0 and hi / lo < TH.lr_flat_ratio
        if finding.start_step is not None:
            i = _index_at(pts, finding.start_step)
            if lr is None:
                lr = pts[i][1]
            lr_first, lr_last = pts[0][1], pts[i][1]
            w = TH.lr_change_window
            lr_before = pts[max(i - w, 0)][1]
            if lr_changed is None:
                window = [v for _, v in pts[max(i - w, 0): i + w + 1]]
                ref = max(abs(x) for x in window) or 1.0
                lr_changed = (max(window) - min(window)) / ref > TH.lr_change_rel
    if lr is None:
        lr = _num(_meta_get(meta, "lr", "learning_rate", "base_lr"))
        lr_origin = "configured"

    opt = _optimizer_name(_meta_get(meta, "optimizer", "optim", "optimizer_name"))
    bs = _num(_meta_get(meta, "batch_size", "train_batch_size", "per_device_train_batch_size"))
    wd = _num(_meta_get(meta, "weight_decay", "wd", "l2"))
    dropout = _num(_meta_get(meta, "dropout", "dropout_rate", "hidden_dropout_prob", "drop_rate"))

    co = frozenset(o.kind for o in others if o is not finding)
    same_on_train = any(o is not finding and o.kind == finding.kind and o.split == "train" for o in others)

    share = None
    if facts.data_time and facts.step_time:
        lo_s = finding.start_step if finding.start_step is not None else -(2**62)
        hi_s = finding.end_step if finding.end_step is not None else 2**62
        dt = {s: v for s, v in facts.data_time if lo_s <= s <= hi_s} or dict(facts.data_time)
        tt = {s: v for s, v in facts.step_time if lo_s <= s <= hi_s} or dict(facts.step_time)
        mdt, mtt = _median(list(dt.values())), _median(list(tt.values()))
        if mdt is not None and mtt and mtt > 0:
            share = min(max(mdt / mtt, 0.0), 1.0)
    if finding.metric == "data_time" and share is None:
        share = 1.0
    mem = None
    if len(facts.memory) >= 8:
        vals = [v for _, v in facts.memory]
        q = len(vals) // 4
        a, b = _median(vals[:q]), _median(vals[-q:])
        if a is not None and b is not None and a > 0:
            mem = (a, b)

    return Context(
        kind=finding.kind,
        metric=finding.metric,
        split=finding.split,
        onset=onset,
        lr=lr,
        lr_origin=lr_origin,
        lr_changed=lr_changed,
        lr_before=lr_before,
        lr_flat=lr_flat,
        lr_first=lr_first,
        lr_last_before_onset=lr_last,
        optimizer=opt,
        batch_size=int(bs) if bs is not None and bs >= 1 else None,
        weight_decay=wd,
        dropout=dropout,
        run_epochs=facts.max_epoch if facts.max_epoch is not None else _num(finding.end_epoch),
        run_steps=facts.max_step if facts.max_step is not None else finding.end_step,
        co_kinds=co,
        same_kind_on_train=same_on_train,
        train_improving=_bool(ev.get("train_improving")),
        ratio=_num(ev.get("ratio")),
        zscore=_num(ev.get("zscore")),
        value_after=_num(ev.get("value_after")),
        ln_classes=_num(ev.get("ln_classes")),
        chance_level=_num(ev.get("chance_level")),
        data_time_share=share,
        memory_growth=mem,
    )


# ------------------------------------------------------------------------------------------------
# Signals: one small rule per piece of evidence
# ------------------------------------------------------------------------------------------------

Delta = tuple[float, str]
SignalFn = Callable[[Context], "Delta | None"]
SIGNALS: dict[str, tuple[SignalFn, str]] = {}


def _signal(name: str, doc: str) -> Callable[[SignalFn], SignalFn]:
    def register(fn: SignalFn) -> SignalFn:
        SIGNALS[name] = (fn, doc)
        return fn

    return register


def _g(v: float) -> str:
    """A number for a note: 3 significant digits (``0.005``, ``1e-05``, ``25``), whole numbers to 1e7."""
    if 1e3 <= abs(v) < 1e7:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _pct(f: float) -> str:
    return f"{f * 100:.0f}%"


def _lr_range(ctx: Context) -> tuple[tuple[float, float], str, float]:
    """Typical lr range, a label for it and the weight factor (half when the optimizer is unknown)."""
    fam = _family(ctx.optimizer)
    if fam == "adam":
        return TH.lr_range_adam, f"for {ctx.optimizer}", 1.0
    if fam == "sgd":
        return TH.lr_range_sgd, f"for {ctx.optimizer}", 1.0
    label = f"for {ctx.optimizer}" if ctx.optimizer else "for an unlogged optimizer"
    return TH.lr_range_other, label, 0.5


def _lr_word(ctx: Context) -> str:
    if ctx.lr_origin == "configured":
        return f"configured lr {_g(ctx.lr or 0.0)}"
    return f"lr {_g(ctx.lr or 0.0)} at onset"


@_signal("lr_high", "the learning rate at the onset is above the typical range of the optimizer")
def _lr_high(ctx: Context) -> Delta | None:
    if ctx.lr is None or ctx.lr <= 0:
        return None
    (lo, hi), label, k = _lr_range(ctx)
    typical = f"typical {_g(lo)}..{_g(hi)}"
    if ctx.lr >= hi * TH.lr_far_factor:
        return k * (TH.w_strong + TH.w_weak), f"{_lr_word(ctx)} is far above the usual range {label} ({typical})"
    if ctx.lr > hi:
        return k * TH.w_strong, f"{_lr_word(ctx)} is high {label} ({typical})"
    if ctx.lr < lo:
        return -TH.w, f"{_lr_word(ctx)} is low {label} ({typical}), which argues against a too-high rate"
    return -TH.w_weak * k, f"{_lr_word(ctx)} is inside the usual range {label} ({typical})"


@_signal("lr_low", "the learning rate is below the typical range of the optimizer")
def _lr_low(ctx: Context) -> Delta | None:
    if ctx.lr is None or ctx.lr <= 0:
        return None
    (lo, hi), label, k = _lr_range(ctx)
    typical = f"typical {_g(lo)}..{_g(hi)}"
    if ctx.lr <= lo / TH.lr_far_factor:
        return k * (TH.w_strong + TH.w_weak), f"{_lr_word(ctx)} is far below the usual range {label} ({typical})"
    if ctx.lr < lo:
        return k * TH.w_strong, f"{_lr_word(ctx)} is low {label} ({typical})"
    if ctx.lr > hi:
        return -TH.w, f"{_lr_word(ctx)} is high {label} ({typical}), which argues against a too-low rate"
    return -TH.w_weak * k, f"{_lr_word(ctx)} is inside the usual range {label} ({typical})"


@_signal("lr_schedule_step", "the lr schedule changed within a few points of the onset (a rise supports a too-high rate)")
def _lr_schedule_step(ctx: Context) -> Delta | None:
    if ctx.lr_changed is not True:
        return None
    if ctx.lr_before is not None and ctx.lr is not None and ctx.lr_before > 0:
        if ctx.lr >= ctx.lr_before * TH.lr_jump_ratio:
            ratio = ctx.lr / ctx.lr_before
            return 2 * TH.w_strong, f"lr jumped {ratio:.3g}x (from {_g(ctx.lr_before)} to {_g(ctx.lr)}) just before the onset"
        if ctx.lr > ctx.lr_before * (1 + TH.lr_change_rel):
            return TH.w_strong, f"lr rose from {_g(ctx.lr_before)} to {_g(ctx.lr)} just before the onset"
        if ctx.lr < ctx.lr_before * (1 - TH.lr_change_rel):
            return -TH.w_weak, f"lr dropped from {_g(ctx.lr_before)} to {_g(ctx.lr)} near the onset, so a too-high rate is less likely"
    return TH.w, "the lr schedule changed within a few points of the onset"


@_signal("lr_steady_near_onset", "the lr did not change near the onset, so the schedule did not trigger the jump")
def _lr_steady(ctx: Context) -> Delta | None:
    if ctx.lr_changed is None:
        return None
    if ctx.lr_changed:
        return -TH.w, "the lr schedule changed near the onset, which explains the jump more simply"
    return TH.w_weak, "the lr was steady around the onset, so the schedule did not trigger it"


@_signal("lr_constant", "the logged lr stayed flat (no decay) up to the onset")
def _lr_constant(ctx: Context) -> Delta | None:
    if ctx.lr_flat is None:
        return None
    if ctx.lr_flat:
        return TH.w, f"the logged lr stayed at {_g(ctx.lr or 0.0)} for the whole run (no decay)"
    first, last = ctx.lr_first, ctx.lr_last_before_onset
    if first and last and last > 0 and first / last >= TH.lr_decayed_ratio:
        return -TH.w, f"the lr was already decayed from {_g(first)} to {_g(last)} before the onset"
    return None


def _where(ctx: Context) -> str:
    return f"onset at {_pct(ctx.onset or 0.0)} of the run"


@_signal("late_in_run", f"the event starts in the second half of the run (onset_fraction >= {TH.late_fraction})")
def _late(ctx: Context) -> Delta | None:
    if ctx.onset is None:
        return None
    if ctx.onset >= TH.late_fraction:
        extra = TH.w * (ctx.onset - TH.late_fraction) / (1.0 - TH.late_fraction)
        return TH.w_weak + extra, f"{_where(ctx)}: late"
    if ctx.onset <= TH.early_fraction:
        return -TH.w_weak, f"{_where(ctx)}: early, not late"
    return None


@_signal("early_in_run", f"the event starts in the first {int(TH.early_fraction * 100)}% of the run")
def _early(ctx: Context) -> Delta | None:
    if ctx.onset is None:
        return None
    if ctx.onset <= TH.early_fraction:
        return TH.w, f"{_where(ctx)}: from the start"
    if ctx.onset >= TH.after_start_fraction:
        return -TH.w_weak, f"{_where(ctx)}: long after the start"
    return None


@_signal("mid_run", "the event starts after the fast first descent, in the middle of the run")
def _mid(ctx: Context) -> Delta | None:
    if ctx.onset is None:
        return None
    lo, hi = TH.mid_fraction
    if lo <= ctx.onset <= hi:
        return TH.w_weak + 0.05, f"{_where(ctx)}: after the first fast descent"
    return None


@_signal("long_run", f"the run is long (>= {TH.long_run_epochs:g} epochs or {TH.long_run_steps} steps)")
def _long(ctx: Context) -> Delta | None:
    if ctx.run_epochs is not None and ctx.run_epochs > 0:
        if ctx.run_epochs >= TH.long_run_epochs:
            return TH.w, f"a long run ({_g(ctx.run_epochs)} epochs)"
        if ctx.run_epochs < TH.short_run_epochs:
            return -TH.w_weak, f"a short run ({_g(ctx.run_epochs)} epochs) leaves little time for Adam's v_t to decay"
        return None
    if ctx.run_steps is not None and ctx.run_steps >= TH.long_run_steps:
        return TH.w, f"a long run ({ctx.run_steps} steps)"
    return None


@_signal("optimizer_adam", "the optimizer is in the Adam family (a known non-Adam optimizer counts against)")
def _adam(ctx: Context) -> Delta | None:
    fam = _family(ctx.optimizer)
    if fam == "adam":
        return TH.w + 0.05, f"optimizer is {ctx.optimizer} (Adam family)"
    if fam == "sgd":
        return -TH.w_strong, f"optimizer is {ctx.optimizer}, not Adam, so the epsilon mechanism does not apply"
    return None


@_signal("batch_small", f"the batch size is small (<= {TH.batch_small})")
def _batch_small(ctx: Context) -> Delta | None:
    b = ctx.batch_size
    if b is None:
        return None
    if b <= TH.batch_small:
        return TH.w + 0.05, f"batch size {b} is small (<= {TH.batch_small}): noisy gradient estimates"
    if b <= TH.batch_smallish:
        return TH.w_weak / 2, f"batch size {b} is on the small side"
    if b >= TH.batch_noise_free:
        return -TH.w_weak, f"batch size {b} is large, so gradient noise is limited"
    return None


@_signal("batch_large", f"the batch size is large (>= {TH.batch_large})")
def _batch_large(ctx: Context) -> Delta | None:
    b = ctx.batch_size
    if b is None:
        return None
    if b >= TH.batch_large:
        return TH.w, f"batch size {b} is large (>= {TH.batch_large})"
    if b <= TH.batch_not_large:
        return -TH.w_weak, f"batch size {b} is not large"
    return None


def _co(kind: str, label: str) -> SignalFn:
    def fn(ctx: Context) -> Delta | None:
        if kind in ctx.co_kinds:
            return TH.w, f"the same run also has a {label} finding"
        return None

    return fn


for _kind in KINDS:
    _name = "co_nonfinite" if _kind == "non_finite" else f"co_{_kind}"
    _label = "non-finite (NaN/Inf)" if _kind == "non_finite" else _kind
    SIGNALS[_name] = (_co(_kind, _label), f"another finding of kind {_kind} in the same run")
del _kind, _name, _label


@_signal("severe_jump", f"the loss jumped by a large factor (ratio >= {TH.severe_ratio:g} or zscore >= {TH.severe_zscore:g})")
def _severe(ctx: Context) -> Delta | None:
    if ctx.ratio is not None and ctx.ratio >= TH.severe_ratio:
        return TH.w, f"the value rose {_g(ctx.ratio)}x"
    if ctx.zscore is not None and ctx.zscore >= TH.severe_zscore:
        return TH.w_weak, f"a jump of {_g(ctx.zscore)} noise units"
    return None


def _is_val(ctx: Context) -> bool:
    return ctx.split in ("val", "test")


@_signal("train_side", "the event is in the training curve (an optimization cause shows there)")
def _train_side(ctx: Context) -> Delta | None:
    if ctx.split == "train":
        return 0.05, "seen in the training curve itself"
    if _is_val(ctx) and not ctx.same_kind_on_train:
        return -TH.w, f"only the {ctx.split} curve shows it; an optimization problem would show in training too"
    return None


@_signal("val_only", "only the validation/test curve shows the event")
def _val_only(ctx: Context) -> Delta | None:
    if _is_val(ctx) and not ctx.same_kind_on_train:
        return TH.w_weak, f"only the {ctx.split} curve shows it"
    if ctx.split == "train":
        return -TH.w_weak, "it is in the training curve, not only in validation"
    return None


@_signal("train_improving", "training kept improving while the validation curve worsened")
def _train_improving(ctx: Context) -> Delta | None:
    if ctx.train_improving is True:
        return TH.w, f"training kept improving while {ctx.split} got worse"
    if ctx.train_improving is False:
        return -TH.w_weak, "training was not improving either"
    return None


@_signal("at_chance", "the collapsed value sits at chance: loss ~ ln(C) or accuracy ~ 1/C")
def _at_chance(ctx: Context) -> Delta | None:
    v = ctx.value_after
    if v is None:
        return None
    if "loss" in ctx.metric.lower() and ctx.ln_classes:
        if abs(v - ctx.ln_classes) <= TH.chance_rel_tol * ctx.ln_classes:
            c = math.exp(ctx.ln_classes)
            return TH.w_strong, f"loss {_g(v)} sits at ln({c:.0f}) = {_g(ctx.ln_classes)}: a uniform, input-independent output"
        return None
    if ctx.chance_level is not None and abs(v - ctx.chance_level) <= TH.chance_abs_tol:
        return TH.w_strong, f"{ctx.metric} {_g(v)} equals chance ({_g(ctx.chance_level)}): an input-independent output"
    return None


@_signal("majority_class", "a collapsed accuracy clearly above chance: the model predicts the majority class")
def _majority(ctx: Context) -> Delta | None:
    v, c = ctx.value_after, ctx.chance_level
    if v is None or c is None or "loss" in ctx.metric.lower():
        return None
    if v >= c + TH.majority_margin:
        return TH.w_strong, f"{ctx.metric} is stuck at {_g(v)}, above chance {_g(c)}: the share of one dominant class"
    if abs(v - c) <= TH.chance_abs_tol:
        return -TH.w_weak, f"{ctx.metric} {_g(v)} is at chance, not at a majority share"
    return None


@_signal("strong_regularization", "weight decay or dropout in the run config is strong")
def _strong_reg(ctx: Context) -> Delta | None:
    notes, score = [], 0.0
    decoupled = bool(ctx.optimizer and ("adamw" in ctx.optimizer or ctx.optimizer.endswith("w")))
    limit = TH.weight_decay_strong_decoupled if decoupled else TH.weight_decay_strong
    if ctx.weight_decay is not None:
        if ctx.weight_decay >= limit:
            score += TH.w
            notes.append(f"weight decay {_g(ctx.weight_decay)} is strong (>= {_g(limit)})")
        elif ctx.weight_decay == 0:
            score -= TH.w_weak
            notes.append("weight decay is 0")
    if ctx.dropout is not None and ctx.dropout >= TH.dropout_strong:
        score += TH.w_weak
        notes.append(f"dropout {_g(ctx.dropout)} is heavy")
    return (score, "; ".join(notes)) if notes else None


@_signal("no_regularization", "the run config shows no weight decay and no dropout")
def _no_reg(ctx: Context) -> Delta | None:
    wd, dr = ctx.weight_decay, ctx.dropout
    if wd is None and dr is None:
        return None
    if (wd is None or wd == 0) and (dr is None or dr == 0):
        parts = [f"weight decay {_g(wd)}" if wd is not None else None, f"dropout {_g(dr)}" if dr is not None else None]
        return TH.w, "no regularization in the run config (" + ", ".join(p for p in parts if p) + ")"
    parts = [f"weight decay {_g(wd)}" if wd else None, f"dropout {_g(dr)}" if dr else None]
    return -TH.w_weak, "regularization is already set (" + ", ".join(p for p in parts if p) + ")"


@_signal("data_time_share", "data loading takes a large share of the step time (data_time / time)")
def _data_share(ctx: Context) -> Delta | None:
    if ctx.metric == "data_time":
        return TH.w_strong, "the series that slows down is data_time itself"
    s = ctx.data_time_share
    if s is None:
        return None
    if s >= TH.data_time_high:
        return TH.w_strong, f"data loading takes {_pct(s)} of the step time"
    if s <= TH.data_time_low:
        return -TH.w, f"data loading takes only {_pct(s)} of the step time"
    return None


@_signal("compute_bound", "data loading is a small share of the step time, so the compute itself is slow")
def _compute_bound(ctx: Context) -> Delta | None:
    s = ctx.data_time_share
    if s is None or ctx.metric == "data_time":
        return None
    if s <= TH.data_time_low:
        return TH.w, f"data loading is only {_pct(s)} of the step time, so the step itself is slow"
    if s >= TH.data_time_high:
        return -TH.w_weak, f"data loading takes {_pct(s)} of the step time"
    return None


@_signal("memory_growth", "the logged memory grows over the run")
def _memory(ctx: Context) -> Delta | None:
    if ctx.memory_growth is None:
        return None
    a, b = ctx.memory_growth
    if b / a >= TH.memory_growth:
        return TH.w_strong, f"logged memory grew from {_g(a)} to {_g(b)} ({_g(b / a)}x)"
    if b / a <= TH.memory_flat:
        return -TH.w_weak, f"logged memory stayed flat (~{_g(b)})"
    return None


# ------------------------------------------------------------------------------------------------
# Ranking
# ------------------------------------------------------------------------------------------------


@dataclass
class ScoredCause:
    """A cause with its score for one finding and the notes that explain the score."""

    cause: Cause
    prior: float
    score: float
    why: list[str]


def _signed(d: float) -> str:
    return f"{d:+.2f}"


def rank_causes(kb: KnowledgeBase, ctx: Context) -> list[ScoredCause]:
    """All causes of ``ctx.kind`` scored and sorted (best first; ties keep the prior order)."""
    entry = kb.kinds.get(ctx.kind)
    if entry is None:
        return []
    out: list[ScoredCause] = []
    for cid, prior in entry.priors:
        c = kb.causes[cid]
        score = prior
        why = [f"{_signed(prior)} prior for {ctx.kind}"]
        for name in c.signals:
            res = SIGNALS[name][0](ctx)
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


def explain(findings: list[Finding], frame: pl.DataFrame | None = None, meta: Mapping[str, Any] | None = None) -> None:
    """Fill ``causes`` and ``fixes`` of every finding in place, ranked by the evidence of its run.

    ``findings`` are the findings of one run (co-occurring kinds are evidence); ``frame`` is that run's
    normalized frame (or ``None``); ``meta`` its run facts (optimizer, batch_size, lr, hparams ...).
    Findings of kinds the knowledge base does not cover get empty lists.
    """
    if not findings:
        return
    kb = load_kb()
    facts = _run_facts(frame)
    for f in findings:
        ctx = build_context(f, findings, frame, meta or {}, facts=facts)
        ranked = rank_causes(kb, ctx)[:MAX_CAUSES]
        f.causes = [sc.cause.reference(score=sc.score, why=sc.why) for sc in ranked]
        f.fixes = rank_fixes(kb, ranked)
