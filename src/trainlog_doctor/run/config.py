"""The run's configuration as normalized facts: what the writers' config files and hparams say.

Readers put what they parse (Lightning ``hparams.yaml``, a Hugging Face ``training_args.json``,
detectron2's ``config.yaml``, an mmcv config ...) into ``RunData.meta``, at its top level or in the
sub-mappings of :data:`META_TABLES`, nested or flattened to dotted keys (``SOLVER.BASE_LR``);
:func:`config_from_meta` turns those mappings into one :class:`RunConfig` with one name per fact,
whatever the writer called it. ``RunView.config`` holds the result. A fact nobody wrote down is ``None``.

How a key is matched (:data:`FACT_KEYS`): a pattern matches a dotted key (compared lower-case, ``/``
read as ``.``) equal to it or ending in ``.<pattern>``; a pattern starting with ``=`` matches the whole
key only (``=nc`` is YOLO's class count, not ``model.head.nc``). Earlier patterns win, then shallower
keys; keys under sections that configure something other than training (``norm_cfg``, ``ema``,
``val_dataloader``, ``test_cfg``, hooks) are not read, so a BatchNorm momentum is never taken for
the optimizer's. The top level of ``meta`` wins over the tables, and the tables go in
:data:`META_TABLES` order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Sub-mappings of ``meta`` searched after its top level, in this order.
META_TABLES = ("hparams", "config", "args", "params", "optimizer_config")

#: For each fact, the key patterns writers use for it, most specific first (see the module doc).
FACT_KEYS: dict[str, tuple[str, ...]] = {
    "optimizer": (
        "optimizer.type", "optimizer._target_", "optimizer.class_path", "optimizer.name", "solver.optimizer",
        "optimizer", "optim", "optimizer_name", "optimizer_type", "solver_type", "=opt",
    ),
    "lr": (
        "optimizer.lr", "optimizer.init_args.lr", "optimizer.learning_rate", "solver.base_lr",
        "learning_rate", "lr", "base_lr", "lr0", "initial_lr", "init_lr", "max_lr", "peak_lr",
    ),
    "momentum": ("optimizer.momentum", "solver.momentum", "momentum", "sgd_momentum"),
    "beta1": ("adam_beta1", "optimizer.betas", "beta1", "betas", "beta_1", "=b1"),
    "beta2": ("adam_beta2", "optimizer.betas", "beta2", "betas", "beta_2", "=b2"),
    "eps": ("adam_epsilon", "adam_eps", "optimizer.eps", "optimizer.epsilon", "opt_eps", "=eps", "=epsilon"),
    "weight_decay": (
        "optimizer.weight_decay", "solver.weight_decay", "weight_decay", "=wd", "=l2", "l2_reg", "weight_decay_rate",
    ),
    "batch_size": (
        "per_device_train_batch_size", "train_batch_size", "solver.ims_per_batch", "train_dataloader.batch_size",
        "total_batch_size", "batch_size", "samples_per_gpu", "ims_per_batch", "=batch", "=bs",
    ),
    "grad_accum": ("gradient_accumulation_steps", "accumulate_grad_batches", "grad_accum", "accumulative_counts"),
    "epochs": ("num_train_epochs", "max_epochs", "epochs", "num_epochs", "total_epochs"),
    "max_steps": ("max_steps", "solver.max_iter", "max_iter", "max_iters", "total_steps", "num_training_steps"),
    "warmup_steps": ("warmup_steps", "solver.warmup_iters", "warmup_iters", "num_warmup_steps"),
    "warmup_epochs": ("warmup_epochs",),
    "warmup_ratio": ("warmup_ratio",),
    "scheduler": (
        "lr_scheduler_type", "solver.lr_scheduler_name", "lr_config.policy", "lr_scheduler.type",
        "lr_scheduler.class_path", "lr_multiplier.scheduler._target_", "lr_scheduler", "scheduler", "lr_schedule",
        "=lr_policy", "=cos_lr",
    ),
    "lr_milestones": ("solver.steps", "lr_config.step", "milestones", "lr_steps", "lr_milestones"),
    "lr_gamma": ("solver.gamma", "lr_config.gamma", "lr_gamma", "=gamma", "lr_decay_rate"),
    "grad_clip": (
        "solver.clip_gradients.clip_value", "grad_clip.max_norm", "clip_grad.max_norm", "gradient_clip_val",
        "max_grad_norm", "clip_grad_norm", "clip_grad", "grad_clip", "clip_value", "clipnorm", "clip_norm",
        "gradient_clipping",
    ),
    "precision": (
        "precision", "mixed_precision", "amp.enabled", "fp16.loss_scale", "=amp", "dtype_policy",
    ),
    "train_samples": ("train_samples", "num_train_samples", "n_train", "train_size", "num_examples", "=samples"),
    "num_classes": ("num_classes", "n_classes", "num_labels", "=nc", "=classes"),
    "dropout": ("dropout", "dropout_rate", "hidden_dropout_prob", "drop_rate", "dropout_p"),
}

#: Section names (any parent segment of a key) whose settings are not the training run's.
_FOREIGN_SECTION = re.compile(
    r"(?:^|_)(?:norm|bn|ema|swa|teacher|test|val|valid|validation|eval|evaluation|hooks?|inference|predict)(?:_|$|\d)"
)
#: Per-fact sections whose keys mean something else (mmcv's ``lr_config.warmup_ratio`` is the start factor).
_FOREIGN_FOR: dict[str, tuple[str, ...]] = {"warmup_ratio": ("lr_config", "param_scheduler"), "lr": ("warmup",)}


@dataclass(frozen=True)
class RunConfig:
    """The normalized configuration of one run (``None``: not known).

    ``optimizer`` is a lower-case family name (``adam``, ``adamw``, ``sgd``, ``rmsprop`` ...);
    ``lr`` the configured (peak or base) learning rate; ``batch_size`` the per-step batch as
    configured (``grad_accum`` is kept apart); ``precision`` one of ``fp32``/``fp16``/``bf16``/
    ``mixed``; ``scheduler`` a schedule family when recognized (``cosine``, ``step``, ``linear``,
    ``constant``, ``plateau``, ``onecycle``, ``poly``, ``exponential``, ``inverse_sqrt``, ``cyclic``),
    else the writer's name, lower-case; ``warmup_steps`` counts steps (iterations), ``warmup_epochs``
    epochs (YOLO); ``lr_milestones`` the steps or epochs of a step schedule, ``lr_gamma`` its factor;
    ``grad_clip`` the clipping threshold, ``clips_gradients`` whether the config turns clipping on
    (``False`` for ``grad_clip=None``, ``gradient_clip_val: 0``, ``CLIP_GRADIENTS.ENABLED: false``);
    ``origin`` maps each known fact to the key it was read from (``"hparams.lr"``), so a report can
    say where a number came from.
    """

    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    eps: float | None = None
    weight_decay: float | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    epochs: float | None = None
    max_steps: int | None = None
    warmup_steps: float | None = None
    warmup_ratio: float | None = None
    scheduler: str | None = None
    grad_clip: float | None = None
    precision: str | None = None
    train_samples: int | None = None
    num_classes: int | None = None
    dropout: float | None = None
    warmup_epochs: float | None = None
    lr_milestones: tuple[float, ...] | None = None
    lr_gamma: float | None = None
    clips_gradients: bool | None = None
    origin: Mapping[str, str] = field(default_factory=dict)

    def known(self) -> dict[str, Any]:
        """The facts that are known, by name (``origin`` left out)."""
        return {k: v for k, v in self.__dict__.items() if k != "origin" and v is not None}


# ---- candidate keys -------------------------------------------------------------------------------

_MAX_FLAT = 5000


def _flat(table: Mapping[str, Any], skip: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` of a mapping, nested mappings walked (bounded), lists kept as values."""
    stack: list[tuple[str, Any, int]] = [(str(k), v, 1) for k, v in reversed(list(table.items())) if k not in skip]
    n = 0
    while stack and n < _MAX_FLAT:
        key, value, depth = stack.pop()
        n += 1
        if isinstance(value, Mapping):
            if depth < 12:
                stack.extend((f"{key}.{k}", v, depth + 1) for k, v in reversed(list(value.items())[:_MAX_FLAT]))
            continue
        yield key, value


