"""Short terminal summary (``--format text``)."""

from __future__ import annotations

from trainlog_doctor.model.report import SEVERITY_RANK, Report
from trainlog_doctor.report.formats import OutputFormat


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


def render_text(report: Report, *, causes: int = 2) -> str:
    """One block per run: status, then each finding with where, message and the top causes and fix."""
    lines: list[str] = []
    n_err = n_warn = 0
    for run in report.runs:
        head = f"{_clean(run.run_id)}  [{run.format or '?'}]"
        if run.status != "ok":
            lines.append(f"{head}  {run.status.upper()}: {_clean(run.error or '')}")
            continue
        if not run.findings:
            lines.append(f"{head}  clean ({len(run.series)} series)")
            lines.extend(f"  note: {_clean(n)}" for n in run.notes[:3])
            continue
        lines.append(f"{head}  {len(run.findings)} finding(s)")
        for f in sorted(run.findings, key=lambda f: -SEVERITY_RANK[f.severity]):
            n_err += f.severity == "error"
            n_warn += f.severity == "warning"
            lines.append(
                f"  {f.severity:<7} {f.code} {f.kind:<11} {_clean(f.split)}/{_clean(f.metric)} "
                f"at {_where(f)}: {_clean(f.message)}"
            )
            for c in f.causes[:causes]:
                lines.append(f"          cause: {_clean(_title(c.text))} {_cite(c.sources)}")
            if f.fixes:
                lines.append(f"          fix:   {_clean(_title(f.fixes[0].text))} {_cite(f.fixes[0].sources)}")
        for w in run.warnings[:3]:
            lines.append(f"  note: {_clean(w)}")
        lines.extend(f"  note: {_clean(n)}" for n in run.notes[:3])
    ok = sum(r.status == "ok" for r in report.runs)
    lines.append("")
    lines.append(
        f"{len(report.runs)} run(s): {ok} ok, {sum(r.status == 'empty' for r in report.runs)} empty, "
        f"{sum(r.status == 'error' for r in report.runs)} unreadable; {n_err} error(s), {n_warn} warning(s)"
    )
    return "\n".join(_no_workflow_command(line) for line in lines) + "\n"


FORMAT = OutputFormat("text", (".txt",), render_text)
