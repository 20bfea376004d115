"""Markdown report for a pull-request comment: a summary, a table of runs and one collapsible block per run.

The output never exceeds ``max_chars`` (GitHub rejects comments over 65,536 characters): details of
clean runs go first, then the least severe runs are left out with a note saying how many.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from trainlog_doctor.model.report import SEVERITY_RANK, Finding, Incident, Reference, Report, RunReport
from trainlog_doctor.report.formats import OutputFormat

if TYPE_CHECKING:
    from trainlog_doctor.run import Series

__all__ = ["FORMAT", "render_markdown", "md_text", "html_text", "main_series", "sparkline"]

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 32
MAX_FINDINGS_PER_RUN = 10  # incident cards per run
MAX_RELATED = 5  # related findings listed inside one card
ICON = {"error": "🔴", "warning": "🟡", "info": "🔵"}
_MD_SPECIAL = set("\\`*_[]|~")


def _one_line(text: object, limit: int | None = None) -> str:
    """``text`` on one line (control characters become spaces); only the first ``limit`` + 1 characters are kept."""
    s = str(text)
    if limit is not None:
        s = s[: limit + 1]
    return "".join(ch if ch.isprintable() else " " for ch in s).strip()


def _clip(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: max(limit - 1, 0)] + "…"


def md_text(text: object, limit: int = 300) -> str:
    """A log-derived string made inert in Markdown (tables included): one line, clipped, escaped.

    HTML metacharacters become entities, Markdown punctuation is backslash-escaped (``|`` too, so
    table cells stay intact) and ``@`` cannot mention anyone.
    """
    s = _clip(_one_line(text, limit), limit)
    out = []
    for ch in s:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "@":
            out.append("&#64;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def html_text(text: object, limit: int = 300) -> str:
    """A log-derived string for raw HTML context (``<summary>``): one line, clipped, entity-escaped."""
    s = _clip(_one_line(text, limit), limit)
    return (
        s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        .replace("'", "&#39;").replace("@", "&#64;").replace("|", "&#124;").replace("`", "&#96;")
    )  # fmt: skip


def sparkline(values: Iterable[float], width: int = SPARK_WIDTH) -> str:
    """``values`` as Unicode blocks (▁..█), one per bucket of the series (its mean); ``×`` for all-NaN buckets.

    Log scale when the positive values span two decades or more. Empty input gives ``""``.
    """
    import numpy as np  # here, not at the top: listing the output formats stays cheap

    from trainlog_doctor.signals.transforms import should_use_log

    v = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64)
    if v.size == 0:
        return ""
    n = min(width, v.size)
    edges = np.linspace(0, v.size, n + 1).astype(np.int64)
    use_log = should_use_log(v, min_decades=2.0)
    buckets = []
    for a, b in zip(edges[:-1], edges[1:]):
        chunk = v[a:max(b, a + 1)]
        fin = chunk[np.isfinite(chunk)]
        if fin.size == 0:
            buckets.append(math.nan)
        else:
            buckets.append(float(np.mean(np.log10(fin))) if use_log else float(np.mean(fin)))
    arr = np.asarray(buckets)
    ok = np.isfinite(arr)
    if not ok.any():
        return "×" * n
    lo, hi = float(arr[ok].min()), float(arr[ok].max())
    # A range this small is float noise around a constant: draw it flat rather than magnify it.
    flat = hi - lo <= (1e-4 if use_log else 1e-4 * max(abs(lo), abs(hi), 1e-300))
    out = []
    for x in arr:
        if not math.isfinite(x):
            out.append("×")
        elif flat:
            out.append(BLOCKS[3])
        else:
            out.append(BLOCKS[min(7, int((x - lo) / (hi - lo) * 7 + 0.5))])
    return "".join(out)


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
    a = abs(v)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{v:.2e}"
    return f"{v:.4g}"


def _where(f: Finding) -> str:
    def span(a: float | int | None, b: float | int | None, unit: str) -> str | None:
        if a is None and b is None:
            return None
        if a is None or b is None or float(a) == float(b):
            return f"{unit} {float(a if a is not None else b):g}"  # type: ignore[arg-type]
        return f"{unit}s {float(a):g}–{float(b):g}"

    ep = span(f.start_epoch, f.end_epoch, "epoch")
    st = span(f.start_step, f.end_step, "step")
    if ep and st and not (f.start_epoch == f.start_step and f.end_epoch == f.end_step):
        return f"{ep} ({st})"
    return ep or st or "whole run"


def _counts(run: RunReport) -> tuple[int, int, int]:
    e = sum(f.severity == "error" for f in run.findings)
    w = sum(f.severity == "warning" for f in run.findings)
    return e, w, len(run.findings) - e - w


def _rank(run: RunReport) -> int:
    """Sort key, higher first: error findings, unreadable, warnings, notes or empty, clean."""
    if run.status == "error":
        return 3
    if run.status == "empty":
        return 1
    worst = run.worst
    if worst is None:
        return 0
    return {"error": 4, "warning": 2}.get(worst.severity, 1)


def _status(run: RunReport) -> str:
    if run.status == "error":
        return "⛔ unreadable"
    if run.status == "empty":
        return "⚪ empty"
    worst = run.worst
    if worst is None:
        return "✅ clean"
    return f"{ICON.get(worst.severity, '')} {worst.severity}"


def _row(run: RunReport) -> str:
    e, w, _ = _counts(run)
    worst = run.worst
    if run.status != "ok":
        what = md_text(run.error or run.status, 160)
    elif worst is not None:
        extra = f" (+{len(run.findings) - 1} more)" if len(run.findings) > 1 else ""
        what = f"`{md_text(worst.code, 12)}` {md_text(worst.kind, 30)}: {md_text(worst.message, 160)}{extra}"
    else:
        what = "no problems found"
    return f"| {md_text(run.run_id, 90)} | {_status(run)} | {what} | {e} | {w} |\n"


def _refs(refs: list[Reference], label: str, n: int) -> list[str]:
    lines = []
    for r in refs[:n]:
        title, sep, body = r.text.partition(": ")
        head = md_text(title, 100) if sep and len(title) <= 80 else md_text(r.text, 240)
        labels = r.source_labels or list(r.references)
        src = "; ".join(md_text(s, 140) for s in labels[:3])
        score = f" ({r.score:.2f})" if r.score is not None and math.isfinite(float(r.score)) else ""
        basis = " — no evidence either way in this log" if r.basis == "prior only" else ""
        lines.append(f"  - {label}: **{head}**{score}{basis}" + (f" — {src}" if src else "") + "\n")
        d = r.derived
        if d and "value" in d:
            lines.append(f"    - for this run: **{md_text(d.get('value'), 40)}** {md_text(d.get('unit', ''), 40)} "
                         f"({md_text(d.get('how', ''), 300)})\n")  # fmt: skip
    return lines


def _finding_line(f: Finding, bullet: str = "- ") -> str:
    return (f"{bullet}{ICON.get(f.severity, '')} **{md_text(f.severity, 10)}** `{md_text(f.code, 12)}` "
            f"{md_text(f.kind, 30)} · {md_text(f.split, 20)} {md_text(f.metric, 80)} · {md_text(_where(f), 80)}: "
            f"{md_text(f.message, 400)}\n")  # fmt: skip


def _incident_lines(inc: Incident) -> list[str]:
    """An incident's card: its primary finding with causes and fixes, the related findings inside."""
    f = inc.primary
    out = [_finding_line(f)]
    for r in inc.related[:MAX_RELATED]:
        out.append("  - also in this incident: " + _finding_line(r, bullet="").lstrip())
    if len(inc.related) > MAX_RELATED:
        out.append(f"  - … {len(inc.related) - MAX_RELATED} more related finding(s)\n")
    out.extend(_refs(f.causes, "cause", 2))
    if f.undecided:
        out.append(f"  - undecided: {md_text(f.undecided, 400)}\n")
    out.extend(_refs(f.fixes, "fix", 2))
    out.extend(_refs(f.practice, "general practice", 2))
    return out


