"""Detection benchmark: precision and recall of every finding kind on labelled runs.

Usage: ``python benchmarks/bench_detection.py [--synthetic 900] [--seed 0] [--no-samples] [--no-real] [--show N]``

Three sources of labelled runs:

* synthetic runs from ``generate_runs`` of ``benchmarks/synthetic.py`` (healthy families and
  every finding kind, with exact ground truth);
* ``sample_logs/`` with its ``LABELS.json`` (realistic files in every supported format), read with
  :func:`trainlog_doctor.api.load`;
* hand-labelled real logs from ``../shared/real_logs`` (``benchmarks/real_labels.json``).

A finding matches a label when the kind is the same, the metric and split are the same wherever the
label names them, and the finding's start is within the onset tolerance of the label's onset: 3 epochs
or 10% of the run, whichever is larger. Each label is matched at most once and each finding at most
once. Recall = matched labels / labels; precision = matched findings / findings (per kind).
"Healthy runs flagged" is the share of runs without labels that get any warning or error.
Writes ``benchmarks/results/detection.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))  # synthetic.py, the curve generator

from trainlog_doctor.model.report import Finding  # noqa: E402
from trainlog_doctor.rules import KINDS, detect  # noqa: E402

REAL_LOGS = REPO.parent / "shared" / "real_logs"
SAMPLE_LOGS = REPO / "sample_logs"
REAL_LABELS = HERE / "real_labels.json"
RESULTS = HERE / "results" / "detection.md"


@dataclass
class Case:
    """One labelled run: its frame, run facts, labels and how to measure onset distance."""

    source: str  # synthetic | samples | real
    name: str
    frame: pl.DataFrame
    meta: dict[str, Any]
    labels: list[dict[str, Any]]
    findings: list[Finding] = field(default_factory=list)
    matched_labels: list[int] = field(default_factory=list)
    matched_findings: list[int] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.labels


# ---- matching ---------------------------------------------------------------------------------------


def run_span(frame: pl.DataFrame) -> tuple[float, float]:
    """(step span of the run, steps per epoch or 0 when epochs are unknown)."""
    steps = frame["step"].drop_nulls()
    if steps.len() == 0:
        return 0.0, 0.0
    span = float(steps.max() - steps.min())  # type: ignore[operator]
    pe = frame.filter(pl.col("epoch").is_not_null() & pl.col("epoch").is_not_nan()).select("step", "epoch")
    per_epoch = 0.0
    if pe.height >= 2:
        e_span = float(pe["epoch"].max() - pe["epoch"].min())  # type: ignore[operator]
        s_span = float(pe["step"].max() - pe["step"].min())  # type: ignore[operator]
        if e_span > 0:
            per_epoch = s_span / e_span
    return span, per_epoch


def onset_tolerance(frame: pl.DataFrame) -> float:
    """3 epochs or 10% of the run, in steps, whichever is larger."""
    span, per_epoch = run_span(frame)
    return max(0.1 * span, 3.0 * per_epoch, 1.0)


def label_step(label: dict[str, Any], frame: pl.DataFrame) -> float | None:
    """The label's onset as a step (``onset``/``onset_step``), or from ``onset_epoch``; None when absent."""
    for key in ("onset_step", "onset"):
        if label.get(key) is not None:
            return float(label[key])
    if label.get("onset_epoch") is not None:
        ep = float(label["onset_epoch"])
        pe = frame.filter(pl.col("epoch").is_not_null() & pl.col("epoch").is_not_nan())
        if pe.height:
            near = pe.with_columns((pl.col("epoch") - ep).abs().alias("d")).sort(["d", "step"])
            return float(near["step"][0])
    return None


def _same_metric(label: dict[str, Any], f: Finding) -> bool:
    m = label.get("metric")
    if m is not None and m != f.metric:
        return False
    sp = label.get("split")
    return sp is None or sp == f.split


def match_case(case: Case) -> None:
    """Greedy one-to-one matching of findings to labels (closest onset first)."""
    tol = onset_tolerance(case.frame)
    pairs: list[tuple[float, int, int]] = []
    for li, lab in enumerate(case.labels):
        step = label_step(lab, case.frame)
        for fi, f in enumerate(case.findings):
            if f.kind != lab["kind"] or not _same_metric(lab, f):
                continue
            if step is None:
                pairs.append((0.0, li, fi))
                continue
            if f.start_step is None:
                continue
            d = abs(float(f.start_step) - step)
            if d <= tol:
                pairs.append((d, li, fi))
    used_l: set[int] = set()
    used_f: set[int] = set()
    for _, li, fi in sorted(pairs):
        if li in used_l or fi in used_f:
            continue
        used_l.add(li)
        used_f.add(fi)
    case.matched_labels = sorted(used_l)
    case.matched_findings = sorted(used_f)


# ---- sources ------------------------------------------------------------------------------------------


