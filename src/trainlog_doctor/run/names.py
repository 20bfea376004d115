"""The one metric vocabulary: split inference, metric roles, learning-rate and per-class names.

Every layer that asks "what is this series?" asks here: the readers (split of a column or tag), the
run view (roles, the primary loss and score), the knowledge base and the charts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

K = TypeVar("K")

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("validation_", "val"),
    ("valid_", "val"),
    ("val_", "val"),
    ("eval_", "val"),
    ("evaluation_", "val"),
    ("test_", "test"),
    ("train_", "train"),
    ("training_", "train"),
    ("epoch_", "train"),  # tf.keras TensorBoard callback: epoch_loss, epoch_accuracy
)
_GROUPS: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "test": "test",
    "testing": "test",
}
_SUFFIXES: tuple[tuple[str, str], ...] = (("_val", "val"), ("_valid", "val"), ("_test", "test"), ("_train", "train"))
_OTHER = re.compile(
    r"(^|[/_])(lr|learning_rate|lr-[a-z]+|lr\d*|pg\d+|x/lr\d+|time|data_time|eta_seconds|memory|runtime|"
    r"samples_per_second|steps_per_second|epoch|step|iter|iteration|n_parameters|flos|total_flos|tokens|usd|"
    r"grad_norm|global_step/sec|num_tokens|num_input_tokens_seen)$",
    re.IGNORECASE,
)


def infer_split(name: str) -> tuple[str, str]:
    """Return ``(metric, split)`` for a column or tag name.

    ``val_loss`` -> ``("loss", "val")``; ``train/box_loss`` -> ``("box_loss", "train")``;
    ``eval_g0_loss`` -> ``("g0_loss", "val")``; ``Loss/val`` -> ``("Loss", "val")``; ``lr`` -> ``("lr", "other")``;
    ``loss`` -> ``("loss", "train")``.
    Time, throughput, learning-rate and counter columns go to ``other`` whatever their prefix says
    (``time/epoch_seconds``, ``val_samples_per_second``).
    """
    raw = name.strip()
    lowered = raw.lower()
    metric, split = raw, None
    if "/" in raw:
        head, _, tail = raw.partition("/")
        group = _GROUPS.get(head.lower())
        if group is not None and tail:
            metric, split = tail, group
        elif head.lower() == "metrics" and tail:  # YOLO: metrics/mAP_0.5 is measured on the val set
            metric, split = tail, "val"
        else:  # torch SummaryWriter style: "Loss/train", "Accuracy/val", "Loss/Val_Epoch"
            mhead, _, last = raw.rpartition("/")
            first, _, rest = last.partition("_")
            group = _GROUPS.get(last.lower()) or (_GROUPS.get(first.lower()) if rest else None)
            if group is not None and mhead:
                metric = mhead if _GROUPS.get(last.lower()) else f"{mhead}_{rest}"
                split = group
    if split is None:
        for prefix, sp in _PREFIXES:
            if lowered.startswith(prefix) and len(raw) > len(prefix):
                metric, split = raw[len(prefix) :], sp
                break
    if split is None:
        for suffix, sp in _SUFFIXES:
            if lowered.endswith(suffix) and len(raw) > len(suffix):
                metric, split = raw[: -len(suffix)], sp
                break
    core = re.sub(r"_(step|epoch)$", "", metric, flags=re.IGNORECASE) or metric  # Lightning x_step / x_epoch
    if _OTHER.search(core) or is_lr_name(core) or metric_role(core) in ("time", "throughput"):
        return metric, "other"  # durations, rates and counters belong to no data split
    return metric, split or "train"


_GRANULARITY_RE = re.compile(r"^(?P<base>.+?)_(?P<granularity>step|epoch)$", re.IGNORECASE)


def granularity(metric: str) -> tuple[str, str | None]:
    """``(base metric, granularity)`` of a metric logged per step or per epoch, else ``(metric, None)``.

    Lightning writes ``train_loss_step`` and ``train_loss_epoch`` for a metric logged with both
    ``on_step`` and ``on_epoch``: ``loss_step`` -> ``("loss", "step")``; ``loss_epoch`` -> ``("loss", "epoch")``.
    """
    m = _GRANULARITY_RE.match(metric)
    if m is None:
        return metric, None
    return m.group("base"), m.group("granularity").lower()


def series_names(
    keys: Sequence[K],
    namer: Callable[[K], tuple[str, str]],
    label: Callable[[K], str] = str,
) -> dict[K, tuple[str, str]]:
    """``key -> (metric, split)`` for every column or tag of one log, each series with its own identity.

    ``namer`` gives the inferred name of one key (usually :func:`infer_split`). A per-epoch
    aggregate (``loss_epoch``) takes its base name (``loss``) when no other key claims that name, so
    Lightning's CSV and TensorBoard loggers name a run alike. Two keys never share a series: when a
    key would give a name already taken (``lr`` and ``train/lr``), it keeps its own ``label`` as
    metric (``train/lr``, then ``train/lr.2`` ...), so no points of two tags are ever interleaved. A
    key that is literally the name (``lr``) keeps it; otherwise the first key in order does.
    """
    inferred = {k: namer(k) for k in keys}
    claimed = set(inferred.values())
    out: dict[K, tuple[str, str]] = {}
    used: set[tuple[str, str]] = set()
    # a key that is literally its series' name (``lr``) names it before keys that only infer it (``train/lr``)
    literal_first = sorted(inferred, key=lambda k: label(k) != inferred[k][0])
    for key in literal_first:
        metric, split = inferred[key]
        base, per = granularity(metric)
        if per == "epoch" and (base, split) not in claimed:
            metric = base
        if (metric, split) in used:
            own = label(key)
            metric, k = own, 2
            while (metric, split) in used:
                metric, k = f"{own}.{k}", k + 1
        used.add((metric, split))
        out[key] = (metric, split)
    return {k: out[k] for k in inferred}


def is_lr_name(metric: str) -> bool:
    """True for learning-rate series names (``lr``, ``learning_rate``, ``lr-Adam``, ``x/lr0``, ``lr/pg0``)."""
    m = metric.lower()
    return bool(re.search(r"(^|[/_-])(lr|learning_rate)(\d*|[-/].*)?$", m)) or m.startswith(("lr/", "lr-"))


_LOSS_TOKENS = {
    "loss", "nll", "ce", "xent", "mse", "mae", "rmse", "msle", "mape", "perplexity", "ppl", "error", "err",
    "wer", "cer", "ter", "bpd", "bpc", "kl", "kld", "huber", "smape",
}  # fmt: skip
_SCORE_TOKENS = {
    "acc", "accuracy", "acc1", "acc5", "top1", "top5", "auc", "auroc", "roc", "f1", "fscore", "precision",
    "recall", "map", "ap", "iou", "miou", "dice", "bleu", "rouge", "rouge1", "rouge2", "rougel", "rougelsum",
    "sensitivity", "specificity", "em", "exact", "match", "r2", "pearson", "spearman", "spearmanr", "mcc",
    "matthews", "kappa", "jaccard", "psnr", "ssim", "meteor", "chrf", "coef", "aps", "apm", "apl", "ar",
}  # fmt: skip
_TIME_TOKENS = {
    "time", "data_time", "runtime", "iter_time", "step_time", "epoch_time", "batch_time", "duration", "seconds",
    "sec", "elapsed",
}  # fmt: skip
_THROUGHPUT_RE = re.compile(r"(per_second|per_sec|/sec|_per_s$|samples_s|it_s$|throughput|tokens_per)", re.I)
_NOT_TIME_RE = re.compile(r"(eta|remaining|timestamp|time_stamp|wall)", re.I)
_PER_CLASS_RE = re.compile(r"(^|[/_])(ap|ar)[-_:][a-z]|(^|[/_])ap[sml]$|(^|[/_])ar[sml]$|_class|class_|/cls\d|\[", re.I)
PRIMARY_LOSS_NAMES = ("loss", "total_loss", "train_loss", "loss_total", "overall_loss", "objective", "nll_loss")


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def metric_role(metric: str, split: str = "train") -> str:
    """The role of a metric from its name: ``loss``, ``score``, ``lr``, ``time``, ``throughput`` or ``other``.

    ``val_loss``/``box_loss``/``mean_absolute_error``/``wer`` are losses (lower is better);
    ``accuracy``/``bbox/AP50``/``mean_io_u``/``f1_score`` are scores (higher is better);
    ``lr``/``learning_rate``/``lr-Adam`` are learning rates; ``time``/``data_time``/``epoch_time`` are
    durations; ``train_samples_per_second`` is a throughput; counters and ``eta_seconds`` are ``other``.
    """
    m = metric.strip()
    low = m.lower()
    if is_lr_name(m):
        return "lr"
    if _THROUGHPUT_RE.search(low):
        return "throughput"
    toks = _tokens(m)
    if not toks:
        return "other"
    if any(t.endswith("loss") or t in _LOSS_TOKENS for t in toks) or "loss" in low:
        return "loss"
    if any(
        t in _SCORE_TOKENS or re.fullmatch(r"(m?ap|ar|acc|top|rouge|iou)\d+[a-z]?", t) for t in toks
    ) or re.search(r"accuracy|io_?u|dice|f1", low):
        return "score"
    if _NOT_TIME_RE.search(low):
        return "other"
    if low in _TIME_TOKENS or any(t in ("time", "runtime", "duration") for t in toks) or low.endswith("_time"):
        return "time"
    return "other"


def is_per_class_metric(metric: str) -> bool:
    """True for per-class or per-size breakdowns (``bbox/AP-person``, ``APs``, ``AP_cat``) that may be NaN."""
    return bool(_PER_CLASS_RE.search(metric))


# The main score of a run, most preferred first (other names containing ``acc`` come next).
PRIMARY_SCORE_NAMES = (
    "accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy", "top1", "acc1", "binary_accuracy",
    "map", "f1", "auc",
)  # fmt: skip
