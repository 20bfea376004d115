"""Real-log benchmark with a fixed tuning/test split (issue 14, deliverable 1).

Usage: ``python benchmarks/bench_real_logs.py [--resamples 2000] [--seed 14] [--output PATH] [--part tune|test]``

``--part tune`` runs and scores the tuning part alone and prints its tables and misses without writing
the results file (unless ``--output`` is given): the working loop of a rule change, which must never
show the test part.

Runs :func:`trainlog_doctor.api.analyze` over every labelled run directory of ``../shared/real_logs``
(skipped when that directory is absent; the logs are never copied into the project) and scores the
verdicts against two label sets:

* ``second reader``: ``../shared/real_logs/LABELS_second_reader.tsv`` as given (43 runs; their ``;``
  inside ``expect`` is read as a separator between two expectations, as their notes describe);
* ``reconciled``: ``benchmarks/labels/real_logs_reconciled.tsv`` (66 runs), the project's labels and the
  second reader's reconciled on the curves, with onsets and ``allow`` kinds.

Protocol
--------
* Unit: a run directory. Every run the tool reports under it (appended runs, several event files) is
  pooled: the directory is what the user pointed the tool at.
* Only ``warning`` and ``error`` findings count as verdicts. ``info`` findings are ignored for recall,
  precision and cleanliness (a hedge is not a verdict); forbidden kinds reported at any severity are
  given on a side line.
* An expectation (a kind, or ``a|b``: either kind) is *found* when a finding of one of its kinds is
  reported on the run directory and, where the label gives an onset, the finding starts within the
  tolerance of it: 3 epochs or 10% of the run span, whichever is larger. ``@e<epoch>`` onsets are
  compared with ``start_epoch``, ``@s<step>`` onsets with ``start_step`` (3 epochs converted to steps when
  the run logs epochs). Metric and split are not checked: the labels are per run, not per series.
* Recall per kind: one row per expectation, keyed by its first kind (``collapse|stagnation`` counts
  under collapse); overall recall = found / expected expectations.
* Forbidden: (run, kind) pairs where a forbidden kind is reported; given as a count, the runs, and the
  share of labelled forbidden pairs.
* Healthy runs clean: runs with an empty ``expect`` that get no warning/error finding at all. For the
  reconciled set also "clean except allowed kinds" (kinds the labels call defensible but not required).
* Precision (where meaningful), per (run, reported kind): a true positive when the kind satisfies one of
  the run's expectations (onset included) or is allowed; a false positive when it is forbidden, or
  reported on a healthy run and not allowed; an expected kind reported only at the wrong place is
  counted apart ("misplaced") and left out, as are kinds the labels do not judge.
* 95% intervals: percentile bootstrap over run directories (resampled with replacement within a part,
  ``--resamples`` times, seeded).

Split v1 (fixed, also written in the labels file): within each format family (first path component),
run directories are ordered by ``sha256("trainlog-doctor split v1:" + run_dir)``; positions alternate
tune/test, starting with tune when the first hex digit of ``sha256("trainlog-doctor split v1:" +
family)`` is below 8, else with test. Event-file twins of a CSV run (``tfevents_16`` = ``ultralytics_01``,
``tfevents_17`` = ``ultralytics_05``, the same training runs) take their twin's part. The script checks
the ``part`` column against this rule and stops on any difference. The second reader's runs take the
part of the same directory.

The test part is scored for reporting only. Rules, thresholds and models must be tuned on the tune
part alone; a test-part miss is reported, never fixed by looking at that run. Changing the split or a
test label after seeing results voids the comparison (make a new split version instead).

Writes ``benchmarks/results/real_logs.md``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

REAL_LOGS = REPO.parent / "shared" / "real_logs"
RECONCILED = HERE / "labels" / "real_logs_reconciled.tsv"
SECOND_READER = REAL_LOGS / "LABELS_second_reader.tsv"
RESULTS = HERE / "results" / "real_logs.md"

SPLIT_SALT = "trainlog-doctor split v1:"
TWINS = {"tfevents/tfevents_16": "ultralytics/ultralytics_01", "tfevents/tfevents_17": "ultralytics/ultralytics_05"}
PARTS = ("tune", "test")
VERDICT = {"warning", "error"}


# ---- split ------------------------------------------------------------------------------------------


def _h(text: str) -> str:
    return hashlib.sha256((SPLIT_SALT + text).encode()).hexdigest()


def split_v1(run_dirs: Sequence[str]) -> dict[str, str]:
    """The fixed tune/test assignment of ``run_dirs`` (see the module doc)."""
    families: dict[str, list[str]] = defaultdict(list)
    for rd in run_dirs:
        if rd not in TWINS:
            families[rd.split("/")[0]].append(rd)
    part: dict[str, str] = {}
    for fam, dirs in families.items():
        dirs.sort(key=_h)
        start = 0 if int(_h(fam)[0], 16) < 8 else 1
        for i, rd in enumerate(dirs):
            part[rd] = "tune" if (i + start) % 2 == 0 else "test"
    for twin, of in TWINS.items():
        if twin in run_dirs:
            part[twin] = part[of]
    return part


# ---- labels -----------------------------------------------------------------------------------------


@dataclass
class Expectation:
    kinds: frozenset[str]
    text: str  # as written, e.g. "collapse|stagnation"
    onset: tuple[str, float] | None = None  # ("e", epoch) or ("s", step)

    @property
    def key(self) -> str:
        return self.text.split("|")[0]


@dataclass
class Label:
    run_dir: str
    part: str
    expect: list[Expectation]
    forbid: set[str]
    allow: set[str] = field(default_factory=set)

    @property
    def healthy(self) -> bool:
        return not self.expect


def _kinds(cell: str) -> set[str]:
    return {k.strip() for k in cell.split(",") if k.strip()}


def _expectations(cell: str, onsets: str = "") -> list[Expectation]:
    at: dict[str, tuple[str, float]] = {}
    for item in filter(None, (o.strip() for o in onsets.split(","))):
        text, pos = item.rsplit("@", 1)
        at[text] = (pos[0], float(pos[1:]))
    out = []
    for text in filter(None, (t.strip() for t in cell.replace(";", ",").split(","))):
        out.append(Expectation(frozenset(text.split("|")), text, at.get(text)))
    unknown = set(at) - {e.text for e in out}
    if unknown:
        raise ValueError(f"onset for no expectation: {sorted(unknown)}")
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def load_reconciled(path: Path = RECONCILED) -> list[Label]:
    rows = _rows(path)
    labels = [
        Label(
            r["run_dir"],
            r["part"],
            _expectations(r["expect"], r["onset"]),
            _kinds(r["forbid"]),
            _kinds(r["allow"]),
        )
        for r in rows
    ]
    want = split_v1([lab.run_dir for lab in labels])
    bad = [(lab.run_dir, lab.part, want[lab.run_dir]) for lab in labels if lab.part != want[lab.run_dir]]
    if bad:
        raise SystemExit(f"part column differs from split v1: {bad}")
    return labels


def load_second_reader(parts: dict[str, str], path: Path = SECOND_READER) -> list[Label]:
    out = []
    for r in _rows(path):
        rd = r["run_dir"]
        if rd not in parts:
            raise SystemExit(f"{rd}: second-reader run missing from the reconciled file (no part)")
        out.append(Label(rd, parts[rd], _expectations(r["expect"]), _kinds(r["forbid"])))
    return out


# ---- running the tool -------------------------------------------------------------------------------


@dataclass
class RunResult:
    run_dir: str
    findings: list[Any]  # trainlog_doctor Finding objects, every severity
    statuses: list[str]
    step_span: float = 0.0
    epoch_span: float = 0.0
    steps_per_epoch: float = 0.0
    seconds: float = 0.0

    @property
    def verdicts(self) -> list[Any]:
        return [f for f in self.findings if f.severity in VERDICT]


def _spans(frame: Any) -> tuple[float, float, float]:
    import polars as pl

    steps = frame["step"].drop_nulls()
    step_span = float(steps.max() - steps.min()) if steps.len() else 0.0  # type: ignore[operator]
    pe = frame.filter(pl.col("epoch").is_not_null() & pl.col("epoch").is_not_nan()).select("step", "epoch")
    epoch_span = per_epoch = 0.0
    if pe.height >= 2:
        epoch_span = float(pe["epoch"].max() - pe["epoch"].min())  # type: ignore[operator]
        s_span = float(pe["step"].max() - pe["step"].min())  # type: ignore[operator]
        if epoch_span > 0:
            per_epoch = s_span / epoch_span
    return step_span, epoch_span, per_epoch


def run_tool(run_dir: str) -> RunResult:
    from trainlog_doctor.api import analyze

    t0 = time.perf_counter()
    report = analyze([str(REAL_LOGS / run_dir)])
    res = RunResult(run_dir, [], [])
    for run in report.runs:
        res.statuses.append(run.status)
        res.findings.extend(run.findings)
        if run.frame is not None and run.frame.height:
            s, e, pe = _spans(run.frame)
            if s >= res.step_span:  # the longest run of the directory sets the span
                res.step_span, res.epoch_span, res.steps_per_epoch = s, e, pe
    res.seconds = time.perf_counter() - t0
    return res


# ---- matching ---------------------------------------------------------------------------------------


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(float(x))


def onset_ok(f: Any, onset: tuple[str, float] | None, res: RunResult) -> bool:
    """Whether finding ``f`` starts within the tolerance of ``onset`` (always true without an onset)."""
    if onset is None:
        return True
    unit, where = onset
    if unit == "e" and _finite(f.start_epoch):
        return abs(float(f.start_epoch) - where) <= max(3.0, 0.1 * res.epoch_span)
    if unit == "e" and res.epoch_span == 0 and _finite(f.start_step):
        return abs(float(f.start_step) - where) <= max(3.0, 0.1 * res.step_span)  # step is the epoch
    if unit == "s" and _finite(f.start_step):
        return abs(float(f.start_step) - where) <= max(0.1 * res.step_span, 3.0 * res.steps_per_epoch, 1.0)
    return False


@dataclass
class Scored:
    label: Label
    found: list[bool]
    misplaced: list[bool]  # expected kind reported, only at the wrong place
    forbidden: list[str]  # forbidden kinds reported (warning/error)
    forbidden_any: list[str]  # forbidden kinds reported at any severity
    reported: set[str]  # kinds with a warning/error
    tp: int
    fp: int
    n_misplaced_kinds: int
    result: RunResult

    @property
    def clean(self) -> bool:
        return not self.reported

    @property
    def clean_allowed(self) -> bool:
        return self.reported <= self.label.allow


def score(label: Label, res: RunResult) -> Scored:
    verdicts = res.verdicts
    reported = {f.kind for f in verdicts}
    found, misplaced = [], []
    hit_kinds: set[str] = set()
    for exp in label.expect:
        ok = [f for f in verdicts if f.kind in exp.kinds and onset_ok(f, exp.onset, res)]
        found.append(bool(ok))
        hit_kinds |= {f.kind for f in ok}
        misplaced.append(not ok and any(f.kind in exp.kinds for f in verdicts))
    expected_kinds = set().union(*(e.kinds for e in label.expect)) if label.expect else set()
    tp = fp = mis = 0
    for k in reported:
        if k in hit_kinds or k in label.allow:
            tp += 1
        elif k in label.forbid or label.healthy:
            fp += 1
        elif k in expected_kinds:
            mis += 1
    return Scored(
        label,
        found,
        misplaced,
        sorted(reported & label.forbid),
        sorted({f.kind for f in res.findings} & label.forbid),
        reported,
        tp,
        fp,
        mis,
        res,
    )


# ---- metrics and bootstrap --------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def metrics(runs: Sequence[Scored]) -> dict[str, Any]:
    exp = sum(len(s.found) for s in runs)
    fnd = sum(sum(s.found) for s in runs)
    forb_n = sum(len(s.label.forbid) for s in runs)
    forb = sum(len(s.forbidden) for s in runs)
    healthy = [s for s in runs if s.label.healthy]
    tp = sum(s.tp for s in runs)
    fp = sum(s.fp for s in runs)
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in runs:
        for e, ok in zip(s.label.expect, s.found):
            per_kind[e.key][0] += int(ok)
            per_kind[e.key][1] += 1
    return {
        "recall": _ratio(fnd, exp),
        "found": fnd,
        "expected": exp,
        "forbidden": forb,
        "forbidden_labelled": forb_n,
        "forbidden_rate": _ratio(forb, forb_n),
        "forbidden_any": sum(len(s.forbidden_any) for s in runs),
        "healthy": len(healthy),
        "healthy_clean": sum(s.clean for s in healthy),
        "healthy_clean_share": _ratio(sum(s.clean for s in healthy), len(healthy)),
        "healthy_clean_allowed": sum(s.clean_allowed for s in healthy),
        "healthy_clean_allowed_share": _ratio(sum(s.clean_allowed for s in healthy), len(healthy)),
        "tp": tp,
        "fp": fp,
        "precision": _ratio(tp, tp + fp),
        "misplaced": sum(s.n_misplaced_kinds for s in runs),
        "per_kind": {k: (v[0], v[1], _ratio(v[0], v[1])) for k, v in per_kind.items()},
    }


def bootstrap(
    runs: Sequence[Scored], fn: Callable[[Sequence[Scored]], float | None], n: int, seed: int
) -> tuple[float, float] | None:
    """Percentile 95% interval of ``fn`` over ``n`` resamples of the runs (with replacement)."""
    if not runs:
        return None
    rng = random.Random(seed)
    vals = []
    for _ in range(n):
        v = fn([runs[rng.randrange(len(runs))] for _ in runs])
        if v is not None:
            vals.append(v)
    if not vals:
        return None
    vals.sort()
    lo = vals[int(0.025 * (len(vals) - 1))]
    hi = vals[int(math.ceil(0.975 * (len(vals) - 1)))]
    return lo, hi


# ---- report -----------------------------------------------------------------------------------------


def _fmt(v: float | None, ci: tuple[float, float] | None = None) -> str:
    if v is None:
        return "n/a"
    s = f"{v:.2f}"
    if ci is not None:
        s += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    return s


def _where(f: Any) -> str:
    if _finite(f.start_epoch):
        return f"e{float(f.start_epoch):g}"
    if f.start_step is not None:
        return f"s{f.start_step}"
    return "?"


def _reported_text(res: RunResult) -> str:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for f in res.verdicts:
        by_kind[f.kind].append(f"{f.split}/{f.metric}@{_where(f)}")
    if not by_kind:
        return "nothing"
    return "; ".join(f"{k} ({', '.join(v[:3])}{', ...' if len(v) > 3 else ''})" for k, v in sorted(by_kind.items()))


def _onset_text(e: Expectation) -> str:
    return e.text + (f"@{e.onset[0]}{e.onset[1]:g}" if e.onset else "")


def render(
    sets: dict[str, list[Scored]], resamples: int, seed: int, seconds: float, parts: Sequence[str] = PARTS
) -> str:
    import trainlog_doctor

    out = [
        "# Real logs: tuning and test parts (issue 14)",
        "",
        f"Generated by `benchmarks/bench_real_logs.py` (trainlog-doctor {trainlog_doctor.__version__}, "
        f"{resamples} bootstrap resamples, seed {seed}, {seconds:.0f} s). Protocol in the script's docstring: "
        "only warning/error findings count; an expectation is found when a finding of its kind (or either kind "
        "for `a|b`) is reported on the run directory, within 3 epochs or 10% of the run of a labelled onset; "
        "intervals are percentile bootstrap over run directories. Split v1 is fixed "
        "(`benchmarks/labels/real_logs_reconciled.tsv` header). **The test part is for reporting only: "
        "do not tune on it.**",
        "",
        "Label sets: *second reader* = `../shared/real_logs/LABELS_second_reader.tsv` as given (no onsets); "
        "*reconciled* = `benchmarks/labels/real_logs_reconciled.tsv` (onsets; `allow` kinds).",
        "",
        "## Headline",
        "",
        "| label set | part | runs | recall | forbidden reported | healthy clean "
        "| healthy clean (allowed kinds ok) | precision |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    per_kind_rows: dict[str, dict[str, dict[str, Any]]] = {}
    detail: list[str] = []
    for name, scored in sets.items():
        per_kind_rows[name] = {}
        for part in parts:
            runs = [s for s in scored if s.label.part == part]
            m = metrics(runs)
            ci = {
                key: bootstrap(runs, lambda rs, key=key: metrics(rs)[key], resamples, seed)
                for key in ("recall", "forbidden_rate", "healthy_clean_share", "healthy_clean_allowed_share", "precision")
            }
            misplaced = f" ({m['misplaced']} misplaced)" if m["misplaced"] else ""
            share = _fmt(m["healthy_clean_allowed_share"], ci["healthy_clean_allowed_share"])
            allowed = f"{m['healthy_clean_allowed']}/{m['healthy']} = {share}" if name == "reconciled" else "-"
            out.append(
                f"| {name} | {part} | {len(runs)} | {m['found']}/{m['expected']} = {_fmt(m['recall'], ci['recall'])} "
                f"| {m['forbidden']} of {m['forbidden_labelled']} = {_fmt(m['forbidden_rate'], ci['forbidden_rate'])} "
                f"(any severity: {m['forbidden_any']}) "
                f"| {m['healthy_clean']}/{m['healthy']} = {_fmt(m['healthy_clean_share'], ci['healthy_clean_share'])} "
                f"| {allowed} "
                f"| {m['tp']}/{m['tp'] + m['fp']} = {_fmt(m['precision'], ci['precision'])}{misplaced} |"
            )
            for kind, (k, n, _r) in m["per_kind"].items():
                kci = bootstrap(
                    runs, lambda rs, kind=kind: (metrics(rs)["per_kind"].get(kind) or (0, 0, None))[2], resamples, seed
                )
                per_kind_rows[name].setdefault(kind, {})[part] = (k, n, kci)
            detail += _details(name, part, runs)
    out += [
        "",
        "Precision counts (run, reported kind) pairs: true when the kind meets an expectation or is allowed, "
        "false when forbidden or reported on a healthy run without being allowed; expected kinds reported only "
        "at the wrong place (misplaced) and unjudged kinds are left out. The second-reader set has no allowed "
        "kinds, so every warning on one of its healthy runs is a false positive there.",
        "",
        "## Recall per kind",
        "",
        "An expectation is counted under its first kind (`collapse|stagnation` under collapse).",
        "",
    ]
    for name, rows in per_kind_rows.items():
        out += [f"### {name}", "", "| kind | " + " | ".join(parts) + " |", "| --- " * (len(parts) + 1) + "|"]
        for kind in sorted(rows):
            cells = []
            for part in parts:
                if part not in rows[kind]:
                    cells.append("-")
                    continue
                k, n, kci = rows[kind][part]
                cells.append(f"{k}/{n} = {_fmt(k / n if n else None, kci)}")
            out.append(f"| {kind} | " + " | ".join(cells) + " |")
        out.append("")
    out += ["## Misses and false alarms", ""] + detail
    return "\n".join(out).rstrip() + "\n"


def _details(name: str, part: str, runs: Sequence[Scored]) -> list[str]:
    lines = [f"### {name}, {part} part", ""]
    miss = [(s, e, mp) for s in runs for e, ok, mp in zip(s.label.expect, s.found, s.misplaced) if not ok]
    lines.append(f"Missed expectations ({len(miss)}):")
    lines.append("")
    for s, e, mp in miss:
        tag = " (kind reported at another place)" if mp else ""
        lines.append(f"- `{s.label.run_dir}`: expected {_onset_text(e)}{tag}; reported: {_reported_text(s.result)}")
    if not miss:
        lines.append("- none")
    lines += ["", f"Forbidden kinds reported ({sum(len(s.forbidden) for s in runs)}):", ""]
    forb = [s for s in runs if s.forbidden]
    for s in forb:
        fs = [f for f in s.result.verdicts if f.kind in s.forbidden]
        what = ", ".join(f"{f.kind} {f.code} {f.split}/{f.metric}@{_where(f)}" for f in fs[:4])
        lines.append(f"- `{s.label.run_dir}`: {what}{', ...' if len(fs) > 4 else ''}")
    if not forb:
        lines.append("- none")
    flagged = [s for s in runs if s.label.healthy and not s.clean]
    lines += ["", f"Healthy runs with a warning/error ({len(flagged)}):", ""]
    for s in flagged:
        allowed = " (all allowed)" if s.clean_allowed and s.label.allow else ""
        lines.append(f"- `{s.label.run_dir}`: {_reported_text(s.result)}{allowed}")
    if not flagged:
        lines.append("- none")
    bad = [s for s in runs if any(st == "error" for st in s.result.statuses)]
    if bad:
        lines += ["", "Runs the tool could not read: " + ", ".join(f"`{s.label.run_dir}`" for s in bad)]
    lines.append("")
    return lines


# ---- main -------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--output", type=Path, default=None, help=f"default {RESULTS.relative_to(REPO)} (both parts only)")
    ap.add_argument("--part", choices=PARTS, default=None, help="run and score this part only; print, do not write")
    args = ap.parse_args(argv)
    parts = PARTS if args.part is None else (args.part,)
    output = args.output if args.output is not None else (RESULTS if args.part is None else None)
    if not REAL_LOGS.is_dir():
        print(f"skipped: {REAL_LOGS} is absent")
        return 0
    t0 = time.perf_counter()
    reconciled = load_reconciled()
    part_of = {lab.run_dir: lab.part for lab in reconciled}
    second = [lab for lab in load_second_reader(part_of) if lab.part in parts]
    reconciled = [lab for lab in reconciled if lab.part in parts]
    chosen = sorted(rd for rd, p in part_of.items() if p in parts)
    results: dict[str, RunResult] = {}
    for i, rd in enumerate(chosen, 1):
        results[rd] = run_tool(rd)
        print(f"[{i}/{len(chosen)}] {rd}: {len(results[rd].verdicts)} verdicts ({results[rd].seconds:.1f} s)", file=sys.stderr)
    sets = {
        "second reader": [score(lab, results[lab.run_dir]) for lab in second],
        "reconciled": [score(lab, results[lab.run_dir]) for lab in reconciled],
    }
    text = render(sets, args.resamples, args.seed, time.perf_counter() - t0, parts)
    if output is None:
        print(text)
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text.split("## Recall per kind")[0])
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
