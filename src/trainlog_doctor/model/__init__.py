"""Data contracts only, importing nothing of the project: the frame schema, findings, reports, kinds.

Every other layer imports from here; this package imports from none of them.
"""

from __future__ import annotations

from trainlog_doctor.model.frame import COLUMNS, SCHEMA, SPLITS, conform, empty_frame, from_columns
from trainlog_doctor.model.kinds import KINDS
from trainlog_doctor.model.report import (
    SCHEMA_VERSION,
    SEVERITY_RANK,
    Finding,
    Reference,
    Report,
    RunReport,
    SeriesInfo,
    Severity,
    Status,
)
from trainlog_doctor.model.version import __version__

__all__ = [
    "COLUMNS",
    "KINDS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SEVERITY_RANK",
    "SPLITS",
    "Finding",
    "Reference",
    "Report",
    "RunReport",
    "SeriesInfo",
    "Severity",
    "Status",
    "__version__",
    "conform",
    "empty_frame",
    "from_columns",
]
