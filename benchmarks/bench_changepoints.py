"""Benchmark trainlog-doctor's change-point detection against ruptures baselines.

Usage: ``python benchmarks/bench_changepoints.py [--seed 0] [--reps 2] [--quick] [--part tune|test|all]``

Metrics (as in TCPDBench, van den Burg & Williams 2020): F1 with a +-5 sample margin, each true break
matched at most once and index 0 counted as a break in both sets (so a 0-break case with no detection
scores 1); and segmentation covering (Arbelaez et al.), the length-weighted best Jaccard overlap of each
true segment with a predicted one. Baselines: ruptures Pelt and Binseg (model "l2", min_size 2,
jump 1; Pelt through its exact C twin KernelCPD(kernel="linear")) with the BIC penalty
``2 * sigma^2 * ln(n)`` where sigma is :func:`robust_noise` of the raw series (the white-noise estimate
ours starts from), and "no change" (no break at all).

Protocol: the synthetic cases (seed 0) are split into a tuning and a test part by
:func:`changepoint_cases.split_of` (a salted hash of the case name); the penalty constants of ours are
chosen on the tuning part only (``--part tune`` scores that part alone and writes nothing). The real series
(``benchmarks/changepoint_real.toml``, shipped by statsmodels, breaks annotated before any detector ran on
them) are never tuned on. ``--part all`` (the default) writes ``benchmarks/results/changepoints.md``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import ruptures as rpt  # noqa: E402

from changepoint_cases import Case, generate_cases, split_of  # noqa: E402
from trainlog_doctor.signals.changepoints import detect_changepoints  # noqa: E402
from trainlog_doctor.signals.transforms import robust_noise  # noqa: E402

MARGIN = 5
REAL_FILE = HERE / "changepoint_real.toml"
Detector = Callable[[np.ndarray], list[int]]


def f1_score(truth: list[int], pred: list[int], margin: int = MARGIN) -> float:
    """F1 of predicted breaks against true ones (0 added to both; each true break matched once)."""
    t_set = sorted({0, *truth})
    p_set = sorted({0, *pred})
    used: set[int] = set()
    tp = 0
    for tau in t_set:
        close = [p for p in p_set if abs(p - tau) <= margin and p not in used]
        if close:
            used.add(min(close, key=lambda p: abs(p - tau)))
            tp += 1
    precision = tp / len(p_set)
    recall = tp / len(t_set)
    return 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)


def _partition(n: int, cps: list[int]) -> list[tuple[int, int]]:
    bounds = [0, *sorted({c for c in cps if 0 < c < n}), n]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def covering(truth: list[int], pred: list[int], n: int) -> float:
    """Covering of the true partition by the predicted one: sum |A| max_A' Jaccard(A, A') / n."""
    total = 0.0
    pred_parts = _partition(n, pred)
    for a0, a1 in _partition(n, truth):
        best = 0.0
        for b0, b1 in pred_parts:
            inter = min(a1, b1) - max(a0, b0)
            if inter > 0:
                best = max(best, inter / (max(a1, b1) - min(a0, b0)))
        total += (a1 - a0) * best
    return total / n


def _bic_penalty(x: np.ndarray) -> float:
    sigma = robust_noise(x)
    return 2.0 * sigma * sigma * math.log(x.size)


def ruptures_pelt(x: np.ndarray) -> list[int]:
    """ruptures Pelt(l2) with the BIC penalty on the robust sigma.

    Runs ruptures' C implementation of the same objective, ``KernelCPD(kernel="linear")`` (exact PELT on
    the l2 cost; identical breaks to ``Pelt(model="l2", min_size=2, jump=1)`` on every case we compared),
    because the pure-Python ``Pelt`` takes about 5 minutes on one 5000-point series.
    """
    bkps = rpt.KernelCPD(kernel="linear", min_size=2).fit(x).predict(pen=_bic_penalty(x))
    return [int(b) for b in bkps[:-1]]


def ruptures_binseg(x: np.ndarray) -> list[int]:
    """ruptures Binseg(l2) with the BIC penalty on the robust sigma."""
    bkps = rpt.Binseg(model="l2", min_size=2, jump=1).fit(x).predict(pen=_bic_penalty(x))
    return [int(b) for b in bkps[:-1]]


def no_change(x: np.ndarray) -> list[int]:
    """No break at all."""
    return []


def load_real(path: Path = REAL_FILE) -> list[Case]:
    """The annotated real series (statsmodels datasets); NaN linearly interpolated, tables read row by row."""
    from importlib import import_module

    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    cases: list[Case] = []
    for item in spec["series"]:
        frame = import_module(f"statsmodels.datasets.{item['dataset']}").load_pandas().data
        if item["column"] == "flatten":  # a year x month table
            values = frame.drop(columns=frame.columns[0]).to_numpy(dtype=np.float64).ravel()
        else:
            values = frame[item["column"]].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            idx = np.arange(values.size)
            values = values.copy()
            values[bad] = np.interp(idx[bad], idx[~bad], values[~bad])
        name = f"{item['dataset']}:{item['column']}"
        cases.append(Case(name=name, family=name, snr="real", values=values, breaks=list(item["breaks"])))
    return cases


def ours(x: np.ndarray) -> list[int]:
    """trainlog-doctor defaults."""
    return detect_changepoints(x)


def ours_model(model: str) -> Detector:
    def run(x: np.ndarray) -> list[int]:
        return detect_changepoints(x, model=model)  # type: ignore[arg-type]

    run.__doc__ = f"trainlog-doctor, model={model}"
    return run


def evaluate(methods: dict[str, Detector], cases: list[Case]) -> dict[str, dict[str, object]]:
    """Per method: mean F1, mean covering, runtime, the per-family F1 and the per-case breaks."""
    results: dict[str, dict[str, object]] = {}
    for name, fn in methods.items():
        f1s: list[float] = []
        covs: list[float] = []
        fam: dict[str, list[float]] = defaultdict(list)
        found: dict[str, list[int]] = {}
        start = time.perf_counter()
        for case in cases:
            pred = fn(case.values)
            found[case.name] = pred
            f = f1_score(case.breaks, pred)
            f1s.append(f)
            covs.append(covering(case.breaks, pred, case.n))
            fam[case.family].append(f)
            if case.snr != "real":
                fam[f"snr:{case.snr}"].append(f)
        results[name] = {
            "f1": float(np.mean(f1s)),
            "cover": float(np.mean(covs)),
            "n": len(cases),
            "seconds": time.perf_counter() - start,
            "family": {k: float(np.mean(v)) for k, v in fam.items()},
            "found": found,
        }
    return results


def time_long(n: int = 1_000_000, repeats: int = 3, seed: int = 7) -> tuple[float, list[int], list[int]]:
    """Best-of-``repeats`` wall time of our detector on an ``n``-point series with 3 steps and spikes."""
    rng = np.random.default_rng(seed)
    truth = [n // 5, n // 2, (4 * n) // 5]
    levels = np.zeros(n)
    for i, b in enumerate(truth):
        levels[b:] += (-1) ** i * 0.5
    x = levels + rng.normal(size=n) + 3.0 * np.exp(-np.arange(n) / (n / 10))
    x[rng.integers(0, n, 50)] += 40.0
    best = math.inf
    pred: list[int] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pred = detect_changepoints(x)
        best = min(best, time.perf_counter() - t0)
    return best, truth, pred


def _summary(title: str, results: dict[str, dict[str, object]]) -> list[str]:
    lines = [title, "", "| method | F1 | covering | n cases | runtime (s, all cases) |", "| --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['f1']:.3f} | {r['cover']:.3f} | {r['n']} | {r['seconds']:.2f} |")
    return [*lines, ""]


def _per_group(title: str, results: dict[str, dict[str, object]]) -> list[str]:
    groups = sorted({g for r in results.values() for g in r["family"]})  # type: ignore[union-attr]
    lines = [title, "", "| group | " + " | ".join(results) + " |", "| --- |" + " --- |" * len(results)]
    for g in groups:
        row = [f"{r['family'][g]:.3f}" for r in results.values()]  # type: ignore[index]
        lines.append(f"| {g} | " + " | ".join(row) + " |")
    return [*lines, ""]


def _real_breaks(cases: list[Case], results: dict[str, dict[str, object]]) -> list[str]:
    lines = ["Breaks per real series (annotated, then found by each method):", ""]
    lines += ["| series | n | annotated | " + " | ".join(results) + " |", "| --- | --- | --- |" + " --- |" * len(results)]
    for case in cases:
        cells = []
        for r in results.values():
            pred = r["found"][case.name]  # type: ignore[index]
            cells.append(str(pred) if len(pred) <= 6 else f"{len(pred)} breaks")
        lines.append(f"| {case.name} | {case.n} | {case.breaks} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def render(
    parts: dict[str, dict[str, dict[str, object]]],
    real_cases: list[Case],
    long: tuple[float, list[int], list[int]],
    seed: int,
) -> str:
    """The results as a markdown report."""
    lines = [
        "# Change-point benchmark",
        "",
        f"Generated by `python benchmarks/bench_changepoints.py --seed {seed}` "
        "(synthetic cases from `benchmarks/changepoint_cases.py`, real series from `benchmarks/changepoint_real.toml`).",
        "F1 uses a +-5 sample margin; covering is the Arbelaez segmentation covering (TCPDBench).",
        "The synthetic cases are split by `changepoint_cases.split_of` (salted hash of the case name); the penalty",
        "constants were tuned on the tuning part only. The real series were annotated before any detector ran on them",
        "and were never tuned on.",
        "",
    ]
    lines += _summary("## Real series (statsmodels datasets)", parts["real"])
    lines += _real_breaks(real_cases, parts["real"])
    lines += _summary("## Synthetic, test part", parts["test"])
    lines += _summary("## Synthetic, tuning part", parts["tune"])
    lines += _per_group("Mean F1 per family and SNR level (synthetic test part):", parts["test"])
    secs, truth, pred = long
    lines += [
        f"Long series: 1,000,000 points (3 steps, 50 spikes, decaying trend): ours took {secs:.3f} s "
        f"(best of 3); true breaks {truth}, found {pred}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="lengths up to 1000 only")
    parser.add_argument("--part", choices=("tune", "test", "all"), default="all")
    parser.add_argument("--only-ours", action="store_true", help="skip the baselines (tuning loop)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "changepoints.md")
    args = parser.parse_args(argv)
    lengths = (50, 100, 200, 500, 1000) if args.quick else (50, 100, 200, 500, 1000, 2000, 5000)
    cases = generate_cases(seed=args.seed, reps=args.reps, lengths=lengths)
    methods: dict[str, Detector] = {
        "ours (default)": ours,
        "ours, model=l2": ours_model("l2"),
        "ours, model=linear": ours_model("linear"),
        "ruptures Pelt l2 + BIC": ruptures_pelt,
        "ruptures Binseg l2 + BIC": ruptures_binseg,
        "no change": no_change,
    }
    if args.only_ours:
        methods = {"ours (default)": ours, "no change": no_change}
    if args.part != "all":
        part = [c for c in cases if split_of(c.name) == args.part]
        results = evaluate(methods, part)
        print("\n".join(_summary(f"## Synthetic, {args.part} part", results) + _per_group("F1 per group", results)))
        return 0
    real_cases = load_real()
    parts = {
        "real": evaluate(methods, real_cases),
        "test": evaluate(methods, [c for c in cases if split_of(c.name) == "test"]),
        "tune": evaluate(methods, [c for c in cases if split_of(c.name) == "tune"]),
    }
    text = render(parts, real_cases, time_long(), args.seed)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
