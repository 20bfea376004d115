"""Batch audit of a tree of runs: parallel, cached, streaming (one run in memory per worker).

``run_audit(root, out)`` discovers every run under ``root``, analyzes the ones not already in the
cache in worker processes, and writes ``out/index.html`` (one sortable row per run),
``out/runs/<name>.html`` (one report page per run), ``out/runs/<name>.json`` (the schema v1 report of
that run alone) and ``out/summary.json`` (the schema v1 report of every run, in run-id order, stitched
from the per-run files one at a time).

How it stays fast and small:

* Workers come from a ``forkserver`` (``spawn`` where there is none) whose one interpreter imports the
  pipeline once; each worker is a cheap fork of it. Plain ``fork`` of the caller is not used: a
  process that has run any polars query cannot fork safely (polars' thread pool does not survive
  ``fork``, the child deadlocks). Workers run polars, numpy and BLAS on one thread each, as the
  cores are already used by the worker processes.
* A worker reads, diagnoses and renders one run at a time, writes its page and its JSON report, and
  sends back only a light index entry (status, findings without causes and fixes, a 48-point loss
  sketch, final values): frames and full reports never cross processes, and the parent's memory
  grows by about a kilobyte per run.
* Candidates go out in small chunks, the biggest files first, at most a few chunks per worker in
  flight, so one long run never finishes alone at the end and the parent holds no backlog.
* The cache (``out/cache.json``) keys each unit by the size and mtime of every file it reads, the
  rule options and the tool version; a hit reuses the entry and its page without reading the log.

A broken run becomes an entry with ``status: error`` and the reason. A worker that dies (killed, out
of memory) takes its chunk with it: those runs are retried one at a time in a fresh single-worker pool,
and a run that kills its worker again is listed with that error. The audit always goes on.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

from trainlog_doctor import __version__
from trainlog_doctor.discover import Candidate, discover

CACHE_FILE = "cache.json"
CACHE_VERSION = 4
SPARK_POINTS = 48
MAX_FINAL = 6
#: A chunk sent to a worker holds at most this many runs and (past its first run) this many bytes of logs.
CHUNK_RUNS = 16
CHUNK_BYTES = 4 << 20
#: Chunks in flight per worker.
IN_FLIGHT = 2
#: Default limit on one run's analysis in an audit (seconds); 0 or None: no limit.
DEFAULT_RUN_TIMEOUT = 600.0
TIMEOUT_ERROR = "analysis stopped after {seconds:g} s (audit --timeout)"
#: Runs with more log bytes than this are analyzed one at a time (each can take several GB of RAM).
BIG_UNIT_BYTES = 256 << 20
PAGE_RE = re.compile(r"^[A-Za-z0-9._-]*-[0-9a-f]{8}\.(html|json)$")
_PRIMARY_LOSSES = ("loss", "total_loss", "Loss", "train_loss")
#: Modules the forkserver imports once so every worker starts warm.
#: Libraries the pipeline imports lazily (inside functions).
_LAZY_IMPORTS = ("ruptures", "scipy.ndimage", "sklearn.ensemble", "google.protobuf.message",
                 "tensorboard.compat.proto.event_pb2", "tensorboard.plugins.hparams.plugin_data_pb2")
# The forkserver imports these once, instead of once per worker.
_PRELOAD = ["trainlog_doctor.audit", "trainlog_doctor.api", "trainlog_doctor.rules", "trainlog_doctor.knowledge",
            "trainlog_doctor.report.html", "trainlog_doctor.signals.segments", *_LAZY_IMPORTS]
#: Thread pools to keep at one thread inside workers (set only when the user has not set them).
_ONE_THREAD_ENV = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

Progress = Callable[[int, int], None]


def _escape_surrogates(exc: UnicodeError) -> tuple[str, int]:
    r"""Encoding error handler: a byte that was not UTF-8 in a file name (``\udcff``) is written ``\xff``.

    The same text :func:`trainlog_doctor.readers.base.display_path` gives for such a name.
    """
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}" for c in bad), exc.end


#: Text written by the audit is UTF-8; lone surrogates (from names that are not UTF-8) become escapes.
UTF8_ERRORS = "trainlog_doctor.escape_surrogates"
codecs.register_error(UTF8_ERRORS, _escape_surrogates)


class AuditError(click.UsageError):
    """A one-line reason the audit cannot run at all (bad output directory, bad rule selector).

    A :class:`click.UsageError`, so the command line reports it as a usage error (exit 2) without a
    traceback; library callers catch it as ``AuditError``.
    """


@dataclass
class AuditEntry:
    """What the index needs of one run.

    ``run`` is the run's JSON report without series, meta, evidence, causes and fixes (see
    :func:`slim_run`); the whole report is in ``runs/<report>`` (``report`` is None only when that
    file could not be written, and then ``run`` is the whole report).
    """

    run: dict[str, Any]
    page: str | None
    report: str | None = None
    spark: dict[str, str] = field(default_factory=dict)  # SVG polyline points of the loss sketch: train, val
    final: dict[str, float] = field(default_factory=dict)


@dataclass
class AuditResult:
    """The entries in index order and what it took to get them."""

    entries: list[AuditEntry]
    analyzed: int
    cached: int
    seconds: float
    warnings: list[str]
    workers: int = 1
    crashed: int = 0
    peak_rss_mb: float = 0.0  # this process
    worker_peak_rss_mb: float = 0.0  # the largest worker (0 when the audit ran in this process)


# --------------------------------------------------------------------------------------------------
# units, signatures, page names


def unit_files(cand: Candidate) -> list[Path]:
    """The files the candidate's reader reads (a TensorBoard run dir: its event files, split subdirs too)."""
    p = cand.path
    if not p.is_dir():
        return [p]
    try:
        from trainlog_doctor.readers.tfevents import event_files

        return sorted({f for f, _ in event_files(p)})
    except Exception:  # noqa: BLE001 - fall back to a plain scan of the directory
        try:
            return sorted(f for f in p.iterdir() if "tfevents" in f.name and f.is_file())
        except OSError:
            return []


