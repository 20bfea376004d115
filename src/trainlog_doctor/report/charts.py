"""Chart geometry for the HTML report: which series to plot, scales, ticks, paths and finding regions.

Everything here is numbers and plain strings; the SVG markup itself is written by the Jinja template
(autoescaped), so no log-derived text is ever placed into markup from Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from trainlog_doctor.run.names import is_lr_name

from trainlog_doctor.run.series import split_series
from trainlog_doctor.model.report import SEVERITY_RANK, Finding, RunReport
from trainlog_doctor.run import is_per_class_metric, metric_role
from trainlog_doctor.signals.transforms import downsample_indices, should_use_log

__all__ = [
    "SeriesData",
    "Chart",
    "ChartLine",
    "Region",
    "Mark",
    "Tick",
    "extract_series",
    "chart_groups",
    "build_charts",
    "nice_ticks",
    "log_ticks",
    "fmt_num",
    "main_series",
]

WIDTH, HEIGHT = 640, 210
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 58, 14, 30, 30
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "other": 3}
PRIMARY_LOSS_NAMES = ("loss", "total_loss", "train_loss", "loss_total", "overall_loss", "objective", "nll_loss")
SCORE_PREFERENCE = ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy", "top1", "acc1",
                    "binary_accuracy", "map", "f1", "auc")  # fmt: skip
MAX_NONFINITE_MARKS = 120
MAX_REGIONS = 16
LABEL_CHAR_PX = 6.6


@dataclass
class SeriesData:
    """One (metric, split) series sorted by step, one point per step (the last written)."""

    metric: str
    split: str
    steps: np.ndarray
    epochs: np.ndarray
    wall_time: np.ndarray
    values: np.ndarray
    derived: str = ""  # why the values are not the logged ones ("" when they are)

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def has_epochs(self) -> bool:
        """Every point has a finite epoch and epochs never go back along the steps."""
        ep = self.epochs
        return bool(ep.size) and bool(np.isfinite(ep).all()) and bool((np.diff(ep) >= 0).all())


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
    width: int = WIDTH
    height: int = HEIGHT
    left: float = MARGIN_LEFT
    right: float = WIDTH - MARGIN_RIGHT
    top: float = MARGIN_TOP
    bottom: float = HEIGHT - MARGIN_BOTTOM


# ---- series access ---------------------------------------------------------------------------------


class FrameIndex:
    """The series of one run's frame by (metric, split), all extracted in one pass (:func:`split_series`)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self._series = {
            (a.metric, a.split): SeriesData(a.metric, a.split, a.steps, a.epochs, a.wall_time, a.values)
            for a in split_series(frame)
        }
        self.table = {key: len(self._series[key]) for key in sorted(self._series)}
        self.metrics = _by_metric(self.table)

    def get(self, metric: str, split: str) -> SeriesData:
        """The series (empty when absent), sorted by step with one point per step."""
        found = self._series.get((metric, split))
        if found is None:
            return SeriesData(metric, split, np.empty(0, np.int64), *(np.empty(0),) * 3)
        return found

    def splits(self, metric: str) -> list[str]:
        return sorted(self.metrics.get(metric, {}), key=lambda s: (SPLIT_ORDER.get(s, 9), s))


def extract_series(frame: pl.DataFrame, metric: str, split: str) -> SeriesData:
    """The (metric, split) series of ``frame`` sorted by step, keeping the last point written per step."""
    return FrameIndex(frame).get(metric, split)


def _role(metric: str, split: str) -> str:
    role = metric_role(metric, split)
    if split == "other" and role in ("loss", "score") and is_lr_name(metric):
        return "lr"
    return role


def _by_metric(table: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (m, s), n in table.items():
        out.setdefault(m, {})[s] = n
    return out


def _primary_loss(metrics: dict[str, dict[str, int]]) -> str | None:
    """The main loss metric: a standard name logged for training, else the longest training loss, else val."""
    losses = {m: splits for m, splits in metrics.items() if _role(m, "train") == "loss" and set(splits) - {"other"}}
    if not losses:
        return None
    train = {m: s for m, s in losses.items() if "train" in s}
    pool = train or losses
    for name in PRIMARY_LOSS_NAMES:
        for m in pool:
            if m.lower() == name:
                return m
    return sorted(pool, key=lambda m: (-max(pool[m].values()), m))[0]


def _primary_score(metrics: dict[str, dict[str, int]]) -> str | None:
    """The main score (accuracy-like) metric, preferring one logged for both train and val."""
    scores = [
        m for m, splits in metrics.items()
        if _role(m, "train") == "score" and set(splits) - {"other"} and not is_per_class_metric(m)
    ]  # fmt: skip
    if not scores:
        return None

    def rank(m: str) -> tuple[int, int, int, str]:
        low = m.lower()
        pref = SCORE_PREFERENCE.index(low) if low in SCORE_PREFERENCE else (20 if "acc" in low else 50)
        both = 0 if {"train", "val"} <= set(metrics[m]) else 1
        return (both, pref, -max(metrics[m].values()), m)

    return sorted(scores, key=rank)[0]


def _primary_lr(metrics: dict[str, dict[str, int]]) -> str | None:
    cands = [m for m, splits in metrics.items() if any(_role(m, s) == "lr" for s in splits)]
    if not cands:
        return None
    return sorted(cands, key=lambda m: (0 if m.lower() in ("lr", "learning_rate", "train_lr") else 1,
                                        -max(metrics[m].values()), m))[0]  # fmt: skip


def chart_groups(run: RunReport, max_charts: int = 4, index: FrameIndex | None = None) -> list[str]:
    """Metric names to chart for ``run`` (every split of a metric shares one chart), most useful first.

    Order: the primary loss, metrics with error/warning findings (worst first), the main score,
    metrics with info findings, the learning rate. A slowdown on a time series that is not in the
    frame (derived from wall-clock times) is charted as ``time_per_step``.
    """
    if run.frame is None:
        return []
    metrics = (index or FrameIndex(run.frame)).metrics
    groups: list[str] = []

    def add(m: str | None) -> None:
        if m and m not in groups and (m in metrics or m == "time_per_step"):
            groups.append(m)

    def of(f: Finding) -> str:
        return f.metric if f.metric in metrics or f.kind != "slowdown" else "time_per_step"

    add(_primary_loss(metrics))
    ranked = sorted(run.findings, key=lambda f: -SEVERITY_RANK.get(f.severity, 0))
    for f in ranked:
        if f.severity != "info":
            add(of(f))
    add(_primary_score(metrics))
    for f in ranked:
        if f.severity == "info":
            add(of(f))
    add(_primary_lr(metrics))
    return groups[:max_charts]


def main_series(run: RunReport) -> list[SeriesData]:
    """The series a compact summary shows: primary loss (train, val) and the main score (train, val)."""
    if run.frame is None or run.frame.height == 0:
        return []
    index = FrameIndex(run.frame)
    keys = [(m, sp) for m in (_primary_loss(index.metrics), _primary_score(index.metrics)) if m
            for sp in ("train", "val") if sp in index.metrics[m]]  # fmt: skip
    return [index.get(m, sp) for m, sp in keys]


def _group_series(index: FrameIndex, metric: str) -> list[SeriesData]:
    """Every split of ``metric`` (cumulative time turned into per-step durations), or a derived time per step."""
    out = [index.get(metric, s) for s in index.splits(metric)]
    if not out and metric == "time_per_step":
        base = _primary_loss(index.metrics)
        if base is None:  # no loss: the longest series carries the wall-clock times just as well
            base = max(index.metrics, key=lambda m: (max(index.metrics[m].values()), m), default=None)
        if base is not None:
            derived = _time_from_wall(index.get(base, index.splits(base)[0]))
            if derived is not None:
                out.append(derived)
    return [_per_step_if_cumulative(s) if _role(s.metric, s.split) == "time" else s for s in out]


def _time_from_wall(base: SeriesData) -> SeriesData | None:
    """Seconds per step from the wall-clock times of ``base``."""
    ok = np.flatnonzero(np.isfinite(base.wall_time))
    if ok.size < 3:
        return None
    dt = np.diff(base.wall_time[ok])
    ds = np.diff(base.steps[ok]).astype(np.float64)
    good = (ds > 0) & (dt >= 0)
    if good.sum() < 2:
        return None
    keep = ok[1:][good]
    return SeriesData("time_per_step", "other", base.steps[keep], base.epochs[keep], base.wall_time[keep],
                      dt[good] / ds[good], derived="seconds per step, from the wall-clock times")  # fmt: skip


def _per_step_if_cumulative(s: SeriesData) -> SeriesData:
    """A time series written as a running total (ultralytics ``time``) shown as durations per step."""
    ok = np.flatnonzero(np.isfinite(s.values))
    if ok.size < 4:
        return s
    v = s.values[ok]
    d = np.diff(v)
    if (d >= -1e-9).all() and v[-1] > 3 * max(v[1], 1e-9) and np.median(d) > 0:
        keep = ok[1:]
        per_step = d / np.maximum(np.diff(s.steps[ok]), 1)
        return SeriesData(s.metric, s.split, s.steps[keep], s.epochs[keep], s.wall_time[keep], per_step,
                          derived="per-step durations of a cumulative time")  # fmt: skip
    return s


# ---- scales and ticks ------------------------------------------------------------------------------


def fmt_num(v: float, digits: int = 3) -> str:
    """A short, readable number: ``0.0123``, ``1.5k``, ``2.3M``, ``1e-05``, ``3``."""
    if v is None or not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e15 or a < 1e-4:
        return _clean_exp(f"{v:.{max(digits - 1, 0)}e}")
    for limit, div, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if a >= limit:
            return f"{v / div:.{digits}g}{suffix}"
    return f"{v:.{digits}g}"


def _clean_exp(label: str) -> str:
    mant, _, exp = label.partition("e")
    if not exp:
        return label
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    sign = "-" if exp.startswith("-") else ""
    return f"{mant}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"


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
        return _clean_exp(f"{v:.1e}")
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


def _x_of(s: SeriesData, use_epoch: bool) -> np.ndarray:
    return s.epochs if use_epoch else s.steps.astype(np.float64)


def _step_to_x(series: list[SeriesData], use_epoch: bool):  # type: ignore[no-untyped-def]
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
    anchors: dict[int, str] | None = None,
    index: FrameIndex | None = None,
) -> Chart | None:
    """The chart of every split of ``metric`` in ``run`` (None when nothing finite is left to draw)."""
    if run.frame is None:
        return None
    index = index or FrameIndex(run.frame)
    index_metrics = index.metrics
    series = [s for s in _group_series(index, metric) if len(s)]
    if not series:
        return None
    # Bucket min/max downsampling keeps every extreme, so ranges computed on the kept points are exact.
    picks = [downsample_indices(s.values, max_points) for s in series]
    all_vals = np.concatenate([s.values[i] for s, i in zip(series, picks)])
    fin = all_vals[np.isfinite(all_vals)]
    if fin.size == 0:
        return None
    use_epoch = all(s.has_epochs for s in series)
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
    for s, idx in zip(series, picks):
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
    def shown_here(f: Finding) -> bool:
        derived_time = metric == "time_per_step" and f.kind == "slowdown" and f.metric not in index_metrics
        return f.metric == metric or derived_time

    findings = [(i, f) for i, f in enumerate(run.findings) if shown_here(f)]
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
        if x1 - x0 < 3:
            mid = (x0 + x1) / 2
            x0, x1 = max(L, mid - 1.5), min(R, mid + 1.5)
        chart.regions.append(Region(
            x0=round(x0, 1), x1=round(x1, 1), code=f.code, severity=f.severity, label_y=T - 8,
            title=f"{f.code} {f.kind} ({f.split} {f.metric}): {f.message}", anchor=(anchors or {}).get(i, ""),
        ))  # fmt: skip
    _layout_labels(chart.regions, L, R, T)

    # change points
    for s in series:
        cps = run.changepoints.get((s.metric, s.split), []) if run.changepoints else []
        for step in list(cps)[:60]:
            try:
                xv = to_x(float(step))
            except (TypeError, ValueError):
                continue
            if not (xlo <= xv <= xhi):
                continue
            where = f"epoch {xv:.4g} (step {int(step)})" if use_epoch else f"step {int(step)}"
            chart.marks.append(Mark(x=round(float(px(xv)), 1), color=colors.get(s.split, 4),
                                    title=f"change point in {s.split} {s.metric} at {where}"))  # fmt: skip
    return chart


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
    """Up to ``max_charts`` charts for ``run`` (none without a frame); see :func:`chart_groups`."""
    if run.frame is None or run.frame.height == 0:
        return []
    index = FrameIndex(run.frame)
    groups = chart_groups(run, max_charts, index)
    charts = []
    for metric in groups:
        c = build_chart(run, metric, max_points=max_points, anchors=anchors, index=index)
        if c is not None:
            charts.append(c)
    return charts
