"""Charts for the HTML report: which series to plot, the static SVG geometry and the interactive chart data.

Everything here is numbers and plain strings. The SVG markup is written by the Jinja template
(autoescaped) and the data of the interactive chart (:attr:`Chart.data`) is embedded as escaped JSON
that the page's script reads as data and shows as text only, so no log-derived text is ever placed
into markup from Python or JavaScript.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from trainlog_doctor.model.report import SEVERITY_RANK, Finding, RunReport
from trainlog_doctor.report.numfmt import clean_exp, fmt_num
from trainlog_doctor.run import RunView, Series
from trainlog_doctor.signals.transforms import downsample_indices, should_use_log

__all__ = [
    "Chart",
    "ChartLine",
    "Region",
    "Mark",
    "Tick",
    "chart_groups",
    "build_chart",
    "build_charts",
    "nice_ticks",
    "log_ticks",
    "related_changepoint",
    "MIN_REGION_PX",
]

WIDTH, HEIGHT = 640, 210
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 58, 14, 30, 30
MAX_NONFINITE_MARKS = 120
MAX_REGIONS = 16
LABEL_CHAR_PX = 6.6
MIN_REGION_PX = 6.0  # a finding of one or two points still gets a band this wide
SIG_DIGITS = 5  # significant digits of the values embedded for the interactive chart


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class ChartLine:
    """One series drawn in a chart: an SVG path (gaps at non-finite points) and optional point markers."""

    metric: str
    split: str
    color: int
    path: str
    markers: str
    points: int
    shown: int
    nonfinite_path: str = ""
    nonfinite: int = 0
    last: float | None = None


@dataclass
class Region:
    """A finding's step range shaded on a chart."""

    x0: float
    x1: float
    code: str
    severity: str
    label_y: float
    title: str
    anchor: str = ""
    label: str = ""  # "" when the label is folded into a neighbour's "+N"
    label_x: float = 0.0
    label_end: bool = False  # anchor the label at its right end (regions near the right edge)
    onset: float = 0.0  # x pixel of the finding's first step: a solid line
    band: bool = True  # info findings get the cap strip and onset line, never a shaded band


@dataclass
class Mark:
    """A change point: a thin dashed vertical line in its series' colour."""

    x: float
    color: int
    title: str


@dataclass
class Chart:
    """Geometry of one chart; the template turns it into inline SVG."""

    title: str
    metric: str
    x_label: str
    log: bool
    lines: list[ChartLine]
    xticks: list[Tick]
    yticks: list[Tick]
    regions: list[Region]
    marks: list[Mark]
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # the interactive chart's data (JSON-ready)
    width: int = WIDTH
    height: int = HEIGHT
    left: float = MARGIN_LEFT
    right: float = WIDTH - MARGIN_RIGHT
    top: float = MARGIN_TOP
    bottom: float = HEIGHT - MARGIN_BOTTOM


# ---- what to chart ---------------------------------------------------------------------------------


def chart_groups(run: RunReport, max_charts: int = 4) -> list[str]:
    """Metric names to chart for ``run`` (every split of a metric shares one chart), most useful first.

    Order: the primary loss, metrics with error/warning findings (worst first), the main score,
    metrics with info findings, the learning rate. Every name is a metric of the run view, which
    holds the derived ``time`` series a slowdown finding may be about.
    """
    view = run.view
    if view is None:
        return []
    groups: list[str] = []

    def add(metric: str | None) -> None:
        if metric and metric not in groups and view.splits_of(metric):
            groups.append(metric)

    add(_primary_loss_metric(view))
    ranked = sorted(run.findings, key=lambda f: -SEVERITY_RANK.get(f.severity, 0))
    for f in ranked:
        if f.severity != "info":
            add(f.metric)
    add(view.primary_score.metric if view.primary_score else None)
    for f in ranked:
        if f.severity == "info":
            add(f.metric)
    add(view.lr.metric if view.lr else None)
    return groups[:max_charts]


def _primary_loss_metric(view: RunView) -> str | None:
    """The loss to chart first: the primary training loss, else the main loss of val, else of test."""
    for split in ("train", "val", "test"):
        s = view.primary_loss_for(split)
        if s is not None:
            return s.metric
    return None


def _drawn(s: Series) -> Series:
    """``s`` as drawn: a derived series keeps only the points it has a value for (its gaps are not NaN data)."""
    if not s.derived:
        return s
    keep = s.finite
    return replace(s, steps=s.steps[keep], values=s.values[keep], epochs=s.epochs[keep],
                   wall_time=s.wall_time[keep], views={})  # fmt: skip


