"""MLflow's SQLite tracking backend (``mlflow.db``), read with the standard library's sqlite3.

The database holds every run of every experiment: ``runs`` (``run_uuid``, ``name``, ``status``,
``experiment_id``, ``lifecycle_stage``), ``metrics`` (``key``, ``value``, ``timestamp`` in ms,
``step``, ``is_nan``, ``run_uuid``), ``params`` and ``tags`` (``key``, ``value``, ``run_uuid``) and
``experiments`` (``experiment_id``, ``name``).

* One :class:`RunData` per MLflow run, in start order (suffixes ``""``, ``"#2"`` ... as for appended
  runs); ``meta`` names the run (``run_name``, ``run_uuid``, ``experiment``). Deleted runs are left out.
* The file is opened read-only and immutable (``mode=ro&immutable=1``): nothing is ever written
  beside it (no journal, WAL or lock file). ``mlflow`` itself is not needed.
* Metric names go through :func:`~trainlog_doctor.run.names.series_names`; ``wall_time`` is the
  timestamp in seconds; an ``epoch`` metric gives each point the epoch logged at or before its step;
  ``is_nan`` rows are NaN. Params become run facts (``lr``, ``batch_size``, ``optimizer`` ... and the
  raw ``params``), the run name, status and experiment go to ``meta``.
* Bounds: at most :data:`MAX_RUNS` runs and :data:`MAX_POINTS` metric rows per database (a warning
  says what was left out); a file that is not an MLflow database raises :class:`LogReadError`.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from trainlog_doctor.model.frame import empty_frame, from_columns
from trainlog_doctor.readers._config import surface_facts
from trainlog_doctor.readers._csv import number_or_text
from trainlog_doctor.readers.base import LogReadError, RunData, display_path, suffix_for
from trainlog_doctor.run.names import infer_split, series_names

SQLITE_MAGIC = b"SQLite format 3\x00"
SUFFIXES = (".db", ".sqlite", ".sqlite3")
TABLES = frozenset({"runs", "metrics", "params", "tags"})
MAX_RUNS = 10_000
MAX_POINTS = 20_000_000
MAX_TEXT = 2_000  # characters kept of a param or tag value


def _connect(path: Path) -> sqlite3.Connection:
    uri = Path(path).resolve().as_uri() + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, timeout=1.0)
    conn.execute("PRAGMA query_only = 1")
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


class MlflowDbReader:
    """Reader for MLflow's SQLite backend (one file, one run entry per MLflow run)."""

    format: ClassVar[str] = "mlflow_db"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """A SQLite file named ``*.db``/``*.sqlite`` with MLflow's ``runs``, ``metrics``, ``params``, ``tags``."""
        if not head.startswith(SQLITE_MAGIC) or not path.name.lower().endswith(SUFFIXES):
            return False
        try:
            conn = _connect(path)
            try:
                return TABLES <= _tables(conn)
            finally:
                conn.close()
        except (sqlite3.Error, OSError, ValueError):
            return False

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` per live MLflow run of the database."""
        try:
            conn = _connect(path)
        except (sqlite3.Error, ValueError) as exc:
            raise LogReadError(f"cannot open the MLflow database: {exc}") from None
        try:
            tables = _tables(conn)
            if not TABLES <= tables:
                raise LogReadError("not an MLflow database: no runs/metrics/params/tags tables")
            return _read_runs(conn, path, run_id, with_experiments="experiments" in tables)
        except sqlite3.Error as exc:
            raise LogReadError(f"MLflow database unreadable: {exc}") from None
        finally:
            conn.close()


def _read_runs(conn: sqlite3.Connection, path: Path, run_id: str, *, with_experiments: bool) -> list[RunData]:
    experiments: dict[Any, str] = {}
    if with_experiments:
        experiments = {e: str(n) for e, n in conn.execute("SELECT experiment_id, name FROM experiments")}
    rows = conn.execute(
        "SELECT run_uuid, name, status, experiment_id FROM runs "
        "WHERE lifecycle_stage IS NULL OR lifecycle_stage != 'deleted' ORDER BY start_time, run_uuid LIMIT ?",
        (MAX_RUNS + 1,),
    ).fetchall()
    warnings: list[str] = []
    if len(rows) > MAX_RUNS:
        rows = rows[:MAX_RUNS]
        warnings.append(f"more than {MAX_RUNS} runs: only the first {MAX_RUNS} read")
    params, tags = _key_values(conn, "params"), _key_values(conn, "tags")
    points = _metric_points(conn, warnings)
    out: list[RunData] = []
    source = display_path(path)
    for uuid, name, status, exp in rows:
        uuid = str(uuid)
        suffix = suffix_for(len(out))
        meta: dict[str, Any] = {"run_uuid": uuid, "status": str(status or ""), "experiment": str(experiments.get(exp, exp))}
        if name:
            meta["run_name"] = str(name)[:200]
        run_params = params.get(uuid, {})
        if run_params:
            meta.update(surface_facts({k: number_or_text(v) for k, v in run_params.items()}))
            meta["params"] = run_params
        if tags.get(uuid):
            meta["tags"] = dict(list(tags[uuid].items())[:200])
        frame = _frame(points.get(uuid, []), run_id + suffix, source)
        run_warnings = (list(warnings) if not out else []) + ([] if frame.height else ["the run logged no metric points"])
        out.append(RunData(frame=frame, suffix=suffix, meta=meta, warnings=run_warnings))
    if not out:
        raise LogReadError("the MLflow database holds no runs")
    return out


def _key_values(conn: sqlite3.Connection, table: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for key, value, uuid in conn.execute(f"SELECT key, value, run_uuid FROM {table} LIMIT 1000000"):  # noqa: S608
        out[str(uuid)][str(key)[:200]] = str(value)[:MAX_TEXT]
    return out


def _metric_points(conn: sqlite3.Connection, warnings: list[str]) -> dict[str, list[tuple[str, int, float, float]]]:
    """(key, step, timestamp in s, value) of every metric row by run, in logging order."""
    cols = {str(r[1]) for r in conn.execute("PRAGMA table_info(metrics)")}
    is_nan = "is_nan" if "is_nan" in cols else "0"
    out: dict[str, list[tuple[str, int, float, float]]] = defaultdict(list)
    cursor = conn.execute(
        f"SELECT run_uuid, key, step, timestamp, value, {is_nan} FROM metrics ORDER BY run_uuid, timestamp LIMIT ?",  # noqa: S608
        (MAX_POINTS + 1,),
    )
    n = 0
    for uuid, key, step, ts, value, nan in cursor:
        n += 1
        if n > MAX_POINTS:
            warnings.append(f"more than {MAX_POINTS:,} metric rows: the rest left out")
            break
        v = math.nan if nan else _float(value)
        out[str(uuid)].append((str(key), int(step) if isinstance(step, int) else 0, _float(ts) / 1000.0, v))
    return out


def _frame(points: list[tuple[str, int, float, float]], run_id: str, source: str) -> pl.DataFrame:
    if not points:
        return empty_frame()
    keys = [p[0] for p in points]
    names = series_names(list(dict.fromkeys(keys)), infer_split)
    steps = np.array([p[1] for p in points], dtype=np.int64)
    epoch_rows = [p for p in points if p[0].lower() == "epoch"]
    epochs = None
    if epoch_rows:
        ordered = sorted(epoch_rows, key=lambda p: (p[1], p[2]))
        e_steps = np.array([p[1] for p in ordered], dtype=np.int64)
        e_vals = np.array([p[3] for p in ordered], dtype=np.float64)
        idx = np.searchsorted(e_steps, steps, side="right") - 1
        epochs = np.where(idx >= 0, e_vals[np.clip(idx, 0, None)], np.nan)
    return from_columns(
        run_id=run_id,
        source=source,
        metric=[names[k][0] for k in keys],
        split=[names[k][1] for k in keys],
        step=steps,
        value=[p[3] for p in points],
        wall_time=[p[2] for p in points],
        epoch=None if epochs is None else [None if math.isnan(e) else float(e) for e in epochs],
    )


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan
