"""The JSON report (schema v1, a contract) as dataclasses."""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from trainlog_doctor.model.version import __version__

if TYPE_CHECKING:
    import polars as pl

SCHEMA_VERSION = 1
Severity = Literal["error", "warning", "info"]
Status = Literal["ok", "empty", "error"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


@dataclass
class Reference:
    """A cause or a fix from the knowledge base, as attached to a finding.

    ``sources`` are the seed file names and ``titles`` the same documents as a reader knows them
    (title, and the section when the entry comes from one), in the same order. ``basis`` is
    ``"evidence"`` when the run's log moved the score, ``"prior only"`` when nothing in it bore on this
    cause either way. ``derived`` (fixes) is the number to try for this run and how it was computed.
    ``references`` (general-practice fixes, which no seed document covers) are the public papers or
    library docs behind it.
    """

    id: str
    text: str
    sources: list[str] = field(default_factory=list)
    score: float | None = None
    why: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    basis: str | None = None
    derived: dict[str, Any] | None = None
    references: list[str] = field(default_factory=list)

    @property
    def source_labels(self) -> list[str]:
        """What a reader should see for the sources: the titles when known, else the file names."""
        return list(self.titles) if self.titles else list(self.sources)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text, "sources": list(self.sources)}
        if self.titles:
            out["titles"] = list(self.titles)
        if self.references:
            out["references"] = list(self.references)
        if self.score is not None:
            out["score"] = round(float(self.score), 3)
        if self.basis:
            out["basis"] = self.basis
        if self.why:
            out["why"] = list(self.why)
        if self.derived:
            out["derived"] = {k: _jsonable(v) for k, v in self.derived.items()}
        return out


@dataclass
class Finding:
    """One event found in one series of one run."""

    code: str
    kind: str
    severity: Severity
    metric: str
    message: str
    split: str = "train"
    start_step: int | None = None
    end_step: int | None = None
    start_epoch: float | None = None
    end_epoch: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    causes: list[Reference] = field(default_factory=list)
    fixes: list[Reference] = field(default_factory=list)
    #: General-practice remedies (not from the seed documents), kept apart from ``fixes``.
    practice: list[Reference] = field(default_factory=list)
    #: The id of the incident this finding belongs to (findings that are one story share it).
    incident: str | None = None
    #: True for the finding that leads its incident.
    incident_primary: bool = False
    #: When the log cannot tell the leading causes apart: which ones, and what to log to tell them.
    undecided: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "code": self.code,
            "kind": self.kind,
            "severity": self.severity,
            "metric": self.metric,
            "split": self.split,
            "start_step": self.start_step,
            "end_step": self.end_step,
            "start_epoch": _num(self.start_epoch),
            "end_epoch": _num(self.end_epoch),
            "message": self.message,
            "evidence": {k: _jsonable(v) for k, v in self.evidence.items()},
            "causes": [c.to_dict() for c in self.causes],
            "fixes": [f.to_dict() for f in self.fixes],
        }
        if self.practice:
            out["practice"] = [p.to_dict() for p in self.practice]
        if self.undecided:
            out["undecided"] = self.undecided
        if self.incident is not None:
            out["incident"] = self.incident
            if self.incident_primary:
                out["incident_primary"] = True
        return out


@dataclass
class Incident:
    """Findings of one run that tell one story (divergence, then NaN in loss and gradient norm).

    ``primary`` is the finding to lead with (its causes and fixes stand for the incident);
    ``related`` the others, in report order.
    """

    id: str
    primary: Finding
    related: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [self.primary, *self.related]

    def to_dict(self, index: dict[int, int]) -> dict[str, Any]:
        """``index`` maps ``id(finding)`` to its position in the run's ``findings`` list."""
        return {"id": self.id, "primary": index[id(self.primary)], "related": [index[id(f)] for f in self.related]}


@dataclass
class SeriesInfo:
    """One logged scalar series of a run: its name, split, length and x axis.

    ``points`` counts distinct steps; ``duplicates`` the rows dropped because an earlier row of the
    series had the same step (the last written one is kept; written to JSON only when non-zero).
    ``x`` is ``"epoch"`` when the writer's step counter is the epoch, else ``"step"``.
    """

    metric: str
    split: str
    points: int
    x: str  # "epoch" or "step"
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric, "split": self.split, "points": self.points, "x": self.x}
        if self.duplicates:
            out["duplicate_steps"] = self.duplicates
        return out


@dataclass
class RunReport:
    """The diagnosis of one run.

    ``notes`` says what could not be judged and why (a series too short for a trend verdict); always a
    list in the JSON (key ``notes``). ``frame`` (the normalized frame), ``view`` (the run view the rules read, a
    :class:`trainlog_doctor.run.RunView`) and ``changepoints`` feed the renderers and are not serialized.
    """

    run_id: str
    path: str
    format: str | None
    status: Status = "ok"
    error: str | None = None
    series: list[SeriesInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    frame: pl.DataFrame | None = field(default=None, repr=False)
    view: Any = field(default=None, repr=False, compare=False)
    changepoints: dict[tuple[str, str], list[int]] = field(default_factory=dict, repr=False)

    @property
    def incidents(self) -> list[Incident]:
        """The findings grouped by their ``incident`` id, in order of first appearance.

        The primary of an incident is its finding with ``incident_primary`` set (else its first);
        findings without an id are incidents of their own.
        """
        groups: dict[str, list[Finding]] = {}
        for i, f in enumerate(self.findings):
            groups.setdefault(f.incident if f.incident is not None else f"#{i}", []).append(f)
        out = []
        for key, fs in groups.items():
            primary = next((f for f in fs if f.incident_primary), fs[0])
            out.append(Incident(key, primary, [f for f in fs if f is not primary]))
        return out

    @property
    def worst(self) -> Finding | None:
        """The most severe finding (first in report order on ties)."""
        if not self.findings:
            return None
        return max(self.findings, key=lambda f: SEVERITY_RANK[f.severity])

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "path": self.path,
            "format": self.format,
            "status": self.status,
            "error": self.error,
            "warnings": list(self.warnings),
            "meta": {k: _jsonable(v) for k, v in self.meta.items()},
            "series": [s.to_dict() for s in self.series],
            "findings": [f.to_dict() for f in self.findings],
            "incidents": [inc.to_dict({id(f): i for i, f in enumerate(self.findings)}) for inc in self.incidents],
            "notes": list(self.notes),
        }


