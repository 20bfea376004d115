"""detectron2 ``output/metrics.json``: JSON lines keyed by ``iteration`` (``JSONWriter``, append mode).

* ``step`` = ``iteration`` (0-based global iteration as written: 19, 39 ...); no epoch, no wall time.
* Losses and ``fast_rcnn/*``, ``mask_rcnn/*`` accuracies are ``train``; evaluation results
  ``bbox/AP*``, ``segm/*``, ``keypoints/*``, ``sem_seg/*``, ``panoptic_seg/*`` are ``val`` (AP in percent,
  as written); ``lr``, ``time``, ``data_time``, ``eta_seconds`` and ``*/num_*`` sample counters are ``other``.
* Appended runs (the writer appends across launches). ``JSONWriter`` never writes one iteration twice
  in one process, so, from the corpus:
  - ``iteration`` going back to (or below) the first iteration of the current run starts a new run
    (``detectron2_01``: 5 runs); a repeated iteration with different values is a new launch too
    (``detectron2_03``/``_04`` start with two different lines at iteration 9 / 19);
  - a row with ``eta_seconds == 0`` is the last iteration of a finished run: the next training row
    starts a new run even when its iteration is higher (``detectron2_03``: finished 10-iteration test
    runs logged only ``9``, then a longer run logged ``19, 39 ...``), unless it comes exactly one
    writer period later (``299 -> 319``: the finished run resumed with a larger ``MAX_ITER``, same
    training continued); an evaluation-only row right after it (``detectron2_02`` 300) stays in the run;
  - going back only part of the way is a resume from a checkpoint: same run, the later values win;
  - a line identical to the line before it (a double flush) is dropped.
* ``meta``: ``lr_max``; ``config.yaml`` beside the file (what ``default_setup`` writes into the
  output directory: a yacs ``CfgNode`` dump, ``SOLVER.BASE_LR`` ..., or a LazyConfig dump,
  ``optimizer._target_`` ...) goes to ``config`` as dotted keys, for the last run of the file (the
  launch that wrote it). A yacs config names no optimizer: detectron2's ``build_optimizer`` is SGD,
  so ``optimizer`` is ``SGD`` there (``optimizer_source`` says so); ``num_classes`` comes from the
  head of the configured ``META_ARCHITECTURE``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import empty_frame
from trainlog_doctor.readers._config import config_table, existing
from trainlog_doctor.readers._frame import wide_to_long
from trainlog_doctor.readers._jsonlines import (
    has_name_collisions,
    is_strictly_increasing,
    keep_last,
    load_object_lines,
    numeric_columns,
    plural,
    sniff_first_line,
    split_runs,
)
from trainlog_doctor.readers.base import LogReadError, RunData, display_path, suffix_for

EVAL_PREFIXES = ("bbox/", "segm/", "keypoints/", "sem_seg/", "panoptic_seg/", "box_proposals/")
_COUNTER = re.compile(r"/num_[a-z_]+$")
_FIRST_KEY = re.compile(rb'^\{\s*"(?:bbox/AP|segm/AP|data_time|eta_seconds)')
_TRAINING_KEYS = ("total_loss", "lr", "time")


class Detectron2Reader:
    """Reader for detectron2 ``metrics.json`` files."""

    format: ClassVar[str] = "detectron2_json"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """The first line is a JSON object with an ``"iteration"`` key (or starts like a sorted detectron2 line)."""
        return sniff_first_line(head, lambda line: _is_metrics_line(line, path.name))

    def side_files(self, path: Path) -> list[Path]:
        """The ``config.yaml`` :meth:`read` reads beside ``path`` (for the audit's cache key)."""
        return existing([path.with_name("config.yaml")])

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` per launch appended to the file."""
        df, warnings = load_object_lines(path)
        if df is None:
            return [RunData(empty_frame(), warnings=["empty file"])]
        if "iteration" not in df.columns or not df.schema["iteration"].is_numeric():
            raise LogReadError("not a detectron2 metrics.json: no numeric iteration key")
        n_before = df.height
        df = df.with_columns(pl.col("iteration").cast(pl.Int64, strict=False)).filter(pl.col("iteration").is_not_null())
        if df.height < n_before:
            warnings.append(f"skipped {plural(n_before - df.height, 'line')} without an iteration")
        n_before = df.height
        df = drop_repeated_lines(df)
        if df.height < n_before:
            warnings.append(f"dropped {plural(n_before - df.height, 'duplicated line')}")
        if df.height == 0:
            return [RunData(empty_frame(), warnings=warnings)]

        metrics = numeric_columns(df, exclude=("iteration",))
        training = _training_mask(df)
        force_new = _after_finished_run(df, training)
        split = split_runs(df, "iteration", metrics, force_new=force_new)
        df = df.with_columns(pl.Series("__run", split.run_of, dtype=pl.Int64))
        groups = column_groups(metrics)
        collisions = has_name_collisions(metrics)
        source = display_path(path)
        runs: list[RunData] = []
        for k in range(split.n_runs):
            part = df.filter(pl.col("__run") == k).drop("__run") if split.n_runs > 1 else df.drop("__run")
            suffix = suffix_for(k)
            frame = to_long(part, groups, run_id + suffix, source)
            if collisions or split.has_resume(k):
                frame = keep_last(frame)
            run_warnings = (list(warnings) if k == 0 else []) + split.resume_warnings(k, "iteration")
            runs.append(RunData(frame, suffix=suffix, meta=_meta(part), warnings=run_warnings))
        config_warnings: list[str] = []
        runs[-1].meta.update(config_meta(path.with_name("config.yaml"), config_warnings))
        runs[0].warnings.extend(config_warnings)
        return runs


def _is_metrics_line(line: bytes, name: str) -> bool:
    """True for a first line with an ``"iteration"`` key, or one opening like a sorted ``metrics.json`` line."""
    if not line.startswith(b'{"'):
        return False
    if re.search(rb'"iteration"\s*:\s*-?\d', line):
        return True
    return name == "metrics.json" and bool(_FIRST_KEY.match(line))


def column_groups(columns: list[str]) -> dict[str | None, list[str]]:
    """Columns by forced split: evaluation prefixes -> ``val``, ``*/num_*`` counters -> ``other``, rest -> inferred."""
    groups: dict[str | None, list[str]] = {"val": [], "other": [], None: []}
    for c in columns:
        if c.startswith(EVAL_PREFIXES):
            groups["val"].append(c)
        elif _COUNTER.search(c):
            groups["other"].append(c)
        else:
            groups[None].append(c)
    return groups


def to_long(part: pl.DataFrame, groups: dict[str | None, list[str]], run_id: str, source: str) -> pl.DataFrame:
    """Melt one run: each column group with :func:`frame.wide_to_long`, forced splits applied."""
    frames = []
    for forced, cols in groups.items():
        if not cols:
            continue
        long = wide_to_long(part.select("iteration", *cols), run_id=run_id, source=source, step_col="iteration")
        if forced is not None:
            long = long.with_columns(pl.lit(forced, dtype=pl.Utf8).alias("split"))
        frames.append(long)
    return pl.concat(frames) if frames else empty_frame()


def drop_repeated_lines(df: pl.DataFrame) -> pl.DataFrame:
    """Drop lines identical to the line before them (a copy/paste or double flush, not a new launch)."""
    if df.height < 2 or is_strictly_increasing(df["iteration"]):
        return df
    row_hash = df.select(pl.struct(pl.all()).hash().alias("h"))["h"]
    keep = (row_hash != row_hash.shift(1)).fill_null(True)
    return df.filter(keep)


def _training_mask(df: pl.DataFrame) -> pl.Series:
    """Rows that carry training quantities (loss, lr or time), as opposed to evaluation-only rows."""
    cols = [c for c in df.columns if c in _TRAINING_KEYS or c.startswith("loss_")]
    if not cols:
        return pl.Series("t", [False] * df.height, dtype=pl.Boolean)
    return df.select(pl.any_horizontal([pl.col(c).is_not_null() for c in cols]).alias("t"))["t"]


def _after_finished_run(df: pl.DataFrame, training: pl.Series) -> list[bool]:
    """Per row: a training row that starts a new launch after a finished run (``eta_seconds == 0``).

    A finished run that is resumed with a larger ``MAX_ITER`` goes on one writer period later
    (299 -> 319): that is the same training continued, not a new run. Any other jump forward after
    the last iteration (9 -> 19) is a new launch that logged its first period.
    """
    out = [False] * df.height
    if "eta_seconds" not in df.columns:
        return out
    finished = ((df["eta_seconds"] == 0) & training).fill_null(False).arg_true().to_list()
    if not finished:
        return out
    train_rows = training.arg_true().to_list()
    if len(finished) * 2 > max(len(train_rows), 1):  # eta is not a countdown in this file: ignore it
        return out
    iters = df["iteration"].cast(pl.Float64)
    steps = iters.diff().filter(iters.diff() > 0)
    period = float(steps.mode().sort()[0]) if steps.len() else None
    for row in finished:
        nxt = bisect_right(train_rows, row)
        if nxt < len(train_rows):
            j = train_rows[nxt]
            a, b = iters[row], iters[j]
            out[j] = a is not None and b is not None and (b - a) != period
    return out


def _meta(part: pl.DataFrame) -> dict[str, Any]:
    """``lr_max`` of the run (the configured base lr after warm-up, as logged)."""
    if "lr" not in part.columns:
        return {}
    lr = part["lr"].cast(pl.Float64).drop_nulls().drop_nans()
    lr = lr.filter(lr.is_finite())
    return {"lr_max": float(lr.max())} if lr.len() else {}  # type: ignore[arg-type]


#: ``MODEL.META_ARCHITECTURE`` -> the config section whose ``NUM_CLASSES`` the model uses.
_CLASS_SECTIONS = {
    "GeneralizedRCNN": "MODEL.ROI_HEADS.NUM_CLASSES",
    "ProposalNetwork": None,
    "RetinaNet": "MODEL.RETINANET.NUM_CLASSES",
    "SemanticSegmentor": "MODEL.SEM_SEG_HEAD.NUM_CLASSES",
    "PanopticFPN": "MODEL.ROI_HEADS.NUM_CLASSES",
}


def config_meta(path: Path, warnings: list[str]) -> dict[str, Any]:
    """The run's ``config.yaml`` as meta: ``config`` (dotted keys) and the facts only detectron2's defaults tell."""
    config = config_table(path, warnings)
    if not config:
        return {}
    meta: dict[str, Any] = {"config": config}
    if "SOLVER.BASE_LR" in config and not any(k.split(".")[-1].lower() == "optimizer" for k in config):
        meta["optimizer"] = "SGD"
        meta["optimizer_source"] = "detectron2 default (solver.build_optimizer builds torch.optim.SGD)"
    arch = config.get("MODEL.META_ARCHITECTURE")
    if isinstance(arch, str) and arch in _CLASS_SECTIONS:
        key = _CLASS_SECTIONS[arch]
        n = config.get(key) if key else None
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            meta["num_classes"] = n
    return meta
