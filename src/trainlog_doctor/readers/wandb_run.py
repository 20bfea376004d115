"""Weights & Biases run directories (``wandb/run-<date>-<id>/``, ``wandb/offline-run-<date>-<id>/``).

Where the history comes from, in this order:

1. ``run-<id>.wandb``, the binary record stream: a 7-byte header (``:W&B``, magic, version), then
   LevelDB-log framing (32 KiB blocks, 7-byte record headers: CRC-32 of type and data, length, type
   full/first/middle/last) around wandb's ``Record`` protobufs. The protobuf classes come from the
   ``wandb`` package (the optional extra ``trainlog-doctor[wandb]``), imported only here. Every
   ``history`` record is one row: ``_step`` is the step, ``_timestamp`` the wall time, a logged
   ``epoch`` the epoch; other keys starting with ``_`` are wandb's own and left out. The ``run``
   record's config gives the run facts. A record with a bad CRC is skipped (warning); a cut-off
   last record ends the stream (warning).
2. Without ``wandb`` installed, or without a ``.wandb`` file: the console history in ``files/output.log``
   read as a text log (:mod:`trainlog_doctor.readers.text_log`), plus the final values in
   ``files/wandb-summary.json`` for quantities the console did not print; a warning says which.

``files/config.yaml`` (``key: {value: ...}`` blocks, read with the bounded safe YAML loader of
:mod:`trainlog_doctor.readers._config`, tags never executed) fills ``meta`` when the binary file gives
no config: ``lr``, ``batch_size``, ``optimizer``, ``epochs`` and the values under ``config``, nested
settings as dotted keys.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from trainlog_doctor.model.frame import conform, empty_frame
from trainlog_doctor.readers._config import MAX_KEYS, ConfigError, flatten, load_config, surface_facts
from trainlog_doctor.readers._jsonlines import decode
from trainlog_doctor.readers.base import LogReadError, RunData, display_path
from trainlog_doctor.readers.text_log import TextLogReader
from trainlog_doctor.run.names import infer_split, series_names

HEADER = b":W&B"
HEADER_LEN = 7
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
MAX_BYTES = 2 * 1024**3
MAX_POINTS = 3_000_000
MAX_SMALL_FILE = 16 * 1024 * 1024  # summary, config
_RUN_DIR = re.compile(r"^(offline-)?run-\d{8}_\d{6}-[A-Za-z0-9]+$")
_CLAIMED = ("wandb-summary.json", "wandb-metadata.json")


def _is_binary_name(name: str) -> bool:
    return name.startswith("run-") and name.endswith(".wandb")


def _run_of(path: Path) -> Path:
    """The run directory for ``path`` (the run directory itself, its ``files/``, or a file in either)."""
    d = path if path.is_dir() else path.parent
    return d.parent if d.name == "files" and _looks_like_run(d.parent) else d


def _looks_like_run(d: Path) -> bool:
    try:
        return bool(_RUN_DIR.match(d.name)) or any(_is_binary_name(p.name) for p in d.iterdir())
    except OSError:
        return False


def _binary_file(run: Path) -> Path | None:
    try:
        found = sorted(p for p in run.iterdir() if _is_binary_name(p.name) and p.is_file())
    except OSError:
        return None
    return found[0] if found else None


class WandbRunReader:
    """Reader for one W&B run directory (see the module docstring)."""

    format: ClassVar[str] = "wandb"
    unit: ClassVar[str] = "directory"
    #: Discovery reads no other file under a run directory (``files/output.log``, ``logs/debug*.log``, media).
    owns_tree: ClassVar[bool] = True

    def claims_file(self, name: str) -> bool:
        """The binary ``run-<id>.wandb`` and ``wandb-summary.json`` / ``wandb-metadata.json`` belong to a run."""
        return _is_binary_name(name) or name in _CLAIMED

    def run_dirs(self, dirs: Sequence[Path], root: Path) -> list[Path]:
        """One run per run directory (a ``files/`` directory stands for its parent)."""
        runs: dict[Path, None] = {}
        for d in dirs:
            runs[_run_of(d / "x")] = None
        return list(runs)

    def unit_files(self, path: Path) -> list[Path]:
        """The binary file, ``files/output.log``, ``wandb-summary.json`` and ``config.yaml`` of the run, sorted."""
        run = _run_of(path)
        files = [run / "files" / n for n in ("output.log", "wandb-summary.json", "config.yaml")]
        binary = _binary_file(run)
        return sorted([f for f in files if f.is_file()] + ([binary] if binary else []))

    def sniff(self, path: Path, head: bytes) -> bool:
        """A run directory (a ``.wandb`` file or ``files/wandb-summary.json``), or one of its claimed files."""
        try:
            if path.is_dir():
                run = _run_of(path)
                return _binary_file(run) is not None or (run / "files" / "wandb-summary.json").is_file()
            if _is_binary_name(path.name):
                return head.startswith(HEADER)
            return path.name == "wandb-summary.json" and head.lstrip().startswith(b"{")
        except Exception:
            return False

    def read(self, path: Path, run_id: str) -> list[RunData]:
        """The run's history as one :class:`RunData`, its config as run facts."""
        run = _run_of(Path(path))
        if not run.is_dir():
            raise LogReadError(f"not a W&B run directory: {display_path(run)}")
        warnings: list[str] = []
        meta: dict[str, Any] = {}
        binary = _binary_file(run)
        frame = None
        if binary is not None:
            pb = _wandb_proto()
            if pb is None:
                warnings.append(
                    f"history from files/output.log and the summary: the wandb package is not installed to read {binary.name}"
                    " (pip install 'trainlog-doctor[wandb]')"
                )
            else:
                frame, config = _read_binary(binary, pb, run_id, display_path(run), warnings)
                if config:
                    meta.update(surface_facts(config))
                    meta["config"] = config
                meta["history_source"] = binary.name
        if frame is None:
            frame = _read_text(run, run_id, warnings)
            meta["history_source"] = "files/output.log"
            if binary is None:
                warnings.append("history from files/output.log and the summary: the run has no run-<id>.wandb file")
        if "config" not in meta:
            config = _read_config_yaml(run / "files" / "config.yaml", warnings)
            if config:
                meta.update(surface_facts(config))
                meta["config"] = config
        return [RunData(frame=frame, meta=meta, warnings=warnings)]


def _wandb_proto() -> Any:
    """wandb's generated ``wandb_internal_pb2`` module, or ``None`` when wandb is not importable."""
    try:
        from wandb.proto import wandb_internal_pb2  # noqa: PLC0415 - optional extra, imported only here
    except Exception:  # ImportError, or a wandb/protobuf version clash
        return None
    return wandb_internal_pb2


def _records(data: bytes, warnings: list[str]) -> Iterator[bytes]:
    """The record payloads of a ``.wandb`` stream (LevelDB-log framing after the 7-byte header)."""
    if not data.startswith(HEADER) or len(data) < HEADER_LEN:
        raise LogReadError("not a W&B run file: no ':W&B' header")
    off = HEADER_LEN
    pending: list[bytes] | None = None
    bad_crc = 0
    while off < len(data):
        left = BLOCK - off % BLOCK
        if left < 7:  # a block tail too short for a record header is zero padding
            off += left
            continue
        if off + 7 > len(data):
            warnings.append("the .wandb file ends inside a record header (truncated): the rest is lost")
            break
        crc, length, kind = struct.unpack_from("<IHB", data, off)
        if crc == 0 and length == 0 and kind == 0:
            off += left  # zero padding to the end of the block
            continue
        start = off + 7
        if length > left - 7 or start + length > len(data) or kind not in (FULL, FIRST, MIDDLE, LAST):
            if start + length > len(data) and kind in (FULL, FIRST, MIDDLE, LAST):
                warnings.append("the .wandb file ends inside a record (truncated): the rest is lost")
            else:
                warnings.append(f"broken record framing at byte {off}: the rest of the file is skipped")
            break
        chunk = data[start : start + length]
        off = start + length
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            bad_crc += 1
            pending = None
            continue
        if kind == FULL:
            pending = None
            yield chunk
        elif kind == FIRST:
            pending = [chunk]
        elif pending is not None:
            pending.append(chunk)
            if kind == LAST:
                yield b"".join(pending)
                pending = None
    if bad_crc:
        warnings.append(f"{bad_crc} record(s) with a bad checksum skipped")


def _item_key(item: Any) -> str:
    return "/".join(item.nested_key) if len(item.nested_key) else item.key


