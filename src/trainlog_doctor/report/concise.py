"""One line per finding (``--format concise``), in the style of ruff: ``path:epoch 3.41: DV001 [error] ...``."""

from __future__ import annotations

from trainlog_doctor.report.formats import OutputFormat
from trainlog_doctor.report.text import render_concise

FORMAT = OutputFormat("concise", (), render_concise, supports_color=True)
