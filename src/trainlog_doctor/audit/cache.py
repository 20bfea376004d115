"""The audit cache (``out/cache.json``): each unit's index entries, keyed by what it read.

A unit is reused when the size and mtime of every file it reads, the rule options, the tool version
and its page and report files are all as cached. The file holds one unit per line, loaded as raw
text and parsed only on a hit, so a big cache costs its text, not a tree of objects.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from trainlog_doctor.audit.entries import AuditEntry
from trainlog_doctor.audit.units import PAGE_RE, Signature
from trainlog_doctor.model.version import __version__
from trainlog_doctor.report.files import replacing

CACHE_FILE = "cache.json"
CACHE_VERSION = 4
_UNITS_OPEN = '"units":{'


def load_cache(out_dir: Path) -> tuple[dict[str, str], bool]:
    """The cached units as raw JSON text by key, and whether ``out_dir`` holds a cache this tool wrote
    (of any version)."""
    path = out_dir / CACHE_FILE
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device planted there would block or never end
            return {}, False
        with open(path, encoding="utf-8") as fh:
            head = fh.readline().rstrip()
            if not head.endswith(_UNITS_OPEN):
                return {}, False
            meta = json.loads(head[: -len(_UNITS_OPEN)].rstrip(",") + "}")
            if not isinstance(meta, dict) or meta.get("tool") != "trainlog-doctor":
                return {}, False
            if meta.get("version") != CACHE_VERSION or meta.get("tool_version") != __version__:
                return {}, True
            units: dict[str, str] = {}
            decoder = json.JSONDecoder()
            for line in fh:
                line = line.rstrip("\n")
                if not line or line == "}}":
                    continue
                key, end = decoder.raw_decode(line)
                if not isinstance(key, str) or line[end] != ":":
                    raise ValueError("bad cache line")
                units[key] = line[end + 1 :].rstrip(",")
            return units, True
    except (OSError, ValueError, IndexError):
        return {}, False


def cache_hit(raw: str, sig: Signature, opts_key: str, runs_dir: Path) -> list[AuditEntry] | None:
    """The cached entries of a unit whose files, options and output files are all as cached, else None."""
    try:
        hit = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(hit, dict) or hit.get("sig") != sig or hit.get("opts") != opts_key:
        return None
    try:
        entries = [AuditEntry(**e) for e in hit["entries"]]
    except (KeyError, TypeError):  # a cache edited by hand or by another version
        return None
    if not all(_well_formed(e) for e in entries):
        return None
    for e in entries:
        if any(name and not (runs_dir / name).is_file() for name in (e.page, e.report)):
            return None
    return entries


def _well_formed(e: AuditEntry) -> bool:
    """An entry of the shape this tool writes; page and report names it could have given (no paths)."""
    names_ok = all(name is None or (isinstance(name, str) and PAGE_RE.match(name)) for name in (e.page, e.report))
    run = e.run
    return (
        bool(names_ok)
        and isinstance(run, dict)
        and isinstance(run.get("run_id"), str)
        and isinstance(run.get("status"), str)
        and isinstance(run.get("findings", []), list)
        and all(isinstance(f, dict) and isinstance(f.get("severity"), str) for f in run.get("findings", []))
        and isinstance(e.spark, dict)
        and isinstance(e.final, dict)
    )


def recorded_files(units: dict[str, str]) -> set[str]:
    """The page and report names a cache's units say this tool wrote (malformed units name none)."""
    out: set[str] = set()
    for raw in units.values():
        try:
            entries = json.loads(raw).get("entries", [])
            out.update(e[k] for e in entries for k in ("page", "report") if isinstance(e.get(k), str))
        except (ValueError, AttributeError, TypeError):
            continue
    return {name for name in out if PAGE_RE.match(name)}


def cache_unit(sig: Signature, opts_key: str, entries: list[AuditEntry]) -> dict[str, Any]:
    """What the cache holds of one unit."""
    return {"sig": sig, "opts": opts_key, "entries": [asdict(e) for e in entries]}


def save_cache(out_dir: Path, units: Iterator[tuple[str, str | dict[str, Any]]], warnings: list[str]) -> set[str] | None:
    """Write the cache one unit per line (a unit is a dict or its raw JSON text); returns the page and
    report files its entries name (None when it could not be written)."""
    live: set[str] = set()
    path = out_dir / CACHE_FILE
    head = {"tool": "trainlog-doctor", "version": CACHE_VERSION, "tool_version": __version__}
    try:
        with replacing(path) as fh:
            fh.write(json.dumps(head, separators=(",", ":"))[:-1] + "," + _UNITS_OPEN)
            for n, (key, unit) in enumerate(units):
                text = unit if isinstance(unit, str) else json.dumps(unit, separators=(",", ":"))
                obj = json.loads(text) if isinstance(unit, str) else unit
                for e in obj.get("entries", []):
                    live.update(name for name in (e.get("page"), e.get("report")) if name)
                fh.write(("," if n else "") + "\n" + json.dumps(key) + ":" + text)
            fh.write("\n}}\n")
    except (OSError, ValueError, AttributeError) as exc:
        warnings.append(f"cache not saved: {exc}")
        return None
    return live
