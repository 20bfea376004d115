"""Candidates analyzed on a pool of worker processes, in chunks, surviving dead workers.

Candidates go out in small chunks, the biggest files first, at most a few chunks per worker in
flight, so one long run never finishes alone at the end and the parent holds no backlog. A worker
that dies (killed, out of memory) takes its chunk with it: those runs are retried one at a time in a
fresh single-worker pool, and a run that kills its worker again is listed with that error.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlog_doctor.audit.entries import AuditEntry
from trainlog_doctor.audit.worker import Chunk, audit_chunk, audit_worker_init
from trainlog_doctor.pool import pool_context
from trainlog_doctor.readers.discover import Candidate

#: A chunk sent to a worker holds at most this many runs and (past its first run) this many bytes of logs.
CHUNK_RUNS = 16
CHUNK_BYTES = 4 << 20
#: Chunks in flight per worker.
IN_FLIGHT = 2
#: Runs with more log bytes than this are analyzed one at a time (each can take several GB of RAM).
BIG_UNIT_BYTES = 256 << 20

#: Called with a candidate's index and its entries as each candidate finishes.
Finished = Callable[[int, list[AuditEntry]], None]


@dataclass
class RunStats:
    """What the pool passes saw: workers that died, the largest worker's peak RSS (MB)."""

    crashed: int = 0
    worker_rss: float = 0.0


def chunks(todo: list[tuple[int, Candidate]], sizes: dict[int, int]) -> list[Chunk]:
    """Consecutive chunks of at most CHUNK_RUNS runs and about CHUNK_BYTES of logs each."""
    out: list[Chunk] = []
    cur: Chunk = []
    cur_bytes = 0
    for item in todo:
        size = sizes.get(item[0], 0)
        if cur and (len(cur) >= CHUNK_RUNS or cur_bytes + size > CHUNK_BYTES):
            out.append(cur)
            cur, cur_bytes = [], 0
        cur.append(item)
        cur_bytes += size
    if cur:
        out.append(cur)
    return out


def run_parallel(
    todo: list[tuple[int, Candidate]],
    sizes: dict[int, int],
    out_dir: Path,
    options: dict[str, Any],
    workers: int,
    finished: Finished,
    stats: RunStats,
) -> None:
    """Run chunks on a pool; after a worker death, retry the lost runs one by one in a fresh pool."""
    pending = deque(chunks(todo, sizes))
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
    pending: deque[Chunk],
    out_dir: Path,
    options: dict[str, Any],
    workers: int,
    max_in_flight: int,
    big: set[int],
    finished: Finished,
    stats: RunStats,
) -> list[tuple[int, Candidate]]:
    """Feed ``pending`` chunks to one pool until it is empty or the pool breaks; returns the runs lost.

    At most one chunk holding a run of ``big`` is in flight at a time.
    """
    lost: list[tuple[int, Candidate]] = []
    in_flight: dict[Future[Any], Chunk] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=audit_worker_init,
                               initargs=(os.getpid(),))

    def is_big(chunk: Chunk) -> bool:
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
                    in_flight[pool.submit(audit_chunk, chunk, str(out_dir), options)] = chunk
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
                for i, _cand in chunk:
                    finished(i, [AuditEntry(**e) for e in by_index[i]])
            if broken:
                raise BrokenProcessPool("a worker died")
    except BrokenProcessPool:
        for chunk in in_flight.values():
            lost.extend(chunk)
        in_flight.clear()
    except BaseException:  # Ctrl-C, SIGTERM: stop the workers now, not after their chunks
        stop_workers(pool)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
    return lost


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and terminate the pool's worker processes (SIGTERM, then wait briefly)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=5)


def _crash_entry(cand: Candidate) -> AuditEntry:
    from trainlog_doctor.api import error_report

    return AuditEntry(error_report(cand, "the worker analyzing this run died (out of memory or killed)").to_dict(), None)
