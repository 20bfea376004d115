"""Worker processes for the pipeline: a start method safe for polars, warm workers, time limits.

Workers come from a ``forkserver`` (``spawn`` where there is none) whose one interpreter imports the
pipeline once; each worker is a cheap fork of it. Plain ``fork`` of the caller is never used: a
process that has run any polars query cannot fork safely (polars' thread pool does not survive
``fork``, the child deadlocks). Workers run polars, numpy and BLAS on one thread each, as the cores
are already used by the worker processes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

#: Libraries the pipeline imports lazily (inside functions).
LAZY_IMPORTS = ("ruptures", "scipy.ndimage", "google.protobuf.message",
                "tensorboard.compat.proto.event_pb2", "tensorboard.plugins.hparams.plugin_data_pb2")
#: Modules the forkserver imports once, so that every worker starts warm.
PRELOAD = ("trainlog_doctor.audit", "trainlog_doctor.api", "trainlog_doctor.rules", "trainlog_doctor.knowledge",
           "trainlog_doctor.report.html", "trainlog_doctor.report.charts", "trainlog_doctor.report.jinja",
           "trainlog_doctor.signals.segments", *LAZY_IMPORTS)
#: Thread pools kept at one thread inside workers (set only when the user has not set them).
ONE_THREAD_ENV = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_FORKSERVER_OK: bool | None = None  # None: not tried yet


def pool_context() -> Any:
    """A multiprocessing context safe for polars workers: the preloaded forkserver where it runs, else spawn.

    Use it as ``ProcessPoolExecutor(mp_context=pool_context())``.
    """
    import multiprocessing

    if _FORKSERVER_OK is None:
        start_forkserver()
    return multiprocessing.get_context("forkserver" if _FORKSERVER_OK else "spawn")


def start_forkserver() -> None:
    """Start the forkserver now (a no-op after the first call), with :data:`PRELOAD` imported and
    one-thread pools in its environment; where it cannot run, :func:`pool_context` gives spawn."""
    global _FORKSERVER_OK
    import multiprocessing

    if _FORKSERVER_OK is not None:
        return
    if "forkserver" not in multiprocessing.get_all_start_methods():
        _FORKSERVER_OK = False
        return
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    saved = {k: os.environ.get(k) for k in ONE_THREAD_ENV}
    try:
        for k in ONE_THREAD_ENV:
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


def worker_init() -> None:
    """Pool initializer: ignore Ctrl-C (the parent stops the pool) and :func:`warm_up`."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up()


def warm_up() -> None:
    """Import what the pipeline imports lazily and load its lazy state (knowledge base, templates,
    segment classifier) before any run is timed: a time limit that fired inside a first import
    would leave a half-initialized module behind for every later run of the process."""
    import importlib

    for name in LAZY_IMPORTS:
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


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


class RunTimeout(BaseException):
    """Raised inside a worker when one run exceeds its time limit.

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
