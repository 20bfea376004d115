"""The audit's output files: per-run pages and reports, ``summary.json``, ``index.html``.

Every file is written to a new, exclusively created temporary sibling and renamed into place
(:mod:`trainlog_doctor.report.files`: a link or file planted at the path is replaced, never written
through). Text is UTF-8; lone surrogates (from file names that are not UTF-8) are written as ``\\xNN``
escapes.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainlog_doctor.audit.entries import AuditEntry
from trainlog_doctor.audit.units import PAGE_RE
from trainlog_doctor.report.files import replace_text, replacing


def _escape_surrogates(exc: UnicodeError) -> tuple[str, int]:
    r"""Encoding error handler: a byte that was not UTF-8 in a file name (``\udcff``) is written ``\xff``.

    The same text :func:`trainlog_doctor.readers.base.display_path` gives for such a name.
    """
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}" for c in bad), exc.end


#: The encoding error handler of every text the audit writes.
UTF8_ERRORS = "trainlog_doctor.escape_surrogates"
codecs.register_error(UTF8_ERRORS, _escape_surrogates)


def utf8_safe(text: str) -> str:
    r"""``text`` as it reads back from an audit output file (lone surrogates written as ``\xNN`` escapes)."""
    return text.encode("utf-8", UTF8_ERRORS).decode("utf-8")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling."""
    replace_text(path, text, errors=UTF8_ERRORS)


def strict_json(obj: Any) -> str:
    """``obj`` as strict JSON (non-finite floats become "NaN", "Infinity", "-Infinity" strings)."""
    try:
        return json.dumps(obj, allow_nan=False, ensure_ascii=False)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False, ensure_ascii=False)


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def write_summary(path: Path, entries: Sequence[AuditEntry]) -> None:
    """summary.json (schema v1), stitched run by run from the per-run reports."""
    from trainlog_doctor.model.report import Report

    head = Report().to_dict()
    with replacing(path, errors=UTF8_ERRORS) as fh:
        fh.write(f'{{"schema_version": {head["schema_version"]:d}, "tool": {json.dumps(head["tool"])}, "runs": [')
        for k, e in enumerate(entries):
            fh.write(",\n" if k else "\n")
            fh.write(strict_json(_full_run(path.parent / "runs", e)))
        fh.write("\n]}\n")


def _full_run(runs_dir: Path, entry: AuditEntry) -> dict[str, Any]:
    """The whole JSON report of one run (from its per-run file; the slim entry if that is gone)."""
    if entry.report:
        try:
            runs = json.loads((runs_dir / entry.report).read_text(encoding="utf-8"))["runs"]
            if len(runs) == 1 and runs[0].get("run_id") == utf8_safe(entry.run["run_id"]):
                return dict(runs[0])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return entry.run


def write_index_page(out_dir: Path, entries: Sequence[AuditEntry], root: Path, seconds: float) -> None:
    """``index.html``: one sortable row per run (see :mod:`trainlog_doctor.report.audit_index`)."""
    from trainlog_doctor.report.audit_index import write_index

    with replacing(out_dir / "index.html", errors=UTF8_ERRORS) as fh:
        write_index(entries, fh, root=str(root), seconds=seconds)


def drop_stale_pages(runs_dir: Path, recorded: set[str], live: set[str]) -> None:
    """Delete the pages and reports the previous audit recorded writing that the new one no longer
    lists; any other file in ``runs/`` (a user's ``notes-20240101.html``) is left alone."""
    for name in sorted(recorded - live):
        if PAGE_RE.match(name):
            with contextlib.suppress(OSError):
                os.unlink(runs_dir / name)
