"""Find runs in files and directory trees by content signature.

A *run candidate* is one unit a reader reads: a log file, or a directory of the files a directory
reader claims by name (TensorBoard event files; see :class:`~trainlog_doctor.readers.base.DirectoryReader`).
Unknown files are skipped silently; files whose name says "training log" but which no reader accepts
(empty, binary junk, unreadable) become candidates with an error, so the report lists them.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from trainlog_doctor.readers import DIRECTORY_READERS, DirectoryReader, Reader, claiming_reader, reader_for_file
from trainlog_doctor.readers.base import display_path, is_lfs_pointer

#: File names that promise a training log; if no reader accepts such a file it is reported as broken.
LOG_NAME = re.compile(
    r"(^trainer_state\.json$)|(^metrics\.(json|jsonl|csv)$)|(\.log\.json$)|"
    r"(^results\.csv$)|(^log\.txt$)|(training|history|train_log|_log)[^/]*\.(csv|log)$|(^training\.log$)|"
    r"(^(model_|training_|train_)?history\.json$)|(^training_history\.)|(^(output|train|training|stdout)\.log$)|(^mlflow\.db$)",
    re.IGNORECASE,
)
#: Symlinks that only name another directory of the same tree (wandb's ``latest-run``).
ALIAS_LINKS = {"latest-run"}
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".ipynb_checkpoints"}
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Candidate:
    """One unit to read. ``reader`` is ``None`` when ``error`` says why it cannot be read."""

    run_id: str
    path: Path
    reader: Reader | None
    error: str | None = None
    status: str = "error"  # status to report when ``error`` is set: "error" or "empty"


def discover(
    paths: Iterable[str | os.PathLike[str]], *, warn: list[str] | None = None, follow_links: bool = False
) -> list[Candidate]:
    """All run candidates under ``paths`` (files or trees), in a deterministic order.

    Inside a tree, a symlink (to a file or a directory) whose target lies outside the tree is skipped
    with a one-line note in ``warn``, unless ``follow_links``; links within the tree are followed once.
    """
    out: list[Candidate] = []
    warnings = warn if warn is not None else []
    for raw in paths:
        root = Path(raw)
        try:
            st = root.stat()
        except FileNotFoundError:
            out.append(Candidate(display_path(raw), root, None, "no such file or directory"))
            continue
        except OSError as exc:
            out.append(Candidate(display_path(raw), root, None, _os_reason(exc)))
            continue
        if stat.S_ISDIR(st.st_mode):
            out.extend(_discover_tree(root, warnings, follow_links))
        else:
            out.append(_file_candidate(root, display_path(root.name), explicit=True))
    return _dedupe(out)


def _discover_tree(root: Path, warnings: list[str], follow_links: bool = False) -> Iterator[Candidate]:
    """The runs under ``root``: directory readers' runs first, then log files (a log alone in its
    directory takes the directory's id, else its own path)."""
    seen: set[tuple[int, int]] = set()
    claimed: dict[DirectoryReader, dict[Path, None]] = {r: {} for r in DIRECTORY_READERS}
    files: list[Path] = []
    for dirpath, dirnames, filenames in _walk(root, seen, warnings, None if follow_links else os.path.realpath(root)):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not _is_alias_link(dirpath / d))
        for name in sorted(filenames):
            reader = claiming_reader(name)
            if reader is not None:
                claimed[reader][dirpath] = None
            else:
                files.append(dirpath / name)
    units: dict[Path, None] = {}
    owned: set[Path] = set()
    for reader, dirs in claimed.items():
        for d in reader.run_dirs(list(dirs), root):
            if d not in units:
                units[d] = None
                if getattr(reader, "owns_tree", False):
                    owned.add(d)
                yield Candidate(_run_id(root, d), d, reader)
    if owned:  # the console copy and debug logs inside a W&B run directory are part of that run
        files = [p for p in files if not any(parent in owned for parent in p.parents)]
    by_dir: dict[Path, list[Candidate]] = {}
    for p in _drop_checkpoint_snapshots(files):
        cand = _file_candidate(p, "", explicit=False)
        if cand is not None:
            by_dir.setdefault(p.parent, []).append(cand)
    for d, cands in by_dir.items():
        single = len(cands) == 1 and d not in units
        for c in cands:
            run_id = _run_id(root, d) if single else _run_id(root, c.path)
            yield Candidate(run_id, c.path, c.reader, c.error, c.status)


def _is_alias_link(path: Path) -> bool:
    """True for wandb's ``latest-run`` symlink: an alias of a run directory walked under its own name."""
    return path.name in ALIAS_LINKS and path.is_symlink()


