"""Log-derived text made inert once, where a run's report is built: no control characters anywhere.

Run ids, paths, metric and split names, meta strings, warnings and messages all come from files
anyone can shape. C0 and C1 control characters (except tab), DEL, the Unicode line and paragraph
separators and the bidirectional overrides (which make a terminal or a CI log show other text than
it holds) become U+FFFD in every format; renderers keep their own escaping on top of this.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

#: The characters replaced (tab is kept: harmless in every format, and a real separator in names).
_CONTROLS = "\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
CONTROL_RE = re.compile(f"[{_CONTROLS}]")
#: The same, keeping line feeds (multi-line meta values: a config file's text).
CONTROL_BUT_LF_RE = re.compile(f"[{_CONTROLS.replace(chr(10) + '-', chr(11) + '-')}]")
#: The same class for polars (Rust regex syntax).
POLARS_CONTROL = r"[\x00-\x08\x0A-\x1F\x7F-\x{9F}\x{2028}\x{2029}\x{202A}-\x{202E}\x{2066}-\x{2069}]"
REPLACEMENT = "\ufffd"


def clean_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character replaced by U+FFFD (line feeds kept with ``keep_newlines``)."""
    pattern = CONTROL_BUT_LF_RE if keep_newlines else CONTROL_RE
    return pattern.sub(REPLACEMENT, text) if pattern.search(text) else text


def clean_value(value: Any) -> Any:
    """``value`` with :func:`clean_text` applied to every string in it, depth-first: dict keys become one
    line, string values keep their line feeds (a config text in the meta); CRLF counts as one line feed."""
    if isinstance(value, str):
        return clean_text(value.replace("\r\n", "\n"), keep_newlines=True)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clean_value(v) for v in value)
    return value


def clean_frame_names(frame: pl.DataFrame) -> pl.DataFrame:
    """The normalized frame with control characters replaced in its text columns (run_id, source, metric, split).

    Only columns that hold a control character are rewritten (a frame is loaded, so polars is too)."""
    import polars as pl

    cols = [c for c in ("run_id", "source", "metric", "split") if c in frame.columns and frame.schema[c] == pl.Utf8]
    if not cols or frame.height == 0:
        return frame
    dirty = frame.select(pl.col(c).str.contains(POLARS_CONTROL).any() for c in cols).row(0)
    cols = [c for c, has in zip(cols, dirty) if has]
    return frame.with_columns(pl.col(c).str.replace_all(POLARS_CONTROL, REPLACEMENT) for c in cols) if cols else frame


def clean_run(run: Any) -> Any:
    """A :class:`~trainlog_doctor.model.report.RunReport` made inert in place (and returned): its id,
    path, error, warnings, notes, meta, series names and findings' names, messages and evidence."""
    run.run_id = clean_text(run.run_id)
    run.path = clean_text(run.path)
    if run.error is not None:
        run.error = clean_text(run.error)
    run.warnings = [clean_text(w) for w in run.warnings]
    run.notes = [clean_text(n) for n in run.notes]
    run.meta = clean_value(run.meta)
    for s in run.series:
        s.metric, s.split = clean_text(s.metric), clean_text(s.split)
    for f in run.findings:
        f.metric, f.split, f.message = clean_text(f.metric), clean_text(f.split), clean_text(f.message)
        f.evidence = clean_value(f.evidence)
    return run
