"""mmdetection 2.x / mmcv ``work_dirs/<cfg>/<timestamp>.log.json`` (``TextLoggerHook``).

* The header line (``env_info``, ``config``, ``seed``, ``exp_name``) goes to ``meta``. The config text
  (mmcv's ``Config.pretty_text``, Python source) is parsed with :func:`ast.parse` and only its literal
  assignments are read, never executed (:func:`~trainlog_doctor.readers._config.parse_python_config`;
  anything else is skipped with a warning); all of it goes to ``config`` as dotted keys, and
  ``optimizer`` (type), ``lr``, ``momentum``, ``weight_decay``, ``batch_size`` (``samples_per_gpu``),
  ``grad_clip`` (``max_norm`` or ``None``), ``lr_policy``, ``warmup_iters``, ``max_epochs`` to the top.
  Without a config in the header, the config mmcv dumps into the work directory (a ``.py`` beside
  the log defining ``optimizer`` or ``optim_wrapper``) is read the same way.
* ``epoch`` is 1-based and ``iter`` restarts every epoch, so the x axis is rebuilt:
  ``step`` = global iteration = (iterations of the epochs before) + ``iter``, where an epoch's length is
  the ``iter`` of its validation row when that row sits right after the last logged train iteration
  (mmcv's ``EvalHook`` logs the train loader length there: 1581, 30045 ...), else the most common
  such length, else the largest ``iter`` logged in the epoch. ``epoch`` (float) = completed epochs
  = ``epoch - 1 + iter / length``, so epoch 1 runs from 0 to 1 as in HuggingFace logs.
* Validation rows (``mode: val``) are ``val`` points at the end of their epoch (``step`` = the epoch's
  last global iteration, ``epoch`` = the 1-based epoch number = completed epochs); their ``iter`` and
  ``lr`` are not training values and are dropped, and so are string fields (``bbox_mAP_copypaste``).
* ``lr``, ``memory``, ``time``, ``data_time``, ``grad_norm`` are ``other``; NaN tokens are kept.
* A header-only file (crashed launch) gives one :class:`RunData` with an empty frame.
* mmcv writes one file per launch; if ``(epoch, iter)`` still goes back, a new run starts.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import islice, pairwise
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.readers._config import (
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_KEYS,
    ConfigError,
    config_table,
    flatten,
    parse_python_config,
)
from trainlog_doctor.readers._frame import wide_to_long
from trainlog_doctor.readers._jsonlines import (
    has_name_collisions,
    keep_last,
    load_object_lines,
    numeric_columns,
    sniff_first_line,
)
from trainlog_doctor.readers.base import LogReadError, RunData, display_path, suffix_for
from trainlog_doctor.run.names import infer_split

_HEADER_KEYS = ("env_info", "config")
MAX_EPOCH_SPAN = 100_000
_FIRST_KEY = re.compile(rb'^\{\s*"(?:env_info|mode)"\s*:')
MAX_DUMPED_CONFIGS = 8


class MmdetJsonReader:
    """Reader for mmdetection / mmcv ``*.log.json`` files."""

    format: ClassVar[str] = "mmdet_json"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """The first line is a JSON object opening with ``"env_info"`` (header) or ``"mode"`` (a log row)."""
        return sniff_first_line(head, lambda line: bool(_FIRST_KEY.match(line)))

    def side_files(self, path: Path) -> list[Path]:
        """The ``.py`` configs :func:`dumped_config` may read beside ``path`` (for the audit's cache key)."""
        return _py_files(path.parent)

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` (header facts in ``meta``); an empty frame for a header-only file."""
        df, warnings = load_object_lines(path)
        if df is None:
            return [RunData(empty_frame(), warnings=["empty file"])]
        meta = header_meta(df, warnings)
        if "config" not in meta:
            meta.update(dumped_config(path.parent, warnings))
        if "mode" not in df.columns or df.schema["mode"] != pl.Utf8:
            if meta:
                return [RunData(empty_frame(), meta=meta, warnings=[*warnings, "header only: no log rows"])]
            raise LogReadError("not an mmcv log.json: no header and no mode key")
        for col in ("epoch", "iter"):
            if col not in df.columns or not df.schema[col].is_numeric():
                raise LogReadError(f"not an mmcv log.json: no numeric {col} key")

        rows = df.with_columns(
            pl.col("epoch").cast(pl.Int64, strict=False), pl.col("iter").cast(pl.Int64, strict=False)
        )
        rows = rows.filter(
            pl.col("mode").is_in(["train", "val"])
            & pl.col("epoch").is_not_null()
            & ((pl.col("mode") == "val") | pl.col("iter").is_not_null())  # a train row needs its iter (x axis)
        )
        if rows.height == 0:
            return [RunData(empty_frame(), meta=meta, warnings=[*warnings, "header only: no log rows"])]
        run_of = _runs(rows["mode"].to_list(), rows["epoch"].to_list(), rows["iter"].to_list())
        rows = rows.with_columns(pl.Series("__run", run_of, dtype=pl.Int64))
        source = display_path(path)
        out: list[RunData] = []
        for k in range(max(run_of) + 1):
            part = rows.filter(pl.col("__run") == k).drop("__run")
            suffix = suffix_for(k)
            frame, run_meta = run_frame(part, run_id=run_id + suffix, source=source)
            run_meta = {**meta, **run_meta}
            out.append(RunData(frame, suffix=suffix, meta=run_meta, warnings=list(warnings) if k == 0 else []))
        if len(out) > 1:
            out[0].warnings.append(f"epoch/iter goes back: split into {len(out)} runs")
        return out


def _runs(modes: list[str], epochs: list[int], iters: list[int | None]) -> list[int]:
    """Run number per row: a train row whose ``(epoch, iter)`` does not move forward starts a new run."""
    keys = [(e, i) for m, e, i in zip(modes, epochs, iters, strict=True) if m == "train" and i is not None]
    if all(a < b for a, b in pairwise(keys)):  # the usual case: one launch per file
        return [0] * len(modes)
    run = 0
    last: tuple[int, int] | None = None
    out: list[int] = []
    for mode, epoch, it in zip(modes, epochs, iters, strict=True):
        if mode == "train" and it is not None:
            key = (epoch, it)
            if last is not None and key <= last:
                run += 1
            last = key
        out.append(run)
    return out


def epoch_lengths(part: pl.DataFrame) -> tuple[dict[int, int], int]:
    """Iterations per epoch (see module doc) and the default length for epochs without evidence."""
    train = part.filter(pl.col("mode") == "train")
    val = part.filter(pl.col("mode") == "val")
    max_iter = {e: int(i) for e, i in train.group_by("epoch").agg(pl.col("iter").max()).iter_rows()}
    interval = _log_interval(train)
    known: dict[int, int] = {}
    for e, i in val.select("epoch", "iter").iter_rows():
        if i is None or e not in max_iter:
            continue
        if max_iter[e] <= i < max_iter[e] + interval:
            known[e] = int(i)
    if known:
        default = Counter(known.values()).most_common(1)[0][0]
    elif max_iter:
        default = max(max_iter.values())
    else:
        default = 1
    lengths = {e: max(known.get(e, default), max_iter.get(e, 0)) for e in set(max_iter) | set(known)}
    return lengths, max(default, 1)


def _log_interval(train: pl.DataFrame) -> int:
    """The logging interval (smallest positive ``iter`` difference inside an epoch), at least 1."""
    if train.height < 2:
        return max(int(train["iter"].fill_null(1).sum()), 1) if train.height else 1
    diffs = train.select(pl.col("iter").diff().over("epoch").alias("d"))["d"].drop_nulls()
    diffs = diffs.filter(diffs > 0)
    return int(diffs.min()) if diffs.len() else 1  # type: ignore[arg-type]


def run_frame(part: pl.DataFrame, *, run_id: str, source: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The normalized frame of one run's train and val rows, and facts learnt on the way."""
    lengths, default = epoch_lengths(part)
    last_epoch = int(part["epoch"].max())  # type: ignore[arg-type]
    first_epoch = min(1, int(part["epoch"].min()))  # type: ignore[arg-type]
    if last_epoch - first_epoch > MAX_EPOCH_SPAN:  # one offset per epoch below: a garbled epoch must not loop for ages
        raise LogReadError(f"implausible epoch numbers: {first_epoch} to {last_epoch}")
    offsets: dict[int, int] = {}
    total = 0
    for e in range(first_epoch, last_epoch + 1):
        offsets[e] = total
        total += lengths.get(e, default)
    length_expr = pl.col("epoch").replace_strict(lengths, default=default, return_dtype=pl.Int64)
    offset_expr = pl.col("epoch").replace_strict(offsets, default=0, return_dtype=pl.Int64)

    train = part.filter(pl.col("mode") == "train").with_columns(
        (offset_expr + pl.col("iter")).alias("__step"),
        ((pl.col("epoch") - 1).cast(pl.Float64) + pl.col("iter") / length_expr).alias("__epoch"),
    )
    val = part.filter(pl.col("mode") == "val").with_columns(
        (offset_expr + length_expr).alias("__step"),
        pl.col("epoch").cast(pl.Float64).alias("__epoch"),
    )
    index = ("mode", "epoch", "iter", "__step", "__epoch")
    frames = []
    train_cols = _filled(train, numeric_columns(train, exclude=index))
    if train.height and train_cols:
        frames.append(
            wide_to_long(
                train.select("__step", "__epoch", *train_cols),
                run_id=run_id,
                source=source,
                step_col="__step",
                epoch_col="__epoch",
            )
        )
        if has_name_collisions(train_cols):
            frames[-1] = keep_last(frames[-1])
    # lr, time, memory on a val row are not evaluation results (and would interleave with train's)
    val_cols = [c for c in _filled(val, numeric_columns(val, exclude=index)) if infer_split(c)[1] != "other"]
    if val.height and val_cols:
        long = wide_to_long(
            val.select("__step", "__epoch", *val_cols),
            run_id=run_id,
            source=source,
            step_col="__step",
            epoch_col="__epoch",
        )
        frames.append(keep_last(long.with_columns(pl.lit("val", dtype=pl.Utf8).alias("split"))))
    frame = pl.concat(frames) if frames else empty_frame()
    meta: dict[str, Any] = {"iters_per_epoch": default}
    if val.height and not val_cols:
        meta["val_rows_without_metrics"] = val.height
    return frame, meta


def _filled(part: pl.DataFrame, columns: list[str]) -> list[str]:
    """The columns of ``columns`` that hold at least one value in ``part`` (train and val keys differ)."""
    if part.height == 0:
        return []
    counts = part.select(pl.col(c).null_count() for c in columns).row(0) if columns else ()
    return [c for c, n in zip(columns, counts, strict=True) if n < part.height]


def header_meta(df: pl.DataFrame, warnings: list[str]) -> dict[str, Any]:
    """Run facts from the header line (first row with ``env_info`` or ``config``)."""
    cols = [c for c in _HEADER_KEYS if c in df.columns and df.schema[c] == pl.Utf8]
    if not cols:
        return {}
    header = df.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in cols])).head(1)
    if header.height == 0:
        return {}
    row = header.row(0, named=True)
    meta: dict[str, Any] = {}
    for key in ("exp_name", "seed"):
        v = row.get(key)
        if v is not None:
            meta[key] = v
    config = row.get("config")
    if isinstance(config, str):
        meta.update(header_config(config, warnings))
    env = row.get("env_info")
    if isinstance(env, str):
        gpu = re.search(r"^GPU ([\d,]+): ([^\n]{1,200})$", env[:MAX_CONFIG_BYTES], re.MULTILINE)
        if gpu:
            meta["gpus"] = len(gpu.group(1).split(","))
            meta["gpu_name"] = gpu.group(2).strip()
    return meta


def header_config(text: str, warnings: list[str]) -> dict[str, Any]:
    """The header's config text (mmcv's ``Config.pretty_text``): surfaced facts and the flat config under ``config``."""
    if len(text) > MAX_CONFIG_BYTES:
        warnings.append(f"config in the header ignored: {len(text)} characters, over the {MAX_CONFIG_BYTES} limit")
        return {}
    try:
        names, skipped = parse_python_config(text)
    except ConfigError as exc:
        warnings.append(f"config in the header ignored: {exc}")
        return {}
    if skipped:
        warnings.append(f"config in the header: {skipped} statement(s) or value(s) that are not literals skipped (not executed)")
    return _config_meta(names, warnings, "config in the header")


def dumped_config(directory: Path, warnings: list[str]) -> dict[str, Any]:
    """The config mmcv dumps into the work dir (``<work_dir>/<config name>.py``): the first ``.py`` defining an optimizer."""
    for p in _py_files(directory):
        notes: list[str] = []
        table = config_table(p, notes)
        if table and any(k.split(".", 1)[0] in ("optimizer", "optim_wrapper") for k in table):
            warnings.extend(notes)
            return {**_surface(table), "config": table, "config_file": p.name}
    return {}


def _py_files(directory: Path) -> list[Path]:
    """The first :data:`MAX_DUMPED_CONFIGS` ``.py`` files of ``directory`` by name (among its first 10,000 entries)."""
    try:
        return sorted(p for p in islice(directory.iterdir(), 10_000) if p.suffix == ".py")[:MAX_DUMPED_CONFIGS]
    except OSError:
        return []


def _config_meta(names: dict[str, Any], warnings: list[str], label: str) -> dict[str, Any]:
    flat, cut = flatten(names)
    if cut:
        warnings.append(f"{label}: over {MAX_KEYS} keys or {MAX_DEPTH} levels, the rest ignored")
    if not flat:
        return {}
    return {**_surface(flat), "config": flat}


def config_meta(config: str) -> dict[str, Any]:
    """Optimizer, lr, batch size, clipping and schedule facts from an mmcv config dump (empty when it does not parse)."""
    try:
        names, _ = parse_python_config(config)
    except ConfigError:
        return {}
    flat, _ = flatten(names)
    return _surface(flat)


#: Surfaced fact -> the flat config keys that hold it (mmcv 2.x first, then mmengine's layout).
_SURFACED: dict[str, tuple[str, ...]] = {
    "optimizer": ("optimizer.type", "optim_wrapper.optimizer.type"),
    "lr": ("optimizer.lr", "optim_wrapper.optimizer.lr"),
    "momentum": ("optimizer.momentum", "optim_wrapper.optimizer.momentum"),
    "weight_decay": ("optimizer.weight_decay", "optim_wrapper.optimizer.weight_decay"),
    "batch_size": ("data.samples_per_gpu", "data.train_dataloader.samples_per_gpu", "train_dataloader.batch_size"),
    "grad_clip": ("optimizer_config.grad_clip", "optim_wrapper.clip_grad"),
    "lr_policy": ("lr_config.policy",),
    "warmup_iters": ("lr_config.warmup_iters",),
    "max_epochs": ("runner.max_epochs", "total_epochs", "train_cfg.max_epochs", "max_epochs"),
}
_FLOATS = frozenset({"lr", "momentum", "weight_decay"})
_INTS = frozenset({"batch_size", "warmup_iters", "max_epochs"})


def _surface(flat: dict[str, Any]) -> dict[str, Any]:
    """The facts of :data:`_SURFACED` from a flat mmcv config (``grad_clip`` is ``None`` when the config says so)."""
    meta: dict[str, Any] = {}
    for fact, keys in _SURFACED.items():
        for key in keys:
            if fact == "grad_clip":
                if key in flat and flat[key] is None:
                    meta[fact] = None
                    break
                norm = flat.get(key + ".max_norm")
                if isinstance(norm, (int, float)) and not isinstance(norm, bool):
                    meta[fact] = float(norm)
                    break
                continue
            v = flat.get(key)
            if v is None or isinstance(v, bool):
                continue
            if fact in _FLOATS and isinstance(v, (int, float)):
                meta[fact] = float(v)
            elif fact in _INTS and isinstance(v, int):
                meta[fact] = v
            elif fact in ("optimizer", "lr_policy") and isinstance(v, str):
                meta[fact] = v
            else:
                continue
            break
    return meta