Rows = list[tuple[str, str, Any]]
Tables = list[tuple[str, Rows, dict[str, list[int]]]]


def _tables(meta: Mapping[str, Any]) -> Tables:
    """Per table (top level first): its prefix, ``(normalized key, original key, value)`` rows and their tail index."""
    own = (*META_TABLES, "text")
    subs: list[tuple[str, Mapping[str, Any], tuple[str, ...]]] = [("", meta, own)]
    subs += [(name + ".", sub, ()) for name in META_TABLES if isinstance(sub := meta.get(name), Mapping)]
    out: Tables = []
    for prefix, table, skip in subs:
        rows = [(k.lower().replace("/", "."), k, v) for k, v in _flat(table, skip)]
        out.append((prefix, rows, _tails(rows)))
    return out


def _matches(key: str, pattern: str) -> bool:
    if pattern.startswith("="):
        return key == pattern[1:]
    return key == pattern or key.endswith("." + pattern)


def _foreign(key: str, pattern: str, fact: str) -> bool:
    """True when ``key`` sits in a section that configures something else than the run's training."""
    n_pattern = pattern.lstrip("=").count(".") + 1
    parents = key.split(".")[:-n_pattern]
    extra = _FOREIGN_FOR.get(fact, ())
    return any(_FOREIGN_SECTION.search(p) or p in extra for p in parents)