def _json_number(text: str) -> float | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _read_binary(path: Path, pb: Any, run_id: str, source: str, warnings: list[str]) -> tuple[pl.DataFrame, dict[str, Any]]:
    """History points and config of a ``.wandb`` file."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise LogReadError(f"{path.name} too large ({size // 2**20} MiB)")
        data = path.read_bytes()
    except OSError as exc:
        raise LogReadError(f"cannot read {path.name}: {exc.strerror or type(exc).__name__}") from exc
    config: dict[str, Any] = {}
    cols: dict[str, list[Any]] = {"column": [], "step": [], "epoch": [], "wall_time": [], "value": []}
    undecodable = 0
    row = 0
    for payload in _records(data, warnings):
        record = pb.Record()
        try:
            record.ParseFromString(payload)
        except Exception:
            undecodable += 1
            continue
        kind = record.WhichOneof("record_type")
        if kind == "run":
            for item in record.run.config.update:
                key = _item_key(item)
                if key.startswith("_"):
                    continue
                try:
                    value = json.loads(item.value_json)
                except (ValueError, RecursionError):
                    continue
                if isinstance(value, dict) and "value" in value:  # config.yaml-style {"value": ...}
                    value = value["value"]
                if isinstance(value, str):  # a lone surrogate escape cannot go to UTF-8 output
                    value = value.encode("utf-8", "replace").decode("utf-8")
                if value is None or isinstance(value, (str, int, float, bool)):
                    config[key] = value
                elif isinstance(value, dict) and len(config) < MAX_KEYS:  # nested settings as dotted keys
                    nested, _ = flatten({key: value}, max_keys=MAX_KEYS - len(config))
                    config.update(nested)
        elif kind == "history":
            values: dict[str, float] = {}
            for item in record.history.item:
                number = _json_number(item.value_json)
                if number is not None:
                    values[_item_key(item)] = number
            step_value = values.pop("_step", None)
            step = int(step_value) if step_value is not None and math.isfinite(step_value) else (
                record.history.step.num if record.history.HasField("step") else row
            )
            wall = values.pop("_timestamp", None)
            epoch = values.get("epoch")
            for key, value in values.items():
                if key.startswith("_") or key == "epoch":
                    continue
                cols["column"].append(key)
                cols["step"].append(step)
                cols["epoch"].append(epoch)
                cols["wall_time"].append(wall)
                cols["value"].append(value)
            row += 1
            if len(cols["value"]) >= MAX_POINTS:
                warnings.append(f"history cut at {MAX_POINTS} points (row {row})")
                break
    if undecodable:
        warnings.append(f"{undecodable} record(s) that are not wandb Records skipped")
    return _frame(cols, run_id, source), config


def _frame(cols: dict[str, list[Any]], run_id: str, source: str) -> pl.DataFrame:
    if not cols["value"]:
        return empty_frame()
    names = series_names(list(dict.fromkeys(cols["column"])), infer_split)
    long = pl.DataFrame(
        cols, schema={"column": pl.Utf8, "step": pl.Int64, "epoch": pl.Float64, "wall_time": pl.Float64, "value": pl.Float64}
    )
    long = long.with_columns(
        pl.col("column").replace_strict({k: m for k, (m, _) in names.items()}, return_dtype=pl.Utf8).alias("metric"),
        pl.col("column").replace_strict({k: s for k, (_, s) in names.items()}, return_dtype=pl.Utf8).alias("split"),
        pl.lit(run_id, dtype=pl.Utf8).alias("run_id"),
        pl.lit(source, dtype=pl.Utf8).alias("source"),
    )
    return conform(long)


def _read_text(run: Path, run_id: str, warnings: list[str]) -> pl.DataFrame:
    """The console history of ``files/output.log`` plus summary values it lacks (see the module docstring)."""
    frame = empty_frame()
    log = run / "files" / "output.log"
    if log.is_file():
        try:
            text_runs = TextLogReader().read(log, run_id)
            frame = text_runs[0].frame.with_columns(pl.lit(display_path(run), dtype=pl.Utf8).alias("source"))
            warnings.extend(text_runs[0].warnings)
        except LogReadError as exc:
            warnings.append(f"files/output.log: {exc}")
    summary = _read_json(run / "files" / "wandb-summary.json")
    if isinstance(summary, dict):
        step_value = summary.get("_step")
        step = int(step_value) if isinstance(step_value, (int, float)) and math.isfinite(step_value) else 0
        have = set(frame.get_column("metric").to_list()) if frame.height else set()
        cols: dict[str, list[Any]] = {"column": [], "step": [], "epoch": [], "wall_time": [], "value": []}
        epoch = summary.get("epoch")
        for key, raw in summary.items():
            number = _json_number(json.dumps(raw)) if isinstance(raw, (int, float)) else None
            if number is None or str(key).startswith("_") or key == "epoch":
                continue
            cols["column"].append(str(key))
            cols["step"].append(step)
            cols["epoch"].append(float(epoch) if isinstance(epoch, (int, float)) and not isinstance(epoch, bool) else None)
            cols["wall_time"].append(summary.get("_timestamp") if isinstance(summary.get("_timestamp"), (int, float)) else None)
            cols["value"].append(number)
        extra = _frame(cols, run_id, display_path(run))
        if extra.height:
            extra = extra.filter(~pl.col("metric").is_in(list(have)))
            frame = pl.concat([frame, extra]) if frame.height else extra
    if frame.height == 0:
        warnings.append("no history: no readable .wandb file, output.log or summary values")
    return frame


def _read_json(path: Path) -> Any:
    try:
        if not path.is_file() or path.stat().st_size > MAX_SMALL_FILE:
            return None
        return json.loads(decode(path.read_bytes()))
    except (OSError, ValueError, RecursionError):
        return None


def _read_config_yaml(path: Path, warnings: list[str]) -> dict[str, Any]:
    """W&B's ``config.yaml`` (``key: {desc: ..., value: ...}`` blocks) as a flat config; wandb's own ``_`` keys left out."""
    try:
        if not os.path.lexists(path):
            return {}
        raw, _ = load_config(path)
    except ConfigError as exc:
        warnings.append(f"config files/config.yaml ignored: {exc}")
        return {}
    if not isinstance(raw, dict):
        warnings.append("config files/config.yaml ignored: not a mapping of settings")
        return {}
    values = {
        str(k): v["value"] for k, v in raw.items() if not str(k).startswith("_") and isinstance(v, dict) and "value" in v
    }
    flat, cut = flatten(values)
    if cut:
        warnings.append(f"config files/config.yaml: over {MAX_KEYS} keys, the rest ignored")
    return flat
