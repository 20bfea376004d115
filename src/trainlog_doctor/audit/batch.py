"""``run_audit``: the parent side of an audit, from the input tree to the output directory."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainlog_doctor.audit.cache import cache_hit, cache_unit, load_cache, recorded_files, save_cache
from trainlog_doctor.audit.checks import OutputWriteError, check_options, check_output
from trainlog_doctor.audit.entries import AuditEntry, AuditResult
from trainlog_doctor.audit.lock import drop_temp_files, output_lock
from trainlog_doctor.audit.pages import drop_stale_pages, write_index_page, write_summary
from trainlog_doctor.audit.parallel import RunStats, run_parallel
from trainlog_doctor.audit.units import signature_bytes, signature_mtime, unit_exists, unit_key, unit_signature
from trainlog_doctor.audit.worker import audit_candidate, timed_out
from trainlog_doctor.pool import default_workers, peak_rss_mb, start_forkserver, warm_up
from trainlog_doctor.readers.discover import Candidate, discover

#: Default limit on one run's analysis in an audit (seconds); 0 or None: no limit.
DEFAULT_RUN_TIMEOUT = 600.0

#: ``progress(done, total, runs)``, called as logs finish: logs done, logs in all, runs found in the done ones.
Progress = Callable[[int, int, int], None]
#: While runs finish, the cache is saved at most this often (seconds): a killed audit loses no more.
CACHE_SAVE_SECONDS = 20.0


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
    follow_links: bool = False,
) -> AuditResult:
    """Audit every run under ``root`` into ``out_dir`` (index.html, runs/*.html, summary.json, cache.json).

    ``since`` (a POSIX time) keeps only runs with a file modified at or after it; ``use_cache=False``
    re-analyzes everything; ``progress(done, total, runs)`` is called as logs finish; a run whose analysis
    takes longer than ``timeout`` seconds is listed with an error (None or 0: no limit); symlinks
    leading out of ``root`` are skipped unless ``follow_links``. Raises :class:`AuditError` when the
    output overlaps the input or another audit is writing into it, :class:`OutputWriteError` when
    the output files cannot be written. Finished runs are saved in the cache as they finish.
    """
    t0 = time.perf_counter()
    root = Path(root)
    out_dir = Path(out_dir)
    options = {"select": None, "ignore": None, **(options or {})}
    check_output(root, out_dir)
    check_options(options)
    n_workers = max(1, int(workers) if workers else default_workers())
    runs_dir = out_dir / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputWriteError(f"cannot create {runs_dir}: {exc.strerror or exc}") from None
    with output_lock(out_dir):
        drop_temp_files(out_dir)  # left by an audit that was killed
        try:
            return _run_locked(root, out_dir, runs_dir, t0, n_workers, since, use_cache, options, progress, timeout,
                               follow_links)
        finally:
            drop_temp_files(out_dir)


def _run_locked(root: Path, out_dir: Path, runs_dir: Path, t0: float, n_workers: int, since: float | None,
                use_cache: bool, options: dict[str, Any], progress: Progress | None, timeout: float | None,
                follow_links: bool) -> AuditResult:
    """:func:`run_audit` once the output directory is locked."""
    old_cache, cache_ok = load_cache(out_dir)
    if n_workers > 1 and not (use_cache and old_cache):
        start_forkserver()  # a cold audit: the workers' imports overlap with discovery

    warnings: list[str] = []
    cands = discover([root], warn=warnings, follow_links=follow_links)
    cands = [c for c in cands if not _inside(c.path, out_dir)]  # never our own reports (a link to the output)
    sigs = [unit_signature(c) for c in cands]
    if since is not None:
        keep = [k for k, s in enumerate(sigs) if signature_mtime(s) >= since]
        cands = [cands[k] for k in keep]
        sigs = [sigs[k] for k in keep]

    cache = old_cache if use_cache else {}
    opts_key = json.dumps(options, sort_keys=True)
    options = {**options, "timeout": timeout}  # not part of the cache key
    keys = [unit_key(c) for c in cands]
    results: dict[int, list[AuditEntry]] = {}
    todo: list[tuple[int, Candidate]] = []
    for i, cand in enumerate(cands):
        raw = cache.get(keys[i])
        entries = cache_hit(raw, sigs[i], opts_key, runs_dir) if raw else None
        if entries is not None:
            results[i] = entries
        else:
            todo.append((i, cand))

    total = len(cands)
    done = len(results)
    runs_done = sum(len(e) for e in results.values())  # a log may hold several runs (appended ones)
    if progress:
        progress(done, total, runs_done)
    sizes = {i: signature_bytes(sigs[i]) for i, _ in todo}
    todo.sort(key=lambda ic: (-sizes[ic[0]], ic[0]))  # biggest first: no straggler at the end

    last_save = time.monotonic()

    def finished(i: int, entries: list[AuditEntry]) -> None:
        nonlocal done, runs_done, last_save
        results[i] = entries
        done += 1
        runs_done += len(entries)
        if progress:
            progress(done, total, runs_done)
        if time.monotonic() - last_save > CACHE_SAVE_SECONDS:  # a killed audit resumes from here
            save_now()
            last_save = time.monotonic()

    def save_now() -> set[str] | None:
        fresh = {keys[i]: i for i in results}
        kept = {k: v for k, v in old_cache.items() if k not in fresh and unit_exists(k)}
        new = ((keys[i], cache_unit(sigs[i], opts_key, results[i])) for i in sorted(results) if cacheable(results[i]))
        return save_cache(out_dir, itertools.chain(kept.items(), new), warnings)

    stats = RunStats()
    used_workers = min(n_workers, len(todo)) if len(todo) > 1 else 1
    if used_workers > 1:
        start_forkserver()  # no-op when already tried
    try:
        if used_workers > 1:
            try:
                run_parallel(todo, sizes, out_dir, options, used_workers, finished, stats)
            except (OSError, NotImplementedError) as exc:  # no process pool here (no /dev/shm, no semaphores)
                warnings.append(f"worker processes unavailable ({exc.__class__.__name__}: {exc}); auditing in one process")
                used_workers = 1
        if any(i not in results for i, _ in todo) and timeout:
            warm_up()
        for i, cand in todo:
            if i not in results:
                finished(i, audit_candidate(cand, out_dir, options))
    finally:
        # also on Ctrl-C and SIGTERM: keep what was finished, so the next run resumes from the cache
        live_files = save_now()

    ordered = sorted((e for i in range(total) for e in results[i]), key=lambda e: e.run["run_id"])
    if cache_ok and live_files is not None:
        drop_stale_pages(runs_dir, recorded_files(old_cache), live_files)
    elapsed = time.perf_counter() - t0
    try:
        write_summary(out_dir / "summary.json", ordered)
        write_index_page(out_dir, ordered, root, elapsed)
    except OSError as exc:
        raise OutputWriteError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None
    return AuditResult(
        ordered,
        analyzed=len(todo),
        cached=total - len(todo),
        seconds=elapsed,
        warnings=warnings,
        workers=used_workers,
        crashed=stats.crashed,
        peak_rss_mb=peak_rss_mb(),
        worker_peak_rss_mb=stats.worker_rss,
        write_failures=sum(e.write_error is not None for e in ordered),
    )


def cacheable(entries: list[AuditEntry]) -> bool:
    """A unit goes into the cache only when its pages and reports were written and it did not time out."""
    return not timed_out(entries) and all(e.write_error is None for e in entries)


def _inside(path: Path, directory: Path) -> bool:
    """True when ``path`` (followed through links) is ``directory`` or under it."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))
    except (OSError, ValueError):
        return False