def synthetic_cases(n: int, seed: int) -> list[Case]:
    from synthetic import generate_runs

    out = []
    for i, run in enumerate(generate_runs(n, seed=seed)):
        name = f"synthetic/{i:04d}-{run.family}"
        out.append(Case("synthetic", name, run.to_frame(run_id=name), dict(run.meta), list(run.labels)))
    return out


def _load(path: Path) -> list[tuple[str, pl.DataFrame, dict[str, Any]]]:
    """Runs under ``path`` as (run_id, frame, meta), read by the package's discovery and readers."""
    from trainlog_doctor.readers.discover import discover

    out = []
    for cand in discover([str(path)]):
        if cand.reader is None:
            continue
        for data in cand.reader.read(cand.path, cand.run_id):
            if data.frame.height:
                rid = cand.run_id + data.suffix
                out.append((rid, data.frame.with_columns(pl.lit(rid).alias("run_id")), dict(data.meta)))
    return out


def labelled_file_cases(source: str, root: Path, labels_path: Path) -> list[Case]:
    """Cases from a labels file mapping run paths (relative to ``root``) to their labels."""
    if not labels_path.is_file() or not root.is_dir():
        return []
    data = json.loads(labels_path.read_text())
    runs = data.get("runs", data) if isinstance(data, dict) else data
    items: Iterable[tuple[str, Any]]
    if isinstance(runs, dict):
        items = runs.items()
    else:
        items = [(r["path"], r) for r in runs]
    out: list[Case] = []
    for rel, entry in items:
        if str(rel).startswith("_") or not isinstance(entry, (dict, list)):
            continue
        labels = entry.get("findings", entry.get("labels", [])) if isinstance(entry, dict) else entry
        meta = entry.get("meta", {}) if isinstance(entry, dict) else {}
        path = root / rel
        if not path.exists():
            print(f"  missing: {path}", file=sys.stderr)
            continue
        try:
            loaded = _load(path)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
            print(f"  cannot read {rel}: {exc}", file=sys.stderr)
            continue
        want_run = entry.get("run") if isinstance(entry, dict) else None
        for rid, frame, rmeta in loaded:
            if want_run is not None and not str(rid).endswith(str(want_run)):
                continue
            if want_run is None and len(loaded) > 1 and rid != loaded[0][0]:
                continue  # labels describe the first run of a file unless "run" says otherwise
            name = f"{source}/{rel}" + (str(want_run) if want_run else "")
            out.append(Case(source, name, frame, {**rmeta, **meta}, list(labels)))
    return out


# ---- scoring ------------------------------------------------------------------------------------------


@dataclass
class Score:
    labels: int = 0
    found: int = 0
    findings: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else math.nan

    @property
    def precision(self) -> float:
        return self.correct / self.findings if self.findings else math.nan


def score(cases: list[Case], warn_only: bool = False) -> tuple[dict[str, Score], float, int]:
    """Per-kind scores, share of healthy runs with any warning/error, number of healthy runs."""
    per: dict[str, Score] = defaultdict(Score)
    healthy = flagged = 0
    for c in cases:
        for li, lab in enumerate(c.labels):
            per[lab["kind"]].labels += 1
            per[lab["kind"]].found += li in c.matched_labels
        for fi, f in enumerate(c.findings):
            if warn_only and f.severity == "info":
                continue
            per[f.kind].findings += 1
            per[f.kind].correct += fi in c.matched_findings
        if c.healthy:
            healthy += 1
            flagged += any(f.severity in ("warning", "error") for f in c.findings)
    share = flagged / healthy if healthy else math.nan
    return dict(per), share, healthy


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.2f}"


def table(cases: list[Case], title: str) -> list[str]:
    per, share, healthy = score(cases)
    lines = [f"### {title}", "", f"{len(cases)} runs, {healthy} healthy, {sum(len(c.labels) for c in cases)} labels.", ""]
    lines += ["| kind | labels | recall | findings | precision |", "| --- | ---: | ---: | ---: | ---: |"]
    tot = Score()
    for k in KINDS:
        s = per.get(k, Score())
        tot.labels += s.labels
        tot.found += s.found
        tot.findings += s.findings
        tot.correct += s.correct
        lines.append(f"| {k} | {s.labels} | {_pct(s.recall)} | {s.findings} | {_pct(s.precision)} |")
    lines.append(f"| **all** | {tot.labels} | {_pct(tot.recall)} | {tot.findings} | {_pct(tot.precision)} |")
    lines += ["", f"Healthy runs with any warning or error: {flagged_text(share, healthy)}", ""]
    return lines


def flagged_text(share: float, healthy: int) -> str:
    if math.isnan(share):
        return "- (no healthy runs)"
    return f"{share * 100:.1f}% of {healthy}"