def unit_signature(cand: Candidate) -> list[list[Any]]:
    """``[path, size, mtime_ns]`` of every file the candidate reads (the cache key)."""
    out: list[list[Any]] = []
    for f in unit_files(cand):
        try:
            st = f.stat()
        except OSError:
            out.append([f.as_posix(), -1, -1])
            continue
        out.append([f.as_posix(), st.st_size, st.st_mtime_ns])
    return out


def page_name(run_id: str) -> str:
    """A safe, unique, stable file name for a run's page (a slug of the id plus a hash of it)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._")[:80] or "run"
    digest = hashlib.sha1(run_id.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{slug}-{digest}.html"


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------------
# the worker side


def _worker_init() -> None:
    """Per worker: ignore Ctrl-C (the parent stops the pool) and warm the pipeline's lazy state."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up()


def warm_up() -> None:
    """Import what the pipeline imports lazily and load its lazy state (knowledge base, templates,
    segment classifier) before any run is timed: a time limit that fired inside a first import
    would leave a half-initialized module behind for every later run of the process."""
    import importlib

    for name in _LAZY_IMPORTS:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        from trainlog_doctor.knowledge import load_kb

        load_kb()
    with contextlib.suppress(Exception):
        from trainlog_doctor.signals.segments import get_classifier

        get_classifier()
    with contextlib.suppress(Exception):
        from trainlog_doctor.report.jinja import environment

        environment().get_template("report.html.j2")