def _tails(rows: Rows) -> dict[str, list[int]]:
    """Row positions by every dotted tail of their key (``a.b.c`` -> ``c``, ``b.c``, ``a.b.c``)."""
    index: dict[str, list[int]] = {}
    for pos, (key, _, _) in enumerate(rows):
        parts = key.split(".")
        for i in range(len(parts)):
            index.setdefault(".".join(parts[i:]), []).append(pos)
    return index


def _candidates(tables: Tables, fact: str) -> Iterator[tuple[Any, str]]:
    """Values for ``fact``, best first: table by table, then by pattern, then shallower keys."""
    patterns = FACT_KEYS[fact]
    for prefix, rows, index in tables:
        best: dict[int, tuple[int, int, int]] = {}
        for rank, pattern in enumerate(patterns):
            for pos in index.get(pattern.lstrip("="), ()):
                key = rows[pos][0]
                if pos not in best and _matches(key, pattern) and not _foreign(key, pattern, fact):
                    best[pos] = (rank, key.count("."), pos)
        hits = [(*order, rows[pos][2], prefix + rows[pos][1]) for pos, order in best.items()]
        for _, _, _, value, origin in sorted(hits, key=lambda h: h[:3]):
            yield value, origin


# ---- value conversions ----------------------------------------------------------------------------


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _count(v: Any) -> int | None:
    f = _number(v)
    return int(f) if f is not None and 1 <= f < 2**63 and f == int(f) else None


def _false(v: Any) -> bool:
    return v is False or (isinstance(v, str) and v.strip().lower() in ("false", "no", "off", "none", "null", "0"))


def _true(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() in ("true", "yes", "on"))


_CLASS_REPR = re.compile(r"^<class '([\w.]+)'>$")


def _name(v: Any) -> str | None:
    """A lower-case family name: ``torch.optim.AdamW`` -> ``adamw``; ``adamw_torch`` -> ``adamw``; ``auto`` -> unknown."""
    if isinstance(v, Mapping):
        v = v.get("type") or v.get("name") or v.get("_target_") or v.get("class_path")
    if not isinstance(v, str) or not v.strip():
        return None
    s = v.strip()
    m = _CLASS_REPR.match(s)
    s = (m.group(1) if m else s).lower().rsplit(".", 1)[-1]
    s = re.sub(r"[^a-z0-9_]", "", s).strip("_")
    for suffix in ("_torch_fused", "_torch_xla", "_torch_npu_fused", "_torch", "_hf", "_apex_fused", "_bnb_8bit", "_8bit",
                   "_fused", "_anyprecision"):
        if s.endswith(suffix):
            s = s[: -len(suffix)]
    return s if s and s not in ("auto", "none", "null", "default") else None


_SCHEDULES = (
    ("plateau", ("plateau",)),
    ("onecycle", ("onecycle",)),
    ("cyclic", ("cyclic", "triangular")),
    ("cosine", ("cos",)),
    ("step", ("step",)),
    ("poly", ("poly",)),
    ("exponential", ("exp",)),
    ("inverse_sqrt", ("inverse_sqrt", "invsqrt", "rsqrt")),
    ("linear", ("linear",)),
    ("constant", ("constant", "fixed", "const")),
)


def _schedule(v: Any, key: str) -> str | None:
    """The schedule family of a scheduler name (``WarmupMultiStepLR`` -> ``step``); YOLO's ``cos_lr`` flag."""
    if key.lower().endswith("cos_lr"):
        return "cosine" if _true(v) else "linear" if _false(v) else None
    s = _name(v)
    if s is None:
        return None
    for family, marks in _SCHEDULES:
        if any(mark in s for mark in marks):
            return family
    return s


def _precision(v: Any, key: str) -> str | None:
    last = key.lower().replace("/", ".").rsplit(".", 1)[-1]
    lowered = key.lower()
    if lowered.endswith("fp16.loss_scale"):
        return "fp16"
    if last in ("amp", "enabled"):  # YOLO amp, detectron2 SOLVER.AMP.ENABLED
        return "mixed" if _true(v) else "fp32" if _false(v) else None
    s = str(v).lower()
    if "bf16" in s or "bfloat16" in s:
        return "bf16"
    if "mixed" in s and "16" not in s:
        return "mixed"
    if "16" in s:
        return "fp16"
    if "32" in s or "64" in s or s in ("no", "none", "full", "false"):
        return "fp32"
    if s in ("amp", "auto", "true"):
        return "mixed"
    return None


