"""Settings from ``[tool.trainlog_doctor]`` in the nearest ``pyproject.toml``; command-line flags win."""

from __future__ import annotations

from pathlib import Path
from typing import Any

KEYS = {"format", "fail_on", "select", "ignore", "workers"}

#: ``--fail-on`` and ``fail_on``: the least severe finding that makes the exit code 1 (``never``: none).
FAIL_ON = ("error", "warning", "never")


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
    import tomllib  # only when a pyproject.toml is there to read

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    table = data.get("tool", {}).get("trainlog_doctor", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.trainlog_doctor] must be a table")
    _check_table(path, table)
    return table


def _check_table(path: Path, table: dict[str, Any]) -> None:
    """Every key known and every value of the right type and range; rule selectors name rules."""
    import difflib

    for key in sorted(set(table) - KEYS):
        close = difflib.get_close_matches(key, sorted(KEYS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(KEYS))})"
        raise ConfigError(f"{path}: unknown key {key!r} in [tool.trainlog_doctor]{hint}")
    for key in ("select", "ignore"):
        if key in table and not (isinstance(table[key], list) and all(isinstance(x, str) for x in table[key])):
            raise ConfigError(f"{path}: {key} must be a list of rule codes or kinds")
    _check_selectors(path, table.get("select"), table.get("ignore"))
    workers = table.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS):
        raise ConfigError(f"{path}: workers must be a whole number from 1 to {MAX_WORKERS}")
    for key in ("format", "fail_on"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{path}: {key} must be a string")
    _check_choice(path, "fail_on", table.get("fail_on"), FAIL_ON)
    if "format" in table:
        from trainlog_doctor.report.formats import format_names

        _check_choice(path, "format", table["format"], format_names())


def _check_selectors(path: Path, select: list[str] | None, ignore: list[str] | None) -> None:
    if not select and not ignore:
        return
    from trainlog_doctor.api import SelectorError, check_selectors

    try:
        check_selectors(select, ignore)
    except SelectorError as exc:
        raise ConfigError(f"{path}: [tool.trainlog_doctor] {exc}") from None


def _check_choice(path: Path, key: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise ConfigError(f"{path}: {key} must be one of {', '.join(choices)}, not {value!r}")
