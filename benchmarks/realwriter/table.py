"""The real-writer scenario table, the run list and the fixed tune/test split (no torch needed).

Run name: ``<scenario>-<writer>``. Split v1: within each scenario, runs are ordered by
``sha256("realwriter split v1:" + run)``; positions alternate tune/test, starting with tune when the first
hex digit of ``sha256("realwriter split v1:" + scenario)`` is below 8, else with test. Writers added to a
scenario later (``added_writers``) leave those parts as they are: each added run is in the tuning part when
the first hex digit of ``sha256("realwriter split v1:" + run)`` is below 8, else in the test part. The labels TSV
(``benchmarks/labels/realwriter.tsv``) is generated from the table with this rule and checked against it.
"""

from __future__ import annotations

import csv
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios.toml"
LABELS = HERE.parent / "labels" / "realwriter.tsv"
SPLIT_SALT = "realwriter split v1:"
COLUMNS = ("run", "writer", "scenario", "cause", "cause_alternatives", "expect", "forbid", "part")


@dataclass(frozen=True)
class Scenario:
    id: str
    cause: str
    expect: tuple[str, ...]
    forbid: tuple[str, ...]
    writers: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    cause_alternatives: tuple[str, ...] = ()
    added_writers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSpec:
    name: str
    writer: str
    scenario: Scenario
    part: str

    @property
    def seed(self) -> int:
        return int(hashlib.sha256(self.name.encode()).hexdigest()[:8], 16) % (2**31)


def load_scenarios(path: Path = SCENARIOS) -> list[Scenario]:
    data = tomllib.loads(path.read_text())
    out = []
    for s in data["scenario"]:
        out.append(
            Scenario(
                s["id"],
                s["cause"],
                tuple(s["expect"]),
                tuple(s["forbid"]),
                tuple(s["writers"]),
                dict(s.get("params", {})),
                tuple(s.get("cause_alternatives", ())),
                tuple(s.get("added_writers", ())),
            )
        )
    ids = [s.id for s in out]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate scenario id")
    return out


def _h(text: str) -> str:
    return hashlib.sha256((SPLIT_SALT + text).encode()).hexdigest()


def runs(scenarios: list[Scenario] | None = None) -> list[RunSpec]:
    """Every run of the table with its split part."""
    out = []
    for sc in scenarios if scenarios is not None else load_scenarios():
        names = sorted((f"{sc.id}-{w}", w) for w in sc.writers)
        names.sort(key=lambda nw: _h(nw[0]))
        start = 0 if int(_h(sc.id)[0], 16) < 8 else 1
        for i, (name, w) in enumerate(names):
            out.append(RunSpec(name, w, sc, "tune" if (i + start) % 2 == 0 else "test"))
        for w in sc.added_writers:  # added after split v1 was fixed: a part of their own, by hash
            name = f"{sc.id}-{w}"
            out.append(RunSpec(name, w, sc, "tune" if int(_h(name)[0], 16) < 8 else "test"))
    return out


def label_rows(specs: list[RunSpec]) -> list[dict[str, str]]:
    return [
        {
            "run": r.name,
            "writer": r.writer,
            "scenario": r.scenario.id,
            "cause": r.scenario.cause,
            "cause_alternatives": ",".join(r.scenario.cause_alternatives),
            "expect": ",".join(r.scenario.expect),
            "forbid": ",".join(r.scenario.forbid),
            "part": r.part,
        }
        for r in sorted(specs, key=lambda r: r.name)
    ]


def write_labels(path: Path = LABELS) -> int:
    rows = label_rows(runs())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        fh.write("# Generated from benchmarks/realwriter/scenarios.toml by benchmarks/realwriter/make_corpus.py --labels.\n")
        fh.write("# expect: kinds, comma-separated; a|b = either. Split v1: see benchmarks/realwriter/table.py.\n")
        w = csv.DictWriter(fh, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return len(rows)


def read_labels(path: Path = LABELS) -> list[dict[str, str]]:
    """The labels TSV, checked against the table and the split rule (stops on any difference)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter="\t"))
    want = label_rows(runs())
    if rows != want:
        raise SystemExit(f"{path} differs from the scenario table; regenerate it with make_corpus.py --labels")
    return rows