class RunTimeout(BaseException):
    """Raised inside a worker when one run exceeds the audit's time limit.

    A BaseException, so the pipeline's "one broken run never stops the batch" handlers (which catch
    Exception) do not turn it into an internal error.
    """


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`RunTimeout` in this thread after ``seconds`` of wall time (no-op without a limit,
    off the main thread, or where there is no ``SIGALRM``). Rust and C code finish their current call first."""
    import signal
    import threading

    if (
        not seconds
        or seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise RunTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def _timed_out(entries: list[AuditEntry]) -> bool:
    prefix = TIMEOUT_ERROR.split("{", 1)[0]
    return any(str(e.run.get("error") or "").startswith(prefix) for e in entries)


def _audit_chunk(
    chunk: list[tuple[int, Candidate]], out_dir: str, options: dict[str, Any]
) -> tuple[list[tuple[int, list[dict[str, Any]]]], float]:
    """Worker: audit a chunk of candidates; returns their entries (as dicts) and this worker's peak RSS (MB)."""
    out = [(i, [asdict(e) for e in audit_candidate(cand, Path(out_dir), options)]) for i, cand in chunk]
    return out, _self_peak_rss_mb()


def audit_candidate(cand: Candidate, out_dir: Path, options: dict[str, Any]) -> list[AuditEntry]:
    """Analyze one candidate, write one page per run into ``out_dir/runs``, return the index entries.

    ``options["timeout"]`` (seconds) bounds the whole candidate: past it, the candidate is listed
    with an error instead (and not cached, so a later audit tries again).
    """
    timeout = options.get("timeout")
    try:
        with time_limit(timeout):
            return _audit_candidate(cand, out_dir, options)
    except RunTimeout:
        from trainlog_doctor.readers.base import display_path
        from trainlog_doctor.model.report import RunReport

        fmt = cand.reader.format if cand.reader is not None else None
        run = RunReport(cand.run_id, display_path(cand.path), fmt, status="error",
                        error=TIMEOUT_ERROR.format(seconds=float(timeout or 0)))
        return [AuditEntry(run.to_dict(), None)]


def _audit_candidate(cand: Candidate, out_dir: Path, options: dict[str, Any]) -> list[AuditEntry]:
    from trainlog_doctor.api import analyze_candidate
    from trainlog_doctor.model.report import Report

    entries: list[AuditEntry] = []
    for run in analyze_candidate(cand, options, keep_frames=True):
        page: str | None = page_name(run.run_id)
        try:
            from trainlog_doctor.report.html import render_html

            html = render_html(Report(runs=[run]), title=f"trainlog-doctor: {run.run_id}")
            _write_atomic(out_dir / "runs" / str(page), html)
        except Exception as exc:  # noqa: BLE001 - a render failure still lists the run
            run.warnings.append(f"page not rendered: {exc.__class__.__name__}: {_one_line(str(exc))}")
            page = None
        try:
            from trainlog_doctor.report.audit_index import sparkline_points

            sketch, final = index_data(run.frame)
            spark = sparkline_points(sketch)
        except Exception:  # noqa: BLE001 - the sketch is decoration
            spark, final = {}, {}
        run.frame = None
        full = run.to_dict()
        report: str | None = page_name(run.run_id)[: -len(".html")] + ".json"
        try:
            doc = Report(runs=[]).to_dict()
            doc["runs"] = [full]
            _write_atomic(out_dir / "runs" / str(report), _strict_json(doc) + "\n")
        except (OSError, ValueError):
            report = None
        entries.append(AuditEntry(full if report is None else slim_run(full), page, report, spark, final))
    return entries


#: What an index entry keeps of a finding (causes, fixes and evidence stay in the per-run report).
_FINDING_KEYS = ("code", "kind", "severity", "metric", "split", "start_step", "end_step", "start_epoch",
                 "end_epoch", "message")


