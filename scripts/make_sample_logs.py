"""Regenerate ``sample_logs/``: small real training runs of tiny CNNs, one log format per run.

Every run trains a small convolutional network with PyTorch on CPU on scikit-learn's 8x8
``load_digits`` images (1797 real hand-written digits, 10 classes). Problems are caused by a real
mechanism inside the training loop (a too-high learning rate with an unstable loss, a learning-rate
schedule bug, a corrupted batch, dead ReLUs, a slow augmentation, a tiny training set), never by
editing logged numbers. Each run is written the way its real writer writes it (Keras CSVLogger,
torch SummaryWriter, HF ``trainer_state.json``, Lightning ``metrics.csv``, YOLOv5 / ultralytics
``results.csv``, mmcv ``.log.json``, DeiT ``log.txt``, detectron2 ``metrics.json``).

The ground truth (which problem, which series, where it starts) is computed from each run's own
history by the pure functions at the top of this file and written to ``sample_logs/LABELS.json``;
``sample_logs/README.md`` is generated from the same data.

Usage::

    python scripts/make_sample_logs.py                # all runs into ./sample_logs
    python scripts/make_sample_logs.py --only spike   # one run (LABELS.json is merged)

Needs ``torch`` (CPU build), ``scikit-learn``, ``scipy``, ``numpy`` and ``tensorboard``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily so the pure helpers below work without it
    import torch
    from torch import nn

REPO = Path(__file__).resolve().parents[1]
N_CLASSES = 10
CHANCE = 1.0 / N_CLASSES
LN_C = math.log(N_CLASSES)

# --------------------------------------------------------------------------------------------
# Pure helpers: onsets computed from a history (no torch needed).
# --------------------------------------------------------------------------------------------


def first_nonfinite(values: Sequence[float]) -> int | None:
    """Index of the first NaN or infinite value, or ``None``."""
    for i, v in enumerate(values):
        if not math.isfinite(v):
            return i
    return None


def divergence_onset(values: Sequence[float], factor: float = 2.0) -> int | None:
    """Where a loss starts to rise for good.

    Takes the finite prefix (before the first non-finite value), finds its minimum, and returns the
    first index after the minimum from which every later finite value stays above ``factor`` x min.
    """
    end = first_nonfinite(values)
    prefix = list(values[: end if end is not None else len(values)])
    if len(prefix) < 2:
        return None
    i_min = min(range(len(prefix)), key=prefix.__getitem__)
    floor = factor * prefix[i_min]
    for j in range(i_min + 1, len(prefix)):
        if all(v > floor for v in prefix[j:]):
            return j
    return end if end is not None and end > i_min else None


def overfitting_onset(val_loss: Sequence[float], min_rise: float = 1.3) -> int | None:
    """First index after the validation-loss minimum, if the loss never returns to it and ends ``min_rise`` x higher."""
    i_min = min(range(len(val_loss)), key=val_loss.__getitem__)
    if i_min + 1 >= len(val_loss) or val_loss[-1] < min_rise * val_loss[i_min]:
        return None
    return i_min + 1


def plateau_onset(values: Sequence[float], remaining: float = 0.05) -> int | None:
    """First index after which the series never improves by more than ``remaining`` of the drop made so far.

    For a falling loss: the first ``i`` with ``values[i] - min(values[i:]) < remaining * (values[0] - values[i])``.
    """
    for i in range(1, len(values)):
        made = values[0] - values[i]
        if made <= 0:
            continue
        if values[i] - min(values[i:]) < remaining * made:
            return i
    return None


def collapse_onset(acc: Sequence[float], chance: float = CHANCE, margin: float = 0.05) -> int | None:
    """First index from which accuracy stays within ``margin`` of chance until the end."""
    for i in range(len(acc)):
        if all(a <= chance + margin for a in acc[i:]):
            return i
    return None


def recovery_index(values: Sequence[float], start: int, baseline: float, tol: float = 0.15) -> int | None:
    """First index after ``start`` where ``values`` is back within ``tol`` (relative) of ``baseline``."""
    for j in range(start + 1, len(values)):
        if values[j] <= baseline * (1.0 + tol):
            return j
    return None


def slowdown_onset(durations: Sequence[float], ratio: float = 1.5) -> int | None:
    """First index from which every duration exceeds ``ratio`` x the median of the durations before it."""
    for i in range(3, len(durations)):
        base = statistics.median(durations[:i])
        if all(d > ratio * base for d in durations[i:]):
            return i
    return None


# --------------------------------------------------------------------------------------------
# Labels and run descriptions
# --------------------------------------------------------------------------------------------


@dataclass
class Label:
    """One expected finding (the ground truth for one injected problem)."""

    kind: str
    metric: str
    split: str
    column: str
    note: str
    onset_epoch: float | None = None
    onset_step: int | None = None
    end_epoch: float | None = None
    end_step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The LABELS.json entry (unset onsets and ends left out)."""
        out: dict[str, Any] = {"kind": self.kind, "metric": self.metric, "split": self.split, "column": self.column}
        for key in ("onset_epoch", "onset_step", "end_epoch", "end_step"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["note"] = self.note
        return out


@dataclass
class RunInfo:
    """What a generator produced: files, format, set-up and the expected findings."""

    name: str
    format: str
    files: list[str]
    epochs: int
    setup: str
    mechanism: str
    epoch_base: str
    findings: list[Label] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The LABELS.json entry of this run."""
        return {
            "format": self.format,
            "files": self.files,
            "epochs": self.epochs,
            "epoch_base": self.epoch_base,
            "setup": self.setup,
            "mechanism": self.mechanism,
            "facts": self.facts,
            "findings": [f.to_dict() for f in self.findings],
        }


# --------------------------------------------------------------------------------------------
# Training helpers (torch)
# --------------------------------------------------------------------------------------------


@dataclass
class Data:
    """The digits data set split once: 1297 train and 500 validation images, pixels scaled to [0, 1]."""

    xtr: torch.Tensor
    ytr: torch.Tensor
    xva: torch.Tensor
    yva: torch.Tensor


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_data(n_val: int = 500, seed: int = 1234) -> Data:
    """Load sklearn's digits, shuffle with a fixed seed and split off ``n_val`` validation images."""
    import torch
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x = torch.tensor(x[order] / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    t = torch.tensor(y[order], dtype=torch.long)
    return Data(xtr=x[n_val:], ytr=t[n_val:], xva=x[:n_val], yva=t[:n_val])


def make_cnn(width: int = 16, hidden: int = 64, act: str = "relu", bn: bool = False) -> nn.Module:
    """A tiny CNN for 8x8 images: two 3x3 convs, max-pool, a hidden dense layer, 10 logits."""
    from torch import nn

    def activation() -> nn.Module:
        """A fresh activation layer of the chosen kind."""
        return {"relu": nn.ReLU, "leaky": lambda: nn.LeakyReLU(0.1)}[act]()

    layers: list[nn.Module] = [nn.Conv2d(1, width, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(width))
    layers += [activation(), nn.Conv2d(width, 2 * width, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(2 * width))
    layers += [activation(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * width * 16, hidden), activation()]
    layers.append(nn.Linear(hidden, N_CLASSES))
    return nn.Sequential(*layers)


def minibatches(n: int, batch_size: int, gen: torch.Generator, drop_last: bool = False) -> list[torch.Tensor]:
    """Shuffled index batches for one epoch."""
    import torch

    perm = torch.randperm(n, generator=gen)
    stop = n - (n % batch_size) if drop_last else n
    return [perm[i : min(i + batch_size, stop)] for i in range(0, stop, batch_size)]


def shift_augment(x: torch.Tensor, gen: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (zero padding), a cheap real augmentation."""
    import torch
    from torch.nn import functional as F

    padded = F.pad(x, (max_shift, max_shift, max_shift, max_shift))
    offs = torch.randint(0, 2 * max_shift + 1, (x.shape[0], 2), generator=gen)
    h, w = x.shape[-2:]
    return torch.stack([padded[i, :, a : a + h, b : b + w] for i, (a, b) in enumerate(offs.tolist())])


@dataclass
class Eval:
    """Validation results: sample-weighted mean loss, top-1 and top-5 accuracy (fractions), batch count."""

    loss: float
    acc: float
    top5: float
    batches: int


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 32,
) -> Eval:
    """Evaluate in eval mode without gradients."""
    import torch
    from torch.nn import functional as F

    loss_fn = loss_fn or F.cross_entropy
    model.eval()
    total, correct, correct5, n_batches = 0.0, 0, 0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            out = model(xb)
            total += float(loss_fn(out, yb)) * len(yb)
            pred = _argmax_nan_first(out)
            correct += int((pred == yb).sum())
            top5 = out.topk(5, dim=1).indices
            correct5 += int((top5 == yb[:, None]).any(dim=1).sum())
            n_batches += 1
    model.train()
    n = len(y)
    return Eval(loss=total / n, acc=correct / n, top5=correct5 / n, batches=n_batches)


def _argmax_nan_first(out: torch.Tensor) -> torch.Tensor:
    """Row argmax that, like ``numpy.argmax``, returns the first NaN position when a row holds NaN."""
    import torch

    nan = torch.isnan(out)
    return torch.where(nan.any(dim=1), nan.float().argmax(dim=1), out.nan_to_num(nan=-math.inf).argmax(dim=1))


def f32(v: float) -> float:
    """The float64 value of ``v`` rounded to float32 (what ``tensor.item()`` gives for a float32 tensor)."""
    return float(np.float32(v))


def clean_dir(path: Path) -> None:
    """Remove and recreate one run directory."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def env_text() -> str:
    """A short, true description of the environment the runs were made in."""
    import scipy
    import sklearn
    import torch

    return (
        f"sys.platform: {sys.platform}\nPython: {platform.python_version()}\nCUDA available: False\n"
        f"PyTorch: {torch.__version__}\nNumPy: {np.__version__}\nSciPy: {scipy.__version__}\n"
        f"scikit-learn: {sklearn.__version__}\nMMCV: not installed (log written in mmcv TextLoggerHook format "
        f"by scripts/make_sample_logs.py)"
    )


# --------------------------------------------------------------------------------------------
# 1. healthy_keras: Keras CSVLogger, ReduceLROnPlateau
# --------------------------------------------------------------------------------------------


def run_healthy_keras(out: Path, data: Data) -> RunInfo:
    """Healthy SGD run logged like Keras CSVLogger, with ReduceLROnPlateau(val_loss, factor 0.2, patience 3)."""
    import torch
    from torch.nn import functional as F

    run_dir = out / "healthy_keras"
    clean_dir(run_dir)
    seed_everything(1)
    gen = torch.Generator().manual_seed(1)
    model = make_cnn(width=16, hidden=64)
    lr = np.float32(0.03)
    opt = torch.optim.SGD(model.parameters(), lr=float(lr), momentum=0.9, weight_decay=5e-4)
    epochs, patience, factor, min_delta = 36, 3, np.float32(0.2), 1e-4
    best, wait = math.inf, 0
    rows: list[dict[str, str]] = []
    lrs: list[float] = []
    for epoch in range(epochs):
        for g in opt.param_groups:
            g["lr"] = float(lr)
        seen, loss_sum, correct = 0, 0.0, 0
        for idx in minibatches(len(data.ytr), 32, gen):
            xb = shift_augment(data.xtr[idx], gen)
            outp = model(xb)
            loss = F.cross_entropy(outp, data.ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += int((outp.argmax(1) == data.ytr[idx]).sum())
        ev = evaluate(model, data.xva, data.yva)
        logged_lr = lr  # Keras ReduceLROnPlateau puts the current lr into logs before it reduces
        rows.append(
            {
                "epoch": str(epoch),
                "accuracy": repr(f32(correct / seen)),
                "loss": repr(f32(loss_sum / seen)),
                "lr": str(np.float32(logged_lr)),
                "val_accuracy": repr(f32(ev.acc)),
                "val_loss": repr(f32(ev.loss)),
            }
        )
        lrs.append(float(logged_lr))
        if ev.loss < best - min_delta:
            best, wait = ev.loss, 0
        else:
            wait += 1
            if wait >= patience:
                lr = np.float32(lr * factor)
                wait = 0
    with open(run_dir / "training.log", "w", newline="") as fh:  # csv.excel dialect: \r\n line ends
        writer = csv.DictWriter(fh, fieldnames=["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"])
        writer.writeheader()
        writer.writerows(rows)
    drops = [i for i in range(1, len(lrs)) if lrs[i] < lrs[i - 1]]
    return RunInfo(
        name="healthy_keras",
        format="keras_csv",
        files=["training.log"],
        epochs=epochs,
        epoch_base="0-based (Keras)",
        setup="CNN w16, SGD momentum 0.9 lr 0.03, weight decay 5e-4, 1-pixel shift augmentation, batch 32",
        mechanism="none (healthy); ReduceLROnPlateau(monitor=val_loss, factor=0.2, patience=3) lowers lr",
        facts={
            "lr_drops_at_epoch": drops,
            "final_val_accuracy": float(rows[-1]["val_accuracy"]),
            "final_val_loss": float(rows[-1]["val_loss"]),
        },
    )


# --------------------------------------------------------------------------------------------
# 2. healthy_tb: torch SummaryWriter, warm-up + cosine
# --------------------------------------------------------------------------------------------


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def run_healthy_tb(out: Path, data: Data) -> RunInfo:
    """Healthy AdamW run with warm-up + cosine, logged with torch.utils.tensorboard.SummaryWriter."""
    import torch
    from torch.nn import functional as F
    from torch.utils.tensorboard import SummaryWriter

    run_dir = out / "healthy_tb"
    clean_dir(run_dir)
    seed_everything(2)
    gen = torch.Generator().manual_seed(2)
    model = make_cnn(width=16, hidden=64)
    base_lr, epochs, bs = 3e-3, 40, 32
    steps_per_epoch = math.ceil(len(data.ytr) / bs)
    total = epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=base_lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, 3 * steps_per_epoch, total))
    writer = SummaryWriter(log_dir=str(run_dir))
    step = 0
    val_losses: list[float] = []
    for epoch in range(epochs):
        seen, loss_sum = 0, 0.0
        for idx in minibatches(len(data.ytr), bs, gen):
            xb = shift_augment(data.xtr[idx], gen)
            loss = F.cross_entropy(model(xb), data.ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            used_lr = opt.param_groups[0]["lr"]
            sched.step()
            writer.add_scalar("Loss/train_step", loss.item(), step)
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            step += 1
        ev = evaluate(model, data.xva, data.yva)
        writer.add_scalar("Loss/train", loss_sum / seen, epoch)
        writer.add_scalar("Loss/val", ev.loss, epoch)
        writer.add_scalar("Accuracy/val", ev.acc, epoch)
        writer.add_scalar("lr", used_lr, epoch)
        val_losses.append(ev.loss)
    writer.close()
    files = sorted(p.name for p in run_dir.iterdir())
    return RunInfo(
        name="healthy_tb",
        format="tensorboard",
        files=files,
        epochs=epochs,
        epoch_base="0-based (step of the per-epoch tags = epoch; Loss/train_step uses the global step)",
        setup=f"CNN w16, AdamW lr 3e-3 wd 0.05, batch 32 ({steps_per_epoch} steps/epoch), shift augmentation",
        mechanism="none (healthy); 3-epoch linear warm-up then cosine decay to 0, stepped per batch",
        facts={"steps_per_epoch": steps_per_epoch, "total_steps": total, "final_val_loss": val_losses[-1]},
    )


# --------------------------------------------------------------------------------------------
# 3. divergence_nan: HF trainer_state.json
# --------------------------------------------------------------------------------------------


def unstable_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Hand-written cross-entropy ``-log(softmax[target])``: inf once the target probability underflows to 0."""
    import torch

    probs = torch.softmax(logits, dim=-1)
    return -torch.log(probs.gather(1, target[:, None])).mean()


def run_divergence_nan(
    out: Path, data: Data, peak_lr: float = 0.1, warmup: int = 400, epochs: int = 12, seed: int = 3
) -> RunInfo:
    """AdamW with a peak lr far too high and a hand-written -log(softmax) loss: loss explodes, then NaN."""
    import torch

    run_dir = out / "divergence_nan"
    clean_dir(run_dir)
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    model = make_cnn(width=16, hidden=64, act="leaky")
    bs, logging_steps = 32, 10
    steps_per_epoch = math.ceil(len(data.ytr) / bs)
    max_steps = epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.0)

    def linear_with_warmup(s: int) -> float:
        """HF get_linear_schedule_with_warmup factor at step ``s``."""
        if s < warmup:
            return s / max(1, warmup)
        return max(0.0, (max_steps - s) / max(1, max_steps - warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_with_warmup)
    log_history: list[dict[str, Any]] = []
    step_losses: list[float] = []
    acc_loss, last_logged = 0.0, 0
    step = 0
    t_start = time.perf_counter()
    for epoch in range(epochs):
        batches = minibatches(len(data.ytr), bs, gen)
        for i, idx in enumerate(batches):
            loss = unstable_cross_entropy(model(data.xtr[idx]), data.ytr[idx])
            opt.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            value = loss.item()
            step_losses.append(value)
            acc_loss += value  # logging_nan_inf_filter=False: NaN/inf step losses are kept
            frac_epoch = epoch + (i + 1) / len(batches)
            if step % logging_steps == 0:
                log_history.append(
                    {
                        "epoch": frac_epoch,
                        "grad_norm": float(grad_norm),
                        "learning_rate": sched.get_last_lr()[0],
                        "loss": round(acc_loss / (step - last_logged), 4),
                        "step": step,
                    }
                )
                acc_loss, last_logged = 0.0, step
        t0 = time.perf_counter()
        ev = evaluate(model, data.xva, data.yva, loss_fn=unstable_cross_entropy, batch_size=32)
        runtime = time.perf_counter() - t0
        log_history.append(
            {
                "epoch": float(epoch + 1),
                "eval_accuracy": ev.acc,
                "eval_loss": ev.loss,
                "eval_runtime": round(runtime, 4),
                "eval_samples_per_second": round(len(data.yva) / runtime, 3),
                "eval_steps_per_second": round(ev.batches / runtime, 3),
                "step": step,
            }
        )
    train_runtime = time.perf_counter() - t_start
    log_history.append(
        {
            "epoch": float(epochs),
            "step": step,
            "total_flos": 0.0,
            "train_loss": sum(step_losses) / len(step_losses),
            "train_runtime": round(train_runtime, 4),
            "train_samples_per_second": round(epochs * len(data.ytr) / train_runtime, 3),
            "train_steps_per_second": round(step / train_runtime, 3),
        }
    )
    state = {
        "best_global_step": None,
        "best_metric": None,
        "best_model_checkpoint": None,
        "epoch": float(epochs),
        "eval_steps": 500,
        "global_step": step,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": log_history,
        "logging_steps": logging_steps,
        "max_steps": max_steps,
        "num_input_tokens_seen": 0,
        "num_train_epochs": epochs,
        "save_steps": 500,
        "stateful_callbacks": {
            "TrainerControl": {
                "args": {
                    "should_epoch_stop": False,
                    "should_evaluate": False,
                    "should_log": False,
                    "should_save": True,
                    "should_training_stop": True,
                },
                "attributes": {},
            }
        },
        "total_flos": 0.0,
        "train_batch_size": bs,
        "trial_name": None,
        "trial_params": None,
    }
    with open(run_dir / "trainer_state.json", "w") as fh:
        json.dump(state, fh, indent=2, sort_keys=True)  # NaN -> bare NaN, like TrainerState.save_to_json
        fh.write("\n")

    train_rows = [r for r in log_history if "loss" in r]
    eval_rows = [r for r in log_history if "eval_loss" in r]
    losses = [r["loss"] for r in train_rows]
    i_nan = first_nonfinite(losses)
    i_div = divergence_onset(losses)
    e_nan = first_nonfinite([r["eval_loss"] for r in eval_rows])
    labels: list[Label] = []
    if i_div is not None:
        r = train_rows[i_div]
        labels.append(
            Label(
                kind="divergence",
                metric="loss",
                split="train",
                column="loss",
                onset_step=r["step"],
                onset_epoch=r["epoch"],
                note="first logged train row after the loss minimum from which the loss stays above 2x that minimum "
                "(the lr warm-up keeps raising the AdamW lr towards 0.1)",
            )
        )
    if i_nan is not None:
        r = train_rows[i_nan]
        labels.append(
            Label(
                kind="non_finite",
                metric="loss",
                split="train",
                column="loss",
                onset_step=r["step"],
                onset_epoch=r["epoch"],
                note="first logged train loss that is NaN; -log(softmax) hit log(0)=inf, its gradient NaN poisons "
                "every weight through clip_grad_norm_",
            )
        )
        gn = [r["grad_norm"] for r in train_rows]
        j = first_nonfinite(gn)
        if j is not None:
            labels.append(
                Label(
                    kind="non_finite",
                    metric="grad_norm",
                    split="other",
                    column="grad_norm",
                    onset_step=train_rows[j]["step"],
                    onset_epoch=train_rows[j]["epoch"],
                    note="first logged grad_norm that is NaN",
                )
            )
    if e_nan is not None:
        r = eval_rows[e_nan]
        labels.append(
            Label(
                kind="non_finite",
                metric="loss",
                split="val",
                column="eval_loss",
                onset_step=r["step"],
                onset_epoch=r["epoch"],
                note="first eval row with eval_loss NaN",
            )
        )
    nan_step = next((s for s, v in enumerate(step_losses, start=1) if not math.isfinite(v)), None)
    return RunInfo(
        name="divergence_nan",
        format="hf_trainer_state",
        files=["trainer_state.json"],
        epochs=epochs,
        epoch_base="fractional (HF state.epoch); eval rows at whole epochs",
        setup=(
            f"CNN w16 with LeakyReLU, AdamW peak lr {peak_lr} (meant 1e-4), linear schedule with {warmup} warm-up "
            f"steps, max_grad_norm 1.0, batch {bs} ({steps_per_epoch} steps/epoch), logging_steps {logging_steps}, "
            "logging_nan_inf_filter=False, eval every epoch"
        ),
        mechanism="lr far too high + numerically unstable hand-written loss -log(softmax(logits)[target])",
        findings=labels,
        facts={"first_nonfinite_step_loss_at_step": nan_step, "max_steps": max_steps},
    )


# --------------------------------------------------------------------------------------------
# 4. overfitting: Lightning CSVLogger metrics.csv
# --------------------------------------------------------------------------------------------


def _csv_value(v: float | int | None) -> str:
    """A cell as Lightning's CSV writer prints it: empty when missing, ``repr`` of a float."""
    if v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    return repr(v)


def run_overfitting(out: Path, data: Data) -> RunInfo:
    """A wide CNN memorizes 150 training images (20% mislabelled) without regularization: validation loss turns up."""
    import torch
    from torch.nn import functional as F

    run_dir = out / "overfitting" / "lightning_logs" / "version_0"
    clean_dir(out / "overfitting")
    run_dir.mkdir(parents=True)
    seed_everything(4)
    gen = torch.Generator().manual_seed(4)
    # 15 images per class, fixed
    idx_all: list[int] = []
    for c in range(N_CLASSES):
        idx_all += [int(i) for i in torch.nonzero(data.ytr == c).flatten()[:15]]
    xs, ys = data.xtr[idx_all], data.ytr[idx_all].clone()
    # 20% annotation noise in the small labelled subset: 30 labels moved to another class
    noise_gen = torch.Generator().manual_seed(44)
    flip = torch.randperm(len(ys), generator=noise_gen)[: len(ys) // 5]
    ys[flip] = (ys[flip] + torch.randint(1, N_CLASSES, (len(flip),), generator=noise_gen)) % N_CLASSES
    model = make_cnn(width=48, hidden=256)
    epochs, bs, log_every = 60, 16, 50
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rows: list[dict[str, float | int | None]] = []
    step = 0
    val_losses: list[float] = []
    train_epoch_losses: list[float] = []
    for epoch in range(epochs):
        seen, loss_sum, correct = 0, 0.0, 0
        for idx in minibatches(len(ys), bs, gen):
            outp = model(xs[idx])
            loss = F.cross_entropy(outp, ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            acc = float((outp.argmax(1) == ys[idx]).float().mean())
            if (step + 1) % log_every == 0:
                rows.append({"epoch": epoch, "step": step, "train_loss_step": f32(loss.item()), "train_acc_step": f32(acc)})
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += int((outp.argmax(1) == ys[idx]).sum())
            step += 1
        ev = evaluate(model, data.xva, data.yva)
        rows.append({"epoch": epoch, "step": step - 1, "val_loss": f32(ev.loss), "val_acc": f32(ev.acc)})
        rows.append(
            {"epoch": epoch, "step": step - 1, "train_loss_epoch": f32(loss_sum / seen), "train_acc_epoch": f32(correct / seen)}
        )
        val_losses.append(f32(ev.loss))
        train_epoch_losses.append(f32(loss_sum / seen))
    header = sorted({k for r in rows for k in r})
    with open(run_dir / "metrics.csv", "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for r in rows:
            writer.writerow([_csv_value(r.get(k)) for k in header])
    (run_dir / "hparams.yaml").write_text(
        "batch_size: 16\nhidden: 256\nlabel_noise: 0.2\nlr: 0.001\noptimizer: Adam\n"
        "train_subset: 150\nweight_decay: 0.0\nwidth: 48\n"
    )
    onset = overfitting_onset(val_losses)
    labels: list[Label] = []
    if onset is not None:
        i_min = onset - 1
        labels.append(
            Label(
                kind="overfitting",
                metric="loss",
                split="val",
                column="val_loss",
                onset_epoch=onset,
                onset_step=(onset + 1) * math.ceil(len(ys) / bs) - 1,
                note=(
                    f"val_loss minimum {val_losses[i_min]:.4f} at epoch {i_min}, never reached again, "
                    f"{val_losses[-1]:.4f} at the end; train_loss_epoch keeps falling "
                    f"({train_epoch_losses[i_min]:.4f} -> {train_epoch_losses[-1]:.5f})"
                ),
            )
        )
    return RunInfo(
        name="overfitting",
        format="lightning_csv",
        files=["lightning_logs/version_0/metrics.csv", "lightning_logs/version_0/hparams.yaml"],
        epochs=epochs,
        epoch_base="0-based (Lightning); step is the global step, epoch rows carry the last step of the epoch",
        setup="wide CNN w48 hidden 256, Adam lr 1e-3, no weight decay, no augmentation, batch 16, "
        "150 training images (15 per class, 30 of them with a wrong label), validation on 500 clean images",
        mechanism="tiny, noisily labelled training set + large model + no regularization + long training: "
        "the network memorizes the wrong labels",
        findings=labels,
        facts={"steps_per_epoch": math.ceil(len(ys) / bs), "log_every_n_steps": log_every},
    )


# --------------------------------------------------------------------------------------------
# 5. plateau: YOLOv5-classify results.csv (GenericLogger, width 23)
# --------------------------------------------------------------------------------------------


def run_plateau(out: Path, data: Data) -> RunInfo:
    """ReduceLROnPlateau left in mode='min' but fed top-1 accuracy: lr is cut every 3 epochs, learning stops."""
    import torch
    from torch.nn import functional as F

    run_dir = out / "plateau"
    clean_dir(run_dir)
    seed_everything(5)
    gen = torch.Generator().manual_seed(5)
    model = make_cnn(width=16, hidden=64)
    epochs, bs = 40, 32
    opt = torch.optim.Adam(model.parameters(), lr=2.5e-4)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=2)
    lines: list[str] = []
    keys = ["train/loss", "val/loss", "metrics/accuracy_top1", "metrics/accuracy_top5", "lr/0"]
    n = len(keys) + 1
    lines.append(("%23s," * n % tuple(["epoch"] + keys)).rstrip(","))
    tl_hist: list[float] = []
    lr_hist: list[float] = []
    for epoch in range(epochs):
        tloss = 0.0
        for i, idx in enumerate(minibatches(len(data.ytr), bs, gen)):
            loss = F.cross_entropy(model(data.xtr[idx]), data.ytr[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
            opt.step()
            tloss = (tloss * i + loss.item()) / (i + 1)
        ev = evaluate(model, data.xva, data.yva, loss_fn=lambda o, t: F.cross_entropy(o, t, label_smoothing=0.1))
        sched.step(ev.acc)  # the bug: accuracy fed to a mode='min' scheduler
        lr_now = opt.param_groups[0]["lr"]
        vals = [tloss, ev.loss, ev.acc, ev.top5, lr_now]
        lines.append(("%23.5g," * n % tuple([epoch] + vals)).rstrip(","))
        tl_hist.append(tloss)
        lr_hist.append(lr_now)
    (run_dir / "results.csv").write_text("\n".join(lines) + "\n")
    onset = plateau_onset(tl_hist)
    labels: list[Label] = []
    if onset is not None:
        labels.append(
            Label(
                kind="plateau",
                metric="loss",
                split="train",
                column="train/loss",
                onset_epoch=onset,
                note=(
                    f"first epoch after which train/loss never improves by more than 5% of the drop made so far "
                    f"({tl_hist[0]:.3f} -> {tl_hist[onset]:.3f}, final {tl_hist[-1]:.3f}); lr/0 is "
                    f"{lr_hist[onset]:.1e} there (ReduceLROnPlateau cut it every 3 epochs)"
                ),
            )
        )
    cuts = [i for i in range(1, len(lr_hist)) if lr_hist[i] < lr_hist[i - 1] * 0.99]
    return RunInfo(
        name="plateau",
        format="yolov5_cls_results_csv",
        files=["results.csv"],
        epochs=epochs,
        epoch_base="0-based (YOLOv5); lr/0 is logged after scheduler.step(), i.e. the lr of the next epoch",
        setup="CNN w16, Adam lr 2.5e-4, label smoothing 0.1, grad clip 10, batch 32; YOLOv5-classify-style "
        "results.csv (GenericLogger: fields right-aligned to width 23, %.5g)",
        mechanism="ReduceLROnPlateau(mode='min', factor=0.1, patience=2) stepped with top-1 accuracy: a rising "
        "accuracy never counts as an improvement, so lr is divided by 10 every 3 epochs and reaches ~0",
        findings=labels,
        facts={"lr_cut_after_epochs": [c - 1 for c in cuts], "final_lr": lr_hist[-1]},
    )


# --------------------------------------------------------------------------------------------
# 6. collapse: mmcls-style .log.json (mmcv TextLoggerHook)
# --------------------------------------------------------------------------------------------


def run_collapse(out: Path, data: Data) -> RunInfo:
    """mmcv step lr policy with ``gamma=10`` (meant 0.1): lr x10 at epoch 9 kills every ReLU, output constant."""
    import torch
    from torch.nn import functional as F

    run_dir = out / "collapse"
    clean_dir(run_dir)
    seed_everything(6)
    gen = torch.Generator().manual_seed(6)
    model = make_cnn(width=16, hidden=64)
    base_lr, gamma, step_at, epochs, bs, interval = 0.05, 10.0, 8, 24, 32, 10
    opt = torch.optim.SGD(model.parameters(), lr=base_lr, momentum=0.9, weight_decay=1e-4)
    config = (
        "model = dict(type='ImageClassifier', backbone=dict(type='TinyCNN', width=16, hidden=64), "
        "head=dict(type='LinearClsHead', num_classes=10, loss=dict(type='CrossEntropyLoss', loss_weight=1.0), "
        "topk=(1, 5)))\n"
        "dataset_type = 'Digits8x8'\n"
        "data = dict(samples_per_gpu=32, workers_per_gpu=0)\n"
        "evaluation = dict(interval=1, metric='accuracy')\n"
        f"optimizer = dict(type='SGD', lr={base_lr}, momentum=0.9, weight_decay=0.0001)\n"
        "optimizer_config = dict(grad_clip=None)\n"
        f"lr_config = dict(policy='step', step=[{step_at}], gamma={gamma})\n"
        f"runner = dict(type='EpochBasedRunner', max_epochs={epochs})\n"
        f"log_config = dict(interval={interval}, hooks=[dict(type='TextLoggerHook')])\n"
        "work_dir = './work_dirs/tinycnn_digits'\n"
        "seed = 6\n"
    )
    t_launch = time.time()
    lines = [json.dumps({"env_info": env_text(), "config": config, "seed": 6, "exp_name": "tinycnn_digits.py"})]
    accs: list[float] = []
    val_epochs: list[int] = []
    train_loss_by_epoch: list[float] = []
    lrs: list[float] = []
    for epoch in range(epochs):
        lr = base_lr * (gamma ** (1 if epoch >= step_at else 0))  # mmcv StepLrUpdaterHook, by_epoch
        for g in opt.param_groups:
            g["lr"] = lr
        lrs.append(lr)
        buf: dict[str, list[float]] = {"data_time": [], "loss": [], "time": []}
        batches = minibatches(len(data.ytr), bs, gen)
        t_prev = time.perf_counter()
        epoch_losses: list[float] = []
        for inner, idx in enumerate(batches):
            t_data = time.perf_counter()
            xb, yb = data.xtr[idx], data.ytr[idx]
            data_time = time.perf_counter() - t_data
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            now = time.perf_counter()
            buf["data_time"].append(data_time)
            buf["loss"].append(loss.item())
            buf["time"].append(now - t_prev)
            t_prev = now
            epoch_losses.append(loss.item())
            if (inner + 1) % interval == 0:
                rec: dict[str, Any] = {"mode": "train", "epoch": epoch + 1, "iter": inner + 1, "lr": round(lr, 5)}
                for k in ("data_time", "loss", "time"):
                    rec[k] = round(sum(buf[k]) / len(buf[k]), 5)
                lines.append(json.dumps(rec))
                buf = {"data_time": [], "loss": [], "time": []}
        ev = evaluate(model, data.xva, data.yva)
        lines.append(
            json.dumps(
                {
                    "mode": "val",
                    "epoch": epoch + 1,
                    "iter": len(batches),
                    "lr": round(lr, 5),
                    "accuracy_top-1": round(f32(ev.acc * 100), 5),
                    "accuracy_top-5": round(f32(ev.top5 * 100), 5),
                }
            )
        )
        accs.append(ev.acc)
        val_epochs.append(epoch + 1)
        train_loss_by_epoch.append(sum(epoch_losses) / len(epoch_losses))
    log_name = time.strftime("%Y%m%d_%H%M%S", time.localtime(t_launch)) + ".log.json"  # mmcv: launch time
    (run_dir / log_name).write_text("\n".join(lines) + "\n")
    i = collapse_onset(accs)
    labels: list[Label] = []
    if i is not None:
        after = train_loss_by_epoch[i + 1 :]
        labels.append(
            Label(
                kind="collapse",
                metric="accuracy_top-1",
                split="val",
                column="accuracy_top-1",
                onset_epoch=val_epochs[i],
                note=(
                    f"first val row from which accuracy_top-1 stays within 5 points of chance (10%): "
                    f"{accs[i] * 100:.1f}% at epoch {val_epochs[i]}, {accs[-1] * 100:.1f}% at the end; "
                    f"value in percent as mmcls writes it"
                ),
            )
        )
        labels.append(
            Label(
                kind="collapse",
                metric="loss",
                split="train",
                column="loss",
                onset_epoch=val_epochs[i],
                note=(
                    f"train loss pinned at ln(10)={LN_C:.4f} after the collapse (epoch means "
                    f"{min(after):.3f}..{max(after):.3f}); lr was raised 10x at epoch {step_at + 1}"
                ),
            )
        )
    return RunInfo(
        name="collapse",
        format="mmcv_log_json",
        files=[log_name],
        epochs=epochs,
        epoch_base="1-based (mmcv); iter restarts every epoch; val rows carry iter = train batches per epoch",
        setup=f"CNN w16 ReLU, SGD momentum 0.9 lr {base_lr}, wd 1e-4, batch {bs}, log interval {interval}",
        mechanism=(
            f"lr_config=dict(policy='step', step=[{step_at}], gamma={gamma}) (meant gamma=0.1): from epoch "
            f"{step_at + 1} the lr is {base_lr * gamma:g}, one large step drives every ReLU negative (dead units), "
            "the network outputs the same logits for every image"
        ),
        findings=labels,
        facts={"lr_raised_at_epoch": step_at + 1},
    )


# --------------------------------------------------------------------------------------------
# 7. spike: DeiT-style log.txt
# --------------------------------------------------------------------------------------------


def run_spike(out: Path, data: Data) -> RunInfo:
    """One batch of un-normalized images (pixels 0..255 instead of 0..1) at a known step: loss spikes, recovers."""
    import torch
    from torch.nn import functional as F

    run_dir = out / "spike"
    clean_dir(run_dir)
    seed_everything(7)
    gen = torch.Generator().manual_seed(7)
    model = make_cnn(width=16, hidden=64)
    n_params = sum(p.numel() for p in model.parameters())
    epochs, bs, base_lr, warmup_epochs = 30, 32, 1e-3, 2
    spike_epoch, spike_batch = 12, 17
    opt = torch.optim.AdamW(model.parameters(), lr=base_lr, weight_decay=0.05)

    def lr_at(epoch: int) -> float:
        """timm-style per-epoch lr: linear warm-up then cosine to 1e-5."""
        if epoch < warmup_epochs:
            return base_lr * (epoch + 1) / warmup_epochs
        progress = (epoch - warmup_epochs) / (epochs - warmup_epochs)
        return 1e-5 + 0.5 * (base_lr - 1e-5) * (1 + math.cos(math.pi * progress))

    lines: list[str] = []
    train_hist: list[float] = []
    test_hist: list[float] = []
    spike_step = None
    step = 0
    for epoch in range(epochs):
        lr = lr_at(epoch)
        for g in opt.param_groups:
            g["lr"] = lr
        losses: list[float] = []
        for i, idx in enumerate(minibatches(len(data.ytr), bs, gen)):
            xb = data.xtr[idx]
            if epoch == spike_epoch and i == spike_batch:
                xb = xb * 255.0  # this batch skipped the /255 normalization
                spike_step = step
            loss = F.cross_entropy(model(xb), data.ytr[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        ev = evaluate(model, data.xva, data.yva)
        stats = {
            "train_lr": lr,
            "train_loss": sum(losses) / len(losses),
            "test_loss": ev.loss,
            "test_acc1": ev.acc * 100.0,
            "test_acc5": ev.top5 * 100.0,
            "epoch": epoch,
            "n_parameters": n_params,
        }
        lines.append(json.dumps(stats))
        train_hist.append(stats["train_loss"])
        test_hist.append(ev.loss)
    (run_dir / "log.txt").write_text("\n".join(lines) + "\n")
    labels = []
    base_train = min(train_hist[spike_epoch - 3 : spike_epoch])
    end_train = recovery_index(train_hist, spike_epoch, base_train)
    labels.append(
        Label(
            kind="spike",
            metric="loss",
            split="train",
            column="train_loss",
            onset_epoch=spike_epoch,
            end_epoch=end_train,
            note=(
                f"batch {spike_batch} of epoch {spike_epoch} (global step {spike_step}) fed x255 pixels; epoch-mean "
                f"train_loss {train_hist[spike_epoch - 1]:.3f} -> {train_hist[spike_epoch]:.3f}, back within 15% of "
                f"the pre-spike level at epoch {end_train}"
            ),
        )
    )
    base_test = min(test_hist[spike_epoch - 3 : spike_epoch])
    if test_hist[spike_epoch] > 1.5 * base_test:
        end_test = recovery_index(test_hist, spike_epoch, base_test)
        labels.append(
            Label(
                kind="spike",
                metric="loss",
                split="test",
                column="test_loss",
                onset_epoch=spike_epoch,
                end_epoch=end_test,
                note=(
                    f"the weights hit by the bad batch also raise test_loss {test_hist[spike_epoch - 1]:.3f} -> "
                    f"{test_hist[spike_epoch]:.3f}, recovered at epoch {end_test}; split is 'test' because DeiT "
                    "prefixes validation metrics with test_"
                ),
            )
        )
    return RunInfo(
        name="spike",
        format="deit_log_txt",
        files=["log.txt"],
        epochs=epochs,
        epoch_base="0-based (DeiT/MAE log.txt, one JSON object per epoch; accuracies in percent)",
        setup="CNN w16, AdamW lr 1e-3 wd 0.05, 2 warm-up epochs then cosine (per epoch), label smoothing 0.1, batch 32",
        mechanism=f"one training batch without input normalization (x255) at epoch {spike_epoch}, batch {spike_batch}",
        findings=labels,
        facts={"spike_global_step": spike_step},
    )


def spike_end_step(values: Sequence[float], start: int, window: int = 10, tol: float = 0.5) -> int | None:
    """First index after ``start`` where the mean of the next ``window`` values is back within ``tol`` of the
    mean of the ``window`` values before ``start``."""
    if start < window:
        return None
    base = sum(values[start - window : start]) / window
    for j in range(start + 1, len(values) - window + 1):
        if sum(values[j : j + window]) / window <= base * (1.0 + tol):
            return j
    return None


def run_spike_tb(out: Path, data: Data, scale: float = 16.0, clip: float | None = 20.0) -> RunInfo:
    """One batch paired with the labels of the next sample (an off-by-one label shard) at a known step."""
    import torch
    from torch.nn import functional as F
    from torch.utils.tensorboard import SummaryWriter

    run_dir = out / "spike_tb"
    clean_dir(run_dir)
    seed_everything(10)
    gen = torch.Generator().manual_seed(10)
    model = make_cnn(width=16, hidden=64)
    epochs, bs, lr = 20, 32, 0.05
    bad_epoch, bad_batch = 9, 20
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    writer = SummaryWriter(log_dir=str(run_dir))
    step, bad_step = 0, -1
    step_losses: list[float] = []
    val_losses: list[float] = []
    val_steps: list[int] = []
    for epoch in range(epochs):
        for i, idx in enumerate(minibatches(len(data.ytr), bs, gen)):
            xb, yb = shift_augment(data.xtr[idx], gen), data.ytr[idx]
            if epoch == bad_epoch and i == bad_batch:
                xb = data.xtr[idx] * scale  # raw 0..16 pixel values of this shard: no /16 scaling
                yb = torch.roll(yb, 1)  # and its labels are off by one sample
                bad_step = step
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            writer.add_scalar("train/loss", loss.item(), step)
            writer.add_scalar("train/lr", opt.param_groups[0]["lr"], step)
            step_losses.append(loss.item())
            step += 1
        ev = evaluate(model, data.xva, data.yva)
        writer.add_scalar("val/loss", ev.loss, step - 1)
        writer.add_scalar("val/accuracy", ev.acc, step - 1)
        val_losses.append(ev.loss)
        val_steps.append(step - 1)
    writer.close()
    end = spike_end_step(step_losses, bad_step)
    steps_per_epoch = math.ceil(len(data.ytr) / bs)
    labels = [
        Label(
            kind="spike",
            metric="loss",
            split="train",
            column="train/loss",
            onset_step=bad_step,
            onset_epoch=bad_epoch,
            end_step=end,
            note=(
                f"step {bad_step} trains on one batch of un-scaled pixels with labels shifted by one: loss "
                f"{step_losses[bad_step - 1]:.3f} -> {step_losses[bad_step]:.1f}; the next steps stay high until step "
                f"{end} (first step whose next-10 mean is within 50% of the 10 steps before the spike)"
            ),
        )
    ]
    base_val = min(val_losses[bad_epoch - 3 : bad_epoch])
    if val_losses[bad_epoch] > 2.0 * base_val:
        end_val = recovery_index(val_losses, bad_epoch, base_val)
        labels.append(
            Label(
                kind="spike",
                metric="loss",
                split="val",
                column="val/loss",
                onset_step=val_steps[bad_epoch],
                onset_epoch=bad_epoch,
                end_step=None if end_val is None else val_steps[end_val],
                end_epoch=end_val,
                note=(
                    f"val/loss at the end of epoch {bad_epoch} jumps {val_losses[bad_epoch - 1]:.3f} -> "
                    f"{val_losses[bad_epoch]:.3f} and is back within 15% of the pre-spike minimum at epoch {end_val}"
                ),
            )
        )
    return RunInfo(
        name="spike_tb",
        format="tensorboard",
        files=sorted(p.name for p in run_dir.iterdir()),
        epochs=epochs,
        epoch_base=f"no epoch tag; step = global batch index ({steps_per_epoch} per epoch, 0-based); val tags at the "
        "last step of each epoch",
        setup=f"CNN w16, SGD momentum 0.9 lr {lr}, wd 1e-4, grad clip max_norm {clip}, shift augmentation, batch {bs}; "
        "tags train/loss and "
        "train/lr every step, val/loss and val/accuracy every epoch",
        mechanism=f"one corrupted batch at epoch {bad_epoch}, batch {bad_batch}: raw pixel scale x16 and labels "
        "rolled by one",
        findings=labels,
        facts={"steps_per_epoch": steps_per_epoch},
    )


# --------------------------------------------------------------------------------------------
# 8. slowdown: ultralytics >= 8.1 classify results.csv (cumulative time)
# --------------------------------------------------------------------------------------------


def elastic_deform(img: np.ndarray, rng: np.random.Generator, up: int = 2, alpha: float = 3.0, sigma: float = 2.0) -> np.ndarray:
    """Elastic deformation of one 8x8 image at ``up`` x resolution (scipy, per sample, in the main process)."""
    from scipy import ndimage

    big = ndimage.zoom(img, up, order=3)
    h, w = big.shape
    dx = ndimage.gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma) * alpha
    dy = ndimage.gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma) * alpha
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    warped = ndimage.map_coordinates(big, [yy + dy, xx + dx], order=3, mode="constant")
    return warped.reshape(img.shape[0], up, img.shape[1], up).mean(axis=(1, 3)).astype(np.float32)


def run_slowdown(out: Path, data: Data) -> RunInfo:
    """From epoch 13 a per-sample elastic augmentation runs in the input pipeline: every epoch takes longer."""
    import torch
    from torch.nn import functional as F

    run_dir = out / "slowdown"
    clean_dir(run_dir)
    seed_everything(8)
    gen = torch.Generator().manual_seed(8)
    rng = np.random.default_rng(8)
    model = make_cnn(width=16, hidden=64, bn=True)
    epochs, bs, warmup_epochs, lrf, aug_from = 30, 32, 3, 0.01, 13  # aug_from is 1-based like the file
    lr0 = round(0.002 * 5 / (4 + N_CLASSES), 6)  # ultralytics optimizer='auto' -> AdamW with this lr
    decay, no_decay_bn, biases = [], [], []
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            no_decay_bn.append(mod.weight)
            biases.append(mod.bias)
        elif isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            decay.append(mod.weight)
            biases.append(mod.bias)
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": 5e-4},
            {"params": no_decay_bn, "weight_decay": 0.0},
            {"params": biases, "weight_decay": 0.0},
        ],
        lr=lr0,
        betas=(0.9, 0.999),
    )
    nb = math.ceil(len(data.ytr) / bs)
    nw = max(round(warmup_epochs * nb), 100)

    def lf(e: int) -> float:
        """ultralytics linear lr factor for epoch ``e`` (0-based)."""
        return max(1 - e / epochs, 0) * (1.0 - lrf) + lrf

    for g in opt.param_groups:
        g["initial_lr"] = lr0
    keys = ["train/loss", "metrics/accuracy_top1", "metrics/accuracy_top5", "val/loss", "lr/pg0", "lr/pg1", "lr/pg2"]
    ncol = len(keys) + 2
    lines = [("%s," * ncol % tuple(["epoch", "time"] + keys)).rstrip(",")]
    cum: list[float] = []
    train_time_start = time.time()
    for epoch in range(epochs):
        tloss = 0.0
        for i, idx in enumerate(minibatches(len(data.ytr), bs, gen)):
            ni = i + nb * epoch
            if ni <= nw:  # ultralytics warm-up: bias lr falls from 0.1, others rise from 0
                for j, g in enumerate(opt.param_groups):
                    start = 0.1 if j == 2 else 0.0
                    g["lr"] = float(np.interp(ni, [0, nw], [start, g["initial_lr"] * lf(epoch)]))
            xb = data.xtr[idx]
            if epoch + 1 >= aug_from:
                xb = torch.from_numpy(np.stack([elastic_deform(im[0].numpy(), rng)[None] for im in xb]))
            loss = F.cross_entropy(model(xb), data.ytr[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
            opt.step()
            tloss = (tloss * i + loss.item()) / (i + 1)
        lr_log = [g["lr"] for g in opt.param_groups]
        ev = evaluate(model, data.xva, data.yva)
        t = time.time() - train_time_start
        vals = [tloss, ev.acc, ev.top5, ev.loss] + lr_log
        lines.append(("%.6g," * ncol % tuple([epoch + 1, t] + vals)).rstrip(","))
        cum.append(float(f"{t:.6g}"))
        for g in opt.param_groups:  # scheduler.step() after the epoch
            g["lr"] = g["initial_lr"] * lf(epoch + 1)
    (run_dir / "results.csv").write_text("\n".join(lines) + "\n")
    durations = [cum[0]] + [cum[i] - cum[i - 1] for i in range(1, len(cum))]
    measured = slowdown_onset(durations)
    before = statistics.median(durations[: aug_from - 1])
    after = statistics.median(durations[aug_from - 1 :])
    labels = [
        Label(
            kind="slowdown",
            metric="time",
            split="other",
            column="time",
            onset_epoch=aug_from,
            note=(
                f"the epoch the elastic augmentation was switched on; per-epoch time (difference of the cumulative "
                f"time column) goes from a median {before:.2f}s before to {after:.2f}s after "
                f"({after / before:.1f}x). Measured onset (first epoch from which every epoch takes >1.5x the median "
                f"before it): epoch {None if measured is None else measured + 1} (host load adds noise)"
            ),
        )
    ]
    return RunInfo(
        name="slowdown",
        format="ultralytics_results_csv",
        files=["results.csv"],
        epochs=epochs,
        epoch_base="1-based (ultralytics); time = seconds since training start, cumulative",
        setup=f"CNN w16 + BatchNorm, AdamW lr {lr0} (ultralytics 'auto'), 3 param groups, {warmup_epochs} warm-up "
        f"epochs, linear decay to lrf={lrf}, batch {bs}",
        mechanism=f"from epoch {aug_from} a per-sample elastic deformation (scipy zoom + gaussian_filter + "
        "map_coordinates) runs in the training input pipeline",
        findings=labels,
        facts={
            "augmentation_from_epoch": aug_from,
            "measured_onset_epoch": None if measured is None else measured + 1,
            "median_epoch_seconds_before": round(before, 3),
            "median_epoch_seconds_after": round(after, 3),
        },
    )


# --------------------------------------------------------------------------------------------
# 9. healthy_detectron2: metrics.json (JSONWriter), WarmupMultiStepLR
# --------------------------------------------------------------------------------------------


def run_healthy_detectron2(out: Path, data: Data) -> RunInfo:
    """Healthy iteration-based SGD run with detectron2's warm-up + multi-step lr, written like JSONWriter."""
    import torch
    from torch.nn import functional as F

    run_dir = out / "healthy_detectron2"
    clean_dir(run_dir)
    seed_everything(9)
    gen = torch.Generator().manual_seed(9)
    model = make_cnn(width=16, hidden=64)
    base_lr, max_iter, warmup_iters, steps, gamma, period, eval_period = 0.02, 1600, 100, (1000, 1350), 0.1, 20, 200
    opt = torch.optim.SGD(model.parameters(), lr=base_lr, momentum=0.9, weight_decay=1e-4)

    def lr_at(it: int) -> float:
        """detectron2 WarmupMultiStepLR at iteration ``it``."""
        factor = 1.0
        if it < warmup_iters:
            alpha = it / warmup_iters
            factor = 0.001 * (1 - alpha) + alpha
        return base_lr * factor * gamma ** sum(1 for s in steps if it >= s)

    history: dict[str, list[tuple[int, float]]] = {k: [] for k in ("total_loss", "loss_cls", "time", "data_time")}
    lines: list[str] = []
    written_up_to = -1
    pending_eval: dict[int, dict[str, float]] = {}
    batches: list[torch.Tensor] = []
    t_start = time.perf_counter()
    t_prev = t_start
    for it in range(max_iter):
        t0 = time.perf_counter()
        if not batches:
            batches = minibatches(len(data.ytr), 32, gen, drop_last=True)
        idx = batches.pop(0)
        xb, yb = data.xtr[idx], data.ytr[idx]
        data_time = time.perf_counter() - t0
        lr = lr_at(it)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        now = time.perf_counter()
        for k, v in (("total_loss", loss.item()), ("loss_cls", loss.item()), ("time", now - t_prev), ("data_time", data_time)):
            history[k].append((it, v))
        t_prev = now
        if (it + 1) % eval_period == 0:
            ev = evaluate(model, data.xva, data.yva)
            pending_eval[it] = {"validation_loss": ev.loss, "validation_accuracy": ev.acc}
        if (it + 1) % period == 0 or it == max_iter - 1:
            rec: dict[str, Any] = {}
            for k, hist in history.items():
                rec[k] = statistics.median(v for _, v in hist[-20:])
            rec["lr"] = lr
            rec["iteration"] = it
            secs_per_iter = statistics.median(v for _, v in history["time"][-20:])
            rec["eta_seconds"] = secs_per_iter * (max_iter - it - 1)
            for e_it in sorted(pending_eval):
                if e_it > written_up_to:
                    rec.update(pending_eval[e_it])
            pending_eval.clear()
            lines.append(json.dumps(rec, sort_keys=True))
            written_up_to = it
    (run_dir / "metrics.json").write_text("\n".join(lines) + "\n")
    return RunInfo(
        name="healthy_detectron2",
        format="detectron2_metrics_json",
        files=["metrics.json"],
        epochs=round(max_iter * 32 / len(data.ytr)),
        epoch_base="no epoch column; iteration is 0-based (19, 39, ...), losses are medians of the last 20 iterations",
        setup=f"CNN w16, SGD momentum 0.9 base lr {base_lr}, wd 1e-4, batch 32, {max_iter} iterations; "
        f"validation_loss / validation_accuracy every {eval_period} iterations",
        mechanism=f"none (healthy); linear warm-up over {warmup_iters} iterations from 0.001x, lr x{gamma} at "
        f"iterations {list(steps)}",
        facts={"max_iter": max_iter},
    )


# --------------------------------------------------------------------------------------------
# Driver, LABELS.json and README.md
# --------------------------------------------------------------------------------------------

RUNS: dict[str, Callable[[Path, Data], RunInfo]] = {
    "healthy_keras": run_healthy_keras,
    "healthy_tb": run_healthy_tb,
    "healthy_detectron2": run_healthy_detectron2,
    "divergence_nan": run_divergence_nan,
    "overfitting": run_overfitting,
    "plateau": run_plateau,
    "collapse": run_collapse,
    "spike": run_spike,
    "spike_tb": run_spike_tb,
    "slowdown": run_slowdown,
}


def labels_document(infos: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The LABELS.json document."""
    return {
        "schema_version": 1,
        "generated_by": "scripts/make_sample_logs.py",
        "dataset": "scikit-learn load_digits (8x8, 10 classes): 1297 train / 500 validation images",
        "conventions": {
            "onset_epoch": "the epoch value as written in the run's log file (see each run's epoch_base)",
            "onset_step": "the step / iteration value as written in the log file, where the format has one",
            "split": "the split the normalized frame gives the series (train, val, test, other)",
            "metric": "normalized metric name (split prefix removed)",
            "column": "the raw column, key or tag in the file",
            "findings": "empty list = healthy run: no problem finding expected",
        },
        "runs": {name: infos[name] for name in sorted(infos)},
    }


def readme_text(doc: dict[str, Any]) -> str:
    """The sample_logs/README.md text, generated from the labels document."""
    out = [
        "# sample_logs: small real training runs with known problems",
        "",
        "Every directory here is a **real** training run of a tiny CNN (PyTorch, CPU) on scikit-learn's 8x8",
        "`load_digits` images (1797 hand-written digits, 10 classes; 1297 train / 500 validation), written in",
        "the format of a real logging tool. Each problem is caused by a real mechanism in the training loop;",
        "no logged number was edited. Regenerate everything with",
        "",
        "```",
        "python scripts/make_sample_logs.py          # a few minutes on 2 CPU cores",
        "```",
        "",
        "The machine-readable ground truth is `LABELS.json` (same data as the table below; onsets are computed",
        "from each run's own history by the pure functions at the top of the script, not guessed). Epochs and",
        "steps are given **as written in the file** (see the epoch base column). Timing columns (`time`,",
        "`wall_time`, `*_runtime`) are real measurements, so they change from one regeneration to the next.",
        "",
        "## Runs",
        "",
        "| run | format | files | epochs | epoch base | set-up | mechanism |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, run in doc["runs"].items():
        files = "<br>".join(f"`{f}`" for f in run["files"])
        out.append(
            f"| `{name}` | {run['format']} | {files} | {run['epochs']} | {run['epoch_base']} | {run['setup']} | "
            f"{run['mechanism']} |"
        )
    out += [
        "",
        "## Ground truth (expected findings)",
        "",
        "| run | kind | metric | split | column | onset epoch | onset step | end epoch | end step | how the onset was computed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, run in doc["runs"].items():
        if not run["findings"]:
            out.append(f"| `{name}` | *(none: healthy)* | | | | | | | | |")
            continue
        for f in run["findings"]:
            cells = [
                f"`{name}`",
                f["kind"],
                f["metric"],
                f["split"],
                f"`{f['column']}`",
                _cell(f.get("onset_epoch")),
                _cell(f.get("onset_step")),
                _cell(f.get("end_epoch")),
                _cell(f.get("end_step")),
                f["note"],
            ]
            out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        "## Notes on the formats",
        "",
        "- `healthy_keras/training.log`: Keras `CSVLogger` layout (header `epoch` + sorted keys, `\\r\\n` line ends,",
        "  metrics as float32 values printed in float64, `lr` printed as a float32 such as `0.00024000001`).",
        "- `healthy_tb/`: written by `torch.utils.tensorboard.SummaryWriter`; per-epoch tags `Loss/train`, `Loss/val`,",
        "  `Accuracy/val`, `lr` (step = epoch) and per-batch `Loss/train_step` (step = global step) in one file.",
        "- `divergence_nan/trainer_state.json`: HF `TrainerState.save_to_json` layout (`indent=2, sort_keys=True`),",
        "  train rows every 10 steps, eval rows per epoch, final summary row; NaN written as bare `NaN`.",
        "- `overfitting/lightning_logs/version_0/metrics.csv`: Lightning `CSVLogger` sparse rows (step rows every 50",
        "  steps with `*_step` columns, validation rows, `*_epoch` rows), sorted header.",
        "- `plateau/results.csv`: YOLOv5-classify `GenericLogger` (`%23s` header, `%23.5g` cells, 0-based epoch).",
        "- `collapse/*.log.json`: mmcv `TextLoggerHook` JSON lines (header line with `env_info`/`config`/`seed`,",
        "  1-based epoch, per-epoch `iter`, floats rounded to 5 decimals, mmcls `accuracy_top-1` in percent).",
        "- `spike/log.txt`: DeiT/MAE `log.txt` (one JSON object per epoch, `train_*`/`test_*` keys, accuracy in percent).",
        "- `slowdown/results.csv`: ultralytics >= 8.1 classify `results.csv` (`epoch,time,...`, `%.6g`, 1-based epoch,",
        "  cumulative `time` in seconds).",
        "- `healthy_detectron2/metrics.json`: detectron2 `JSONWriter` lines (`sort_keys=True`, iteration 19, 39, ...,",
        "  losses and times as medians of the last 20 iterations, validation keys merged into their iteration's line).",
        "",
    ]
    return "\n".join(out)


def _cell(v: Any) -> str:
    """A Markdown table cell for an optional number."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the runs (all, or ``--only`` some) and rewrite LABELS.json and README.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "sample_logs", help="output directory")
    parser.add_argument("--only", nargs="*", choices=sorted(RUNS), help="generate only these runs")
    parser.add_argument("--docs-only", action="store_true", help="only rewrite README.md from LABELS.json")
    args = parser.parse_args(argv)
    labels_path = args.out / "LABELS.json"
    if args.docs_only:
        if not labels_path.is_file():
            parser.error(f"{labels_path} does not exist; generate the runs first")
        (args.out / "README.md").write_text(readme_text(json.loads(labels_path.read_text())))
        return 0
    import torch

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    infos: dict[str, dict[str, Any]] = {}
    if args.only and labels_path.exists():
        infos = dict(json.loads(labels_path.read_text())["runs"])
    data = load_data()
    for name in args.only or list(RUNS):
        t0 = time.perf_counter()
        info = RUNS[name](args.out, data)
        infos[name] = info.to_dict()
        kinds = ", ".join(f"{f.kind}@{f.onset_epoch}" for f in info.findings) or "healthy"
        print(f"{name:20s} {time.perf_counter() - t0:6.1f}s  {kinds}", flush=True)
    doc = labels_document(infos)
    labels_path.write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "README.md").write_text(readme_text(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
