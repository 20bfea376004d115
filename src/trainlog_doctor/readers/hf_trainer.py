"""HuggingFace ``trainer_state.json`` (``Trainer`` / TRL): the mixed ``log_history`` list.

* Train rows (``loss``, ``learning_rate``, ``grad_norm`` ...) and eval rows (``eval_loss``,
  ``eval_<metric>``, ``eval_<set>_loss`` for several eval sets) share ``step``; names go through
  :func:`frame.infer_split`, so ``eval_g0_loss`` is metric ``g0_loss`` split ``val`` and ``learning_rate``,
  ``grad_norm``, ``*_runtime``, ``*_per_second`` are ``other``.
* The final summary row (``train_loss`` = run average, ``train_runtime`` ...) is not a point of the
  loss curve: it goes to ``meta`` (``train_loss_avg``, ``train_runtime`` ...).
* ``step`` is the global step, ``epoch`` the fractional epoch as written.
* ``meta``: ``batch_size`` (per device), ``num_train_epochs``, ``max_steps``, ``logging_steps``,
  ``eval_steps``, ``best_metric``, ``best_model_checkpoint``, ``lr`` (only when the logged learning
  rate is constant) and ``lr_max``; from the files beside it (or in the output dir above a
  ``checkpoint-N`` directory, see :func:`files_beside`): ``args`` (``training_args.json``), ``config``
  (the model's ``config.json``) and ``train_samples`` (``all_results.json``), read with the bounded
  loaders of :mod:`trainlog_doctor.readers._config`; ``training_args.bin`` (a pickle) is never opened.
* A truncated file keeps the complete ``log_history`` rows before the cut (with a warning).
"""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import empty_frame, from_columns
from trainlog_doctor.readers._config import config_table, existing, without_label_maps
from trainlog_doctor.readers._frame import split_on_reset
from trainlog_doctor.readers._jsonlines import (
    decode,
    first_line,
    is_blank,
    is_number,
    keep_last,
    read_log_bytes,
)
from trainlog_doctor.readers.base import LogReadError, RunData, display_path, suffix_for
from trainlog_doctor.run.names import infer_split, series_names

_SUMMARY_KEYS = frozenset({"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos"})
_TOP_META = {
    "train_batch_size": "batch_size",
    "num_train_epochs": "num_train_epochs",
    "max_steps": "max_steps",
    "logging_steps": "logging_steps",
    "eval_steps": "eval_steps",
    "save_steps": "save_steps",
    "global_step": "global_step",
    "best_metric": "best_metric",
    "best_model_checkpoint": "best_model_checkpoint",
    "best_global_step": "best_global_step",
}
_INDEX_KEYS = frozenset({"step", "epoch"})
_SIDE_FILES = ("training_args.json", "config.json", "all_results.json", "train_results.json")


def is_summary_row(row: dict[str, Any]) -> bool:
    """True for the end-of-training summary row (run-average ``train_loss``, ``train_runtime`` ...)."""
    return "loss" not in row and bool(_SUMMARY_KEYS.intersection(row))


