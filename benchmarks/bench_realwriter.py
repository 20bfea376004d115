"""Real-writer corpus benchmark: detection and cause ranking on runs with a known injected fault.

Usage: ``python benchmarks/bench_realwriter.py --corpus /work/cache/realwriter --part tune|test|all
[--out benchmarks/results/] [--resamples 1000]``

The corpus is built by ``benchmarks/realwriter/make_corpus.py`` (not committed); its labels are
``benchmarks/labels/realwriter.tsv``, generated from ``benchmarks/realwriter/scenarios.toml`` and checked
against it. Each run directory ``CORPUS/<run>`` is given to :func:`trainlog_doctor.api.analyze` as a user
would give it.

Detection is scored with the code of ``bench_real_logs.py`` (imported): only warning/error findings
count; an expectation (``a|b`` = either kind) is found when a finding of its kind is reported on the run;
precision counts (run, reported kind) pairs (true when the kind meets an expectation, false when it is
forbidden or reported on a healthy run); 95% intervals are percentile bootstrap over runs. The labels have
no onsets, so position is not checked. A run is healthy when nothing was injected; a faulty run whose
effect no finding kind describes (``bad_init_large``) has no expectation and counts for cause ranking only.

Cause ranking (issue 12 item 6), on the faulty runs: the *primary card* is the run's most severe
warning/error finding (first in report order on ties), the card a user reads first; the injected cause (or
one of its ``cause_alternatives``) is a top-1 / top-3 hit when it is among the first one / three causes
ranked on that card. *Any card* counts a hit when the cause is first (top-1) or in the first three (top-3)
on any warning/error finding of the run. A run with no warning/error finding is a miss for both. The
confusion list gives, per scenario, what was ranked first instead. "Contradicted by facts" counts primary
cards whose top-3 holds a cause the run's known configuration rules out: an Adam-specific cause on an SGD
run, or "learning rate too low" first on a run whose learning rate was set too high.

The test part is scored once, at the end, for reporting only: nothing is tuned on it.
Writes ``OUT/realwriter_<part>.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "realwriter"))

from table import load_scenarios, read_labels  # noqa: E402

from bench_real_logs import (  # noqa: E402
    Label,
    RunResult,
    Scored,
    _expectations,
    _fmt,
    _kinds,
    _reported_text,
    _spans,
    bootstrap,
    metrics,
    score,
)

DEFAULT_CORPUS = Path("/work/cache/realwriter")
RESULTS = HERE / "results"
VERDICT = {"warning", "error"}
ADAM_ONLY = {"adam-epsilon-blowup"}


@dataclass
class RunLabel(Label):
    """A corpus label: a run is healthy when nothing was injected (a faulty run may expect no kind)."""

    injected: bool = False

    @property
    def healthy(self) -> bool:
        return not self.injected


@dataclass
class Case:
    row: dict[str, str]
    label: Label
    result: RunResult
    readable: bool
    formats: list[str]

    @property
    def causes(self) -> set[str]:
        alts = {c for c in self.row["cause_alternatives"].split(",") if c}
        return {self.row["cause"]} | alts


def run_case(corpus: Path, row: dict[str, str]) -> Case:
    from trainlog_doctor.api import analyze

    path = corpus / row["run"]
    label = RunLabel(row["run"], row["part"], _expectations(row["expect"]), _kinds(row["forbid"]), injected=bool(row["cause"]))
    t0 = time.perf_counter()
    res = RunResult(row["run"], [], [])
    formats: list[str] = []
    readable = False
    if path.is_dir():
        report = analyze([str(path)])
        for run in report.runs:
            res.statuses.append(run.status)
            res.findings.extend(run.findings)
            formats.append(str(run.format))
            if run.status == "ok" and run.series:
                readable = True
            if run.frame is not None and run.frame.height:
                s, e, pe = _spans(run.frame)
                if s >= res.step_span:
                    res.step_span, res.epoch_span, res.steps_per_epoch = s, e, pe
    res.seconds = time.perf_counter() - t0
    return Case(row, label, res, readable, formats)


# ---- cause ranking ----------------------------------------------------------------------------------


def primary(case: Case) -> Any | None:
    """The run's most severe warning/error finding (first in report order on ties)."""
    verdicts = [f for f in case.result.findings if f.severity in VERDICT]
    if not verdicts:
        return None
    return max(verdicts, key=lambda f: (f.severity == "error", -verdicts.index(f)))


