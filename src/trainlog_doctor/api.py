"""The pipeline: discover -> read -> detect -> explain -> report."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from trainlog_doctor.model.clean import clean_frame_names, clean_run, clean_text, clean_value
from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.model.report import Report, RunReport, SeriesInfo
from trainlog_doctor.pool import RunTimeout, pool_context, time_limit, warm_up
from trainlog_doctor.readers import LogReadError, RunData
from trainlog_doctor.readers.base import display_path
from trainlog_doctor.readers.discover import Candidate, discover
from trainlog_doctor.run import RunView

PathsLike = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
Selectors = str | Sequence[str] | None


class SelectorError(ValueError):
    """A ``select``/``ignore`` entry names no rule; the message suggests the closest codes or kinds."""


def _as_paths(paths: PathsLike) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def analyze(
    paths: PathsLike,
    *,
    select: Selectors = None,
    ignore: Selectors = None,
    workers: int = 1,
    keep_frames: bool = True,
    warnings: list[str] | None = None,
    timeout: float | None = None,
    follow_links: bool = False,
) -> Report:
    """Diagnose every run under ``paths``. One broken run never stops the others.

    Args:
        paths: a log file, a run directory or a tree of runs, or several of them. A path that cannot
            be read becomes a run entry with ``status == "error"`` and the reason.
        select: only the rules these entries name: a code (``"DV001"``), a code prefix (``"DV"``), a
            kind (``"spike"``) or ``"ALL"``; a list, or one string (commas separate entries, so
            ``"DV,SP001"`` is two). None: every rule.
        ignore: skip the rules these entries name (same forms as ``select``); the more specific entry
            wins when a rule matches both, ``ignore`` on ties.
        workers: worker processes for the runs (1: this process).
        keep_frames: keep each run's normalized frame, run view and change points on its
            :class:`RunReport` (the HTML and Markdown reports draw them; False saves memory).
        warnings: a list that receives one line per problem met while discovering runs (unreadable
            directories, symlink loops); None: they are dropped.
        timeout: a run whose analysis takes more than this many seconds is listed with an error
            (None or 0: no limit).
        follow_links: follow symlinks that lead out of a directory tree (skipped by default).

    Returns:
        a :class:`Report` with one :class:`RunReport` per run found, in discovery order.

    Raises:
        SelectorError: an entry of ``select`` or ``ignore`` names no rule (raised before anything is read).
    """
    sel, ign = selectors(select), selectors(ignore)
    check_selectors(sel, ign)
    cands = discover(_as_paths(paths), warn=warnings, follow_links=follow_links)
    options = {"select": sel, "ignore": ign}
    runs: list[RunReport] = []
    if timeout:
        warm_up()  # a time limit that fired inside a first import would leave a half-initialized module
    if workers > 1 and len(cands) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context()) as pool:  # never plain fork
            n = len(cands)
            for batch in pool.map(_analyze_one, cands, [options] * n, [keep_frames] * n, [timeout] * n, chunksize=4):
                runs.extend(batch)
    else:
        for cand in cands:
            runs.extend(_analyze_one(cand, options, keep_frames, timeout))
    return Report(runs=runs)


def selectors(value: Selectors) -> list[str] | None:
    """``select``/``ignore`` as a list of entries: one string is split at commas (never into letters)."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    out = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
    return out or None


def check_selectors(select: Sequence[str] | None, ignore: Sequence[str] | None = None) -> None:
    """Raise :class:`SelectorError` for the first entry that names no rule, with the closest names."""
    from trainlog_doctor.rules import RULES, select_rules

    codes = [r.code for r in RULES]
    for option, entries in (("select", select), ("ignore", ignore)):
        for entry in entries or ():
            try:
                select_rules([entry], None)
            except ValueError:
                raise SelectorError(f"{option}: unknown rule selector {entry!r}; {suggest_rules(entry, codes)}") from None


def suggest_rules(entry: str, codes: list[str], *, selectors: bool = True) -> str:
    """'did you mean ...' with the names closest to ``entry`` (difflib), else the choices. The names are
    the rule ``codes`` and, with ``selectors``, their prefixes and the kinds too."""
    from trainlog_doctor.rules import KINDS

    prefixes = sorted({c.rstrip("0123456789") for c in codes})
    written = [*codes, *prefixes, *KINDS] if selectors else list(codes)
    shown = {name.upper(): name for name in written}  # compared upper-cased, shown as written
    close = [shown[n] for n in difflib.get_close_matches(entry.strip().upper(), list(shown), n=3, cutoff=0.5)]
    if close:
        return f"did you mean {' or '.join(close)}? (`trainlog-doctor rules` lists them)"
    if not selectors:
        return "`trainlog-doctor rules` lists the codes"
    return f"use a code or prefix ({', '.join(prefixes)}), a kind ({', '.join(KINDS)}) or ALL"


#: The error of a run stopped by ``timeout``.
TIMEOUT_ERROR = "analysis stopped after {seconds:g} s (--timeout)"


def error_report(cand: Candidate, error: str) -> RunReport:
    """The run entry of a candidate whose analysis did not finish (timed out, its worker died), made inert."""
    fmt = cand.reader.format if cand.reader is not None else None
    return clean_run(RunReport(cand.run_id, display_path(cand.path), fmt, status="error", error=error))