# ---- scales and ticks ------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi], about ``n`` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = mag * 10
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            step = m * mag
            break
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    k = 0
    while True:
        v = first + k * step
        if v > hi + step * 1e-9 or k > 50:
            break
        out.append(0.0 if abs(v) < step * 1e-9 else v)
        k += 1
    return out


def log_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Decade ticks (log10 values) covering [lo, hi] in log10 space, at most about ``n``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return []
    a, b = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    if b < a:
        return nice_ticks(lo, hi, 3)
    span = b - a
    stride = max(1, math.ceil((span + 1) / n))
    return [float(k) for k in range(a, b + 1) if (k - a) % stride == 0]


def _fmt_tick(v: float, step: float) -> str:
    """Tick label with just enough precision for the tick spacing."""
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e4:
        return fmt_num(v, 3)
    if a < 1e-3:
        return clean_exp(f"{v:.1e}")
    decimals = 3
    if step > 0:
        mag = math.floor(math.log10(step))
        decimals = max(0, -mag + (1 if round(step / 10.0**mag, 6) == 2.5 else 0))
    s = f"{v:.{min(decimals, 6)}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def _fmt_decade(k: float) -> str:
    if not float(k).is_integer():
        return fmt_num(10.0**k)
    k = int(k)
    if -3 <= k <= 3:
        v = 10.0**k
        return f"{v:g}" if k < 0 else str(int(v))
    return f"1e{k}"


# ---- building one chart ----------------------------------------------------------------------------


def _has_epochs(s: Series) -> bool:
    """Every point has a finite epoch and epochs never go back along the steps."""
    ep = s.epochs
    return bool(ep.size) and bool(np.isfinite(ep).all()) and bool((np.diff(ep) >= 0).all())


def _x_of(s: Series, use_epoch: bool) -> np.ndarray:
    return s.epochs if use_epoch else s.steps.astype(np.float64)


def _step_to_x(series: list[Series], use_epoch: bool):  # type: ignore[no-untyped-def]
    """A function step -> x for the chart axis (epochs interpolated along the longest series)."""
    if not use_epoch:
        return lambda step: float(step)
    base = max(series, key=len)
    steps = base.steps.astype(np.float64)
    eps = np.maximum.accumulate(base.epochs)
    if steps.size == 1:
        return lambda step: float(eps[0])

    def f(step: float) -> float:
        s = float(step)
        if s <= steps[0] or s >= steps[-1]:  # extrapolate with the end slopes
            i = 0 if s <= steps[0] else steps.size - 2
            slope = (eps[i + 1] - eps[i]) / (steps[i + 1] - steps[i])
            return float(eps[i] + slope * (s - steps[i]))
        return float(np.interp(s, steps, eps))

    return f


def _finding_x(f: Finding, which: str, to_x, use_epoch: bool) -> float | None:  # type: ignore[no-untyped-def]
    epoch = f.start_epoch if which == "start" else f.end_epoch
    step = f.start_step if which == "start" else f.end_step
    if use_epoch and epoch is not None and math.isfinite(float(epoch)):
        return float(epoch)
    if step is not None:
        return to_x(step)
    return None