def _walk(
    root: Path, seen: set[tuple[int, int]], warnings: list[str], inside: str | None = None
) -> Iterator[tuple[Path, list[str], list[str]]]:
    """A top-down walk like ``os.walk(followlinks=True)``, without recursion (a tree thousands of levels
    deep is fine): directory symlinks are followed once (loops are cut), unreadable dirs reported.
    With ``inside`` (a real path), symlinks whose target is not under it are skipped with a note.
    The caller may prune or reorder ``dirnames`` in place, as with ``os.walk``."""
    stack = [os.fspath(root)]
    while stack:
        dirpath = stack.pop()
        try:
            st = os.stat(dirpath)
        except OSError as exc:
            warnings.append(f"{dirpath}: {_os_reason(exc)}")
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            warnings.append(f"{dirpath}: symlink loop or repeated directory, skipped")
            continue
        seen.add(key)
        dirnames: list[str] = []
        filenames: list[str] = []
        try:
            with os.scandir(dirpath) as it:
                for entry in it:
                    if inside is not None and _leaves(entry, inside):
                        warnings.append(f"{entry.path}: symlink to outside the tree, skipped (--follow-links to read it)")
                        continue
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    (dirnames if is_dir else filenames).append(entry.name)
        except OSError as exc:
            warnings.append(f"{exc.filename or dirpath}: {_os_reason(exc)}")
            continue
        yield Path(dirpath), dirnames, filenames
        stack.extend(os.path.join(dirpath, d) for d in reversed(dirnames))


def _leaves(entry: os.DirEntry[str], inside: str) -> bool:
    """True for a symlink whose target (followed to the end) is not ``inside`` or under it."""
    try:
        if not entry.is_symlink():
            return False
    except OSError:
        return False
    target = os.path.realpath(entry.path)
    return not (target == inside or target.startswith(inside.rstrip(os.sep) + os.sep))


def _file_candidate(path: Path, run_id: str, *, explicit: bool) -> Candidate | None:
    named_like_log = bool(LOG_NAME.search(path.name))
    try:
        st = path.stat()
    except OSError as exc:
        return Candidate(run_id, path, None, _os_reason(exc)) if (explicit or named_like_log) else None
    if not stat.S_ISREG(st.st_mode):
        return Candidate(run_id, path, None, "not a regular file") if explicit else None
    claimer = claiming_reader(path.name)
    if claimer is not None:
        return Candidate(run_id, path, claimer)
    if st.st_size == 0:
        if explicit or named_like_log:
            return Candidate(run_id, path, None, "empty file", status="empty")
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        return Candidate(run_id, path, None, _os_reason(exc)) if (explicit or named_like_log) else None
    if is_lfs_pointer(head):
        if explicit or named_like_log:
            return Candidate(run_id, path, None, "Git LFS pointer, not the log itself (run `git lfs pull`)")
        return None
    if head.endswith(b"\x00"):  # a zero-filled tail (a crash while writing): sniff the text before it
        head = head.rstrip(b"\x00") or head
    reader = reader_for_file(path, head)
    if reader is not None:
        return Candidate(run_id, path, reader)
    if explicit or named_like_log:
        return Candidate(run_id, path, None, _unrecognized_reason(head))
    return None


def _unrecognized_reason(head: bytes) -> str:
    if b"\x00" in head:
        return "binary content, not a training log this tool knows"
    return "not a recognized training log (no reader accepts its content)"


def _drop_checkpoint_snapshots(files: list[Path]) -> list[Path]:
    """HF ``checkpoint-N/trainer_state.json`` files are prefixes of each other: keep only the newest,
    and none when the output dir has its own ``trainer_state.json``."""
    states = {p for p in files if p.name == "trainer_state.json"}
    best: dict[Path, tuple[int, Path]] = {}
    drop: set[Path] = set()
    for p in states:
        m = _CHECKPOINT.match(p.parent.name)
        if not m:
            continue
        outdir = p.parent.parent
        if outdir / "trainer_state.json" in states:
            drop.add(p)
            continue
        n = int(m.group(1))
        if outdir in best and best[outdir][0] >= n:
            drop.add(p)
        else:
            if outdir in best:
                drop.add(best[outdir][1])
            best[outdir] = (n, p)
    return [p for p in files if p not in drop]


def _run_id(root: Path, p: Path) -> str:
    try:
        rel = p.relative_to(root).as_posix()
    except ValueError:
        rel = p.as_posix()
    return display_path(root.name or root.resolve().name if rel in ("", ".") else rel)


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    """Drop repeated units (same path given twice) and make run ids unique."""
    seen_paths: set[str] = set()
    used: dict[str, int] = {}
    out: list[Candidate] = []
    for c in cands:
        key = os.path.realpath(c.path)
        if key in seen_paths and c.reader is not None:
            continue
        seen_paths.add(key)
        rid = c.run_id or c.path.name
        if rid in used:
            used[rid] += 1
            rid = f"{rid} ({used[rid]})"
        else:
            used[rid] = 1
        out.append(Candidate(rid, c.path, c.reader, c.error, c.status))
    return out


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if exc.errno is not None and exc.errno == 40:  # ELOOP
        return "symlink loop"
    return exc.strerror or exc.__class__.__name__