def _hf_precision(tables: Tables) -> tuple[str, str] | None:
    """Hugging Face's ``fp16``/``bf16`` flags read together (either true, or both false = fp32)."""
    for prefix, rows, _ in tables:
        flags = {key: (value, prefix + original) for key, original, value in rows if key in ("fp16", "bf16")}
        if not flags:
            continue
        for name in ("bf16", "fp16"):
            if name in flags and _true(flags[name][0]):
                return name, flags[name][1]
        if all(_false(v) for v, _ in flags.values()):
            return "fp32", next(iter(flags.values()))[1]
    return None


_PARAM_SCHEDULER = re.compile(r"param_scheduler(?:\.(\d+))?\.type")


def _mmengine(tables: Tables) -> dict[str, tuple[Any, str]]:
    """Facts only mmengine's layout says: ``AmpOptimWrapper`` (mixed precision), the main ``param_scheduler``."""
    out: dict[str, tuple[Any, str]] = {}
    for prefix, rows, _ in tables:
        schedulers: list[tuple[int, Any, str]] = []
        for key, original, value in rows:
            if key == "optim_wrapper.type" and isinstance(value, str) and "amp" in value.lower():
                out.setdefault("precision", ("mixed", prefix + original))
            m = _PARAM_SCHEDULER.fullmatch(key) if key.startswith("param_scheduler") else None
            if m:
                schedulers.append((int(m.group(1) or 0), value, prefix + original))
        if schedulers and "scheduler" not in out:
            # a LinearLR first entry is the warm-up; the last entry is the main schedule
            _, value, origin = max(schedulers, key=lambda s: s[0])
            family = _schedule(value, origin)
            if family is not None:
                out["scheduler"] = (family, origin)
    return out


def _convert(fact: str, raw: Any, key: str) -> Any:
    if fact == "optimizer":
        return _name(raw)
    if fact == "scheduler":
        return _schedule(raw, key)
    if fact == "precision":
        return _precision(raw, key)
    if fact in ("beta1", "beta2"):
        if isinstance(raw, (list, tuple)):
            raw = raw[0 if fact == "beta1" else 1] if len(raw) == 2 else None
        b = _number(raw)
        return b if b is not None and 0 <= b < 1 else None
    if fact == "lr_milestones":
        if not isinstance(raw, (list, tuple)) or not raw:
            return None
        steps = [_number(s) for s in raw]
        return tuple(s for s in steps if s is not None) if all(s is not None and s >= 0 for s in steps) else None
    if fact == "num_classes" and isinstance(raw, (list, tuple)):
        return len(raw) if 1 <= len(raw) and all(isinstance(c, str) for c in raw) else None
    if fact in ("batch_size", "grad_accum", "max_steps", "train_samples", "num_classes"):
        return _count(raw)
    value = _number(raw)
    return value if value is not None and value >= 0 else None


def _clipping(tables: Tables) -> tuple[bool, float | None, str] | None:
    """Whether the config clips gradients, and the threshold; ``None`` when it does not say."""
    for prefix, rows, _ in tables:
        for key, original, value in rows:
            if key.endswith("solver.clip_gradients.enabled"):
                if _false(value):
                    return False, None, prefix + original
    for value, origin in _candidates(tables, "grad_clip"):
        if isinstance(value, (list, tuple)):
            continue
        if value is None or _false(value):
            return False, None, origin
        f = _number(value)
        if f is not None:
            return (True, f, origin) if f > 0 else (False, None, origin)
    return None


def config_from_meta(meta: Mapping[str, Any]) -> RunConfig:
    """One :class:`RunConfig` from a reader's ``meta`` (top level first, then :data:`META_TABLES`)."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    tables = _tables(meta)
    special = _mmengine(tables)
    hf = _hf_precision(tables)
    if hf is not None:
        special.setdefault("precision", hf)
    for fact in FACT_KEYS:
        if fact == "grad_clip":
            continue
        for raw, key in _candidates(tables, fact):
            value = _convert(fact, raw, key)
            if value is not None:
                values[fact], origin[fact] = value, key
                break
        if fact in special and fact not in values:
            values[fact], origin[fact] = special[fact]
    clip = _clipping(tables)
    if clip is not None:
        values["clips_gradients"], origin["clips_gradients"] = clip[0], clip[2]
        if clip[1] is not None:
            values["grad_clip"], origin["grad_clip"] = clip[1], clip[2]
    return RunConfig(**values, origin=origin)


__all__ = ["FACT_KEYS", "META_TABLES", "RunConfig", "config_from_meta"]