def build_chart(
    run: RunReport,
    metric: str,
    *,
    max_points: int = 400,
    static_points: int = 240,
    anchors: dict[int, str] | None = None,
) -> Chart | None:
    """The chart of every split of ``metric`` in ``run`` (None without a view or when nothing finite is left).

    The interactive chart gets up to ``max_points`` points a series, the static SVG (print, no
    JavaScript) up to ``static_points``; both keep every bucket's extremes.
    """
    view = run.view
    if view is None:
        return None
    drawn = (_drawn(view.series[(metric, split)]) for split in view.splits_of(metric))
    series = [s for s in drawn if len(s)]
    if not series:
        return None
    # Bucket min/max downsampling keeps every extreme, so ranges computed on the kept points are exact.
    picks = [_with_gaps(s.values, downsample_indices(s.values, max_points)) for s in series]
    all_vals = np.concatenate([s.values[i] for s, i in zip(series, picks)])
    fin = all_vals[np.isfinite(all_vals)]
    if fin.size == 0:
        return None
    use_epoch = all(_has_epochs(s) for s in series)
    use_log = should_use_log(fin, min_decades=2.0)
    tv = np.log10(fin) if use_log else fin
    ylo, yhi = float(tv.min()), float(tv.max())
    if use_log:  # reach a nearby decade so the axis carries a labelled power of ten at each end
        ylo = math.floor(ylo) if ylo - math.floor(ylo) < 0.35 else ylo
        yhi = math.ceil(yhi) if math.ceil(yhi) - yhi < 0.35 else yhi
    if yhi - ylo <= 0:
        pad = abs(ylo) * 0.05 if ylo else 1.0
        ylo, yhi = ylo - pad, yhi + pad
    else:
        pad = (yhi - ylo) * 0.04
        ylo, yhi = ylo - pad, yhi + pad
    xs_all = np.concatenate([_x_of(s, use_epoch)[[0, -1]] for s in series])
    xs_all = xs_all[np.isfinite(xs_all)]
    xlo, xhi = float(xs_all.min()), float(xs_all.max())
    if xhi <= xlo:
        xlo, xhi = xlo - 1.0, xhi + 1.0
    if 0 < xlo <= 0.05 * (xhi - xlo):  # start the axis at 0 when the run almost does
        xlo = 0.0

    chart = Chart(title=metric, metric=metric, x_label="epoch" if use_epoch else "step", log=use_log,
                  lines=[], xticks=[], yticks=[], regions=[], marks=[])  # fmt: skip
    L, R, T, B = chart.left, chart.right, chart.top, chart.bottom

    def px(x: np.ndarray | float) -> np.ndarray | float:
        return L + (np.asarray(x, dtype=np.float64) - xlo) / (xhi - xlo) * (R - L)

    def py(y: np.ndarray | float) -> np.ndarray | float:
        return B - (np.asarray(y, dtype=np.float64) - ylo) / (yhi - ylo) * (B - T)

    colors = {"train": 0, "val": 1, "test": 2, "other": 3}
    notes = []
    static_picks = [i if i.size <= static_points else downsample_indices(s.values, static_points)
                    for s, i in zip(series, picks)]  # fmt: skip
    for s, idx in zip(series, static_picks):
        color = colors.get(s.split, 4)
        x = _x_of(s, use_epoch)
        v = s.values
        xv, vv = x[idx], v[idx]
        ok = np.isfinite(vv) & np.isfinite(xv)
        yv = np.full(vv.shape, np.nan)
        if use_log:
            with np.errstate(divide="ignore", invalid="ignore"):
                yv[ok] = np.log10(vv[ok])
        else:
            yv[ok] = vv[ok]
        ok &= np.isfinite(yv)
        pxv = np.round(px(xv), 1)
        pyv = np.round(py(yv), 1)
        parts: list[str] = []
        pen_up = True
        for i in range(idx.size):
            if not ok[i]:
                pen_up = True
                continue
            if pen_up:
                nxt = i + 1 < idx.size and ok[i + 1]
                parts.append(f"M{pxv[i]:g} {pyv[i]:g}" + ("" if nxt else "h0"))
                pen_up = False
            else:
                parts.append(f"L{pxv[i]:g} {pyv[i]:g}")
        markers = ""
        n_ok = int(ok.sum())
        if 0 < len(s) <= 60:
            markers = "".join(f"M{pxv[i]:g} {pyv[i]:g}h0" for i in range(idx.size) if ok[i])
        bad = ~np.isfinite(v)
        nonfinite_path = ""
        if bad.any():  # small triangles on the top edge, one per pixel column at most
            bx = np.unique(np.round(px(x[bad & np.isfinite(x)])).astype(np.int64))
            if bx.size > MAX_NONFINITE_MARKS:
                bx = bx[np.linspace(0, bx.size - 1, MAX_NONFINITE_MARKS).round().astype(np.int64)]
            nonfinite_path = "".join(f"M{int(b)} {T + 6:g}l-3 -6h6z" for b in bx)
        last_fin = v[np.isfinite(v)]
        chart.lines.append(ChartLine(
            metric=s.metric, split=s.split, color=color, path="".join(parts), markers=markers, points=len(s),
            shown=n_ok, nonfinite_path=nonfinite_path, nonfinite=int(bad.sum()),
            last=float(last_fin[-1]) if last_fin.size else None,
        ))  # fmt: skip
        if s.derived:
            notes.append(s.derived)
    chart.note = "; ".join(dict.fromkeys(notes))

    # ticks
    xt = nice_ticks(xlo, xhi, 8)
    xstep = xt[1] - xt[0] if len(xt) > 1 else 1.0
    chart.xticks = [Tick(round(float(px(t)), 1), _fmt_tick(t, xstep)) for t in xt if xlo - 1e-9 <= t <= xhi + 1e-9]
    if use_log:
        yt = log_ticks(ylo, yhi, 6)
        chart.yticks = [Tick(round(float(py(t)), 1), _fmt_decade(t)) for t in yt]
    else:
        yt = nice_ticks(ylo, yhi, 6)
        ystep = yt[1] - yt[0] if len(yt) > 1 else 1.0
        chart.yticks = [Tick(round(float(py(t)), 1), _fmt_tick(t, ystep)) for t in yt if ylo <= t <= yhi]

    # finding regions
    to_x = _step_to_x(series, use_epoch)
    findings = [(i, f) for i, f in enumerate(run.findings) if f.metric == metric]
    findings.sort(key=lambda t: (SEVERITY_RANK.get(t[1].severity, 0), -t[0]))  # drawn worst last (on top)
    for i, f in findings[-MAX_REGIONS:]:
        a = _finding_x(f, "start", to_x, use_epoch)
        b = _finding_x(f, "end", to_x, use_epoch)
        if a is None and b is None:
            continue
        a = a if a is not None else b
        b = b if b is not None else a
        assert a is not None and b is not None
        a, b = min(a, b), max(a, b)
        x0 = float(np.clip(px(a), L, R))
        x1 = float(np.clip(px(b), L, R))
        onset = x0
        if x1 - x0 < MIN_REGION_PX:
            mid = (x0 + x1) / 2
            x0 = max(L, min(mid - MIN_REGION_PX / 2, R - MIN_REGION_PX))
            x1 = x0 + MIN_REGION_PX
        chart.regions.append(Region(
            x0=round(x0, 1), x1=round(x1, 1), code=f.code, severity=f.severity, label_y=T - 8,
            title=f"{f.code} {f.kind} ({f.split} {f.metric}): {f.message}", anchor=(anchors or {}).get(i, ""),
            onset=round(onset, 1), band=f.severity != "info",
        ))  # fmt: skip
    _layout_labels(chart.regions, L, R, T)

    # change points: only those inside a finding of this metric are drawn on the static chart
    metric_findings = [f for f in run.findings if f.metric == metric]
    step_span = float(max(s.steps[-1] for s in series) - min(s.steps[0] for s in series))
    cp_data = []
    for s in series:
        cps = run.changepoints.get((s.metric, s.split), []) if run.changepoints else []
        for step in list(cps)[:60]:
            try:
                xv = to_x(float(step))
            except (TypeError, ValueError):
                continue
            if not (xlo <= xv <= xhi):
                continue
            related = related_changepoint(float(step), metric_findings, step_span)
            cp_data.append({"s": float(step), "c": colors.get(s.split, 4), "f": related})
            if not related:
                continue
            where = f"epoch {xv:.4g} (step {int(step)})" if use_epoch else f"step {int(step)}"
            chart.marks.append(Mark(x=round(float(px(xv)), 1), color=colors.get(s.split, 4),
                                    title=f"change point in {s.split} {s.metric} at {where}"))  # fmt: skip
    chart.data = chart_data(run, metric, series, picks, use_epoch=use_epoch, use_log=use_log, fin=fin,
                            changepoints=cp_data, anchors=anchors or {}, note=chart.note)  # fmt: skip
    return chart


