"""The audit index page: one sortable table of all runs with a small loss chart each."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from trainlog_doctor.report.jinja import environment

SEVERITY_ORDER = {"error": 3, "warning": 2, "info": 1}


def sparkline_points(series: Mapping[str, Sequence[float]], width: int = 120, height: int = 28) -> dict[str, str]:
    """SVG polyline points for each series, all on one y scale (log10 when positive over two decades).

    Each series spans the full width; non-finite values are dropped; a series with fewer than two
    points gets no line.
    """
    clean = {k: [float(v) for v in vals if isinstance(v, (int, float)) and math.isfinite(v)] for k, vals in series.items()}
    clean = {k: v for k, v in clean.items() if len(v) >= 2}
    if not clean:
        return {}
    every = [v for vals in clean.values() for v in vals]
    if min(every) > 0 and max(every) / min(every) > 100:
        clean = {k: [math.log10(v) for v in vals] for k, vals in clean.items()}
        every = [v for vals in clean.values() for v in vals]
    lo, hi = min(every), max(every)
    span = hi - lo or 1.0
    out: dict[str, str] = {}
    for key, vals in clean.items():
        n = len(vals)
        out[key] = " ".join(
            f"{i * (width - 2) / (n - 1) + 1:.1f},{height - 1 - (v - lo) / span * (height - 2):.1f}"
            for i, v in enumerate(vals)
        )
    return out


def sparkline_svg_points(values: Sequence[float], width: int = 120, height: int = 28) -> str:
    """SVG polyline points for one series on its own scale (see :func:`sparkline_points`)."""
    return sparkline_points({"v": values}, width, height).get("v", "")


def _spark(entry: Any, key: str) -> str:
    v = entry.spark.get(key, "")
    return v if isinstance(v, str) else sparkline_svg_points(v)


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
        "spark_train": _spark(entry, "train"),
        "spark_val": _spark(entry, "val"),
    }


def _counts(rows: Iterable[dict[str, Any]]) -> tuple[dict[str, int], list[tuple[str, int]]]:
    counts = {"runs": 0, "error_runs": 0, "empty_runs": 0, "with_errors": 0, "with_warnings": 0, "clean": 0}
    kinds: dict[str, int] = {}
    for r in rows:
        counts["runs"] += 1
        counts["error_runs"] += r["status"] == "error"
        counts["empty_runs"] += r["status"] == "empty"
        counts["with_errors"] += r["worst_rank"] == 3
        counts["with_warnings"] += r["worst_rank"] == 2
        counts["clean"] += r["status"] == "ok" and r["worst_rank"] < 2
        for k in r["kinds"]:
            kinds[k] = kinds.get(k, 0) + 1
    return counts, sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))


def write_index(entries: Sequence[Any], out: IO[str], *, root: str, seconds: float) -> None:
    """Stream the self-contained HTML index (autoescaped; no network) to ``out``, one row per entry in order.

    Rows are built as they are written, so memory does not grow with the page.
    """
    counts, kinds = _counts(_row(e) for e in entries)
    template = environment().get_template("audit_index.html.j2")
    for chunk in template.generate(rows=(_row(e) for e in entries), root=root, seconds=seconds, counts=counts,
                                   kinds=kinds):
        out.write(chunk)


def render_index(entries: Sequence[Any], *, root: str, seconds: float) -> str:
    """The index page as one string (see :func:`write_index`)."""
    import io

    buf = io.StringIO()
    write_index(entries, buf, root=root, seconds=seconds)
    return buf.getvalue()
