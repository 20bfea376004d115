"""Short terminal summary (``--format text``), optionally coloured, and its helpers for the terminal.

Colour is ANSI styling from Click added after the text was made safe (log-derived names never carry
escape sequences); the caller decides when (a terminal, ``NO_COLOR``, ``FORCE_COLOR``).
"""

from __future__ import annotations

import click

from trainlog_doctor.model.report import SEVERITY_RANK, Finding, Report, RunReport
from trainlog_doctor.report.formats import OutputFormat

#: How each severity and run status is styled on a colour terminal (Click ``style`` keywords).
STYLES: dict[str, dict[str, object]] = {
    "error": {"fg": "red", "bold": True},
    "warning": {"fg": "yellow"},
    "info": {"fg": "cyan"},
    "clean": {"fg": "green"},
    "unreadable": {"fg": "red"},
    "head": {"bold": True},
    "code": {"bold": True},
    "dim": {"dim": True},
}


def paint(text: str, style: str, color: bool) -> str:
    """``text`` in the named style of :data:`STYLES` when ``color``, else unchanged."""
    return click.style(text, **STYLES[style]) if color else text  # type: ignore[arg-type]


def _clean(s: object, limit: int = 300) -> str:
    """Log-derived text made safe for a terminal: no control characters or escape sequences, bounded length."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(s))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _no_workflow_command(line: str) -> str:
    """Defuse what a CI runner executes: a line starting with ``::`` (after whitespace) is a workflow
    command, and ``##[...]`` anywhere in a line is the runner's legacy command form."""
    line = line.replace("##[", "# #[")
    stripped = line.lstrip()
    if stripped.startswith("::"):
        return line[: len(line) - len(stripped)] + ": :" + stripped[2:]
    return line


def terminal_line(s: object, limit: int = 2000) -> str:
    """One line of text that may hold log-derived names, safe for a terminal and a CI log: control
    characters and escape sequences become ``?``, workflow commands are defused, length is bounded."""
    return _no_workflow_command(_clean(s, limit))


def _epoch(e: float) -> str:
    return str(int(e)) if float(e).is_integer() else f"{e:.2f}"


def _where(f) -> str:  # type: ignore[no-untyped-def]
    if f.start_epoch is not None:
        end = f" to {_epoch(f.end_epoch)}" if f.end_epoch is not None and f.end_epoch != f.start_epoch else ""
        return f"epoch {_epoch(f.start_epoch)}{end}"
    if f.start_step is not None:
        end = f" to {f.end_step}" if f.end_step is not None and f.end_step != f.start_step else ""
        return f"step {f.start_step}{end}"
    return "whole run"


def _onset(f: Finding) -> str:
    """Where a finding starts, for a one-line location: ``epoch 3.41``, ``step 140``, or empty (whole run)."""
    if f.start_epoch is not None:
        return f"epoch {_epoch(f.start_epoch)}"
    return f"step {f.start_step}" if f.start_step is not None else ""


def _title(text: str) -> str:
    """The headline of a knowledge-base entry ("Title: explanation" -> "Title")."""
    head, sep, _ = text.partition(": ")
    return head if sep and len(head) <= 80 else text


def _cite(sources: list[str]) -> str:
    """The first source document, and how many more (the full list is in the JSON and HTML reports)."""
    if not sources:
        return ""
    more = f" +{len(sources) - 1}" if len(sources) > 1 else ""
    return f"[{_clean(sources[0])}{more}]"


def render_text(report: Report, *, causes: int = 2, color: bool = False) -> str:
    """One block per run: status, then each finding with where, message and the top causes and fix."""
    lines: list[str] = []
    for run in report.runs:
        lines.extend(_run_block(run, causes, color))
    lines.append("")
    lines.append(summary_line(report, color))
    return "\n".join(_no_workflow_command(line) for line in lines) + "\n"