def main_series(run: RunReport) -> list[Series]:
    """The series a compact summary shows: the primary loss and the main score, each in train and val."""
    view = run.view
    if view is None:
        return []
    loss = view.primary_loss or view.primary_loss_for("val")
    metrics = [s.metric for s in (loss, view.primary_score) if s is not None]
    return [view.series[(m, split)] for m in metrics for split in ("train", "val") if (m, split) in view.series]


def _spark_lines(run: RunReport) -> list[str]:
    lines = []
    for s in main_series(run):
        fin = s.values[s.finite]
        if len(s) < 2 or fin.size == 0:
            continue
        bad = len(s) - s.n_finite
        note = f", {bad} non-finite" if bad else ""
        lines.append(
            f"- `{sparkline(s.values)}` {md_text(s.split, 20)} {md_text(s.metric, 60)}: "
            f"{_fmt(float(fin[0]))} → {_fmt(float(fin[-1]))} (min {_fmt(float(fin.min()))}, "
            f"max {_fmt(float(fin.max()))}, {len(s)} points{note})\n"
        )
    return lines


def _details(run: RunReport) -> str:
    """One collapsible block for ``run``: its findings with causes and fixes, and sparklines."""
    e, w, i = _counts(run)
    counts = ", ".join(p for p in (f"{e} error(s)" if e else "", f"{w} warning(s)" if w else "",
                                   f"{i} note(s)" if i else "") if p) or "clean"  # fmt: skip
    if run.status != "ok":
        counts = run.status
    out = [f"<details><summary><b>{html_text(run.run_id, 120)}</b> — {html_text(counts, 60)}"
           f" <i>({html_text(run.format or 'unknown', 40)})</i></summary>\n\n"]  # fmt: skip
    out.append(f"Path: {md_text(run.path, 200)}\n\n")
    if run.status != "ok":
        out.append(f"**{'Unreadable' if run.status == 'error' else 'Empty'}:** {md_text(run.error or '', 300)}\n\n")
    findings = run.findings
    incidents = sorted(run.incidents, key=lambda i: -max(SEVERITY_RANK.get(f.severity, 0) for f in i.findings))
    for inc in incidents[:MAX_FINDINGS_PER_RUN]:
        out.extend(_incident_lines(inc))
    if len(incidents) > MAX_FINDINGS_PER_RUN:
        out.append(f"- … {len(incidents) - MAX_FINDINGS_PER_RUN} more incident(s) in the full report\n")
    sparks = _spark_lines(run)
    if sparks:
        out.append("\n" if findings else "")
        out.extend(sparks)
    for note in run.warnings[:3]:
        out.append(f"- note: {md_text(note, 200)}\n")
    for note in run.notes[:3]:
        out.append(f"- note: {md_text(note, 200)}\n")
    out.append("\n</details>\n")
    return "".join(out)