def misses(cases: list[Case], limit: int) -> list[str]:
    """Human-readable list of missed labels and unmatched warnings/errors (for tuning)."""
    out: list[str] = []
    for c in cases:
        for li, lab in enumerate(c.labels):
            if li not in c.matched_labels:
                got = [(f.code, f.metric, f.split, f.start_step) for f in c.findings if f.kind == lab["kind"]]
                out.append(f"MISS {c.name}: {lab} got {got}")
        for fi, f in enumerate(c.findings):
            if fi not in c.matched_findings and f.severity != "info":
                out.append(f"FP   {c.name}: {f.code} {f.split}/{f.metric} @{f.start_step}: {f.message}")
    return out[:limit] if limit >= 0 else out


def _summary(cases: list[Case]) -> tuple[str, str, str]:
    per, share, healthy = score(cases)
    lab = sum(s.labels for s in per.values())
    found = sum(s.found for s in per.values())
    fnd = sum(s.findings for s in per.values())
    cor = sum(s.correct for s in per.values())
    recall = f"{found}/{lab} = {_pct(found / lab if lab else math.nan)}"
    precision = f"{cor}/{fnd} = {_pct(cor / fnd if fnd else math.nan)}"
    return recall, precision, flagged_text(share, healthy)


def ablation(groups: dict[str, list[Case]]) -> list[str]:
    """The same runs detected again with the segment classifier switched off, next to the normal run."""
    import copy

    from trainlog_doctor.rules.analysis import without_classifier

    lines = [
        "### What the segment classifier contributes",
        "",
        "The same runs detected again with the classifier switched off (`rules.analysis.without_classifier`:",
        "its `falling`/`rising` shares, which veto PL001 and ST001, read 0). Runs changed = runs whose",
        "warnings/errors differ.",
        "",
        "| source | recall with | recall without | precision with | precision without | healthy flagged with "
        "| healthy flagged without | runs changed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, cases in groups.items():
        if not cases:
            continue
        off = [copy.copy(c) for c in cases]
        changed = 0
        with without_classifier():
            for c, o in zip(cases, off):
                o.findings = detect(o.frame, o.meta)
                o.matched_labels, o.matched_findings = [], []
                match_case(o)
                key = lambda fs: sorted((f.code, f.metric, f.split, f.start_step) for f in fs if f.severity != "info")  # noqa: E731
                changed += key(c.findings) != key(o.findings)
        (r1, p1, h1), (r0, p0, h0) = _summary(cases), _summary(off)
        lines.append(f"| {name} | {r1} | {r0} | {p1} | {p0} | {h1} | {h0} | {changed} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", type=int, default=900, help="number of synthetic runs (default 900)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-samples", action="store_true")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--show", type=int, default=0, help="print up to N misses and false positives")
    ap.add_argument("--source", default=None, help="only show misses of this source")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-ablation", action="store_true", help="skip the run without the segment classifier")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    groups: dict[str, list[Case]] = {}
    if args.synthetic:
        groups["synthetic"] = synthetic_cases(args.synthetic, args.seed)
    if not args.no_samples:
        groups["samples"] = labelled_file_cases("samples", SAMPLE_LOGS, SAMPLE_LOGS / "LABELS.json")
    if not args.no_real:
        groups["real"] = labelled_file_cases("real", REAL_LOGS, REAL_LABELS)
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    n_runs = 0
    for cases in groups.values():
        for c in cases:
            c.findings = detect(c.frame, c.meta)
            match_case(c)
            n_runs += 1
    t_detect = time.perf_counter() - t1

    lines = [
        "# Detection benchmark",
        "",
        "Generated by `benchmarks/bench_detection.py`"
        + (f" (synthetic: {args.synthetic} runs, seed {args.seed})" if args.synthetic else "")
        + ". A finding matches a label with the same kind (and metric/split when the label names them)",
        "whose onset is within 3 epochs or 10% of the run. Targets: recall >= 0.9 for every kind, at most",
        "5% of healthy runs with any warning or error.",
        "",
    ]
    all_cases: list[Case] = []
    for name, cases in groups.items():
        if not cases:
            lines += [f"### {name}", "", "No labelled runs available.", ""]
            continue
        all_cases += cases
        lines += table(cases, name)
    if len(groups) > 1 and all_cases:
        lines += table(all_cases, "all sources")
    lines += [
        f"Detection time: {t_detect:.1f} s for {n_runs} runs ({1000 * t_detect / max(n_runs, 1):.0f} ms/run); "
        f"loading {t_load:.1f} s.",
        "",
    ]
    if not args.no_ablation and all_cases:
        lines += ablation(groups)
    file_cases = [c for c in all_cases if c.source != "synthetic"]
    missed = [m for m in misses(file_cases, -1) if m.startswith("MISS")]
    if missed:
        lines += ["### Missed labels (samples and real logs)", ""]
        lines += [f"- `{m[5:].split(':', 1)[0]}`: {m[5:].split(':', 1)[1].split(' got ')[0].strip()}" for m in missed[:25]]
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.show:
        shown = [c for c in all_cases if args.source is None or c.source == args.source]
        print("\n".join(misses(shown, args.show)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
