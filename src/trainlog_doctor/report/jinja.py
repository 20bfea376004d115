"""The one Jinja2 environment of the HTML outputs (report pages and the audit index), and their inline assets.

Autoescaping is on for every template: names, tags and messages from logs are untrusted input.
Undefined template variables are errors, not empty strings.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import jinja2
from markupsafe import Markup

from trainlog_doctor.report.numfmt import fmt_num

__all__ = ["environment", "ChartAssets", "chart_assets", "UPLOT_VERSION"]

UPLOT_VERSION = "1.6.32"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment, loading templates from ``report/templates``."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trainlog_doctor", "report/templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["fmtnum"] = fmt_num
    return env


@dataclass(frozen=True)
class ChartAssets:
    """The scripts and styles a page with interactive charts inlines, and the CSP sources that allow them."""

    scripts: tuple[Markup, ...]
    style: Markup
    script_src: Markup  # the CSP ``script-src`` sources: one sha256 hash per inline script


def _package_text(*parts: str) -> str:
    return resources.files("trainlog_doctor").joinpath("report", *parts).read_text(encoding="utf-8")


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@lru_cache(maxsize=1)
def chart_assets() -> ChartAssets:
    """uPlot (vendored, with its licence as a comment) and the report's chart code, ready to inline.

    The upstream banner comment (a URL) is dropped; the scripts are package files, never log text,
    and the page's Content-Security-Policy allows exactly these scripts by hash.
    """
    licence = _package_text("vendor", "LICENSE").replace("*/", "* /").strip()
    uplot = _package_text("vendor", "uPlot.iife.min.js")
    if uplot.startswith("/*!"):
        uplot = uplot[uplot.index("*/") + 2 :].lstrip("\n")
    lib = f"/* uPlot {UPLOT_VERSION}\n{licence}\n*/\n{uplot}"
    app = _package_text("templates", "report_charts.js")
    for text in (lib, app):
        if "</script" in text.lower() or "<!--" in text:
            raise ValueError("an inline script must not contain </script or <!--")
    style = _package_text("vendor", "uPlot.min.css")
    if "</style" in style.lower():
        raise ValueError("an inline style must not contain </style")
    return ChartAssets(
        scripts=(Markup(lib), Markup(app)),
        style=Markup(style),
        script_src=Markup(" ".join(_csp_hash(s) for s in (lib, app))),  # base64 and quotes only
    )
