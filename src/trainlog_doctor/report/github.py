"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` annotation per finding.

GitHub shows at most 10 error and 10 warning annotations per step (50 per job), so the most severe
come first, each kind is capped, and one final notice counts what was left out.
"""

from __future__ import annotations

import os
from pathlib import Path

from trainlog_doctor.model.clean import clean_text
from trainlog_doctor.model.report import SEVERITY_RANK, Finding, Report, RunReport
from trainlog_doctor.report.formats import OutputFormat

__all__ = ["FORMAT", "render_github", "escape_data", "escape_property", "MAX_PER_LEVEL"]

LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
MAX_PER_LEVEL = {"error": 10, "warning": 10, "notice": 9}  # + 1 summary notice
MAX_MESSAGE = 1500


def escape_data(text: object) -> str:
    """Escape a workflow-command message: ``%``, CR and LF; other control characters (terminal
    escapes) become U+FFFD and the runner's legacy ``##[`` command form is broken up."""
    line = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return clean_text(line).replace("##[", "# #[")


def escape_property(text: object) -> str:
    """Escape a workflow-command property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rel(path: str, cwd: str) -> str:
    """``path`` relative to ``cwd`` when it lies inside it (GitHub matches repository-relative paths)."""
    try:
        p = Path(path)
        absolute = p if p.is_absolute() else Path(cwd) / p
        rel = os.path.relpath(absolute, cwd)
    except (ValueError, OSError):
        return path
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        return path
    return rel.replace(os.sep, "/")


def _source_file(run: RunReport, f: Finding) -> str:
    """The file the finding's series came from (a run directory holds several), else the run path."""
    frame = run.frame
    if frame is not None and frame.height and "source" in frame.columns:
        import polars as pl  # a frame exists, so polars is loaded already

        try:
            src = (
                frame.filter((pl.col("metric") == f.metric) & (pl.col("split") == f.split))
                .select(pl.col("source").drop_nulls().first())
                .item()
            )
        except Exception:  # noqa: BLE001 - fall back to the run path
            src = None
        if src:
            return str(src)
    return run.path


def _where(f: Finding) -> str:
    if f.start_epoch is not None:
        end = f"–{f.end_epoch:.4g}" if f.end_epoch is not None and f.end_epoch != f.start_epoch else ""
        return f"epoch {f.start_epoch:.4g}{end}"
    if f.start_step is not None:
        end = f"–{f.end_step}" if f.end_step is not None and f.end_step != f.start_step else ""
        return f"step {f.start_step}{end}"
    return "whole run"


def _head(text: str) -> str:
    return text.partition(": ")[0] if ": " in text else text


def _finding_command(run: RunReport, f: Finding, cwd: str, related: list[Finding] | None = None) -> tuple[str, str]:
    """One annotation for an incident: its primary finding ``f`` and the ``related`` findings of the same story."""
    related = related or []
    worst = max([f, *related], key=lambda x: SEVERITY_RANK.get(x.severity, 0))
    level = LEVEL.get(worst.severity, "notice")
    title = _clip(f"{f.code} {f.kind}: {run.run_id} ({f.split}/{f.metric})", 200)
    lines = [f"{f.message}", f"Where: {_where(f)} in {run.run_id}"]
    if related:
        lines.append("Same incident: " + "; ".join(f"{r.code} {r.kind} {r.split}/{r.metric} at {_where(r)}" for r in related[:6]))
    if f.causes:
        c = f.causes[0]
        lines.append(f"Likely cause: {_head(c.text)}" + (f" [{'; '.join(c.source_labels[:2])}]" if c.sources else ""))
    if f.undecided:
        lines.append(f.undecided)
    if f.fixes:
        x = f.fixes[0]
        d = x.derived
        num = f" (for this run: {d['value']} {d.get('unit', '')}: {d.get('how', '')})" if d and "value" in d else ""
        lines.append(f"Try: {_head(x.text)}{num}" + (f" [{'; '.join(x.source_labels[:2])}]" if x.sources else ""))
    if f.practice:
        p = f.practice[0]
        lines.append(f"General practice: {_head(p.text)}" + (f" [{p.references[0]}]" if p.references else ""))
    message = _clip("\n".join(_clip(line, 600) for line in lines), MAX_MESSAGE)
    file = _rel(_source_file(run, f), cwd)
    return level, f"::{level} file={escape_property(file)},title={escape_property(title)}::{escape_data(message)}"


def _run_command(run: RunReport, cwd: str) -> str:
    what = "unreadable log" if run.status == "error" else "empty log"
    title = _clip(f"trainlog-doctor: {what}: {run.run_id}", 200)
    reason = _clip(run.error or ("no scalar data" if run.status == "empty" else "cannot be read"), MAX_MESSAGE)
    return (f"::warning file={escape_property(_rel(run.path, cwd))},title={escape_property(title)}"
            f"::{escape_data(f'{run.run_id}: {reason}')}")  # fmt: skip


def render_github(report: Report, *, cwd: str | None = None) -> str:
    """Workflow commands for every incident (its primary finding, the related ones named inside) and
    unreadable run, worst first, within GitHub's display limits.

    ``file=`` is the log path relative to ``cwd`` (default: the current directory) when it lies inside it.
    """
    cwd = cwd or os.getcwd()
    items: list[tuple[int, int, str]] = []  # (severity rank, order, command)
    order = 0
    for run in report.runs:
        for inc in run.incidents:
            level, cmd = _finding_command(run, inc.primary, cwd, inc.related)
            items.append((max(SEVERITY_RANK.get(x.severity, 0) for x in inc.findings), order, cmd))
            order += 1
    for run in report.runs:  # after the finding warnings, so a pile of broken files cannot hide them
        if run.status != "ok":
            items.append((1, order, _run_command(run, cwd)))
            order += 1
    items.sort(key=lambda t: (-t[0], t[1]))
    shown: list[str] = []
    used = {"error": 0, "warning": 0, "notice": 0}
    hidden = {"error": 0, "warning": 0, "notice": 0}
    for rank, _, cmd in items:
        level = {2: "error", 1: "warning"}.get(rank, "notice")
        if used[level] < MAX_PER_LEVEL[level]:
            used[level] += 1
            shown.append(cmd)
        else:
            hidden[level] += 1
    if any(hidden.values()):
        parts = [f"{n} {name}{'' if n == 1 else 's'}" for name, n in hidden.items() if n]
        total_runs = len(report.runs)
        msg = (f"{', '.join(parts)} not shown as annotations (GitHub shows at most 10 errors and 10 warnings "
               f"per step); {len(items)} in all across {total_runs} run(s). Use --format html or markdown "
               f"for the full report.")  # fmt: skip
        shown.append(f"::notice title={escape_property('trainlog-doctor: more findings')}::{escape_data(msg)}")
    return "".join(line + "\n" for line in shown)


FORMAT = OutputFormat("github", (), render_github, needs_view=True)
