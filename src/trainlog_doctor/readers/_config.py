"""Bounded, safe reading of the config files writers leave beside their logs.

* YAML with PyYAML's C safe loader (pure-Python ``SafeLoader`` when libyaml is missing); tags such as
  ``!!python/tuple`` or ``!!python/object:argparse.Namespace`` are read as the plain data under them,
  nothing is ever constructed from a tag.
* JSON with the standard library (``NaN``/``Infinity`` allowed).
* mmcv / mmengine ``.py`` configs with :func:`ast.parse`: only ``name = <literal>`` statements are
  evaluated (constants, lists, tuples, dicts, ``dict(key=...)`` calls, names assigned earlier);
  imports, calls and anything else are skipped and counted, never executed.
* Pickles (``training_args.bin``) are never opened.

Every loader is bounded: the file size is checked before reading (:data:`MAX_CONFIG_BYTES`), and
:func:`flatten` stops after :data:`MAX_KEYS` keys and :data:`MAX_DEPTH` levels, so an alias bomb or a
self-referencing YAML document costs no more than a plain file. A file that cannot be read gives a
one-line :class:`ConfigError`; callers turn it into a run warning and go on without those facts.
"""

from __future__ import annotations

import ast
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

MAX_CONFIG_BYTES = 1 << 20
MAX_KEYS = 2000
MAX_DEPTH = 24
MAX_LIST = 32
MAX_STRING = 1000
MAX_AST_NODES = 200_000

Scalar = str | int | float | bool | None

