"""Reader registry: one reader per log family, tried in sniff order (most specific first)."""

from __future__ import annotations

from pathlib import Path

from trainlog_doctor.readers.base import DirectoryReader, LogReadError, Reader, RunData, is_lfs_pointer, read_head
from trainlog_doctor.readers.detectron2 import Detectron2Reader
from trainlog_doctor.readers.hf_trainer import HfTrainerStateReader
from trainlog_doctor.readers.jsonl import JsonLinesReader
from trainlog_doctor.readers.keras_csv import KerasCsvReader
from trainlog_doctor.readers.keras_history import KerasHistoryReader
from trainlog_doctor.readers.lightning_csv import LightningCsvReader
from trainlog_doctor.readers.mlflow_db import MlflowDbReader
from trainlog_doctor.readers.mlflow_store import MlflowStoreReader
from trainlog_doctor.readers.mmdet import MmdetJsonReader
from trainlog_doctor.readers.text_log import TextLogReader
from trainlog_doctor.readers.tfevents import TfEventsReader
from trainlog_doctor.readers.ultralytics_csv import UltralyticsCsvReader
from trainlog_doctor.readers.wandb_run import WandbRunReader

__all__ = [
    "DIRECTORY_READERS",
    "READERS",
    "DirectoryReader",
    "LogReadError",
    "Reader",
    "RunData",
    "claiming_reader",
    "reader_by_format",
    "reader_for_file",
]

#: Sniff order matters: specific JSON families before generic JSON lines, YOLO and Lightning before Keras.
READERS: tuple[Reader, ...] = (
    TfEventsReader(),
    MlflowStoreReader(),
    WandbRunReader(),
    MlflowDbReader(),
    HfTrainerStateReader(),
    Detectron2Reader(),
    MmdetJsonReader(),
    KerasHistoryReader(),
    JsonLinesReader(),
    UltralyticsCsvReader(),
    LightningCsvReader(),
    KerasCsvReader(),
    TextLogReader(),  # last: every structured family keeps its files (CSVLogger's training.log is CSV)
)

#: The readers whose run is a directory of the files they claim, in sniff order.
DIRECTORY_READERS: tuple[DirectoryReader, ...] = tuple(r for r in READERS if isinstance(r, DirectoryReader))


def claiming_reader(name: str) -> DirectoryReader | None:
    """The directory reader that claims a file named ``name`` (discovery then reads its directory), if any."""
    return next((r for r in DIRECTORY_READERS if r.claims_file(name)), None)


def reader_for_file(path: Path, head: bytes | None = None) -> Reader | None:
    """The first reader whose sniff accepts ``path`` (``None`` when no family matches)."""
    if head is None:
        head = read_head(path)
    if is_lfs_pointer(head):
        return None
    for reader in READERS:
        try:
            if reader.sniff(path, head):
                return reader
        except Exception:  # a sniff must never break discovery
            continue
    return None


def reader_by_format(name: str) -> Reader:
    """The reader registered for the report ``format`` id ``name``."""
    for reader in READERS:
        if reader.format == name:
            return reader
    raise KeyError(name)
