"""MLflow file-store run directories (``mlruns/<experiment_id>/<run_id>/``), read as plain files.

A run directory holds ``meta.yaml`` (run name, status, start and end time), ``metrics/<name>`` files
of ``timestamp value step`` lines (timestamp in milliseconds; MLflow 0.x wrote ``timestamp value``
without a step, read as step 0), ``params/<name>`` (one value per file) and ``tags/<name>``. Metric
and param names may contain ``/``: they are nested directories (``metrics/train/loss`` is ``train/loss``).

* Every metric file is one series; names go through :func:`~trainlog_doctor.run.names.series_names`.
  ``wall_time`` is the timestamp in seconds. A metric named ``epoch`` (Lightning's ``MLFlowLogger``)
  gives every point the epoch logged at the latest step at or before its own.
* ``meta``: ``run_name`` (``meta.yaml`` or the ``mlflow.runName`` tag), ``status`` (``FINISHED``,
  ``FAILED``, ``KILLED`` ...), ``experiment`` (the experiment's ``meta.yaml`` one level up),
  ``optimizer``/``lr``/``batch_size``/``epochs`` lifted from the params, the raw params under ``params``.
* YAML is read with the bounded safe loader of ``readers/_config.py`` (tags are read as plain data, never executed).
  ``mlflow`` itself is not needed.
* Damage: a metric line that does not parse is skipped (one warning per file with the count); a run
  with no metric points is read as empty with a warning; a directory without ``meta.yaml`` or
  ``metrics/`` is not an MLflow run (:class:`LogReadError`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import conform, empty_frame
from trainlog_doctor.readers._config import config_table, surface_facts
from trainlog_doctor.readers._csv import number_or_text
from trainlog_doctor.readers.base import LogReadError, RunData, display_path
from trainlog_doctor.run.names import infer_split, series_names

META = "meta.yaml"
MAX_FILES = 5000  # metric, param or tag files read per run
MAX_METRIC_BYTES = 256 * 1024 * 1024  # all metric files of a run together
MAX_VALUE_BYTES = 64 * 1024  # one param or tag file
MAX_DEPTH = 8  # nesting of metric names (``a/b/c``)
STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_RUN_KEYS = (b"run_uuid:", b"run_id:")


def _run_dir(path: Path) -> Path:
    return path.parent if path.name == META and not path.is_dir() else path


def is_run_dir(path: Path) -> bool:
    """True for a directory with ``meta.yaml`` and a ``metrics/`` or ``params/`` directory."""
    try:
        return (path / META).is_file() and ((path / "metrics").is_dir() or (path / "params").is_dir())
    except OSError:
        return False


class MlflowStoreReader:
    """Reader for one run of MLflow's file store (a directory; see the module docstring)."""

    format: ClassVar[str] = "mlflow"
    unit: ClassVar[str] = "directory"

    def claims_file(self, name: str) -> bool:
        """Runs are found through their ``meta.yaml`` (experiment directories have one too; :meth:`run_dirs` drops them)."""
        return name == META

    def run_dirs(self, dirs: Sequence[Path], root: Path) -> list[Path]:
        """The directories holding ``meta.yaml`` that are runs (they have ``metrics/`` or ``params/``)."""
        return [d for d in dict.fromkeys(dirs) if is_run_dir(d)]

    def unit_files(self, path: Path) -> list[Path]:
        """``meta.yaml`` and every metric, param and tag file of the run, sorted."""
        run = _run_dir(path)
        files = [run / META] if (run / META).is_file() else []
        for sub in ("metrics", "params", "tags"):
            files += [f for _, f in _named_files(run / sub)]
        files += [f for f in (run.parent / META,) if f.is_file()]
        return sorted(files)

    def sniff(self, path: Path, head: bytes) -> bool:
        """A run directory, or its ``meta.yaml`` (a file of that name naming a ``run_uuid``/``run_id``)."""
        try:
            if path.is_dir():
                return is_run_dir(path)
            return path.name == META and any(line.startswith(_RUN_KEYS) for line in head.splitlines())
        except Exception:
            return False

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """The run's metrics as one :class:`RunData`, its params, tags and ``meta.yaml`` as run facts."""
        run = _run_dir(Path(path))
        if not run.is_dir():
            raise LogReadError(f"not an MLflow run directory: {display_path(run)}")
        if not (run / META).is_file():
            raise LogReadError("not an MLflow run: no meta.yaml")
        warnings: list[str] = []
        meta = _run_meta(run, warnings)
        metric_files = _named_files(run / "metrics")
        if not metric_files and not (run / "metrics").is_dir():
            warnings.append("no metrics/ directory: the run logged no metrics")
        if len(metric_files) > MAX_FILES:
            warnings.append(f"{len(metric_files)} metric files: only the first {MAX_FILES} read")
            metric_files = metric_files[:MAX_FILES]
        frame = _read_metrics(run, metric_files, run_id, warnings)
        if frame.height == 0 and metric_files:
            warnings.append("no metric points in the metric files")
        return [RunData(frame=frame, meta=meta, warnings=warnings)]


def _named_files(base: Path) -> list[tuple[str, Path]]:
    """``(name, file)`` for every file under ``base`` (name = relative path with ``/``), sorted; symlinks not followed."""
    if not base.is_dir():
        return []
    out: list[tuple[str, Path]] = []
    root_depth = len(base.parts)
    for dirpath, dirnames, filenames in os.walk(base):
        here = Path(dirpath)
        if len(here.parts) - root_depth >= MAX_DEPTH:
            dirnames[:] = []
        dirnames.sort()
        for name in sorted(filenames):
            f = here / name
            if f.is_symlink() or not f.is_file():
                continue
            out.append((f.relative_to(base).as_posix(), f))
            if len(out) > MAX_FILES:
                return out
    return out