def ranked(f: Any) -> list[str]:
    return [c.id for c in f.causes]


@dataclass
class CauseScore:
    case: Case
    top1: bool
    top3: bool
    any1: bool
    any3: bool
    first: str  # the cause ranked first on the primary card ("-" = no card)
    contradicted: list[str]


def cause_score(case: Case, optimizer: str) -> CauseScore:
    card = primary(case)
    want = case.causes
    verdicts = [f for f in case.result.findings if f.severity in VERDICT]
    if card is None:
        return CauseScore(case, False, False, False, False, "-", [])
    r = ranked(card)
    contra = []
    if optimizer == "sgd":
        contra += [c for c in r[:3] if c in ADAM_ONLY]
    if case.row["cause"] == "lr-too-high" and r[:1] == ["lr-too-low"]:
        contra.append("lr-too-low")
    return CauseScore(
        case,
        bool(set(r[:1]) & want),
        bool(set(r[:3]) & want),
        any(set(ranked(f)[:1]) & want for f in verdicts),
        any(set(ranked(f)[:3]) & want for f in verdicts),
        r[0] if r else "(no cause)",
        contra,
    )


# ---- report -----------------------------------------------------------------------------------------


def _share(k: int, n: int) -> str:
    return f"{k}/{n} = {k / n:.2f}" if n else "n/a"


def render(part: str, cases: Sequence[Case], scored: Sequence[Scored], causes: Sequence[CauseScore], resamples: int,
           seconds: float) -> str:
    import trainlog_doctor

    m = metrics(scored)
    ci = {k: bootstrap(scored, lambda rs, k=k: metrics(rs)[k], resamples, 14)
          for k in ("recall", "precision", "healthy_clean_share", "forbidden_rate")}
    out = [
        f"# Real-writer corpus: {part} part (issues 14 and 12)",
        "",
        f"Generated by `benchmarks/bench_realwriter.py --part {part}` (trainlog-doctor {trainlog_doctor.__version__}, "
        f"{len(cases)} runs, {resamples} bootstrap resamples, {seconds:.0f} s). Corpus built by "
        "`benchmarks/realwriter/make_corpus.py` from `benchmarks/realwriter/scenarios.toml`; labels "
        "`benchmarks/labels/realwriter.tsv` (injected cause, expected and forbidden kinds, written from the "
        "injection before the tool was run). Protocol in the script's docstring."
        + (" **Test part: scored once, for reporting; not tuned on.**" if part == "test" else ""),
        "",
        "## Detection",
        "",
        "| runs | recall | precision | healthy clean | forbidden reported (of labelled pairs) |",
        "| --- | --- | --- | --- | --- |",
        f"| {len(cases)} | {m['found']}/{m['expected']} = {_fmt(m['recall'], ci['recall'])} "
        f"| {m['tp']}/{m['tp'] + m['fp']} = {_fmt(m['precision'], ci['precision'])} "
        f"| {m['healthy_clean']}/{m['healthy']} = {_fmt(m['healthy_clean_share'], ci['healthy_clean_share'])} "
        f"| {m['forbidden']} of {m['forbidden_labelled']} = {_fmt(m['forbidden_rate'], ci['forbidden_rate'])} "
        f"(any severity: {m['forbidden_any']}) |",
        "",
        "### Recall per kind (an expectation counts under its first kind)",
        "",
        "| kind | found |",
        "| --- | --- |",
    ]
    for kind, (k, n, _r) in sorted(m["per_kind"].items()):
        out.append(f"| {kind} | {_share(k, n)} |")
    out += ["", "### Per writer", "", "| writer | runs | unreadable | recall | healthy clean | forbidden reported |",
            "| --- | --- | --- | --- | --- | --- |"]
    by_writer: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(cases):
        by_writer[c.row["writer"]].append(i)
    for w, idx in sorted(by_writer.items()):
        wm = metrics([scored[i] for i in idx])
        unread = sum(not cases[i].readable for i in idx)
        out.append(f"| {w} | {len(idx)} | {unread} | {_share(wm['found'], wm['expected'])} "
                   f"| {_share(wm['healthy_clean'], wm['healthy'])} | {wm['forbidden']} |")
    unreadable = [c for c in cases if not c.readable]
    out += ["", f"Unreadable runs ({len(unreadable)}): "
            + (", ".join(f"`{c.row['run']}` ({'/'.join(c.formats) or 'nothing found'}: "
                         f"{'/'.join(c.result.statuses) or '-'})" for c in unreadable) or "none")]
    out += _cause_section(causes)
    head = "| run | scenario | expected | reported (warning/error) | found | forbidden | cause first on the card |"
    out += ["", "## Per run", "", head,
            "| --- | --- | --- | --- | --- | --- | --- |"]
    cs_by_run = {c.case.row["run"]: c for c in causes}
    for c, s in zip(cases, scored):
        found = f"{sum(s.found)}/{len(s.found)}" if s.found else ("clean" if s.clean else "not clean")
        first = cs_by_run[c.row["run"]].first if c.row["run"] in cs_by_run else ""
        out.append(f"| `{c.row['run']}` | {c.row['scenario']} | {c.row['expect'] or '-'} | {_reported_text(c.result)} "
                   f"| {found} | {', '.join(s.forbidden) or '-'} | {first} |")
    return "\n".join(out).rstrip() + "\n"