def slim_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run's JSON report reduced to what the index and exit codes need (ids, status, findings' heads)."""
    return {
        "run_id": run["run_id"],
        "path": run["path"],
        "format": run.get("format"),
        "status": run["status"],
        "error": run.get("error"),
        "warnings": list(run.get("warnings", []))[:5],
        "findings": [{k: f.get(k) for k in _FINDING_KEYS} for f in run.get("findings", [])],
    }


def index_data(frame: Any) -> tuple[dict[str, list[float]], dict[str, float]]:
    """A loss sketch (``train``/``val``: at most 48 bucket means) and the last value of each series.

    The primary loss is ``loss`` (or ``total_loss`` ...; else the first metric with "loss" in its
    name). Final values are keyed ``metric`` for train and ``split/metric`` otherwise; the primary
    loss comes first, then the rest by name, at most six; a run that ends on NaN shows NaN.
    """
    import numpy as np

    from trainlog_doctor.run.series import split_series

    if frame is None or frame.height == 0:
        return {}, {}
    series = {(a.metric, a.split): a.values for a in split_series(frame) if a.split != "other"}
    metrics = sorted({m for m, _ in series})
    primary = next((m for m in _PRIMARY_LOSSES if m in metrics), None)
    if primary is None:
        primary = next((m for m in metrics if "loss" in m.lower()), None)
    rank = {"train": 0, "val": 1, "test": 2}
    final: dict[str, float] = {}
    for metric, split in sorted(series, key=lambda k: (k[0] != primary, k[0], rank.get(k[1], 3), k[1]))[:MAX_FINAL]:
        last = series[(metric, split)][-1] if len(series[(metric, split)]) else None
        if last is not None:
            final[metric if split == "train" else f"{split}/{metric}"] = float(last)
    spark: dict[str, list[float]] = {}
    for split in ("train", "val"):
        if (primary, split) in series:
            v = series[(primary, split)]
            v = v[np.isfinite(v)]
            if v.size:
                spark[split] = [float(f"{x:.4g}") for x in _bucket_means(v, SPARK_POINTS)]
    return spark, final


def _bucket_means(v: Any, n: int) -> Any:
    """``v`` reduced to at most ``n`` points: the mean of each of ``n`` equal buckets."""
    import numpy as np

    if v.size <= n:
        return v
    starts = np.linspace(0, v.size, n, endpoint=False).astype(np.int64)
    sums = np.add.reduceat(v, starts)
    counts = np.diff(np.append(starts, v.size))
    return sums / counts


def _self_peak_rss_mb() -> float:
    """This process's peak resident set size in MB (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


# --------------------------------------------------------------------------------------------------
# the parent side