def _read_metrics(run: Path, files: list[tuple[str, Path]], run_id: str, warnings: list[str]) -> pl.DataFrame:
    """The normalized frame of the metric files (see the module docstring)."""
    budget = MAX_METRIC_BYTES
    series: dict[str, tuple[list[int], list[float], list[float | None]]] = {}
    for name, f in files:
        try:
            size = f.stat().st_size
            if size > budget:
                warnings.append(f"metrics/{name}: skipped, the run's metric files pass {MAX_METRIC_BYTES // 2**20} MiB")
                continue
            budget -= size
            text = f.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            warnings.append(f"metrics/{name}: cannot read ({exc.strerror or type(exc).__name__})")
            continue
        steps, values, walls, bad = _parse_metric(text)
        if bad:
            warnings.append(f"metrics/{name}: {bad} line(s) that are not 'timestamp value step' skipped")
        if steps:
            series[name] = (steps, values, walls)
    if not series:
        return empty_frame()
    epoch_of = _epoch_lookup(series.get("epoch"))
    names = series_names([n for n in series if n != "epoch"], infer_split)
    parts: list[pl.DataFrame] = []
    source = display_path(run)
    for name, (metric, split) in names.items():
        steps, values, walls = series[name]
        parts.append(
            pl.DataFrame(
                {
                    "step": pl.Series(steps, dtype=pl.Int64),
                    "wall_time": pl.Series(walls, dtype=pl.Float64),
                    "value": pl.Series(values, dtype=pl.Float64),
                }
            ).with_columns(
                pl.lit(metric, dtype=pl.Utf8).alias("metric"),
                pl.lit(split, dtype=pl.Utf8).alias("split"),
            )
        )
    if not parts:
        return empty_frame()
    long = pl.concat(parts)
    long = long.with_columns(
        epoch_of(long.get_column("step")).alias("epoch"),
        pl.lit(run_id, dtype=pl.Utf8).alias("run_id"),
        pl.lit(source, dtype=pl.Utf8).alias("source"),
    )
    return conform(long)


def _parse_metric(text: str) -> tuple[list[int], list[float], list[float | None], int]:
    """Steps, values, wall times (seconds) and the count of bad lines of one metric file."""
    steps: list[int] = []
    values: list[float] = []
    walls: list[float | None] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) not in (2, 3) or len(line) > 200:
            bad += 1
            continue
        try:
            ts = float(fields[0])
            value = float(fields[1])
            step = int(fields[2]) if len(fields) == 3 else 0
        except ValueError:
            bad += 1
            continue
        if abs(step) >= 2**63:
            bad += 1
            continue
        steps.append(step)
        values.append(value)
        walls.append(ts / 1000.0 if math.isfinite(ts) else None)
    return steps, values, walls, bad


def _epoch_lookup(epoch: tuple[list[int], list[float], list[float | None]] | None) -> Any:
    """A function from a step series to the epoch logged at the latest step at or before it (null without epochs)."""
    if epoch is None:
        return lambda steps: pl.Series(values=[None] * steps.len(), dtype=pl.Float64)
    table = (
        pl.DataFrame({"step": pl.Series(epoch[0], dtype=pl.Int64), "epoch": pl.Series(epoch[1], dtype=pl.Float64)})
        .sort("step")
        .unique("step", keep="last", maintain_order=True)
    )
    first = table.get_column("epoch")[0]

    def lookup(steps: pl.Series) -> pl.Series:
        left = pl.DataFrame({"step": steps, "i": pl.int_range(steps.len(), eager=True)}).sort("step")
        joined = left.join_asof(table, on="step", strategy="backward").sort("i")
        return joined.get_column("epoch").fill_null(first)

    return lookup


def _read_value(f: Path) -> str | None:
    try:
        if f.stat().st_size > MAX_VALUE_BYTES:
            return None
        return f.read_bytes().decode("utf-8", errors="replace").strip()
    except OSError:
        return None


def _run_meta(run: Path, warnings: list[str]) -> dict[str, Any]:
    """Run facts from ``meta.yaml``, the params, the tags and the experiment's ``meta.yaml``."""
    meta: dict[str, Any] = {}
    own = config_table(run / META, warnings) or {}
    params = {name: number_or_text(v) for name, f in _named_files(run / "params") if (v := _read_value(f)) is not None}
    tags = {name: v for name, f in _named_files(run / "tags") if (v := _read_value(f)) is not None}
    if params:
        meta.update(surface_facts(params))
        meta["params"] = params
    name = own.get("run_name") or tags.get("mlflow.runName")
    if isinstance(name, str) and name:
        meta["run_name"] = name[:200]
    status = own.get("status")
    if isinstance(status, int):
        meta["status"] = STATUS.get(status, str(status))
    for key in ("start_time", "end_time"):
        value = own.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            meta[key] = value / 1000.0
    experiment = config_table(run.parent / META, warnings, label="the experiment's meta.yaml") or {}
    if isinstance(experiment.get("name"), str) and experiment["name"]:
        meta["experiment"] = experiment["name"][:200]
    if tags:
        meta["tags"] = {k: v[:500] for k, v in list(tags.items())[:200]}
    return meta