class HfTrainerStateReader:
    """Reader for HuggingFace ``trainer_state.json`` files."""

    format: ClassVar[str] = "hf_trainer_state"
    unit: ClassVar[str] = "file"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Named ``trainer_state.json``, or a JSON object whose head has a ``"log_history"`` key."""
        try:
            if path.name == "trainer_state.json":
                return True
            line, _ = first_line(head)
            return line.startswith(b"{") and b'"log_history"' in head
        except Exception:
            return False

    def side_files(self, path: Path) -> list[Path]:
        """The files :func:`files_beside` reads (for the audit's cache key)."""
        return existing(d / n for d in _beside_dirs(path) for n in _SIDE_FILES)

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """One :class:`RunData` (more only if ``step`` goes back inside ``log_history``)."""
        data = read_log_bytes(path)
        if is_blank(data):
            return [RunData(empty_frame(), warnings=["empty file"])]
        warnings: list[str] = []
        text = decode(data)
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            history = salvage_log_history(text)
            if history is None:
                raise LogReadError(f"invalid JSON: {exc.msg} (line {exc.lineno})") from None
            state = {"log_history": history}
            warnings.append(f"truncated JSON: kept the {len(history)} complete log_history rows")
        except RecursionError:
            raise LogReadError("invalid JSON: nested too deeply") from None
        except ValueError:  # an integer literal past Python's 4300-digit conversion limit
            raise LogReadError("invalid JSON: a number with too many digits") from None
        if not isinstance(state, dict):
            raise LogReadError(f"not a trainer_state.json: top-level JSON is {type(state).__name__}, not an object")
        if "log_history" not in state:
            raise LogReadError("not a trainer_state.json: no log_history key")
        history = state["log_history"]
        if not isinstance(history, list):
            raise LogReadError("log_history is not a list")

        meta = top_level_meta(state)
        meta.update(files_beside(path, warnings))
        rows: list[dict[str, Any]] = []
        n_bad = 0
        for row in history:
            if not isinstance(row, dict):
                n_bad += 1
            elif is_summary_row(row):
                meta.update(summary_meta(row))
            else:
                rows.append(row)
        if n_bad:
            warnings.append(f"skipped {n_bad} log_history entr{'y' if n_bad == 1 else 'ies'} that are not objects")
        if not rows:
            warnings.append("log_history has no training or evaluation rows")
            return [RunData(empty_frame(), meta=meta, warnings=warnings)]

        steps = [_step_of(row, i) for i, row in enumerate(rows)]
        starts = split_on_reset(steps, allow_equal=True)
        bounds = [0, *starts, len(rows)]
        source = display_path(path)
        runs: list[RunData] = []
        for k, (a, b) in enumerate(pairwise(bounds)):
            suffix = suffix_for(k)
            frame = history_frame(rows[a:b], steps[a:b], run_id=run_id + suffix, source=source)
            run_meta = dict(meta) if k == 0 else {}
            run_meta.update(lr_meta(rows[a:b]))
            runs.append(RunData(frame, suffix=suffix, meta=run_meta, warnings=warnings if k == 0 else []))
        if len(runs) > 1:
            runs[0].warnings.append(f"step goes back inside log_history: split into {len(runs)} runs")
        return runs


def _step_of(row: dict[str, Any], position: int) -> int:
    """The row's global ``step`` (its position when the writer left it out)."""
    step = row.get("step")
    if is_number(step) and math.isfinite(step) and abs(step) < 2**63:  # else it would be a null Int64 step
        return int(step)
    return position


def history_frame(rows: list[dict[str, Any]], steps: list[int], *, run_id: str, source: str) -> pl.DataFrame:
    """The normalized frame of ``log_history`` rows (summary rows already removed)."""
    keys = dict.fromkeys(k for row in rows for k, v in row.items() if k not in _INDEX_KEYS and is_number(v))
    names = series_names(list(keys), infer_split)
    metric: list[str] = []
    split: list[str] = []
    step_col: list[int] = []
    epoch_col: list[float | None] = []
    value: list[float] = []
    for row, step in zip(rows, steps, strict=True):
        epoch = row.get("epoch")
        epoch_val = float(epoch) if is_number(epoch) else None
        for key, v in row.items():
            if key in _INDEX_KEYS or not is_number(v):
                continue
            m, s = names[key]
            metric.append(m)
            split.append(s)
            step_col.append(step)
            epoch_col.append(epoch_val)
            value.append(float(v))
    if not value:
        return empty_frame()
    frame = from_columns(
        run_id=run_id, source=source, metric=metric, split=split, step=step_col, value=value, epoch=epoch_col
    )
    return keep_last(frame)


def top_level_meta(state: dict[str, Any]) -> dict[str, Any]:
    """Run facts from the top-level keys of ``trainer_state.json``."""
    meta: dict[str, Any] = {}
    for key, name in _TOP_META.items():
        v = state.get(key)
        if v is not None and (isinstance(v, str) or is_number(v)):
            meta[name] = v
    trial = state.get("trial_params")
    if isinstance(trial, dict) and trial:
        meta["hparams"] = trial
    callbacks = state.get("stateful_callbacks")
    if isinstance(callbacks, dict):
        early = callbacks.get("EarlyStoppingCallback")
        if isinstance(early, dict) and isinstance(early.get("args"), dict):
            patience = early["args"].get("early_stopping_patience")
            if is_number(patience):
                meta["early_stopping_patience"] = patience
    return meta


def _beside_dirs(path: Path) -> list[Path]:
    """The state file's directory, then the output dir above a ``checkpoint-N`` directory."""
    here = path.parent
    return [here, here.parent] if here.name.startswith("checkpoint-") else [here]


def files_beside(path: Path, warnings: list[str]) -> dict[str, Any]:
    """Meta from what the Trainer and its scripts save beside ``trainer_state.json``.

    ``training_args.json`` -> ``args`` (the ``TrainingArguments``), ``config.json`` of a model
    (``model_type``/``architectures``) -> ``config`` with ``num_labels`` counted from ``id2label`` when
    absent, ``all_results.json``/``train_results.json`` -> the ``*_samples`` counts. ``training_args.bin``
    is a pickle: never opened, said in a warning when no JSON copy stands in for it.
    """
    meta: dict[str, Any] = {}
    dirs = _beside_dirs(path)
    for d in dirs:
        args = config_table(d / "training_args.json", warnings)
        if args:
            meta["args"] = args
            break
    else:
        pickled = next((d / "training_args.bin" for d in dirs if (d / "training_args.bin").is_file()), None)
        if pickled is not None:
            warnings.append("training_args.bin not read: a pickle is never unpickled (save training_args.json to use it)")
    for d in dirs:
        model = config_table(d / "config.json", warnings)
        if model and ("model_type" in model or "architectures" in model):
            meta["config"] = without_label_maps(model)
            break
    for d in dirs:
        for name in ("all_results.json", "train_results.json"):
            results = config_table(d / name, warnings)
            for k, v in (results or {}).items():
                if k.endswith("_samples") and is_number(v):
                    meta.setdefault(k, v)
    return meta


def summary_meta(row: dict[str, Any]) -> dict[str, Any]:
    """The summary row's numbers as meta (``train_loss`` is renamed ``train_loss_avg``)."""
    out: dict[str, Any] = {}
    for key, v in row.items():
        if key in _INDEX_KEYS or not is_number(v):
            continue
        out["train_loss_avg" if key == "train_loss" else key] = v
    return out


def lr_meta(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``lr_max`` of the logged learning rate, and ``lr`` when it never changes (relative 1e-6)."""
    lrs = [float(r["learning_rate"]) for r in rows if is_number(r.get("learning_rate"))]
    lrs = [v for v in lrs if math.isfinite(v)]
    if not lrs:
        return {}
    hi, lo = max(lrs), min(lrs)
    out: dict[str, Any] = {"lr_max": hi}
    if hi - lo <= 1e-6 * max(abs(hi), 1e-300):
        out["lr"] = hi
    return out


def salvage_log_history(text: str) -> list[dict[str, Any]] | None:
    """The complete ``log_history`` objects of a truncated ``trainer_state.json`` (``None`` if none)."""
    key = text.find('"log_history"')
    if key < 0:
        return None
    start = text.find("[", key)
    if start < 0:
        return None
    decoder = json.JSONDecoder()
    pos = start + 1
    rows: list[dict[str, Any]] = []
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n or text[pos] == "]":
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            break
        if isinstance(obj, dict):
            rows.append(obj)
    return rows or None
