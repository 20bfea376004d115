"""trainlog-doctor: diagnose finished deep-learning training runs from their logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainlog_doctor.model.version import __version__

__all__ = ["__version__", "analyze", "load", "detect_changepoints"]

if TYPE_CHECKING:
    import polars as pl

    from trainlog_doctor.model.report import Report


def analyze(paths: Any, *, select: Any = None, ignore: Any = None, workers: int = 1, keep_frames: bool = True,
            warnings: list[str] | None = None) -> Report:
    """Read, diagnose and explain every run under ``paths`` (files, run directories or trees).

    ``select``/``ignore``: rule codes, code prefixes (``"DV"``), kinds or ``"ALL"``, as a list or one
    comma-separated string; ``workers``: processes; ``keep_frames``: keep each run's frame and view
    (the HTML and Markdown reports draw them); ``warnings``: a list that receives discovery problems.
    Full details: :func:`trainlog_doctor.api.analyze`. Returns a :class:`~trainlog_doctor.model.report.Report`.
    """
    from trainlog_doctor.api import analyze as _analyze

    return _analyze(paths, select=select, ignore=ignore, workers=workers, keep_frames=keep_frames, warnings=warnings)


def load(paths: Any) -> pl.DataFrame:
    """Every run under ``paths`` as one normalized long polars frame."""
    from trainlog_doctor.api import load as _load

    return _load(paths)


def detect_changepoints(values: Any, **options: Any) -> list[int]:
    """0-based indices where a new segment starts (default settings need no tuning)."""
    from trainlog_doctor.signals.changepoints import detect_changepoints as _detect

    return _detect(values, **options)
