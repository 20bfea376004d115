"""Self-contained, offline HTML report: a verdict, a table of runs, interactive charts per run and finding cards.

The page makes no network request (inline CSS, the vendored chart library and the chart data inline,
a Content-Security-Policy that allows exactly those scripts) and every log-derived string goes
through Jinja's autoescaping or, in the chart data, through JSON escaping and ``textContent``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from markupsafe import Markup

from trainlog_doctor.model.report import SEVERITY_RANK, Finding, Reference, Report, RunReport
from trainlog_doctor.model.version import __version__
from trainlog_doctor.report.formats import OutputFormat
from trainlog_doctor.report.numfmt import fmt_num

__all__ = ["FORMAT", "render_html", "where_text", "fmt_value", "script_json", "verdict_line", "run_order"]

MAX_CARDS_PER_RUN = 40
MAX_CAUSES_SHOWN = 3
MAX_FIXES_SHOWN = 3
MAX_WARNINGS = 20
MAX_META = 30
MAX_TEXT = 2000
MAX_SHORT = 200
MAX_VERDICT_RUNS = 3
MAX_OPEN_RUNS = 10  # run sections expanded when the page opens (those needing attention, worst first)


def clip(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` as a string of at most ``limit`` characters (an ellipsis marks the cut)."""
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _num(v: float) -> str:
    f = float(v)
    if f.is_integer() and abs(f) < 1e15:
        return f"{int(f):,}" if abs(f) >= 10000 else str(int(f))
    return fmt_num(f, 4)


def fmt_value(v: Any) -> str:
    """An evidence or meta value as short text: numbers to 4 significant digits, lists joined."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if hasattr(v, "item") and not isinstance(v, (int, float, str)):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return clip(v, MAX_SHORT)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "+Inf" if v > 0 else "-Inf"
        return _num(v)
    if isinstance(v, dict):
        items = list(v.items())
        text = ", ".join(f"{k}={fmt_value(x)}" for k, x in items[:12])
        return clip(text + (f", … {len(items) - 12} more" if len(items) > 12 else ""), MAX_SHORT * 2)
    if isinstance(v, (list, tuple)):
        text = ", ".join(fmt_value(x) for x in v[:12])
        return clip(text + (f", … {len(v) - 12} more" if len(v) > 12 else ""), MAX_SHORT * 2)
    return clip(v, MAX_SHORT * 2)


def _span(a: float | int | None, b: float | int | None, unit: str) -> str | None:
    if a is None and b is None:
        return None
    if a is None or b is None or float(a) == float(b):
        return f"{unit} {_num(float(a if a is not None else b))}"  # type: ignore[arg-type]
    return f"{unit}s {_num(float(a))} – {_num(float(b))}"


def where_text(f: Finding) -> str:
    """``epochs 13 – 81``, ``step 4,675``, ``epoch 35.69 (step 4,675)`` or ``whole run``."""
    ep = _span(f.start_epoch, f.end_epoch, "epoch")
    st = _span(f.start_step, f.end_step, "step")
    same = (
        f.start_epoch is not None and f.start_step is not None and float(f.start_epoch) == float(f.start_step)
        and (f.end_epoch is None or f.end_step is None or float(f.end_epoch) == float(f.end_step))
    )  # fmt: skip
    if ep and st and not same:
        return f"{ep} ({st})"
    return ep or st or "whole run"


def _split_title(text: str) -> tuple[str, str]:
    """Knowledge-base texts read ``Title: body``; split them for display."""
    head, sep, body = text.partition(": ")
    if sep and 0 < len(head) <= 80 and "\n" not in head:
        return head, body
    return "", text


def _ref_view(ref: Reference, top: float) -> dict[str, Any]:
    title, body = _split_title(clip(ref.text))
    score = float(ref.score) if ref.score is not None and math.isfinite(float(ref.score)) else None
    pct = max(4.0, min(100.0, 100.0 * score / top)) if score is not None and top > 0 else None
    return {
        "id": clip(ref.id, MAX_SHORT),
        "title": title,
        "body": body,
        "score": fmt_num(score, 3) if score is not None else None,
        "pct": f"{pct:.0f}" if pct is not None else None,
        "why": [clip(w, MAX_SHORT * 2) for w in ref.why[:8]],
        "sources": [clip(s, MAX_SHORT) for s in (ref.source_labels or list(ref.references))[:8]],
        "prior_only": ref.basis == "prior only",
        "derived": _derived_text(ref.derived),
    }


def _derived_text(derived: dict[str, Any] | None) -> tuple[str, str] | None:
    """A fix's number for this run as (value with unit, how it was derived), if it has one."""
    if not derived or "value" not in derived:
        return None
    value = " ".join(x for x in (fmt_value(derived.get("value")), clip(str(derived.get("unit") or ""), 40)) if x)
    return value, clip(str(derived.get("how") or ""), MAX_SHORT * 2)


