"""The schema v1 JSON report (``--format json``)."""

from __future__ import annotations

import json

from trainlog_doctor.model.report import Report
from trainlog_doctor.report.formats import OutputFormat


def render_json(report: Report) -> str:
    """Strict JSON (no NaN tokens), stable key order, one trailing newline."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


FORMAT = OutputFormat("json", (".json",), render_json)
