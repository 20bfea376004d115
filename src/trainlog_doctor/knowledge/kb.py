"""The knowledge base: causes and fixes citing their seed documents, and per-kind priors (``kb.toml``).

:func:`parse_kb` validates parsed TOML data into a :class:`KnowledgeBase`; :func:`load_kb` reads the
packaged ``kb.toml`` (cached) or another file; :func:`cause`, :func:`fix` and :func:`causes_for_kind`
look entries up in the packaged one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from trainlog_doctor.knowledge.signals import CONTRADICTIONS, SIGNALS
from trainlog_doctor.model.kinds import KINDS
from trainlog_doctor.model.report import Reference

SEED_FILES: tuple[str, ...] = (
    "000_02205516640b384a.txt",
    "001_e2b1d9b6e993effa.txt",
    "002_71796cd32a78356b.txt",
    "003_29fc3971449554af.txt",
    "004_88078e569b070fcb.txt",
)
#: The seed documents as a reader knows them: their titles (002 has no front matter; its heading).
SEED_TITLES: dict[str, str] = {
    "000_02205516640b384a.txt": "Why are CNN outputs anomalous during epochs 10-12?",
    "001_e2b1d9b6e993effa.txt": "What causes high CNN training loss?",
    "002_71796cd32a78356b.txt": "Why does the loss of a CNN decrease for a long time and then suddenly increase?",
    "003_29fc3971449554af.txt": "What causes unexpected performance degradation in a CNN?",
    "004_88078e569b070fcb.txt": "Why does the CNN consistently produce the same output?",
}
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class KnowledgeError(ValueError):
    """The knowledge base file is malformed or inconsistent (the message names the entry)."""


def source_title(file: str, section: str | None = None) -> str:
    """A seed file as a reader knows it: ``"Title" (section)``; the file name when it is not a seed."""
    title = SEED_TITLES.get(file, file)
    return f"{title} (section: {section})" if section else title


class _Cited:
    """Shared by causes and fixes: an id, a title, a text and the seed files it comes from."""

    id: str
    title: str
    text: str
    sources: tuple[str, ...]
    sections: Mapping[str, str]

    @property
    def titles(self) -> list[str]:
        """The sources' titles (with the section each entry comes from, where the kb names one)."""
        return [source_title(f, self.sections.get(f)) for f in self.sources]

    def reference(self, score: float | None = None, why: Sequence[str] = (), **extra: Any) -> Reference:
        """This entry as a report reference (``title: text``, its sources and their titles, score, why)."""
        return Reference(id=self.id, text=f"{self.title}: {self.text}", sources=list(self.sources),
                         score=score, why=list(why), titles=self.titles, **extra)


@dataclass(frozen=True)
class Fix(_Cited):
    """A concrete change to try, citing its seed documents.

    ``contradicted_by``: contradiction tests (:data:`~trainlog_doctor.knowledge.signals.CONTRADICTIONS`)
    that rule the fix out for a run (raising Adam's epsilon on an SGD run).
    """

    id: str
    title: str
    text: str
    sources: tuple[str, ...]
    sections: Mapping[str, str] = field(default_factory=dict)
    contradicted_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Practice:
    """A standard remedy that no seed document covers, with the public references behind it.

    It is offered for findings whose leading causes include one of ``causes``; ``requires`` names an
    evidence field that must be known (``grad_norm``, ``mixed_precision``, ``batch_size``) or is empty.
    """

    id: str
    title: str
    text: str
    causes: tuple[str, ...]
    references: tuple[str, ...]
    requires: str = ""

    def reference(self, **extra: Any) -> Reference:
        return Reference(id=self.id, text=f"{self.title}: {self.text}", references=list(self.references), **extra)


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
    sections: Mapping[str, str] = field(default_factory=dict)
    contradicted_by: tuple[str, ...] = ()
    tell: str = ""  # what to log to tell this cause apart from the others


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
    practice: Mapping[str, Practice] = field(default_factory=dict)

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


