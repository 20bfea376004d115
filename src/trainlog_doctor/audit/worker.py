"""The worker side of an audit: analyze a candidate, write its page and report, return light entries.

Frames and full reports never leave the worker; the parent receives only :class:`AuditEntry` dicts
(status, findings without causes and fixes, a 48-point loss sketch, final values).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from trainlog_doctor.audit.entries import AuditEntry, slim_run
from trainlog_doctor.audit.index import index_data
from trainlog_doctor.audit.pages import one_line, strict_json, write_atomic
from trainlog_doctor.audit.units import page_name, report_name, unit_key
from trainlog_doctor.pool import RunTimeout, peak_rss_mb, time_limit, worker_init
from trainlog_doctor.readers.discover import Candidate

TIMEOUT_ERROR = "analysis stopped after {seconds:g} s (audit --timeout)"

#: Candidates with their index in the audit's candidate list.
Chunk = list[tuple[int, Candidate]]


def audit_worker_init(parent_pid: int) -> None:
    """Pool initializer of audit workers: :func:`~trainlog_doctor.pool.worker_init`, and exit as soon as
    the audit process ``parent_pid`` is gone (killed with ``kill -9``: no worker outlives it)."""
    worker_init()
    watch_parent(parent_pid)


def watch_parent(parent_pid: int, poll: float = 1.0) -> None:
    """A daemon thread that ends this process when ``parent_pid`` exits (a pidfd where Linux has one,
    else polling every ``poll`` seconds). The pool's workers are children of the forkserver, not of the
    audit, so the kernel's parent-death signal would not reach them."""
    import os
    import select
    import threading

    def gone() -> bool:
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def wait_pidfd(fd: int) -> None:
        select.select([fd], [], [])
        os._exit(1)

    def poll_loop() -> None:
        import time

        while not gone():
            time.sleep(poll)
        os._exit(1)

    target, args = poll_loop, ()
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            target, args = wait_pidfd, (pidfd_open(parent_pid),)
        except OSError:
            pass
    if gone():
        os._exit(1)
    threading.Thread(target=target, args=args, name="trainlog-doctor-parent-watch", daemon=True).start()


def audit_chunk(chunk: Chunk, out_dir: str, options: dict[str, Any]) -> tuple[list[tuple[int, list[dict[str, Any]]]], float]:
    """In a worker: audit a chunk of candidates; returns their entries (as dicts) and this worker's peak RSS (MB)."""
    out = [(i, [asdict(e) for e in audit_candidate(cand, Path(out_dir), options)]) for i, cand in chunk]
    return out, peak_rss_mb()


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
        from trainlog_doctor.api import error_report

        return [AuditEntry(error_report(cand, TIMEOUT_ERROR.format(seconds=float(timeout or 0))).to_dict(), None)]


def timed_out(entries: list[AuditEntry]) -> bool:
    """True when a candidate's entries say its analysis hit the time limit."""
    prefix = TIMEOUT_ERROR.split("{", 1)[0]
    return any(str(e.run.get("error") or "").startswith(prefix) for e in entries)


def _audit_candidate(cand: Candidate, out_dir: Path, options: dict[str, Any]) -> list[AuditEntry]:
    from trainlog_doctor.api import analyze_candidate
    from trainlog_doctor.model.report import Report

    entries: list[AuditEntry] = []
    unit = unit_key(cand)
    for run in analyze_candidate(cand, options, keep_frames=True):
        page: str | None = page_name(run.run_id, unit)
        write_error: str | None = None
        try:
            from trainlog_doctor.report.html import render_html

            html = render_html(Report(runs=[run]), title=f"trainlog-doctor: {run.run_id}")
        except Exception as exc:  # noqa: BLE001 - a render failure still lists the run
            run.warnings.append(f"page not rendered: {exc.__class__.__name__}: {one_line(str(exc))}")
            page = None
        if page is not None:
            try:
                write_atomic(out_dir / "runs" / page, html)
            except OSError as exc:
                write_error = f"page not written: {exc.strerror or exc}"
                run.warnings.append(write_error)
                page = None
        try:
            from trainlog_doctor.report.audit_index import sparkline_points

            sketch, final = index_data(run.view)
            spark = sparkline_points(sketch)
        except Exception:  # noqa: BLE001 - the sketch is decoration
            spark, final = {}, {}
        run.frame = None
        run.view = None
        full = run.to_dict()
        report: str | None = report_name(run.run_id, unit)
        try:
            doc = Report(runs=[]).to_dict()
            doc["runs"] = [full]
            write_atomic(out_dir / "runs" / str(report), strict_json(doc) + "\n")
        except OSError as exc:
            write_error = write_error or f"report not written: {exc.strerror or exc}"
            report = None
        except ValueError:
            report = None
        entries.append(AuditEntry(full if report is None else slim_run(full), page, report, spark, final, write_error))
    return entries