class ConfigError(Exception):
    """A config file that cannot be read; the message is the one-line reason."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


@cache
def _loader() -> type[yaml.SafeLoader]:
    """The safe loader (libyaml's when present), with every unknown tag read as the mapping, list or scalar
    it tags; PyYAML is imported here, the first time a config is parsed."""
    import yaml

    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = type("_Loader", (base,), {"__doc__": "PyYAML's safe loader, unknown tags read as plain data."})
    loader.add_multi_constructor("!", _untagged)
    loader.add_multi_constructor("tag:yaml.org,2002:python/", _untagged)
    return loader


# ---- loading ----------------------------------------------------------------------------------------


def read_bounded(path: Path, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, else :class:`ConfigError`."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot open: {exc.strerror or exc}") from None
    if not path.is_file():
        raise ConfigError("not a regular file")
    if st.st_size > limit:
        raise ConfigError(f"{st.st_size} bytes, over the {limit}-byte limit for a config file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ConfigError(f"over the {limit}-byte limit for a config file")
    return data


def _text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ConfigError("binary data, not a text config")
    return data.decode("utf-8-sig", errors="replace")


def parse_yaml(text: str) -> Any:
    """The YAML document in ``text`` (safe loader, tags read as plain data), else :class:`ConfigError`."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"invalid YAML: {problem}{where}") from None
    except (RecursionError, MemoryError):
        raise ConfigError("invalid YAML: nested too deeply") from None
    except ValueError:  # e.g. an integer past Python's digit limit
        raise ConfigError("invalid YAML: a value that cannot be converted") from None


def parse_json(text: str) -> Any:
    """The JSON value in ``text``, else :class:`ConfigError`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        raise ConfigError("invalid JSON: nested too deeply") from None
    except ValueError:
        raise ConfigError("invalid JSON: a number with too many digits") from None


class _Skip(Exception):
    """A Python expression that is not a plain literal."""


def parse_python_config(text: str) -> tuple[dict[str, Any], int]:
    """The ``name = <literal>`` assignments of an mmcv-style ``.py`` config, and how many expressions were skipped.

    Nothing is executed: the text is parsed with :func:`ast.parse` and only literal values are built
    (arithmetic on numbers, ``dict(...)``, ``range(...)`` and names assigned earlier included). A
    statement that is not such an assignment is skipped, and so is a value inside a dict that is not
    a literal (the rest of the dict is kept); both are counted.
    """
    try:
        tree = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ConfigError("not a Python config that parses") from None
    names: dict[str, Any] = {}
    skipped = 0
    budget = [MAX_AST_NODES, 0]  # nodes left, values left out inside dicts
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring
        target: str | None = None
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            target, value = stmt.target.id, stmt.value
        if target is None or value is None:
            skipped += 1
            continue
        try:
            names[target] = _literal(value, names, budget, 0)
        except _Skip:
            skipped += 1
        except RecursionError:
            raise ConfigError("Python config nested too deeply") from None
        if budget[0] <= 0:
            raise ConfigError(f"Python config over {MAX_AST_NODES} expression nodes")
    return names, skipped + budget[1]


_ARITHMETIC_OPS: dict[type[ast.operator], Any] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
}


def _put(out: dict[Any, Any], key: Any, node: ast.expr, names: Mapping[str, Any], budget: list[int], depth: int) -> None:
    """``out[key]`` = the literal value of ``node``; a value that is not a literal is left out and counted."""
    try:
        out[key] = _literal(node, names, budget, depth + 1)
    except _Skip:
        budget[1] += 1


def _literal(node: ast.expr, names: Mapping[str, Any], budget: list[int], depth: int) -> Any:
    budget[0] -= 1
    if budget[0] <= 0 or depth > MAX_DEPTH * 2:
        raise _Skip
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, int, float, bool)) or node.value is None:
            return node.value
        raise _Skip
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e, names, budget, depth + 1) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:  # {**other}
                raise _Skip
            key = _literal(k, names, budget, depth + 1)
            if isinstance(key, list):
                raise _Skip
            _put(out, key, v, names, budget, depth)
        return out
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:  # dict(**other)
                raise _Skip
            _put(kwargs, kw.arg, kw.value, names, budget, depth)
        return kwargs
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and not node.keywords:
        bounds = [_literal(arg, names, budget, depth + 1) for arg in node.args]  # mmcv dumps gpu_ids = range(0, 2)
        if 1 <= len(bounds) <= 3 and all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
            try:
                r = range(*bounds)
                if len(r) <= MAX_LIST:
                    return list(r)
            except (ValueError, OverflowError):  # a zero step, a length past sys.maxsize
                pass
        raise _Skip
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _literal(node.operand, names, budget, depth + 1)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if isinstance(node.op, ast.USub) else v
        raise _Skip
    if isinstance(node, ast.BinOp) and isinstance(node.op, tuple(_ARITHMETIC_OPS)):  # lr=0.01 / 2, warmup_ratio=1.0 / 2000
        left = _literal(node.left, names, budget, depth + 1)
        right = _literal(node.right, names, budget, depth + 1)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
            raise _Skip
        try:
            result = _ARITHMETIC_OPS[type(node.op)](left, right)
        except (ArithmeticError, ValueError):
            raise _Skip from None
        if isinstance(result, float) and not math.isfinite(result) or abs(result) >= 2**63:
            raise _Skip
        return result
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]  # an earlier assignment of this file (max_epochs = 12; ... max_epochs=max_epochs)
    raise _Skip


def load_config(path: Path) -> tuple[Any, list[str]]:
    """The parsed content of a ``.yaml``/``.yml``/``.json``/``.py`` config file and notes on what was skipped.

    Raises :class:`ConfigError` (one line) for a file that is too big, binary, malformed or of an unknown kind.
    """
    suffix = path.suffix.lower()
    if suffix in (".bin", ".pkl", ".pickle", ".pt", ".pth"):
        raise ConfigError("a pickle is never unpickled")
    data = read_bounded(path)
    text = _text(data)
    if suffix in (".yaml", ".yml"):
        return parse_yaml(text), []
    if suffix == ".json":
        return parse_json(text), []
    if suffix == ".py":
        values, skipped = parse_python_config(text)
        notes = [f"{skipped} statement(s) or value(s) that are not literals skipped (never executed)"] if skipped else []
        return values, notes
    raise ConfigError(f"unknown config kind {suffix or '(no suffix)'}")


# ---- flattening -------------------------------------------------------------------------------------


def _scalar(v: Any) -> Scalar:
    if isinstance(v, str):
        v = v.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot go to UTF-8 output
        return v if len(v) <= MAX_STRING else v[:MAX_STRING] + "…"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63:
        return float(v)
    return v


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def flatten(obj: Any, *, max_keys: int = MAX_KEYS, max_depth: int = MAX_DEPTH) -> tuple[dict[str, Any], bool]:
    """Nested mappings as one ``{"a.b.c": value}`` mapping, and whether the bounds cut it short.

    Values are scalars or short lists of scalars; a list holding mappings gets its positions as keys
    (``param_scheduler.0.type``); longer lists and deeper levels are left out.
    """
    out: dict[str, Any] = {}
    cut = False
    stack: list[tuple[str, Any, int]] = [("", obj, 0)]
    while stack:
        prefix, value, depth = stack.pop()
        if len(out) >= max_keys:
            return out, True
        if isinstance(value, Mapping):
            if depth >= max_depth:
                cut = True
                continue
            items = list(value.items())[:max_keys]
            cut = cut or len(items) < len(value)
            for k, v in reversed(items):
                key = str(k)[:200]
                stack.append((f"{prefix}.{key}" if prefix else key, v, depth + 1))
        elif isinstance(value, (list, tuple)):
            if not prefix:
                continue
            if all(_is_scalar(v) for v in value[: MAX_LIST + 1]):
                if len(value) <= MAX_LIST:
                    out[prefix] = [_scalar(v) for v in value]
                continue
            if depth >= max_depth:
                cut = True
                continue
            for i in reversed(range(min(len(value), MAX_LIST))):
                if isinstance(value[i], (Mapping, list, tuple)):
                    stack.append((f"{prefix}.{i}", value[i], depth + 1))
        elif prefix and _is_scalar(value):
            out[prefix] = _scalar(value)
    return out, cut


# ---- reader helpers ---------------------------------------------------------------------------------


def without_label_maps(flat: Mapping[str, Any]) -> dict[str, Any]:
    """A flat Hugging Face model config without ``id2label``/``label2id`` (one key per class), ``num_labels`` counted."""
    labels = sum(1 for k in flat if k.startswith("id2label."))
    out = {k: v for k, v in flat.items() if not k.startswith(("id2label.", "label2id."))}
    if labels and "num_labels" not in out:
        out["num_labels"] = labels
    return out

_SURFACE: dict[str, tuple[str, ...]] = {
    "lr": ("lr", "learning_rate", "lr0", "base_lr", "initial_lr"),
    "batch_size": ("batch_size", "batch", "train_batch_size"),
    "optimizer": ("optimizer", "optim", "optimizer_name"),
    "epochs": ("epochs", "max_epochs", "num_epochs"),
}


def surface_facts(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``lr``, ``batch_size``, ``optimizer``, ``epochs`` from the top-level keys of a flat config, as written."""
    out: dict[str, Any] = {}
    lowered: dict[str, Any] = {}
    for k, v in flat.items():
        lowered.setdefault(str(k).lower(), v)
    for fact, keys in _SURFACE.items():
        for k in keys:
            v = lowered.get(k)
            if v is None or isinstance(v, bool):
                continue
            if fact == "optimizer" and not isinstance(v, str):
                continue
            if fact != "optimizer" and not isinstance(v, (int, float)):
                continue
            out[fact] = v
            break
    return out


def config_table(path: Path, warnings: list[str], *, label: str | None = None) -> dict[str, Any] | None:
    """The flat config of one file, or ``None`` (with a one-line warning) when it is unreadable or not a mapping.

    A missing file gives ``None`` without a warning.
    """
    name = label or path.name
    try:
        if not os.path.lexists(path):
            return None
        value, notes = load_config(path)
    except ConfigError as exc:
        warnings.append(f"config {name} ignored: {exc}")
        return None
    if not isinstance(value, Mapping):
        kind = "empty" if value is None else type(value).__name__
        warnings.append(f"config {name} ignored: a {kind}, not a mapping of settings")
        return None
    flat, cut = flatten(value)
    for note in notes:
        warnings.append(f"config {name}: {note}")
    if cut:
        warnings.append(f"config {name}: over {MAX_KEYS} keys or {MAX_DEPTH} levels, the rest ignored")
    return flat


def merged_tables(paths: Iterable[Path], warnings: list[str]) -> dict[str, Any]:
    """The flat configs of ``paths`` merged (later files win); empty when none is readable."""
    out: dict[str, Any] = {}
    for p in paths:
        table = config_table(p, warnings)
        if table:
            out.update(table)
    return out


def existing(paths: Iterable[Path]) -> list[Path]:
    """The paths that exist (for a reader's ``side_files``: the config files it reads beside a log)."""
    return [p for p in paths if os.path.lexists(p)]


def beside(path: Path, names: Sequence[str], warnings: list[str], *, table: str) -> dict[str, Any]:
    """Meta from the config files ``names`` beside ``path``: the surfaced facts and ``{table: flat config}``."""
    flat = merged_tables((path.with_name(n) for n in names), warnings)
    if not flat:
        return {}
    return {**surface_facts(flat), table: flat}


__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_KEYS",
    "ConfigError",
    "beside",
    "config_table",
    "existing",
    "flatten",
    "load_config",
    "merged_tables",
    "parse_json",
    "parse_python_config",
    "parse_yaml",
    "read_bounded",
    "surface_facts",
    "without_label_maps",
]
