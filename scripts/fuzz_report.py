#!/usr/bin/env python3
"""A long fuzz run over every reader and ``api.analyze``, with counts of what was tried and survived.

Usage: python scripts/fuzz_report.py [--examples 500] [--analyze-every 5] [--seed 0] [--families keras_csv,jsonl]
                                     [--crash-dir /tmp/fuzz-crashes] [--json summary.json]

Inputs are the seeds and mutations of ``tests/test_reliability.py`` (hand-made minimal logs plus the
smallest real files of ``../shared/real_logs`` when present), drawn from ``random.Random`` seeded by
``(seed, family, example)`` so any example can be replayed with ``--replay FAMILY:INDEX``.

Each family runs in a child process: a segfault or an out-of-memory kill is recorded as a crash of the
example that was running (its bytes are saved to ``--crash-dir``) and the run goes on with the next one.
Per example: every reader's ``sniff`` and ``read`` (read may only raise ``LogReadError``), and every
``--analyze-every``-th example also ``api.analyze`` (never raises, valid statuses, one-line errors).
Prints a Markdown table per family: inputs, reader calls, analyze calls, statuses, ``LogReadError``
reasons by kind, crashes and slow inputs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

SLOW_SECONDS = 5.0


def draw_example(family: str, index: int, seed: int) -> tuple[str, list[str], bytes]:
    """``(seed label, mutation names, bytes)`` of example ``index`` of ``family`` (deterministic)."""
    import test_reliability as tr

    rnd = random.Random(f"{seed}:{family}:{index}")
    label, data = rnd.choice(tr.cached_seeds(family))
    names = [rnd.choice(sorted(tr.MUTATIONS)) for _ in range(rnd.choice((1, 1, 2, 3)))]
    return label, names, tr.mutate(data, names, rnd)


def run_child(family: str, start: int, stop: int, seed: int, analyze_every: int, crash_dir: Path) -> None:
    """Fuzz examples ``start..stop-1`` of ``family``; one JSON line per event on stdout."""
    import test_reliability as tr

    def emit(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(start, stop):
            label, names, data = draw_example(family, i, seed)
            path = Path(tmp) / f"e{i}" / tr.FAMILIES[family].filename
            path.parent.mkdir()
            path.write_bytes(data)
            crash_dir.mkdir(parents=True, exist_ok=True)
            pending = crash_dir / f".running-{family}"
            pending.write_bytes(data)  # kept as the crash input if this process dies
            emit({"event": "start", "i": i})
            t0 = time.perf_counter()
            rec: dict[str, Any] = {"event": "done", "i": i, "label": label, "mutations": names, "size": len(data)}
            try:
                out = tr.exercise_readers(path)
                rec["reader_calls"] = 2 * len(tr.READERS)
                rec["sniffed_by"] = out.sniffed_by
                rec["read_errors"] = [[fmt, tr.reason_kind(r)] for fmt, r in out.read_errors]
                if i % analyze_every == 0:
                    res = tr.exercise_analyze(path)
                    rec["statuses"] = res.statuses
                    rec["run_errors"] = [tr.reason_kind(e) for e in res.run_errors]
                    rec["rule_failures"] = res.rule_failures
            except tr.ConformanceError as exc:
                cause = exc.__cause__
                rec["crash"] = str(exc)[:300]
                if cause is not None:
                    import traceback

                    rec["traceback"] = "".join(traceback.format_exception(cause))[-3000:]
            rec["seconds"] = round(time.perf_counter() - t0, 3)
            if "crash" in rec or rec["seconds"] > SLOW_SECONDS:
                keep = crash_dir / f"{family}-{seed}-{i}"
                keep.mkdir(parents=True, exist_ok=True)
                (keep / tr.FAMILIES[family].filename).write_bytes(data)
                rec["saved"] = str(keep)
            emit(rec)
            for p in (path, pending):
                p.unlink(missing_ok=True)
            path.parent.rmdir()


def fuzz_family(
    family: str, n: int, seed: int, analyze_every: int, crash_dir: Path, max_memory_gb: float = 4.0
) -> dict[str, Any]:
    """Run ``n`` examples of ``family`` in child processes (restarting after a hard crash); return counts."""
    stats: dict[str, Any] = {
        "inputs": 0, "reader_calls": 0, "analyze_calls": 0, "statuses": collections.Counter(),
        "sniffed_by": collections.Counter(), "read_errors": collections.Counter(), "run_errors": collections.Counter(),
        "crashes": [], "slow": [], "rule_failures": [], "mutations": collections.Counter(), "seconds": 0.0,
    }
    start = 0
    while start < n:
        cmd = [sys.executable, __file__, "--child", family, "--start", str(start), "--stop", str(n), "--seed", str(seed),
               "--analyze-every", str(analyze_every), "--crash-dir", str(crash_dir), "--max-memory-gb", str(max_memory_gb)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=str(REPO))
        running: int | None = None
        assert proc.stdout is not None
        for line in proc.stdout:
            rec = json.loads(line)
            if rec["event"] == "start":
                running = rec["i"]
                continue
            running = None
            start = rec["i"] + 1
            stats["inputs"] += 1
            stats["seconds"] += rec["seconds"]
            stats["mutations"].update(rec["mutations"])
            stats["reader_calls"] += rec.get("reader_calls", 0)
            stats["sniffed_by"][rec.get("sniffed_by") or "none"] += 1
            for fmt, kind in rec.get("read_errors", []):
                stats["read_errors"][f"{fmt}: {kind}"] += 1
            if "statuses" in rec:
                stats["analyze_calls"] += 1
                stats["statuses"].update(rec["statuses"])
                stats["run_errors"].update(rec["run_errors"])
                for msg in rec.get("rule_failures", []):
                    stats["rule_failures"].append({"i": rec["i"], "label": rec["label"], "mutations": rec["mutations"],
                                                   "message": msg})
            if "crash" in rec:
                stats["crashes"].append({k: rec.get(k) for k in ("i", "label", "mutations", "crash", "saved", "traceback")})
            elif rec["seconds"] > SLOW_SECONDS:
                stats["slow"].append({k: rec.get(k) for k in ("i", "label", "mutations", "seconds", "saved")})
        code = proc.wait()
        if code != 0:
            i = running if running is not None else start
            keep = crash_dir / f"{family}-{seed}-{i}"
            keep.mkdir(parents=True, exist_ok=True)
            pending = crash_dir / f".running-{family}"
            if pending.exists():
                pending.replace(keep / "input.bin")
            label, names, _ = draw_example(family, i, seed)
            stats["crashes"].append({"i": i, "label": label, "mutations": names, "saved": str(keep),
                                     "crash": f"process died (exit {code}, signal {-code if code < 0 else 'none'})"})
            stats["inputs"] += 1
            start = i + 1
    return stats


def print_report(all_stats: dict[str, dict[str, Any]], seed: int, top: int) -> None:
    total_inputs = sum(s["inputs"] for s in all_stats.values())
    total_crashes = sum(len(s["crashes"]) for s in all_stats.values())
    print(f"# fuzz report (seed {seed})\n")
    print("| family | inputs | reader calls | analyze calls | ok / empty / error | LogReadError raised | crashes "
          "| rules skipped | slow (>5 s) |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for fam, s in all_stats.items():
        st = s["statuses"]
        print(f"| {fam} | {s['inputs']} | {s['reader_calls']} | {s['analyze_calls']} | "
              f"{st['ok']} / {st['empty']} / {st['error']} | {sum(s['read_errors'].values())} | "
              f"{len(s['crashes'])} | {len(s['rule_failures'])} | {len(s['slow'])} |")
    print(f"\n{total_inputs} inputs, {total_crashes} crash(es).\n")
    for fam, s in all_stats.items():
        print(f"## {fam}\n")
        own = {k: v for k, v in s["read_errors"].items() if k.startswith(fam_format(fam) + ":")}
        print(f"- sniffed by: {dict(s['sniffed_by'].most_common())}")
        print(f"- mutations: {dict(sorted(s['mutations'].items()))}")
        print(f"- own reader's LogReadError reasons ({sum(own.values())}):")
        for k, v in collections.Counter(own).most_common(top):
            print(f"  - {v} x `{k.split(': ', 1)[1]}`")
        if s["run_errors"]:
            print("- analyze error/empty reasons:")
            for k, v in s["run_errors"].most_common(top):
                print(f"  - {v} x `{k}`")
        for c in s["crashes"]:
            print(f"- CRASH example {c['i']} ({c['label']}, {c['mutations']}): {c['crash']} -> {c.get('saved')}")
        for c in s["rule_failures"]:
            print(f"- rule skipped on example {c['i']} ({c['label']}, {c['mutations']}): {c['message']}")
        for c in s["slow"]:
            print(f"- slow example {c['i']} ({c['label']}, {c['mutations']}): {c['seconds']} s -> {c.get('saved')}")
        print()


def fam_format(family: str) -> str:
    import test_reliability as tr

    return tr.FAMILIES[family].format


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=500, help="inputs per family")
    ap.add_argument("--analyze-every", type=int, default=5, help="also run api.analyze on every K-th input")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--crash-dir", type=Path, default=Path(tempfile.gettempdir()) / "trainlog-fuzz-crashes")
    ap.add_argument("--json", type=Path, default=None, help="also write the counts as JSON")
    ap.add_argument("--top", type=int, default=12, help="reasons listed per family")
    ap.add_argument("--replay", default=None, help="FAMILY:INDEX: write that example to --crash-dir and exit")
    ap.add_argument("--max-memory-gb", type=float, default=4.0, help="address-space cap of each child process")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    import test_reliability as tr

    if args.child:
        import resource

        cap = int(args.max_memory_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # a runaway input fails here, not on the whole machine
        run_child(args.child, args.start, args.stop, args.seed, args.analyze_every, args.crash_dir)
        return 0
    if args.replay:
        family, _, index = args.replay.partition(":")
        label, names, data = draw_example(family, int(index), args.seed)
        out = args.crash_dir / f"replay-{family}-{args.seed}-{index}" / tr.FAMILIES[family].filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        print(f"{out} ({label}, {names}, {len(data)} bytes)")
        return 0
    families = [f for f in args.families.split(",") if f] or sorted(tr.FAMILIES)
    t0 = time.perf_counter()
    all_stats = {}
    for fam in families:
        all_stats[fam] = fuzz_family(fam, args.examples, args.seed, args.analyze_every, args.crash_dir, args.max_memory_gb)
        print(f"{fam}: {all_stats[fam]['inputs']} inputs, {len(all_stats[fam]['crashes'])} crash(es), "
              f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print_report(all_stats, args.seed, args.top)
    if args.json:
        args.json.write_text(json.dumps(all_stats, indent=1, default=lambda o: dict(o)), encoding="utf-8")
    return 1 if any(s["crashes"] for s in all_stats.values()) else 0


if __name__ == "__main__":
    os.environ.setdefault("POLARS_MAX_THREADS", "2")
    sys.exit(main())
