"""Reasons an audit cannot run at all, found before any run is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class AuditError(Exception):
    """A one-line reason the audit cannot run at all (bad output directory, bad rule selector)."""


class OutputWriteError(AuditError):
    """The audit's output files could not be written (disk full, read-only, permission denied)."""


def check_output(root: Path, out_dir: Path) -> None:
    """Refuse an output that is inside the input or that would put ``runs/`` over the input."""
    src = root.resolve()
    out = out_dir.resolve()
    if out == src or out.is_relative_to(src):
        raise AuditError(f"refusing to write {out_dir} inside the input {root}; choose an --output elsewhere")
    runs = (out / "runs").resolve()  # a runs/ that is a link into the input counts as the input
    if src.is_relative_to(runs) or runs == src or runs.is_relative_to(src):
        raise AuditError(f"refusing to write {out_dir}: its runs/ folder would overlap the input {root}")
    if out.exists() and not out.is_dir():
        raise AuditError(f"{out_dir} exists and is not a directory")


def check_options(options: dict[str, Any]) -> None:
    """Refuse ``select``/``ignore`` rule selectors that name no rule."""
    if not options.get("select") and not options.get("ignore"):
        return
    from trainlog_doctor.rules import select_rules

    try:
        select_rules(options.get("select"), options.get("ignore"))
    except ValueError as exc:
        raise AuditError(str(exc)) from None