def _analyze_one(cand: Candidate, options: dict[str, Any], keep_frames: bool, timeout: float | None = None) -> list[RunReport]:
    try:
        with time_limit(timeout):
            return analyze_candidate(cand, options, keep_frames=keep_frames)
    except RunTimeout:
        return [error_report(cand, TIMEOUT_ERROR.format(seconds=float(timeout or 0)))]


def analyze_candidate(cand: Candidate, options: dict[str, Any], *, keep_frames: bool = True) -> list[RunReport]:
    """Read one candidate and diagnose each run in it; errors become run entries, never exceptions.

    Every log-derived string of the reports (ids, names, messages) is free of control characters
    (:mod:`trainlog_doctor.model.clean`), whatever format renders them.
    """
    return [clean_run(r) for r in _analyze_candidate(cand, options, keep_frames=keep_frames)]


def _analyze_candidate(cand: Candidate, options: dict[str, Any], *, keep_frames: bool) -> list[RunReport]:
    path = display_path(cand.path)
    if cand.reader is None:
        return [RunReport(cand.run_id, path, None, status=cand.status, error=cand.error)]  # type: ignore[arg-type]
    fmt = cand.reader.format
    try:
        datas = cand.reader.read(cand.path, cand.run_id)
    except LogReadError as exc:
        return [RunReport(cand.run_id, path, fmt, status="error", error=_one_line(str(exc)))]
    except MemoryError:
        return [RunReport(cand.run_id, path, fmt, status="error", error="out of memory while reading")]
    except OSError as exc:
        return [RunReport(cand.run_id, path, fmt, status="error", error=_one_line(_os_message(exc)))]
    except Exception as exc:  # a reader bug must not stop the batch
        return [RunReport(cand.run_id, path, fmt, status="error", error=_internal("reading", exc))]
    if not datas:
        return [RunReport(cand.run_id, path, fmt, status="empty", error="no scalar data in the log")]
    reports = []
    for data in datas:
        reports.append(_diagnose(cand, data, fmt, options, keep_frames))
    return reports


def _diagnose(cand: Candidate, data: RunData, fmt: str, options: dict[str, Any], keep_frames: bool) -> RunReport:
    run_id = clean_text(cand.run_id + data.suffix)
    frame = clean_frame_names(data.frame.with_columns(pl.lit(run_id).alias("run_id"))) if data.frame.height else data.frame
    report = RunReport(run_id, display_path(cand.path), fmt, warnings=list(data.warnings), meta=clean_value(dict(data.meta)))
    finite_points = frame.height
    if finite_points == 0:
        report.status = "empty"
        report.error = data.warnings[0] if data.warnings else "no scalar data in the log"
        return report
    context = None
    try:
        from trainlog_doctor.knowledge import explain
        from trainlog_doctor.rules import detect, series_changepoints
        from trainlog_doctor.rules.notes import series_notes
        from trainlog_doctor.run import build_view

        context = build_view(frame, report.meta, run_id=run_id)
        report.series = series_info(context)
        repeated = [si for si in report.series if si.duplicates]
        if repeated:  # e.g. a resumed TensorBoard run writing the same steps again
            report.warnings.append(
                f"{sum(si.duplicates for si in repeated)} repeated step(s) in {len(repeated)} series "
                "(a resumed or restarted run?): the last value written for each step is used"
            )
        report.findings = detect(
            frame, report.meta, select=options.get("select"), ignore=options.get("ignore"), context=context
        )
        explain(report.findings, context)
        report.notes = series_notes(context)
        if keep_frames:
            report.changepoints = series_changepoints(frame, context=context)
    except Exception as exc:  # a detector bug must not stop the batch
        report.status = "error"
        report.error = _internal("diagnosing", exc)
    if keep_frames:
        report.frame = frame
        report.view = context
    return report


def series_info(view: RunView) -> list[SeriesInfo]:
    """One entry per logged (metric, split) series of the run view, ordered by split, then metric."""
    logged = sorted((s for s in view.series.values() if s.logged), key=lambda s: (s.split, s.metric))
    return [
        SeriesInfo(s.metric, s.split, len(s), "epoch" if s.step_is_epoch else "step", duplicates=s.duplicates)
        for s in logged
    ]


def load(paths: PathsLike) -> pl.DataFrame:
    """Every readable run under ``paths`` as one normalized long frame (unreadable runs are left out)."""
    frames = []
    for cand in discover(_as_paths(paths)):
        if cand.reader is None:
            continue
        try:
            datas = cand.reader.read(cand.path, cand.run_id)
        except (LogReadError, OSError):
            continue
        for d in datas:
            if d.frame.height:
                frames.append(d.frame.with_columns(pl.lit(cand.run_id + d.suffix).alias("run_id")))
    return pl.concat(frames, how="vertical") if frames else empty_frame()


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _os_message(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file disappeared while reading"
    return exc.strerror or str(exc)


def _internal(stage: str, exc: BaseException) -> str:
    return _one_line(f"internal error while {stage}: {exc.__class__.__name__}: {exc}")