def _refs(refs: list[Reference]) -> list[dict[str, Any]]:
    scores = [float(r.score) for r in refs if r.score is not None and math.isfinite(float(r.score))]
    top = max(scores) if scores else 0.0
    return [_ref_view(r, top) for r in refs[:12]]


def _related_view(f: Finding, anchor: str) -> dict[str, Any]:
    """A finding shown inside its incident's card: one line with where it is."""
    return {"f": f, "anchor": anchor, "code": clip(f.code, 40), "kind": clip(f.kind, 60), "metric": clip(f.metric, MAX_SHORT),
            "split": clip(f.split, 40), "where": where_text(f), "message": clip(f.message)}


def _finding_view(f: Finding, anchor: str, charted: bool, related: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A finding's card: the one-line view (:func:`_related_view`) plus its numbers, causes, fixes and sources."""
    causes = _refs(f.causes)
    fixes = _refs(f.fixes)
    evidence = [(clip(k, MAX_SHORT), fmt_value(v)) for k, v in list(f.evidence.items())[:40]]
    docs = list(dict.fromkeys(s for r in [*f.causes, *f.fixes] for s in r.source_labels))
    return {
        **_related_view(f, anchor),
        "evidence": evidence,
        "more_evidence": max(0, len(f.evidence) - 40),
        "causes": causes[:MAX_CAUSES_SHOWN],
        "more_causes": causes[MAX_CAUSES_SHOWN:],
        "fixes": fixes[:MAX_FIXES_SHOWN],
        "more_fixes": fixes[MAX_FIXES_SHOWN:],
        "docs": [clip(d, MAX_SHORT) for d in docs[:16]],
        "practice": _refs(f.practice)[:MAX_FIXES_SHOWN],
        "undecided": clip(f.undecided) if f.undecided else "",
        "related": related or [],
        "charted": charted,
    }


def _counts(findings: list[Finding]) -> dict[str, int]:
    c = Counter(f.severity for f in findings)
    return {"error": c.get("error", 0), "warning": c.get("warning", 0), "info": c.get("info", 0)}


def script_json(data: Any) -> Markup:
    """``data`` as JSON safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&`` are escaped."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _health_rank(run: RunReport) -> int:
    """Worst first: errors, warnings, unreadable, empty, notes only, clean."""
    if run.status == "error":
        return 3
    if run.status == "empty":
        return 2
    worst = SEVERITY_RANK.get(run.worst.severity, 0) if run.worst else -1
    return {2: 5, 1: 4}.get(worst, 1 if worst == 0 else 0)


def run_order(report: Report) -> list[int]:
    """Indices of ``report.runs`` by severity (errors first, clean last), stable within a level."""
    return sorted(range(len(report.runs)), key=lambda i: -_health_rank(report.runs[i]))


def _onset(f: Finding) -> str:
    """Where a finding starts, briefly: ``epoch 3.41`` or ``step 4,675``."""
    if f.start_epoch is not None and math.isfinite(float(f.start_epoch)):
        e = float(f.start_epoch)
        return f"epoch {int(e) if e.is_integer() else fmt_num(e, 3)}"
    if f.start_step is not None:
        return f"step {_num(float(f.start_step))}"
    return ""


def _cause_phrase(f: Finding) -> str:
    if not f.causes:
        return ""
    title, body = _split_title(clip(f.causes[0].text, MAX_SHORT))
    text = title or body
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def verdict_line(report: Report) -> str:
    """One line: how many runs need attention and, for the worst few, what happened where and why."""
    n = len(report.runs)
    if n == 0:
        return "No training logs were found."
    attention = [report.runs[i] for i in run_order(report)
                 if report.runs[i].status == "ok" and report.runs[i].worst is not None
                 and SEVERITY_RANK.get(report.runs[i].worst.severity, 0) >= 1]  # fmt: skip
    unread = sum(1 for r in report.runs if r.status != "ok")
    runs_word = "run" if n == 1 else "runs"
    if not attention:
        head = f"None of {n} {runs_word} needs attention" if n > 1 else "The run needs no attention"
        parts = []
    else:
        verb = "needs" if len(attention) == 1 else "need"
        head = f"{len(attention)} of {n} {runs_word} {verb} attention"
        parts = []
        for r in attention[:MAX_VERDICT_RUNS]:
            f = r.worst
            assert f is not None
            bit = f"{clip(r.run_id, 80)}: {clip(f.kind, 60)}"  # e.g. "exp3: divergence at epoch 3.41 — lr too high"
            where = _onset(f)
            if where:
                bit += f" at {where}"
            cause = _cause_phrase(f)
            if cause:
                bit += f" — {cause}"
            parts.append(bit)
        if len(attention) > MAX_VERDICT_RUNS:
            parts.append(f"{len(attention) - MAX_VERDICT_RUNS} more")
    tail = ""
    if unread:
        tail = f" ({unread} could not be read or had no data)"
    return head + tail + (": " + "; ".join(parts) if parts else ".")


def _health(run: RunReport, counts: dict[str, int]) -> tuple[str, str]:
    """(badge class, text) of a readable run's health, apart from whether it was read."""
    if counts["error"]:
        return "error", f"{counts['error']} error{'' if counts['error'] == 1 else 's'}"
    if counts["warning"]:
        return "warning", f"{counts['warning']} warning{'' if counts['warning'] == 1 else 's'}"
    if counts["info"]:
        return "info", f"healthy, {counts['info']} note{'' if counts['info'] == 1 else 's'}"
    return "clean", "healthy"


def _run_view(i: int, run: RunReport) -> dict[str, Any]:
    anchor = f"run-{i + 1}"
    order = sorted(range(len(run.findings)), key=lambda j: (-SEVERITY_RANK.get(run.findings[j].severity, 0), j))
    anchors = {j: f"{anchor}-f{j + 1}" for j in range(len(run.findings))}
    charts = []
    chart_note = ""
    if run.status == "ok" and run.view is not None and run.view.series:
        from trainlog_doctor.report.charts import build_charts  # numpy and the signals: only when drawing

        try:
            charts = build_charts(run, anchors=anchors)
        except Exception as exc:  # noqa: BLE001 - a chart bug must not lose the diagnosis
            chart_note = f"charts could not be drawn: {exc.__class__.__name__}"
    items = []
    for k, c in enumerate(charts):
        c.data["id"] = f"{anchor}-c{k + 1}"
        try:
            items.append({"c": c, "json": script_json(c.data), "id": c.data["id"]})
        except ValueError:  # a value JSON cannot carry: this chart stays static
            items.append({"c": c, "json": None, "id": c.data["id"]})
    charted_metrics = {c.metric for c in charts}
    position = {id(f): j for j, f in enumerate(run.findings)}
    incidents = sorted(run.incidents, key=lambda inc: min(order.index(position[id(f)]) for f in inc.findings))
    cards = [
        _finding_view(inc.primary, anchors[position[id(inc.primary)]], inc.primary.metric in charted_metrics,
                      [_related_view(r, anchors[position[id(r)]]) for r in inc.related])
        for inc in incidents[:MAX_CARDS_PER_RUN]
    ]  # fmt: skip
    worst = run.worst
    uncharted = sorted(
        {f"{clip(f.split, 40)}/{clip(f.metric, 80)}" for f in run.findings if f.metric not in charted_metrics}
    )
    return {
        "run": run,
        "anchor": anchor,
        "run_id": clip(run.run_id, 500),
        "path": clip(run.path, 1000),
        "format": clip(run.format or "unknown", 60),
        "status": run.status if run.status in ("ok", "empty", "error") else "error",
        "error": clip(run.error or ("no scalar data in the log" if run.status == "empty" else "unreadable")),
        "worst": _finding_view(worst, anchors[run.findings.index(worst)], False) if worst else None,
        "counts": _counts(run.findings),
        "health": _health(run, _counts(run.findings)) if run.status == "ok" else None,
        "read": {"ok": "read fine", "empty": "no data"}.get(run.status, "unreadable"),
        "open": run.status != "ok" or any(f.severity != "info" for f in run.findings),
        "n_findings": len(run.findings),
        "n_series": len(run.series),
        "cards": cards,
        "more_cards": max(0, len(incidents) - MAX_CARDS_PER_RUN),
        "charts": items,
        "chart_note": chart_note,
        "uncharted": uncharted[:12],
        "meta": [(clip(k, 80), fmt_value(v)) for k, v in list(run.meta.items())[:MAX_META]],
        "more_meta": max(0, len(run.meta) - MAX_META),
        "warnings": [clip(w, 500) for w in run.warnings[:MAX_WARNINGS]],
        "more_warnings": max(0, len(run.warnings) - MAX_WARNINGS),
        "verdict_notes": [clip(n, 500) for n in run.notes[:MAX_WARNINGS]],
    }


def render_html(report: Report, *, title: str = "trainlog-doctor report") -> str:
    """The whole report as one offline HTML page (no network requests; log text always escaped)."""
    from trainlog_doctor.report.jinja import (
        UPLOT_VERSION,
        chart_assets,
        environment,  # Jinja: only when a page is written
    )

    runs = [_run_view(k, report.runs[i]) for k, i in enumerate(run_order(report))]
    for k, r in enumerate(runs):  # a long page opens light: the worst few runs expanded, the rest one line each
        r["open"] = r["open"] and k < MAX_OPEN_RUNS
    all_findings = [f for r in report.runs for f in r.findings]
    worst_rank = [SEVERITY_RANK.get(r.worst.severity, 0) if r.worst else -1 for r in report.runs]
    summary = {
        "runs": len(report.runs),
        "with_errors": sum(1 for r, w in zip(report.runs, worst_rank) if r.status == "ok" and w == 2),
        "with_warnings": sum(1 for r, w in zip(report.runs, worst_rank) if r.status == "ok" and w == 1),
        "clean": sum(1 for r, w in zip(report.runs, worst_rank) if r.status == "ok" and w < 1),
        "unreadable": sum(1 for r in report.runs if r.status == "error"),
        "empty": sum(1 for r in report.runs if r.status == "empty"),
        "counts": _counts(all_findings),
        "kinds": Counter(clip(f.kind, 60) for f in all_findings).most_common(8),
    }
    return environment().get_template("report.html.j2").render(
        title=clip(title, 300), runs=runs, summary=summary, version=__version__,
        max_severity=report.max_severity(), verdict=verdict_line(report),
        assets=chart_assets() if any(r["charts"] for r in runs) else None, uplot_version=UPLOT_VERSION,
    )  # fmt: skip


FORMAT = OutputFormat("html", (".html", ".htm"), render_html, needs_view=True)