def run_audit(
    root: Path,
    out_dir: Path,
    *,
    workers: int | None = None,
    since: float | None = None,
    use_cache: bool = True,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    timeout: float | None = DEFAULT_RUN_TIMEOUT,
) -> AuditResult:
    """Audit every run under ``root`` into ``out_dir`` (index.html, runs/*.html, summary.json, cache.json).

    ``since`` (a POSIX time) keeps only runs with a file modified at or after it; ``use_cache=False``
    re-analyzes everything; ``progress(done, total)`` is called as runs finish; a run whose analysis
    takes longer than ``timeout`` seconds is listed with an error (None or 0: no limit). Raises
    :class:`AuditError` when the output cannot be written or overlaps the input.
    """
    t0 = time.perf_counter()
    root = Path(root)
    out_dir = Path(out_dir)
    options = {"select": None, "ignore": None, **(options or {})}
    _check_output(root, out_dir)
    _check_options(options)
    n_workers = max(1, int(workers) if workers else default_workers())
    old_cache, cache_ok = _load_cache(out_dir)
    if n_workers > 1 and not (use_cache and old_cache):
        _start_forkserver()  # a cold audit: the workers' imports overlap with discovery
    runs_dir = out_dir / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditError(f"cannot create {runs_dir}: {exc.strerror or exc}") from None

    warnings: list[str] = []
    cands = discover([root], warn=warnings)
    sigs = [unit_signature(c) for c in cands]
    if since is not None:
        keep = [k for k, s in enumerate(sigs) if max((f[2] / 1e9 for f in s), default=0.0) >= since]
        cands = [cands[k] for k in keep]
        sigs = [sigs[k] for k in keep]

    cache = old_cache if use_cache else {}
    opts_key = json.dumps(options, sort_keys=True)
    options = {**options, "timeout": timeout}  # not part of the cache key
    keys = [_unit_key(c) for c in cands]
    results: dict[int, list[AuditEntry]] = {}
    todo: list[tuple[int, Candidate]] = []
    for i, cand in enumerate(cands):
        raw = cache.get(keys[i])
        entries = _cache_hit(_parse(raw), sigs[i], opts_key, runs_dir) if raw else None
        if entries is not None:
            results[i] = entries
        else:
            todo.append((i, cand))

    total = len(cands)
    done = len(results)
    if progress:
        progress(done, total)
    sizes = {i: sum(max(f[1], 0) for f in sigs[i]) for i, _ in todo}
    todo.sort(key=lambda ic: (-sizes[ic[0]], ic[0]))  # biggest first: no straggler at the end

    def finished(i: int, entries: list[AuditEntry]) -> None:
        nonlocal done
        results[i] = entries
        done += 1
        if progress:
            progress(done, total)

    stats = _RunStats()
    used_workers = min(n_workers, len(todo)) if len(todo) > 1 else 1
    if used_workers > 1:
        _start_forkserver()  # no-op when already tried
    try:
        if used_workers > 1:
            try:
                _run_parallel(todo, sizes, out_dir, options, used_workers, finished, stats)
            except (OSError, NotImplementedError) as exc:  # no process pool here (no /dev/shm, no semaphores)
                warnings.append(f"worker processes unavailable ({exc.__class__.__name__}: {exc}); auditing in one process")
                used_workers = 1
        if any(i not in results for i, _ in todo) and timeout:
            warm_up()
        for i, cand in todo:
            if i not in results:
                finished(i, audit_candidate(cand, out_dir, options))
    finally:
        # also on Ctrl-C: keep what was finished, so the next run resumes from the cache
        fresh = {keys[i]: i for i in results}
        kept = {k: v for k, v in old_cache.items() if k not in fresh and _unit_exists(k)}
        units = ((k, v) for k, v in kept.items())
        new = ((keys[i], {"sig": sigs[i], "opts": opts_key, "entries": [asdict(e) for e in results[i]]})
               for i in sorted(results) if not _timed_out(results[i]))
        live_files = _save_cache(out_dir, itertools.chain(units, new), warnings)

    ordered = sorted((e for i in range(total) for e in results[i]), key=lambda e: e.run["run_id"])
    if cache_ok and live_files is not None:
        _drop_stale_pages(runs_dir, live_files)
    _write_summary(out_dir / "summary.json", ordered)
    elapsed = time.perf_counter() - t0
    from trainlog_doctor.report.audit_index import write_index

    tmp = out_dir / "index.html.tmp"
    with open(tmp, "w", encoding="utf-8", errors=UTF8_ERRORS) as fh:
        write_index(ordered, fh, root=str(root), seconds=elapsed)
    os.replace(tmp, out_dir / "index.html")
    return AuditResult(
        ordered,
        analyzed=len(todo),
        cached=total - len(todo),
        seconds=elapsed,
        warnings=warnings,
        workers=used_workers,
        crashed=stats.crashed,
        peak_rss_mb=_self_peak_rss_mb(),
        worker_peak_rss_mb=stats.worker_rss,
    )


@dataclass
class _RunStats:
    crashed: int = 0
    worker_rss: float = 0.0


