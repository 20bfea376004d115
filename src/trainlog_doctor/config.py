"""Settings from ``[tool.trainlog_doctor]`` in the nearest ``pyproject.toml``; command-line flags win."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

KEYS = {"format", "fail_on", "select", "ignore", "workers"}


class ConfigError(Exception):
    """The config table is malformed; the message says where."""


def find_pyproject(start: Path | None = None) -> Path | None:
    """The first ``pyproject.toml`` in ``start`` (default: cwd) or its parents."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        p = d / "pyproject.toml"
        if p.is_file():
            return p
    return None


#: The most worker processes a config may ask for (the CLI's --workers has the same bound).
MAX_WORKERS = 256


def load_config(start: Path | None = None) -> dict[str, Any]:
    """The ``[tool.trainlog_doctor]`` table (empty when absent), validated."""
    path = find_pyproject(start)
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    table = data.get("tool", {}).get("trainlog_doctor", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.trainlog_doctor] must be a table")
    unknown = set(table) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) in [tool.trainlog_doctor]: {', '.join(sorted(unknown))}")
    for key in ("select", "ignore"):
        if key in table and not (isinstance(table[key], list) and all(isinstance(x, str) for x in table[key])):
            raise ConfigError(f"{path}: {key} must be a list of rule codes or kinds")
    workers = table.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS):
        raise ConfigError(f"{path}: workers must be a whole number from 1 to {MAX_WORKERS}")
    for key in ("format", "fail_on"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{path}: {key} must be a string")
    return table
