"""The run's configuration as normalized facts: what the writers' config files and hparams say.

Readers put what they parse (Lightning ``hparams.yaml``, a Hugging Face ``training_args.json``,
detectron2's ``config.yaml`` ...) into ``RunData.meta``; :func:`config_from_meta` turns those
mappings into one :class:`RunConfig` with one name per fact, whatever the writer called it.
``RunView.config`` holds the result. A fact nobody wrote down is ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Sub-mappings of ``meta`` searched after its top level, in this order.
META_TABLES = ("hparams", "config", "args", "params", "optimizer_config")

#: For each fact, the keys writers use for it (compared lower-case, on the last dotted component too).
FACT_KEYS: dict[str, tuple[str, ...]] = {
    "optimizer": ("optimizer", "optim", "optimizer_name", "optimizer_type", "solver_type"),
    "lr": ("lr", "learning_rate", "base_lr", "lr0", "initial_lr", "max_lr", "peak_lr"),
    "momentum": ("momentum", "sgd_momentum"),
    "beta1": ("beta1", "adam_beta1", "b1"),
    "beta2": ("beta2", "adam_beta2", "b2"),
    "eps": ("eps", "epsilon", "adam_epsilon", "adam_eps"),
    "weight_decay": ("weight_decay", "wd", "l2", "l2_reg", "weight_decay_rate"),
    "batch_size": ("batch_size", "train_batch_size", "per_device_train_batch_size", "batch", "ims_per_batch"),
    "grad_accum": ("gradient_accumulation_steps", "accumulate_grad_batches", "grad_accum"),
    "epochs": ("epochs", "max_epochs", "num_epochs", "num_train_epochs"),
    "max_steps": ("max_steps", "max_iter", "max_iters", "total_steps"),
    "warmup_steps": ("warmup_steps", "warmup_iters", "warmup_epochs", "num_warmup_steps"),
    "warmup_ratio": ("warmup_ratio",),
    "scheduler": ("scheduler", "lr_scheduler", "lr_scheduler_type", "lr_schedule", "policy"),
    "grad_clip": ("gradient_clip_val", "max_grad_norm", "clip_grad_norm", "grad_clip", "clip_value"),
    "precision": ("precision", "mixed_precision", "amp", "fp16", "bf16"),
    "train_samples": ("train_samples", "num_train_samples", "n_train", "train_size", "num_examples"),
    "num_classes": ("num_classes", "n_classes", "num_labels", "nc", "classes"),
    "dropout": ("dropout", "dropout_rate", "hidden_dropout_prob", "drop_rate", "dropout_p"),
}


@dataclass(frozen=True)
class RunConfig:
    """The normalized configuration of one run (``None``: not known).

    ``optimizer`` is a lower-case family name (``adam``, ``adamw``, ``sgd``, ``rmsprop`` ...);
    ``lr`` the configured (peak or base) learning rate; ``batch_size`` the per-step batch as
    configured (``grad_accum`` is kept apart); ``precision`` one of ``fp32``/``fp16``/``bf16``/
    ``mixed``; ``origin`` maps each known fact to the key it was read from (``"hparams.lr"``), so a
    report can say where a number came from.
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
    origin: Mapping[str, str] = field(default_factory=dict)

    def known(self) -> dict[str, Any]:
        """The facts that are known, by name (``origin`` left out)."""
        return {k: v for k, v in self.__dict__.items() if k != "origin" and v is not None}


def _tables(meta: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield "", meta
    for name in META_TABLES:
        sub = meta.get(name)
        if isinstance(sub, Mapping):
            yield name + ".", sub


def _lookup(meta: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[Any, str] | None:
    """The first present, non-null value of ``keys`` in ``meta`` or its :data:`META_TABLES`."""
    for prefix, table in _tables(meta):
        lowered: dict[str, tuple[Any, str]] = {}
        for k, v in table.items():
            if v is None or isinstance(v, Mapping):
                continue
            name = str(k).lower()
            lowered.setdefault(name, (v, prefix + str(k)))
            lowered.setdefault(name.rsplit(".", 1)[-1], (v, prefix + str(k)))
        for key in keys:
            if key in lowered:
                return lowered[key]
    return None


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _name(v: Any) -> str | None:
    """A lower-case family name: ``torch.optim.AdamW`` -> ``adamw``; ``adamw_torch`` -> ``adamw``."""
    if isinstance(v, Mapping):
        v = v.get("type") or v.get("name")
    if not isinstance(v, str) or not v.strip():
        return None
    s = v.strip().lower().rsplit(".", 1)[-1]
    s = re.sub(r"[^a-z0-9_]", "", s).strip("_")
    for suffix in ("_torch_fused", "_torch", "_hf", "_apex_fused", "_8bit", "_bnb_8bit", "_fused"):
        if s.endswith(suffix):
            s = s[: -len(suffix)]
    return s or None


def _precision(v: Any, key: str) -> str | None:
    last = key.rsplit(".", 1)[-1].lower()
    if last in ("fp16", "bf16", "amp"):
        if v is True or str(v).lower() == "true":
            return "fp16" if last == "fp16" else "bf16" if last == "bf16" else "mixed"
        return None
    s = str(v).lower()
    if "bf16" in s:
        return "bf16"
    if "16" in s:
        return "fp16"
    if "32" in s or s in ("no", "none", "full"):
        return "fp32"
    if s in ("mixed", "amp", "auto"):
        return "mixed"
    return None


def config_from_meta(meta: Mapping[str, Any]) -> RunConfig:
    """One :class:`RunConfig` from a reader's ``meta`` (top level first, then :data:`META_TABLES`)."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for fact, keys in FACT_KEYS.items():
        hit = _lookup(meta, keys)
        if hit is None:
            continue
        raw, key = hit
        value: Any
        if fact == "optimizer":
            value = _name(raw)
        elif fact == "scheduler":
            value = _name(raw)
        elif fact == "precision":
            value = _precision(raw, key)
        elif fact in ("batch_size", "grad_accum", "max_steps", "train_samples", "num_classes"):
            f = _number(raw)
            value = int(f) if f is not None and f >= 1 and f == int(f) else None
        else:
            value = _number(raw)
            if value is not None and value < 0:
                value = None
        if value is not None:
            values[fact] = value
            origin[fact] = key
    return RunConfig(**values, origin=origin)


__all__ = ["FACT_KEYS", "META_TABLES", "RunConfig", "config_from_meta"]