def _run_block(run: RunReport, causes: int, color: bool) -> list[str]:
    head = paint(_clean(run.run_id), "head", color) + f"  [{run.format or '?'}]"
    if run.status != "ok":
        return [f"{head}  {paint(run.status.upper(), 'unreadable', color)}: {_clean(run.error or '')}"]
    if not run.findings:
        return [f"{head}  {paint('clean', 'clean', color)} ({len(run.series)} series)",
                *(f"  note: {_clean(n)}" for n in run.notes[:3])]
    lines = [f"{head}  {len(run.findings)} finding(s)  {paint(_clean(run.path), 'dim', color)}"]
    incidents = sorted(run.incidents, key=lambda inc: -max(SEVERITY_RANK[f.severity] for f in inc.findings))
    for inc in incidents:
        f = inc.primary
        lines.append(_finding_line(f, color, indent="  "))
        for r in inc.related:
            lines.append(_finding_line(r, color, indent="    + "))
        for c in f.causes[:causes]:
            lines.append(f"          cause: {_clean(_title(c.text))} {_cite(c.source_labels)}")
        if f.fixes:
            fix = f.fixes[0]
            lines.append(f"          fix:   {_clean(_title(fix.text))} {_cite(fix.source_labels)}")
            if fix.derived and "value" in fix.derived:
                d = fix.derived
                lines.append(f"                 for this run: {_clean(d.get('value'), 60)} {_clean(d.get('unit') or '', 40)} "
                             f"({_clean(d.get('how') or '', 200)})".rstrip())  # fmt: skip
    lines.extend(f"  note: {_clean(w)}" for w in run.warnings[:3])
    lines.extend(f"  note: {_clean(n)}" for n in run.notes[:3])
    return lines


def _finding_line(f: Finding, color: bool, indent: str) -> str:
    return (f"{indent}{paint(f'{f.severity:<7}', f.severity, color)} {paint(f.code, 'code', color)} {f.kind:<11} "
            f"{_clean(f.split)}/{_clean(f.metric)} at {_where(f)}: {_clean(f.message)}")


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    """How many findings of each severity, most severe first."""
    return {sev: sum(f.severity == sev for f in findings) for sev in ("error", "warning", "info")}


def summary_line(report: Report, color: bool = False) -> str:
    """The last line: runs read fine, empty and unreadable, then the findings by severity."""
    counts = severity_counts([f for _, f in report.findings()])
    ok = sum(r.status == "ok" for r in report.runs)
    empty = sum(r.status == "empty" for r in report.runs)
    bad = sum(r.status == "error" for r in report.runs)
    found = ", ".join(paint(f"{n} {sev}(s)", sev, color and n > 0) for sev, n in counts.items() if sev != "info" or n)
    return f"{len(report.runs)} run(s): {ok} ok, {empty} empty, {bad} unreadable; {found}"


def concise_lines(report: Report, color: bool = False) -> list[str]:
    """One line per finding in the style of ruff: ``path:epoch 3.41: DV001 [error] train/loss: message``.

    The path is the run's file or directory (with ``#2`` for the second run appended to one file);
    unreadable and empty runs get one line each, so every run that is not clean is on the list.
    """
    lines: list[str] = []
    for run in report.runs:
        where = _clean(run.path) + _run_suffix(run)
        if run.status != "ok":
            lines.append(f"{where}: {paint(run.status, 'unreadable', color)}: {_clean(run.error or '')}")
            continue
        for f in sorted(run.findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.start_step or 0)):
            at = _onset(f)
            lines.append(
                f"{where}:{at + ':' if at else ''} {paint(f.code, 'code', color)} [{paint(f.severity, f.severity, color)}] "
                f"{_clean(f.split)}/{_clean(f.metric)}: {_clean(f.message)}"
            )
    return lines


def _run_suffix(run: RunReport) -> str:
    """``#2`` when the run is the second (third ...) run appended to one file, else empty."""
    head, sep, tail = run.run_id.rpartition("#")
    return f"#{tail}" if sep and head and tail.isdigit() else ""


def render_concise(report: Report, *, color: bool = False) -> str:
    """``--format concise``: :func:`concise_lines`, then a line counting the findings (ruff's "Found N")."""
    lines = concise_lines(report, color)
    counts = severity_counts([f for _, f in report.findings()])
    total = sum(counts.values())
    detail = ", ".join(f"{n} {sev}" for sev, n in counts.items() if n)
    with_findings = sum(bool(r.findings) for r in report.runs)
    tail = f"Found {total} finding(s) ({detail}) in {with_findings} of {len(report.runs)} run(s)." if total else (
        f"No findings in {len(report.runs)} run(s).")
    return "\n".join(_no_workflow_command(line) for line in [*lines, tail]) + "\n"


FORMAT = OutputFormat("text", (".txt",), render_text, supports_color=True)
