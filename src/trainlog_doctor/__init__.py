"""trainlog-doctor: diagnose finished deep-learning training runs from their logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainlog_doctor.model.version import __version__

__all__ = ["__version__", "analyze", "load", "detect_changepoints"]

if TYPE_CHECKING:
    import polars as pl

    from trainlog_doctor.model.report import Report


def analyze(paths: Any, **options: Any) -> Report:
    """Read, diagnose and explain every run under ``paths``; see :func:`trainlog_doctor.api.analyze`."""
    from trainlog_doctor.api import analyze as _analyze

    return _analyze(paths, **options)


def load(paths: Any) -> pl.DataFrame:
    """Every run under ``paths`` as one normalized long polars frame."""
    from trainlog_doctor.api import load as _load

    return _load(paths)


def detect_changepoints(values: Any, **options: Any) -> list[int]:
    """0-based indices where a new segment starts (default settings need no tuning)."""
    from trainlog_doctor.signals.changepoints import detect_changepoints as _detect

    return _detect(values, **options)