def _chunks(todo: list[tuple[int, Candidate]], sizes: dict[int, int]) -> list[list[tuple[int, Candidate]]]:
    """Consecutive chunks of at most CHUNK_RUNS runs and about CHUNK_BYTES of logs each."""
    chunks: list[list[tuple[int, Candidate]]] = []
    cur: list[tuple[int, Candidate]] = []
    cur_bytes = 0
    for item in todo:
        size = sizes.get(item[0], 0)
        if cur and (len(cur) >= CHUNK_RUNS or cur_bytes + size > CHUNK_BYTES):
            chunks.append(cur)
            cur, cur_bytes = [], 0
        cur.append(item)
        cur_bytes += size
    if cur:
        chunks.append(cur)
    return chunks


def _run_parallel(
    todo: list[tuple[int, Candidate]],
    sizes: dict[int, int],
    out_dir: Path,
    options: dict[str, Any],
    workers: int,
    finished: Callable[[int, list[AuditEntry]], None],
    stats: _RunStats,
) -> None:
    """Run chunks on a pool; after a worker death, retry the lost runs one by one in a fresh pool."""
    pending = deque(_chunks(todo, sizes))
    big = {i for i, _ in todo if sizes.get(i, 0) > BIG_UNIT_BYTES}
    suspects: list[tuple[int, Candidate]] = []
    while pending:
        suspects.extend(_pool_pass(pending, out_dir, options, workers, IN_FLIGHT * workers, big, finished, stats))
    # one worker, one run at a time: a death now names its run, and the others are done
    single = deque([[item] for item in sorted(suspects, key=lambda ic: ic[0])])
    while single:
        for i, cand in _pool_pass(single, out_dir, options, 1, 1, big, finished, stats):
            stats.crashed += 1
            finished(i, [_crash_entry(cand)])


def _pool_pass(
    pending: deque[list[tuple[int, Candidate]]],
    out_dir: Path,
    options: dict[str, Any],
    workers: int,
    max_in_flight: int,
    big: set[int],
    finished: Callable[[int, list[AuditEntry]], None],
    stats: _RunStats,
) -> list[tuple[int, Candidate]]:
    """Feed ``pending`` chunks to one pool until it is empty or the pool breaks; returns the runs lost.

    At most one chunk holding a run of ``big`` is in flight at a time.
    """
    lost: list[tuple[int, Candidate]] = []
    in_flight: dict[Future[Any], list[tuple[int, Candidate]]] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=_worker_init)

    def is_big(chunk: list[tuple[int, Candidate]]) -> bool:
        return any(i in big for i, _ in chunk)

    try:
        while pending or in_flight:
            while len(in_flight) < max_in_flight:
                big_busy = any(is_big(c) for c in in_flight.values())
                k = next((k for k, c in enumerate(pending) if not (big_busy and is_big(c))), None)
                if k is None:
                    break
                chunk = pending[k]
                del pending[k]
                try:
                    in_flight[pool.submit(_audit_chunk, chunk, str(out_dir), options)] = chunk
                except BrokenProcessPool:
                    pending.appendleft(chunk)
                    raise
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                chunk = in_flight.pop(fut)
                try:
                    results, rss = fut.result()
                except BrokenProcessPool:
                    lost.extend(chunk)
                    broken = True
                    continue
                stats.worker_rss = max(stats.worker_rss, rss)
                by_index = dict(results)
                for i, cand in chunk:
                    finished(i, [AuditEntry(**e) for e in by_index[i]])
            if broken:
                raise BrokenProcessPool("a worker died")
    except BrokenProcessPool:
        for chunk in in_flight.values():
            lost.extend(chunk)
        in_flight.clear()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
    return lost


def _crash_entry(cand: Candidate) -> AuditEntry:
    from trainlog_doctor.model.report import RunReport

    fmt = cand.reader.format if cand.reader is not None else None
    run = RunReport(cand.run_id, str(cand.path), fmt, status="error",
                    error="the worker analyzing this run died (out of memory or killed)")
    return AuditEntry(run.to_dict(), None)


_FORKSERVER_OK: bool | None = None  # None: not tried yet


