"""Batch audit of a tree of runs: parallel, cached, streaming (one run in memory per worker).

``run_audit(root, out)`` discovers every run under ``root``, analyzes the ones not already in the
cache in worker processes, and writes ``out/index.html`` (one sortable row per run),
``out/runs/<name>.html`` (one report page per run), ``out/runs/<name>.json`` (the schema v1 report of
that run alone) and ``out/summary.json`` (the schema v1 report of every run, in run-id order, stitched
from the per-run files one at a time).

The modules, by concern:

* :mod:`~trainlog_doctor.audit.batch`: :func:`run_audit`, the parent side from discovery to the outputs.
* :mod:`~trainlog_doctor.audit.units`: the files each candidate reads (its cache signature), page names.
* :mod:`~trainlog_doctor.audit.cache`: ``out/cache.json``; a hit reuses a run's entry and page
  without reading its log.
* :mod:`~trainlog_doctor.audit.parallel`: chunks on a pool of worker processes
  (:mod:`trainlog_doctor.pool`), retries after a worker dies.
* :mod:`~trainlog_doctor.audit.worker`: one candidate analyzed, its page and report written, a light
  entry sent back (frames and full reports never cross processes).
* :mod:`~trainlog_doctor.audit.index`: the loss sketch and final values of the index page.
* :mod:`~trainlog_doctor.audit.pages`: summary.json, index.html, atomic UTF-8 writes.

A broken run becomes an entry with ``status: error`` and the reason; a run that kills its worker or
passes the time limit too. The audit always goes on.
"""

from __future__ import annotations

from trainlog_doctor.audit.batch import DEFAULT_RUN_TIMEOUT, Progress, run_audit
from trainlog_doctor.audit.checks import AuditError, OutputWriteError
from trainlog_doctor.audit.command_line import parse_since, stderr_is_tty
from trainlog_doctor.audit.entries import AuditEntry, AuditResult

__all__ = [
    "DEFAULT_RUN_TIMEOUT",
    "AuditEntry",
    "AuditError",
    "AuditResult",
    "OutputWriteError",
    "Progress",
    "parse_since",
    "run_audit",
    "stderr_is_tty",
]