def _sections(entry: Mapping[str, Any], sources: Sequence[str], where: str) -> dict[str, str]:
    v = entry.get("sections", {})
    if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise KnowledgeError(f"{where}: 'sections' must be a table of source file = section title")
    for k in v:
        if k not in sources:
            raise KnowledgeError(f"{where}: 'sections' names '{k}', which is not one of its sources")
    return {k: " ".join(x.split()) for k, x in v.items()}


def _contradictions(entry: Mapping[str, Any], where: str) -> tuple[str, ...]:
    names = _strs(entry, "contradicted_by", where, allow_empty=True)
    for n in names:
        if n not in CONTRADICTIONS:
            raise KnowledgeError(f"{where}: unknown contradiction test '{n}' (known: {', '.join(sorted(CONTRADICTIONS))})")
    return names


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
        fixes[fid] = Fix(fid, _str(raw, "title", where), _str(raw, "text", where), sources,
                         _sections(raw, sources, where), _contradictions(raw, where))

    causes: dict[str, Cause] = {}
    for i, raw in enumerate(_tables(data, "causes", origin)):
        where = f"{origin}: causes[{i}]"
        cid = _str(raw, "id", where)
        where = f"{origin}: cause '{cid}'"
        if not _ID_RE.match(cid):
            raise KnowledgeError(f"{where}: id must be kebab-case")
        if cid in causes:
            raise KnowledgeError(f"{where}: duplicate id")
        ckinds = _strs(raw, "kinds", where)
        for k in ckinds:
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
        tell = " ".join(str(raw.get("tell", "")).split())
        causes[cid] = Cause(cid, _str(raw, "title", where), _str(raw, "text", where), ckinds, cfixes, sources, signals,
                            _sections(raw, sources, where), _contradictions(raw, where), tell)

    practice: dict[str, Practice] = {}
    for i, raw in enumerate(_tables(data, "practice", origin)):
        where = f"{origin}: practice[{i}]"
        pid = _str(raw, "id", where)
        where = f"{origin}: practice '{pid}'"
        if not _ID_RE.match(pid) or pid in practice or pid in fixes:
            raise KnowledgeError(f"{where}: id must be kebab-case and unique among fixes and practice")
        pcauses = _strs(raw, "causes", where)
        for c in pcauses:
            if c not in causes:
                raise KnowledgeError(f"{where}: references unknown cause '{c}'")
        refs = _strs(raw, "references", where)
        requires = str(raw.get("requires", ""))
        practice[pid] = Practice(pid, _str(raw, "title", where), _str(raw, "text", where), pcauses, refs, requires)

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
            listed_id = item.get("id") if isinstance(item, dict) else None
            prior = item.get("prior") if isinstance(item, dict) else None
            if not isinstance(listed_id, str) or listed_id not in causes:
                raise KnowledgeError(f"{where}: references unknown cause {listed_id!r}")
            if isinstance(prior, bool) or not isinstance(prior, (int, float)) or not 0.0 < float(prior) <= 1.0:
                raise KnowledgeError(f"{where}: prior of '{listed_id}' must be a number in (0, 1]")
            if kind not in causes[listed_id].kinds:
                raise KnowledgeError(f"{where}: lists '{listed_id}' but that cause does not name kind '{kind}'")
            if any(listed_id == c for c, _ in priors):
                raise KnowledgeError(f"{where}: lists '{listed_id}' twice")
            priors.append((listed_id, float(prior)))
        kinds[kind] = KindEntry(kind, _str(raw, "summary", where), tuple(priors))

    for kind in KINDS:
        if kind not in kinds:
            raise KnowledgeError(f"{origin}: kind '{kind}' has no [kinds.{kind}] section")
    for c in causes.values():
        for k in c.kinds:
            if all(cid != c.id for cid, _ in kinds[k].priors):
                raise KnowledgeError(f"{origin}: cause '{c.id}' names kind '{k}' but kinds.{k} does not list it")
    return KnowledgeBase(causes=causes, fixes=fixes, kinds=kinds, practice=practice)


def _read_default() -> tuple[str, str]:
    res = resources.files("trainlog_doctor.knowledge").joinpath("kb.toml")
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