def pool_context() -> Any:
    """A multiprocessing context safe for polars workers: the preloaded forkserver where it runs, else spawn.

    Never plain ``fork``: a process that has run a polars query deadlocks its forked children (see
    the module docstring). Use it as ``ProcessPoolExecutor(mp_context=pool_context())``.
    """
    import multiprocessing

    if _FORKSERVER_OK is None:
        _start_forkserver()
    return multiprocessing.get_context("forkserver" if _FORKSERVER_OK else "spawn")


def _start_forkserver() -> None:
    """Start the forkserver now, with the pipeline preloaded and one-thread pools in its environment."""
    global _FORKSERVER_OK
    import multiprocessing

    if _FORKSERVER_OK is not None:
        return
    if "forkserver" not in multiprocessing.get_all_start_methods():
        _FORKSERVER_OK = False
        return
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    saved = {k: os.environ.get(k) for k in _ONE_THREAD_ENV}
    try:
        for k in _ONE_THREAD_ENV:
            os.environ.setdefault(k, "1")
        forkserver.ensure_running()
        _FORKSERVER_OK = True
    except OSError:  # no unix sockets or no /dev/shm here: spawn still works
        _FORKSERVER_OK = False
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --------------------------------------------------------------------------------------------------
# checks, cache, outputs


def _check_output(root: Path, out_dir: Path) -> None:
    """Refuse an output that is inside the input or that would put ``runs/`` over the input."""
    src = root.resolve()
    out = out_dir.resolve()
    if out == src or out.is_relative_to(src):
        raise AuditError(f"refusing to write {out_dir} inside the input {root}; choose an --output elsewhere")
    if src.is_relative_to(out / "runs"):
        raise AuditError(f"refusing to write {out_dir}: its runs/ folder would overlap the input {root}")
    if out.exists() and not out.is_dir():
        raise AuditError(f"{out_dir} exists and is not a directory")


def _check_options(options: dict[str, Any]) -> None:
    if not options.get("select") and not options.get("ignore"):
        return
    from trainlog_doctor.rules import select_rules

    try:
        select_rules(options.get("select"), options.get("ignore"))
    except ValueError as exc:
        raise AuditError(str(exc)) from None


def _unit_key(cand: Candidate) -> str:
    return f"{os.path.abspath(cand.path)}\x00{cand.run_id}"


def _unit_exists(key: str) -> bool:
    return os.path.exists(key.split("\x00", 1)[0])


