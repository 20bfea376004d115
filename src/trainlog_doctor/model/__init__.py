"""Data contracts only, importing nothing of the project: the frame schema, findings, reports, kinds.

Every other layer imports from here; this package imports from none of them. Names are loaded on
first use, so ``trainlog_doctor.model.version`` (read by ``--help``) does not pull in polars.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Each public name and the submodule that defines it.
_HOME: dict[str, str] = {
    **dict.fromkeys(("COLUMNS", "SCHEMA", "SPLITS", "conform", "empty_frame", "from_columns"), "frame"),
    "KINDS": "kinds",
    **dict.fromkeys(
        ("SCHEMA_VERSION", "SEVERITY_RANK", "Finding", "Reference", "Report", "RunReport", "SeriesInfo", "Severity", "Status"),
        "report",
    ),
    "__version__": "version",
}

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


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
