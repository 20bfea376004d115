"""The JSON report (schema v1, a contract) as dataclasses."""

from __future__ import annotations

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
    """A cause or a fix from the knowledge base, as attached to a finding."""

    id: str
    text: str
    sources: list[str] = field(default_factory=list)
    score: float | None = None
    why: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text, "sources": list(self.sources)}
        if self.score is not None:
            out["score"] = round(float(self.score), 3)
        if self.why:
            out["why"] = list(self.why)
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

    def to_dict(self) -> dict[str, Any]:
        return {
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
            "notes": list(self.notes),
        }


@dataclass
class Report:
    """All runs of one invocation."""

    runs: list[RunReport] = field(default_factory=list)

    def findings(self) -> list[tuple[RunReport, Finding]]:
        return [(r, f) for r in self.runs for f in r.findings]

    def max_severity(self) -> str | None:
        sev = [f.severity for _, f in self.findings()]
        return max(sev, key=SEVERITY_RANK.__getitem__) if sev else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "trainlog-doctor", "version": __version__},
            "runs": [r.to_dict() for r in self.runs],
        }


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