def _with_gaps(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``idx`` plus the first point of every run of non-finite values (at most MAX_NONFINITE_MARKS),
    so a downsampled line still breaks where the log has NaN or Inf."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return idx
    starts = np.flatnonzero(bad & ~np.r_[False, bad[:-1]])
    if starts.size > MAX_NONFINITE_MARKS:
        starts = starts[np.linspace(0, starts.size - 1, MAX_NONFINITE_MARKS).round().astype(np.int64)]
    return np.union1d(idx, starts)


def related_changepoint(step: float, findings: list[Finding], step_span: float) -> bool:
    """Whether a change point at ``step`` lies in (or within 2% of the run's steps of) one of ``findings``."""
    tol = 0.02 * step_span
    for f in findings:
        a = f.start_step if f.start_step is not None else f.end_step
        b = f.end_step if f.end_step is not None else f.start_step
        if a is None or b is None:
            continue
        lo, hi = min(float(a), float(b)), max(float(a), float(b))
        if lo - tol <= step <= hi + tol:
            return True
    return False


def _rounded(values: np.ndarray, digits: int = SIG_DIGITS) -> list[float | None]:
    """``values`` to ``digits`` significant digits, non-finite ones as None (JSON null)."""
    out: list[float | None] = []
    for v in values.tolist():
        out.append(float(f"{v:.{digits}g}") if math.isfinite(v) else None)
    return out


def _finite_or_none(v: float | int | None) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def chart_data(
    run: RunReport,
    metric: str,
    series: list[Series],
    picks: list[np.ndarray],
    *,
    use_epoch: bool,
    use_log: bool,
    fin: np.ndarray,
    changepoints: list[dict[str, Any]],
    anchors: dict[int, str],
    note: str = "",
) -> dict[str, Any]:
    """The interactive chart's data: each series' kept points (step, value, epoch, seconds since the start).

    The points are the extreme-preserving downsampling the static chart draws (every point of short
    series). Epochs are given only when every series has them, times only when every point has a wall
    time; the page offers those x axes only then. Non-finite values are null (a gap in the line).
    ``es`` instead of ``e`` says the epochs equal the steps; ``s0`` and ``ds`` instead of ``s`` give
    evenly spaced steps by the first and the stride.
    """
    has_epochs = all(_has_epochs(s) for s in series)
    walls = [s.wall_time[i] for s, i in zip(series, picks)]
    has_time = all(w.size and np.isfinite(w).all() for w in walls)
    t0 = min(float(w[0]) for w in walls) if has_time else None
    colors = {"train": 0, "val": 1, "test": 2, "other": 3}
    out_series = []
    for s, idx, w in zip(series, picks, walls):
        item: dict[str, Any] = {
            "label": s.metric if s.split == "other" else s.split,
            "split": s.split,
            "c": colors.get(s.split, 4),
            "n": len(s),
            "y": _rounded(s.values[idx]),
        }
        steps = [int(v) if float(v).is_integer() else float(v) for v in s.steps[idx].tolist()]
        stride = steps[1] - steps[0] if len(steps) > 2 else 0
        if stride > 0 and all(b - a == stride for a, b in zip(steps, steps[1:])):
            item["s0"], item["ds"] = steps[0], stride  # evenly spaced steps: first and stride only
        else:
            item["s"] = steps
        if has_epochs:
            epochs = _rounded(s.epochs[idx], 6)
            if epochs == [float(v) for v in steps]:
                item["es"] = True  # the epochs are the steps (epoch-indexed logs): not repeated
            else:
                item["e"] = epochs
        if t0 is not None:
            item["t"] = [round(float(v) - t0, 2) for v in w.tolist()]
        out_series.append(item)
    findings = []
    for i, f in enumerate(run.findings):
        if f.metric != metric:
            continue
        findings.append({
            "code": f.code, "sev": f.severity, "kind": f.kind, "anchor": anchors.get(i, ""),
            "title": f"{f.code} {f.kind} ({f.split} {f.metric}): {f.message}",
            "s0": _finite_or_none(f.start_step), "s1": _finite_or_none(f.end_step),
            "e0": _finite_or_none(f.start_epoch), "e1": _finite_or_none(f.end_epoch),
        })  # fmt: skip
    return {
        "metric": metric,
        "x": "epoch" if use_epoch else "step",
        "log": bool(use_log),
        "logOk": bool(fin.size and (fin > 0).all()),
        "t0": t0,
        "note": note,
        "series": out_series,
        "findings": findings[-MAX_REGIONS:],
        "cps": changepoints,
    }


def _layout_labels(regions: list[Region], left: float, right: float, top: float) -> None:
    """Place finding codes above the plot in two rows without overlaps; crowded ones fold into ``+N``."""
    rows_end = [-math.inf, -math.inf]
    placed: list[tuple[int, Region, float, float]] = []  # (row, region, start, end)
    for r in sorted(regions, key=lambda r: (r.x0, r.x1)):
        width = LABEL_CHAR_PX * len(r.code) + 2
        start, end, at_end = r.x0, r.x0 + width, False
        if end > right + 8:
            start, end, at_end = r.x1 - width, r.x1, True
        for row in (0, 1):
            if start >= rows_end[row] + 4:
                rows_end[row] = end
                r.label, r.label_end, r.label_y = r.code, at_end, top - 8 - 11 * row
                r.label_x = end if at_end else start
                placed.append((row, r, start, end))
                break
        else:
            row, host, hs, he = min(placed, key=lambda p: abs(p[2] - start))
            extra = int(host.label.rpartition("+")[2]) + 1 if "+" in host.label else 1
            host.label = f"{host.code} +{extra}"
            new_end = hs + LABEL_CHAR_PX * len(host.label) + 2
            rows_end[row] = max(rows_end[row], new_end)


def build_charts(run: RunReport, *, max_charts: int = 4, max_points: int = 400,
                 anchors: dict[int, str] | None = None) -> list[Chart]:
    """Up to ``max_charts`` charts for ``run`` (none without a view); see :func:`chart_groups`."""
    charts = []
    for metric in chart_groups(run, max_charts):
        c = build_chart(run, metric, max_points=max_points, anchors=anchors)
        if c is not None:
            charts.append(c)
    return charts