def _cause_section(causes: Sequence[CauseScore]) -> list[str]:
    n = len(causes)
    out = [
        "",
        "## Cause ranking (faulty runs)",
        "",
        "| runs | top-1 (primary card) | top-3 (primary card) | top-1 (any card) | top-3 (any card) | contradicted by facts |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {n} | {_share(sum(c.top1 for c in causes), n)} | {_share(sum(c.top3 for c in causes), n)} "
        f"| {_share(sum(c.any1 for c in causes), n)} | {_share(sum(c.any3 for c in causes), n)} "
        f"| {sum(bool(c.contradicted) for c in causes)} |",
        "",
        "### Per scenario",
        "",
        "| scenario | injected cause | runs | top-1 | top-3 | ranked first instead (count) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    by_sc: dict[str, list[CauseScore]] = defaultdict(list)
    for c in causes:
        by_sc[c.case.row["scenario"]].append(c)
    for sc, cs in sorted(by_sc.items()):
        conf = Counter(c.first for c in cs if not c.top1)
        inst = ", ".join(f"{k} ({v})" for k, v in conf.most_common()) or "-"
        out.append(f"| {sc} | {cs[0].case.row['cause']} | {len(cs)} | {sum(c.top1 for c in cs)} | {sum(c.top3 for c in cs)} "
                   f"| {inst} |")
    contra = [c for c in causes if c.contradicted]
    if contra:
        out += ["", "Contradicted by facts: " + ", ".join(f"`{c.case.row['run']}` ({', '.join(c.contradicted)})" for c in contra)]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--part", choices=("tune", "test", "all"), required=True)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--print", action="store_true", help="print the report instead of writing it")
    args = ap.parse_args(argv)
    rows = [r for r in read_labels() if args.part == "all" or r["part"] == args.part]
    params = {s.id: s.params for s in load_scenarios()}
    t0 = time.perf_counter()
    cases = []
    for i, row in enumerate(rows, 1):
        cases.append(run_case(args.corpus, row))
        print(f"[{i}/{len(rows)}] {row['run']}: {len(cases[-1].result.verdicts)} verdicts", file=sys.stderr)
    scored = [score(c.label, c.result) for c in cases]
    causes = [cause_score(c, str(params[c.row["scenario"]].get("optimizer", "adam"))) for c in cases if c.row["cause"]]
    text = render(args.part, cases, scored, causes, args.resamples, time.perf_counter() - t0)
    if args.print:
        print(text)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"realwriter_{args.part}.md"
    dest.write_text(text)
    print(text.split("## Per run")[0])
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