#: The columns of :meth:`Report.findings_frame`, in order, with the names of their polars types.
FINDINGS_COLUMNS: dict[str, str] = {
    "run_id": "Utf8",
    "path": "Utf8",
    "code": "Utf8",
    "kind": "Utf8",
    "severity": "Utf8",
    "metric": "Utf8",
    "split": "Utf8",
    "start_step": "Int64",
    "end_step": "Int64",
    "start_epoch": "Float64",
    "end_epoch": "Float64",
    "message": "Utf8",
    "top_cause": "Utf8",
    "top_fix": "Utf8",
}


def findings_schema() -> dict[str, pl.DataType]:
    """:data:`FINDINGS_COLUMNS` as polars types (polars is imported here, not when the model loads)."""
    import polars as pl

    return {name: getattr(pl, dtype)() for name, dtype in FINDINGS_COLUMNS.items()}


@dataclass(repr=False)
class Report:
    """All runs of one invocation.

    In a notebook the report shows itself inline (:meth:`_repr_html_`, the HTML report in a sandboxed
    frame); :meth:`to_html`, :meth:`to_json`, :meth:`to_markdown` and :meth:`to_text` give the
    command line's formats, :meth:`findings_frame` one polars row per finding.
    """

    runs: list[RunReport] = field(default_factory=list)

    def findings(self) -> list[tuple[RunReport, Finding]]:
        """Every finding with its run, in run order."""
        return [(r, f) for r in self.runs for f in r.findings]

    def max_severity(self) -> str | None:
        """The most severe finding's severity, or None without findings."""
        sev = [f.severity for _, f in self.findings()]
        return max(sev, key=SEVERITY_RANK.__getitem__) if sev else None

    def to_dict(self) -> dict[str, Any]:
        """The schema v1 JSON report as Python objects."""
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "trainlog-doctor", "version": __version__},
            "runs": [r.to_dict() for r in self.runs],
        }

    def __repr__(self) -> str:
        status = {s: sum(r.status == s for r in self.runs) for s in ("ok", "empty", "error")}
        sev = [f.severity for _, f in self.findings()]
        counts = ", ".join(f"{sev.count(s)} {s}" for s in ("error", "warning", "info") if s in sev)
        return (f"<Report: {len(self.runs)} run(s) ({status['ok']} ok, {status['empty']} empty, {status['error']} unreadable), "
                f"{len(sev)} finding(s){f' ({counts})' if counts else ''}>")

    def render(self, fmt: str) -> str:
        """The report in one of the command line's formats (``html``, ``json``, ``markdown``, ``text``, ...).

        The renderers live in the ``report`` layer above this one and are looked up by name when
        called, so the data model stays importable on its own.
        """
        formats = importlib.import_module("trainlog_doctor.report.formats")
        text: str = formats.render(self, fmt)
        return text

    def to_html(self) -> str:
        """The self-contained HTML report (one offline page; charts need the runs' views, kept by default)."""
        return self.render("html")

    def to_json(self) -> str:
        """The schema v1 JSON report, exactly as ``--format json`` writes it."""
        return self.render("json")

    def to_markdown(self) -> str:
        """The pull-request summary (``--format markdown``, at most 65,536 characters)."""
        return self.render("markdown")

    def to_text(self) -> str:
        """The terminal summary (``--format text``, no colour)."""
        return self.render("text")

    def _repr_html_(self) -> str:
        """The HTML report inline in Jupyter: in a sandboxed ``iframe`` (its styles and scripts stay inside)."""
        import html

        page = html.escape(self.to_html(), quote=True)
        return (f'<iframe srcdoc="{page}" sandbox="allow-scripts" title="trainlog-doctor report" '
                'style="width:100%;height:640px;border:1px solid #ccc"></iframe>')

    def findings_frame(self) -> pl.DataFrame:
        """One row per finding (columns :data:`FINDINGS_COLUMNS`): the run, what and where it is, its message,
        and the top-ranked cause and fix (their knowledge-base ids; null when none)."""
        rows = [
            {
                "run_id": r.run_id,
                "path": r.path,
                "code": f.code,
                "kind": f.kind,
                "severity": f.severity,
                "metric": f.metric,
                "split": f.split,
                "start_step": f.start_step,
                "end_step": f.end_step,
                "start_epoch": _num(f.start_epoch),
                "end_epoch": _num(f.end_epoch),
                "message": f.message,
                "top_cause": f.causes[0].id if f.causes else None,
                "top_fix": f.fixes[0].id if f.fixes else None,
            }
            for r, f in self.findings()
        ]
        import polars as pl

        schema = findings_schema()
        return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _num(v: float | None) -> float | int | None:
    if v is None:
        return None
    f = float(v)
    if not math.isfinite(f):
        return None
    return int(f) if f.is_integer() else round(f, 6)


def _jsonable(v: Any) -> Any:
    """Make evidence values strict-JSON safe (NaN/Inf become strings, numpy scalars become Python)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (int, float)):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return str(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return float(f"{v:.6g}")
    return str(v)
