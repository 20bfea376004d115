"""The reader contract: one class per file family, sniffed by content."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import polars as pl

HEAD_BYTES = 4096


class LogReadError(Exception):
    """A known log family that cannot be read; the message is the one-line reason shown to the user."""


@dataclass
class RunData:
    """One run read from one file (or one run directory): a normalized frame plus what else the log says.

    ``suffix`` tells appended runs in one file apart (``""`` for the only or first run, ``"#2"`` ...).
    ``meta`` holds run facts such as ``optimizer``, ``batch_size``, ``lr`` from hparams or headers.
    """

    frame: pl.DataFrame
    suffix: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def suffix_for(i: int) -> str:
    """Run suffix for the ``i``-th (0-based) run of one file: ``""``, ``"#2"``, ``"#3"`` ..."""
    return "" if i == 0 else f"#{i + 1}"


@runtime_checkable
class Reader(Protocol):
    """A reader for one log family.

    ``format`` is the id written to the report (``keras_csv``, ``tfevents`` ...).
    ``sniff`` decides from the file name and its first bytes; it must be cheap and never raise.
    ``read`` returns one :class:`RunData` per run found in the file (appended runs are split),
    or raises :class:`LogReadError` with a one-line reason.
    """

    format: ClassVar[str]
    unit: ClassVar[str]  # "file": discovery passes each file; "directory": it passes the directory holding them

    def sniff(self, path: Path, head: bytes) -> bool: ...

    def read(self, path: Path, run_id: str) -> list[RunData]: ...


@runtime_checkable
class DirectoryReader(Reader, Protocol):
    """A reader whose run is a directory of files (``unit == "directory"``), e.g. TensorBoard event files.

    Discovery does not sniff the files such a reader claims: it collects the directories holding
    them, asks :meth:`run_dirs` which directories are runs, and passes each of those to :meth:`read`
    (a claimed file given on its own is passed as it is). ``unit_files`` lists what one run reads,
    for the audit's cache key.
    """

    def claims_file(self, name: str) -> bool:
        """True when a file of this name belongs to a run of this reader (decided by the name alone)."""
        ...

    def run_dirs(self, dirs: Sequence[Path], root: Path) -> list[Path]:
        """The run directories for ``dirs`` (the directories under ``root`` holding claimed files, in walk order)."""
        ...

    def unit_files(self, path: Path) -> list[Path]:
        """The files :meth:`read` reads for the run at ``path`` (a run directory or one claimed file), sorted."""
        ...


def display_path(path: Path | str) -> str:
    """``path`` as text that is always valid UTF-8: undecodable bytes of a file name become ``\\xff`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of ``path`` (empty on any OS error)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def read_bounded(path: Path, limit: int, family: str) -> bytes:
    """All bytes of ``path``, at most ``limit`` of them; :class:`LogReadError` for a bigger file or a directory.

    ``family`` names what the file should be in the reason (``"CSV log"``, ``"Keras history"``). The file
    is read once, never more than ``limit + 1`` bytes, so a file growing while read is refused the same
    way; other OS errors (permission denied, file gone) propagate for the caller to word.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except IsADirectoryError as exc:
        raise LogReadError(f"is a directory, not a {family}") from exc
    if len(data) > limit:
        try:
            size = max(path.stat().st_size, len(data))
        except OSError:
            size = len(data)
        raise LogReadError(f"file too large for a {family} ({size // (1024 * 1024)} MiB)")
    return data


def is_lfs_pointer(head: bytes) -> bool:
    """True when the file is a Git LFS pointer instead of the real log."""
    return head.startswith(b"version https://git-lfs.github.com/spec/")
