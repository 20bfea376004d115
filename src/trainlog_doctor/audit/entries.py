"""What the audit keeps of each run (an index entry) and of the whole batch (the result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AuditEntry:
    """What the index needs of one run.

    ``run`` is the run's JSON report without series, meta, evidence, causes and fixes (see
    :func:`slim_run`); the whole report is in ``runs/<report>`` (``report`` is None only when that
    file could not be written, and then ``run`` is the whole report).
    """

    run: dict[str, Any]
    page: str | None
    report: str | None = None
    spark: dict[str, str] = field(default_factory=dict)  # SVG polyline points of the loss sketch: train, val
    final: dict[str, float] = field(default_factory=dict)
    write_error: str | None = None  # why the page or report could not be written (never cached then)


@dataclass
class AuditResult:
    """The entries in index order and what it took to get them."""

    entries: list[AuditEntry]
    analyzed: int
    cached: int
    seconds: float
    warnings: list[str]
    workers: int = 1
    crashed: int = 0
    peak_rss_mb: float = 0.0  # this process
    worker_peak_rss_mb: float = 0.0  # the largest worker (0 when the audit ran in this process)
    write_failures: int = 0  # runs whose page or report could not be written (disk full, permission)


#: What an index entry keeps of a finding (causes, fixes and evidence stay in the per-run report).
_FINDING_KEYS = ("code", "kind", "severity", "metric", "split", "start_step", "end_step", "start_epoch",
                 "end_epoch", "message")


def slim_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run's JSON report reduced to what the index and exit codes need (ids, status, findings' heads)."""
    return {
        "run_id": run["run_id"],
        "path": run["path"],
        "format": run.get("format"),
        "status": run["status"],
        "error": run.get("error"),
        "warnings": list(run.get("warnings", []))[:5],
        "findings": [{k: f.get(k) for k in _FINDING_KEYS} for f in run.get("findings", [])],
    }
