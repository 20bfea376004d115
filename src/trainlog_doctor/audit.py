"""Batch audit of a tree of runs: parallel, cached, streaming (one run in memory per worker)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlog_doctor.discover import Candidate, discover

CACHE_FILE = "cache.json"
CACHE_VERSION = 1
SPARK_POINTS = 48


@dataclass
class AuditEntry:
    """What the index needs of one run; the heavy frame stays in the worker."""

    run: dict[str, Any]
    page: str | None
    spark: dict[str, list[float]] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)


@dataclass
class AuditResult:
    entries: list[AuditEntry]
    analyzed: int
    cached: int
    seconds: float
    warnings: list[str]


def unit_signature(cand: Candidate) -> list[list[Any]]:
    """Size and mtime of every file the candidate reads (the cache key)."""
    p = cand.path
    try:
        if p.is_dir():
            files = sorted(f for f in p.rglob("*tfevents*") if f.is_file())
        else:
            files = [p]
        return [[f.as_posix(), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    except OSError:
        return []


def page_name(run_id: str) -> str:
    """A safe, unique, stable file name for a run's page."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._")[:80] or "run"
    digest = hashlib.sha1(run_id.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{slug}-{digest}.html"


def _audit_one(cand: Candidate, out_dir: str, options: dict[str, Any]) -> list[AuditEntry]:
    """Worker: analyze one candidate, write its page(s), return the light index entries."""
    from trainlog_doctor.api import analyze_candidate
    from trainlog_doctor.report.html import render_html
    from trainlog_doctor.report.model import Report

    entries: list[AuditEntry] = []
    for run in analyze_candidate(cand, options, keep_frames=True):
        page = page_name(run.run_id)
        try:
            html = render_html(Report(runs=[run]), title=f"trainlog-doctor: {run.run_id}")
            (Path(out_dir) / "runs" / page).write_text(html, encoding="utf-8")
        except Exception as exc:  # a render failure still lists the run
            run.warnings.append(f"page not rendered: {exc.__class__.__name__}: {exc}")
            page = None
        spark, final = _index_data(run)
        run.frame = None
        entries.append(AuditEntry(run.to_dict(), page, spark, final))
    return entries


def _index_data(run: Any) -> tuple[dict[str, list[float]], dict[str, float]]:
    """A downsampled primary-loss curve (train and val) and the final value of each series."""
    import math

    import numpy as np
    import polars as pl

    frame = run.frame
    if frame is None or frame.height == 0:
        return {}, {}
    final: dict[str, float] = {}
    spark: dict[str, list[float]] = {}
    last = frame.sort("step").group_by(["metric", "split"], maintain_order=True).agg(pl.col("value").last())
    for metric, split, value in last.iter_rows():
        if split == "other" or value is None or not math.isfinite(value):
            continue
        final[f"{split}/{metric}" if split != "train" else metric] = float(value)
    metrics = frame.filter(pl.col("split").is_in(["train", "val"]))["metric"].unique().to_list()
    primary = next((m for m in ("loss", "total_loss", "Loss", "train_loss") if m in metrics), None)
    if primary is None:
        primary = next((m for m in sorted(metrics) if "loss" in m.lower()), None)
    if primary is not None:
        for split in ("train", "val"):
            v = frame.filter((pl.col("metric") == primary) & (pl.col("split") == split)).sort("step")["value"].to_numpy()
            v = v[np.isfinite(v)]
            if v.size:
                idx = np.linspace(0, v.size - 1, min(SPARK_POINTS, v.size)).astype(int)
                spark[split] = [float(x) for x in v[idx]]
    return spark, dict(sorted(final.items())[:6])


def _load_cache(out_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((out_dir / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("units", {}) if data.get("version") == CACHE_VERSION else {}


def run_audit(
    root: Path,
    out_dir: Path,
    *,
    workers: int | None = None,
    since: float | None = None,
    use_cache: bool = True,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditResult:
    """Audit every run under ``root`` into ``out_dir`` (index.html, runs/*.html, summary.json)."""
    from trainlog_doctor.report.audit_index import render_index
    from trainlog_doctor.report.json import render_json
    from trainlog_doctor.report.model import Report

    t0 = time.perf_counter()
    options = options or {"select": None, "ignore": None}
    warnings: list[str] = []
    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    cands = discover([root], warn=warnings)
    if since is not None:
        cands = [c for c in cands if _newest_mtime(c) >= since]
    cache = _load_cache(out_dir) if use_cache else {}
    key_opts = json.dumps(options, sort_keys=True)
    results: dict[int, list[AuditEntry]] = {}
    todo: list[tuple[int, Candidate]] = []
    sigs: dict[int, Any] = {}
    for i, cand in enumerate(cands):
        sig = [unit_signature(cand), key_opts]
        sigs[i] = sig
        hit = cache.get(str(cand.path))
        if hit and hit.get("sig") == sig and all(
            e["page"] is None or (out_dir / "runs" / e["page"]).is_file() for e in hit["entries"]
        ):
            results[i] = [AuditEntry(**e) for e in hit["entries"]]
        else:
            todo.append((i, cand))
    n_workers = max(1, workers or os.cpu_count() or 1)
    done = len(results)
    total = len(cands)
    if progress:
        progress(done, total)
    for i, entries in _map(todo, str(out_dir), options, n_workers):
        results[i] = entries
        done += 1
        if progress:
            progress(done, total)
    ordered = [e for i in range(len(cands)) for e in results[i]]
    ordered.sort(key=lambda e: e.run["run_id"])
    new_cache = {
        str(cands[i].path): {"sig": sigs[i], "entries": [e.__dict__ for e in results[i]]} for i in range(len(cands))
    }
    (out_dir / CACHE_FILE).write_text(json.dumps({"version": CACHE_VERSION, "units": new_cache}), encoding="utf-8")
    summary = {"schema_version": 1, "tool": Report().to_dict()["tool"], "runs": [e.run for e in ordered]}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, allow_nan=False, ensure_ascii=False), encoding="utf-8")
    elapsed = time.perf_counter() - t0
    (out_dir / "index.html").write_text(render_index(ordered, root=str(root), seconds=elapsed), encoding="utf-8")
    return AuditResult(ordered, analyzed=len(todo), cached=total - len(todo), seconds=elapsed, warnings=warnings)


def _map(
    todo: list[tuple[int, Candidate]], out_dir: str, options: dict[str, Any], workers: int
) -> Iterator[tuple[int, list[AuditEntry]]]:
    """Results as they finish (serial for one worker), one candidate in memory per worker."""
    if workers == 1 or len(todo) <= 1:
        for i, cand in todo:
            yield i, _audit_one(cand, out_dir, options)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        idx = [i for i, _ in todo]
        it = pool.map(_audit_one, [c for _, c in todo], [out_dir] * len(todo), [options] * len(todo), chunksize=8)
        yield from zip(idx, it)


def _newest_mtime(cand: Candidate) -> float:
    sig = unit_signature(cand)
    return max((s[2] / 1e9 for s in sig), default=0.0)


def parse_since(text: str) -> float:
    """``--since``: an ISO date/time, or a duration like ``30m``, ``12h``, ``7d`` before now."""
    from datetime import datetime

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if m:
        mult = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return time.time() - float(m.group(1)) * mult
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"--since: expected an ISO date or a duration like 7d, got {text!r}") from None


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