def _parse(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _cache_hit(hit: Any, sig: list[list[Any]], opts_key: str, runs_dir: Path) -> list[AuditEntry] | None:
    """The cached entries of a unit whose files, options and output files are all as cached, else None."""
    if not isinstance(hit, dict) or hit.get("sig") != sig or hit.get("opts") != opts_key:
        return None
    try:
        entries = [AuditEntry(**e) for e in hit["entries"]]
    except (KeyError, TypeError):  # a cache edited by hand or by another version
        return None
    for e in entries:
        if any(name and not (runs_dir / name).is_file() for name in (e.page, e.report)):
            return None
    return entries


_UNITS_OPEN = '"units":{'


def _load_cache(out_dir: Path) -> tuple[dict[str, str], bool]:
    """The cached units as raw JSON text by key (parsed only on a hit), and whether ``out_dir`` holds a
    cache this tool wrote (of any version).

    :func:`_save_cache` writes one unit per line, so a big cache costs its text, not a tree of objects.
    """
    try:
        with open(out_dir / CACHE_FILE, encoding="utf-8") as fh:
            head = fh.readline().rstrip()
            if not head.endswith(_UNITS_OPEN):
                return {}, False
            meta = json.loads(head[: -len(_UNITS_OPEN)].rstrip(",") + "}")
            if not isinstance(meta, dict) or meta.get("tool") != "trainlog-doctor":
                return {}, False
            if meta.get("version") != CACHE_VERSION or meta.get("tool_version") != __version__:
                return {}, True
            units: dict[str, str] = {}
            decoder = json.JSONDecoder()
            for line in fh:
                line = line.rstrip("\n")
                if not line or line == "}}":
                    continue
                key, end = decoder.raw_decode(line)
                if not isinstance(key, str) or line[end] != ":":
                    raise ValueError("bad cache line")
                units[key] = line[end + 1 :].rstrip(",")
            return units, True
    except (OSError, ValueError, IndexError):
        return {}, False


def _save_cache(out_dir: Path, units: Iterator[tuple[str, str | dict[str, Any]]], warnings: list[str]) -> set[str] | None:
    """Write the cache one unit per line (a unit is a dict or its raw JSON text); returns the page and
    report files its entries name (None when it could not be written)."""
    live: set[str] = set()
    path = out_dir / CACHE_FILE
    tmp = path.with_name(path.name + ".tmp")
    head = {"tool": "trainlog-doctor", "version": CACHE_VERSION, "tool_version": __version__}
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(head, separators=(",", ":"))[:-1] + "," + _UNITS_OPEN)
            for n, (key, unit) in enumerate(units):
                text = unit if isinstance(unit, str) else json.dumps(unit, separators=(",", ":"))
                obj = json.loads(text) if isinstance(unit, str) else unit
                for e in obj.get("entries", []):
                    live.update(name for name in (e.get("page"), e.get("report")) if name)
                fh.write(("," if n else "") + "\n" + json.dumps(key) + ":" + text)
            fh.write("\n}}\n")
        os.replace(tmp, path)
    except (OSError, ValueError, AttributeError) as exc:
        warnings.append(f"cache not saved: {exc}")
        return None
    return live


def _drop_stale_pages(runs_dir: Path, live: set[str]) -> None:
    """Delete pages and reports this tool wrote earlier for runs that no longer exist."""
    try:
        names = os.listdir(runs_dir)
    except OSError:
        return
    for name in names:
        if PAGE_RE.match(name) and name not in live:
            with contextlib.suppress(OSError):
                os.unlink(runs_dir / name)


def _write_summary(path: Path, entries: Sequence[AuditEntry]) -> None:
    """summary.json (schema v1), stitched run by run from the per-run reports."""
    from trainlog_doctor.model.report import Report

    head = Report().to_dict()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", errors=UTF8_ERRORS) as fh:
        fh.write('{"schema_version": %d, "tool": %s, "runs": [' % (head["schema_version"], json.dumps(head["tool"])))
        for k, e in enumerate(entries):
            fh.write(",\n" if k else "\n")
            fh.write(_strict_json(_full_run(path.parent / "runs", e)))
        fh.write("\n]}\n")
    os.replace(tmp, path)


def _full_run(runs_dir: Path, entry: AuditEntry) -> dict[str, Any]:
    """The whole JSON report of one run (from its per-run file; the slim entry if that is gone)."""
    if entry.report:
        try:
            runs = json.loads((runs_dir / entry.report).read_text(encoding="utf-8"))["runs"]
            if len(runs) == 1 and runs[0].get("run_id") == utf8_safe(entry.run["run_id"]):
                return dict(runs[0])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return entry.run


def _strict_json(obj: Any) -> str:
    """``obj`` as strict JSON (non-finite floats become "NaN", "Infinity", "-Infinity" strings)."""
    try:
        return json.dumps(obj, allow_nan=False, ensure_ascii=False)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False, ensure_ascii=False)


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(text.encode("utf-8", UTF8_ERRORS))
    os.replace(tmp, path)


def utf8_safe(text: str) -> str:
    r"""``text`` as it reads back from an audit output file (lone surrogates written as ``\xNN`` escapes)."""
    return text.encode("utf-8", UTF8_ERRORS).decode("utf-8")


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------------
# small helpers for the command line


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
    """True when standard error is a terminal (the progress bar is drawn only then)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False

