"""Audit units: the files each candidate reads (its cache signature), its cache key, its page names."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from trainlog_doctor.readers import DirectoryReader
from trainlog_doctor.readers.discover import Candidate

#: The names :func:`page_name` and :func:`report_name` give (anything else in ``runs/`` is left alone).
PAGE_RE = re.compile(r"^[A-Za-z0-9._-]*-[0-9a-f]{8}\.(html|json)$")

#: ``[path, size, mtime_ns]`` of every file a unit reads.
Signature = list[list[Any]]


def unit_files(cand: Candidate) -> list[Path]:
    """The files the candidate's reader reads (for a directory reader, the files of its run directory)."""
    p = cand.path
    if not p.is_dir() or not isinstance(cand.reader, DirectoryReader):
        side = getattr(cand.reader, "side_files", None)  # config files a file reader reads beside the log
        return [p, *side(p)] if side is not None else [p]
    return cand.reader.unit_files(p)


def unit_signature(cand: Candidate) -> Signature:
    """``[path, size, mtime_ns]`` of every file the candidate reads (the cache key)."""
    out: Signature = []
    for f in unit_files(cand):
        try:
            st = f.stat()
        except OSError:
            out.append([f.as_posix(), -1, -1])
            continue
        out.append([f.as_posix(), st.st_size, st.st_mtime_ns])
    return out


def signature_bytes(sig: Signature) -> int:
    """The bytes of log a unit reads."""
    return sum(max(f[1], 0) for f in sig)


def signature_mtime(sig: Signature) -> float:
    """The newest modification time (POSIX seconds) of a unit's files (0 without files)."""
    return max((f[2] / 1e9 for f in sig), default=0.0)


def unit_key(cand: Candidate) -> str:
    """The cache key of a candidate: its absolute path and run id."""
    return f"{os.path.abspath(cand.path)}\x00{cand.run_id}"


def unit_exists(key: str) -> bool:
    """True while the path of a cache key is still there."""
    return os.path.exists(key.split("\x00", 1)[0])


def page_name(run_id: str, unit: str = "") -> str:
    """A safe, stable file name for a run's page: a slug of the id plus a hash of the id and its unit
    (:func:`unit_key`), so two runs with one id in different files never share a page."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._")[:80] or "run"
    digest = hashlib.sha1(f"{unit}\x00{run_id}".encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{slug}-{digest}.html"


def report_name(run_id: str, unit: str = "") -> str:
    """The file name of a run's JSON report (its page name with ``.json``)."""
    return page_name(run_id, unit)[: -len(".html")] + ".json"
