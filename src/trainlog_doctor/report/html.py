"""Self-contained, offline HTML report: a table of runs, charts per run and one card per finding.

The page makes no network request (inline CSS and SVG only, a strict Content-Security-Policy) and
every log-derived string goes through Jinja's autoescaping.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from trainlog_doctor.model.report import SEVERITY_RANK, Finding, Reference, Report, RunReport
from trainlog_doctor.model.version import __version__
from trainlog_doctor.report.formats import OutputFormat
from trainlog_doctor.report.numfmt import fmt_num

__all__ = ["FORMAT", "render_html", "where_text", "fmt_value"]

MAX_CARDS_PER_RUN = 40
MAX_CAUSES_SHOWN = 3
MAX_FIXES_SHOWN = 3
MAX_WARNINGS = 20
MAX_META = 30
MAX_TEXT = 2000
MAX_SHORT = 200


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
        "sources": [clip(s, MAX_SHORT) for s in ref.sources[:8]],
    }


def _refs(refs: list[Reference]) -> list[dict[str, Any]]:
    scores = [float(r.score) for r in refs if r.score is not None and math.isfinite(float(r.score))]
    top = max(scores) if scores else 0.0
    return [_ref_view(r, top) for r in refs[:12]]


def _finding_view(f: Finding, anchor: str, charted: bool) -> dict[str, Any]:
    causes = _refs(f.causes)
    fixes = _refs(f.fixes)
    evidence = [(clip(k, MAX_SHORT), fmt_value(v)) for k, v in list(f.evidence.items())[:40]]
    docs = list(dict.fromkeys(s for r in [*f.causes, *f.fixes] for s in r.sources))
    return {
        "f": f,
        "anchor": anchor,
        "message": clip(f.message),
        "code": clip(f.code, 40),
        "kind": clip(f.kind, 60),
        "metric": clip(f.metric, MAX_SHORT),
        "split": clip(f.split, 40),
        "where": where_text(f),
        "evidence": evidence,
        "more_evidence": max(0, len(f.evidence) - 40),
        "causes": causes[:MAX_CAUSES_SHOWN],
        "more_causes": causes[MAX_CAUSES_SHOWN:],
        "fixes": fixes[:MAX_FIXES_SHOWN],
        "more_fixes": fixes[MAX_FIXES_SHOWN:],
        "docs": [clip(d, MAX_SHORT) for d in docs[:16]],
        "charted": charted,
    }


def _counts(findings: list[Finding]) -> dict[str, int]:
    c = Counter(f.severity for f in findings)
    return {"error": c.get("error", 0), "warning": c.get("warning", 0), "info": c.get("info", 0)}


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
    charted_metrics = {c.metric for c in charts}
    cards = [_finding_view(run.findings[j], anchors[j], run.findings[j].metric in charted_metrics)
             for j in order[:MAX_CARDS_PER_RUN]]  # fmt: skip
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
        "n_findings": len(run.findings),
        "n_series": len(run.series),
        "cards": cards,
        "more_cards": max(0, len(run.findings) - MAX_CARDS_PER_RUN),
        "charts": charts,
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
    from trainlog_doctor.report.jinja import environment  # Jinja: only when a page is written

    runs = [_run_view(i, r) for i, r in enumerate(report.runs)]
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
        max_severity=report.max_severity(),
    )  # fmt: skip


FORMAT = OutputFormat("html", (".html", ".htm"), render_html, needs_view=True)
