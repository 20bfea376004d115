"""The one Jinja2 environment of the HTML outputs (report pages and the audit index).

Autoescaping is on for every template: names, tags and messages from logs are untrusted input.
Undefined template variables are errors, not empty strings.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2

from trainlog_doctor.report.numfmt import fmt_num


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