def _summary(report: Report) -> str:
    runs = report.runs
    n_err = sum(f.severity == "error" for _, f in report.findings())
    n_warn = sum(f.severity == "warning" for _, f in report.findings())
    bad = sum(r.status == "error" for r in runs)
    empty = sum(r.status == "empty" for r in runs)
    clean = sum(r.status == "ok" and not r.findings for r in runs)
    icon = "🔴" if n_err else ("🟡" if n_warn or bad else "✅")
    parts = [f"{len(runs):,} run(s)", f"{n_err:,} error(s)", f"{n_warn:,} warning(s)", f"{clean:,} clean"]
    if bad:
        parts.append(f"{bad:,} unreadable")
    if empty:
        parts.append(f"{empty:,} empty")
    return f"### {icon} trainlog-doctor: " + " · ".join(parts) + "\n\n"


TABLE_HEAD = "| Run | Status | Worst finding | Errors | Warnings |\n| --- | --- | --- | ---: | ---: |\n"


def render_markdown(report: Report, *, max_chars: int = 65536) -> str:
    """A Markdown summary for a PR comment, never longer than ``max_chars`` characters."""
    runs = sorted(report.runs, key=_rank, reverse=True)  # stable: worst first, input order within a rank
    head = _summary(report)
    if not runs:
        return _fit(head + "No training logs were found.\n", max_chars)
    rows = [_row(r) for r in runs]
    details = [_details(r) for r in runs]
    clean = [r.status == "ok" and not r.findings for r in runs]

    def note(hidden_runs: int, hidden_details: int) -> str:
        parts = []
        if hidden_runs:
            parts.append(f"… {hidden_runs:,} more run(s) not shown (limit {max_chars:,} characters)")
        if hidden_details:
            parts.append(f"details of {hidden_details:,} run(s) left out to stay under {max_chars:,} characters")
        return ("\n_" + "; ".join(parts) + "._\n") if parts else ""

    full = head + TABLE_HEAD + "".join(rows) + "\n" + "".join(details)
    if len(full) <= max_chars:
        return full
    kept = [d for d, c in zip(details, clean) if not c]
    dropped = sum(clean)
    text = head + TABLE_HEAD + "".join(rows) + "\n" + "".join(kept) + note(0, dropped)
    if len(text) <= max_chars:
        return text
    # Not enough room: as many table rows as fit in half the budget (all of them if they fit),
    # then the details of the shown runs, worst first, while they fit.
    reserve = len(note(len(runs), len(runs))) + 2
    budget = max_chars - len(head) - len(TABLE_HEAD) - reserve - 1
    half = budget // 2 if any(not c for c in clean) else budget
    shown_rows: list[str] = []
    used = 0
    rows_budget = half if sum(map(len, rows)) > half else budget
    for r in rows:
        if used + len(r) > rows_budget:
            break
        shown_rows.append(r)
        used += len(r)
    n_shown = len(shown_rows)
    shown_details: list[str] = []
    left = budget - used
    hidden_details = 0
    for d, c in zip(details[:n_shown], clean[:n_shown]):
        if c:
            hidden_details += 1
            continue
        if len(d) <= left:
            shown_details.append(d)
            left -= len(d)
        else:
            hidden_details += 1
    text = head
    if shown_rows:
        text += TABLE_HEAD + "".join(shown_rows) + "\n"
    text += "".join(shown_details) + note(len(runs) - n_shown, hidden_details)
    return _fit(text, max_chars)


def _fit(text: str, max_chars: int) -> str:
    """Last-resort guard: cut at a line boundary (closing nothing half-way) and say so."""
    if len(text) <= max_chars:
        return text
    marker = "\n… (truncated)\n"
    if max_chars <= len(marker):
        return text[: max(max_chars, 0)]
    cut = text[: max_chars - len(marker)]
    nl = cut.rfind("\n")
    if nl > 0:
        cut = cut[:nl]
    return cut + marker


FORMAT = OutputFormat("markdown", (".md", ".markdown"), render_markdown, needs_view=True)
