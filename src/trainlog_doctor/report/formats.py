"""The output formats, found by attribute: every renderer module declares one :class:`OutputFormat`.

A renderer module of this package sets ``FORMAT = OutputFormat(name, extensions, render)``; adding a
format is one such module and its name in :data:`FORMAT_MODULES`. The modules are imported on first
use, and each keeps its heavy imports (numpy, the chart geometry, Jinja) inside its render function,
so listing the formats for ``--help`` or writing text never loads the HTML machinery.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from trainlog_doctor.model.report import Report

__all__ = ["FORMAT_MODULES", "OutputFormat", "format_for_extension", "format_names", "get_format", "render"]

#: The format names, in --help order; each is also its module in trainlog_doctor.report.
FORMAT_MODULES = ("text", "concise", "json", "markdown", "github", "html")


@dataclass(frozen=True)
class OutputFormat:
    """One output format: its ``--format`` name, the ``--output`` extensions that choose it, its renderer.

    ``needs_view`` is true when the renderer reads the runs' series (``RunReport.view``), so the
    analysis has to keep them; ``supports_color`` when ``render`` takes ``color=True`` (ANSI styles for a terminal).
    """

    name: str
    extensions: tuple[str, ...]
    render: Callable[..., str]
    needs_view: bool = False
    supports_color: bool = False


@cache
def get_format(name: str) -> OutputFormat:
    """The format called ``name``, its module imported on first use (KeyError when there is none).

    Each format lives in the module of the same name (``--format json``: ``report/json.py``), so the
    names are known without importing any renderer (``--help`` stays light).
    """
    if name not in FORMAT_MODULES:
        raise KeyError(name)
    fmt: OutputFormat = importlib.import_module(f"trainlog_doctor.report.{name}").FORMAT
    if fmt.name != name:
        raise ValueError(f"report/{name}.py defines the format {fmt.name!r}; a format lives in the module of its name")
    return fmt


def _formats() -> dict[str, OutputFormat]:
    return {name: get_format(name) for name in FORMAT_MODULES}


def format_names() -> tuple[str, ...]:
    """The names of the output formats, in the order of :data:`FORMAT_MODULES` (no renderer imported)."""
    return FORMAT_MODULES


def format_for_extension(extension: str) -> str | None:
    """The name of the format an output file with ``extension`` (``.md``, ``.HTML``) gets, if any."""
    ext = extension.lower()
    return next((f.name for f in _formats().values() if ext in f.extensions), None)


def render(report: Report, name: str, *, color: bool = False) -> str:
    """``report`` in the format called ``name`` (styled for a colour terminal when ``color`` and the format can)."""
    fmt = get_format(name)
    return fmt.render(report, color=True) if color and fmt.supports_color else fmt.render(report)
