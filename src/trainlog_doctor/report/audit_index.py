"""The audit index page: one sortable table of all runs with a small loss chart each."""

from __future__ import annotations

import math
from typing import Any

import jinja2

SEVERITY_ORDER = {"error": 3, "warning": 2, "info": 1}


def sparkline_svg_points(values: list[float], width: int = 120, height: int = 28) -> str:
    """SVG polyline points for ``values`` (log scale when positive over two decades)."""
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(vals) < 2:
        return ""
    if min(vals) > 0 and max(vals) / min(vals) > 100:
        vals = [math.log10(v) for v in vals]
    lo, hi = min(vals), max(vals)
    span = hi - lo or 1.0
    n = len(vals)
    return " ".join(
        f"{i * (width - 2) / (n - 1) + 1:.1f},{height - 1 - (v - lo) / span * (height - 2):.1f}" for i, v in enumerate(vals)
    )


def _sort_key(final: dict[str, float]) -> str:
    """The first final value (the primary loss) as a sortable number; empty when missing or not finite."""
    for v in final.values():
        return repr(float(v)) if isinstance(v, (int, float)) and math.isfinite(v) else ""
    return ""


def _row(entry: Any) -> dict[str, Any]:
    run = entry.run
    findings = run.get("findings", [])
    worst = max(findings, key=lambda f: SEVERITY_ORDER.get(f["severity"], 0), default=None)
    kinds = sorted({f["kind"] for f in findings})
    return {
        "run_id": run["run_id"],
        "path": run["path"],
        "format": run.get("format") or "",
        "status": run["status"],
        "error": run.get("error") or "",
        "worst": worst,
        "worst_rank": SEVERITY_ORDER.get(worst["severity"], 0) if worst else 0,
        "kinds": kinds,
        "n_findings": len(findings),
        "final": entry.final,
        "sort_final": _sort_key(entry.final),
        "page": entry.page,
        "report": getattr(entry, "report", None),
        "spark_train": sparkline_svg_points(entry.spark.get("train", [])),
        "spark_val": sparkline_svg_points(entry.spark.get("val", [])),
    }


_env: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _env
    if _env is None:
        _env = jinja2.Environment(
            loader=jinja2.PackageLoader("trainlog_doctor", "report/templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _env


def render_index(entries: list[Any], *, root: str, seconds: float) -> str:
    """Self-contained HTML index (autoescaped; no network): one row per entry, in the given order."""
    env = _environment()
    rows = [_row(e) for e in entries]
    counts = {
        "runs": len(rows),
        "error_runs": sum(r["status"] == "error" for r in rows),
        "empty_runs": sum(r["status"] == "empty" for r in rows),
        "with_errors": sum(r["worst_rank"] == 3 for r in rows),
        "with_warnings": sum(r["worst_rank"] == 2 for r in rows),
        "clean": sum(r["status"] == "ok" and r["worst_rank"] < 2 for r in rows),
    }
    kinds: dict[str, int] = {}
    for r in rows:
        for k in r["kinds"]:
            kinds[k] = kinds.get(k, 0) + 1
    return env.get_template("audit_index.html.j2").render(
        rows=rows, root=root, seconds=seconds, counts=counts, kinds=sorted(kinds.items(), key=lambda kv: -kv[1])
    )
