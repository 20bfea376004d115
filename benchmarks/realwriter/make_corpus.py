"""Train the real-writer corpus: small CPU runs logged by the libraries users log with (issue 14 item 2).

Usage (in a venv with torch, keras 3, pytorch-lightning, transformers, mlflow, wandb, tensorboard, scikit-learn)::

    nice -n 10 python benchmarks/realwriter/make_corpus.py --out /work/cache/realwriter [--only NAME ...]
    python benchmarks/realwriter/make_corpus.py --labels      # regenerate benchmarks/labels/realwriter.tsv

Each run of ``scenarios.toml`` (scenario x writer) is trained into ``OUT/<run>/`` with its own seed; a run whose
``OUT.meta/done/<run>`` exists is skipped (resumable). Nothing is downloaded: data are scikit-learn's bundled
digits and breast-cancer sets, models are built from code or configs (HF ViT with random weights).
When every run is built, ``OUT/READY`` holds the run count; failed runs are listed in ``OUT.meta/FAILED``.
``OUT.meta/truth/<run>.json`` keeps what the torch loop and Keras logged (the fixtures' ground truth).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: one thread is faster, and the machine is shared
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # the file store is what most users still have
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from table import RunSpec, runs, write_labels  # noqa: E402

DEFAULT_OUT = Path("/work/cache/realwriter")
TRUTH: list[dict[str, Any]] = []  # the values the current run logged (torch loop and Keras)
DEFAULTS: dict[str, Any] = {
    "dataset": "digits",
    "normalize": True,
    "train_size": 0,  # 0 = the whole training split
    "label_noise": 0.0,
    "sort_classes": False,
    "shuffle": True,
    "hidden": [64],
    "init": "default",
    "init_std": 1.0,
    "optimizer": "adam",
    "momentum": 0.0,
    "lr": 1e-3,
    "l2": 0.0,
    "schedule": "constant",
    "warmup_epochs": 0,
    "step_every": 5,
    "step_gamma": 0.1,
    "epochs": 15,
    "batch": 32,
    "log_every": 10,
    "early_stop": 0,
    "drift_epoch": -1,
    "drift_shift": 0.0,
    "corrupt_epoch": -1,
    "corrupt_scale": 1.0,
    "slow_epoch": -1,
    "slow_sleep": 0.0,
}


# ---- data -------------------------------------------------------------------------------------------


class Data:
    """Train/validation arrays after the data injections (normalization, subsampling, label noise, order)."""

    def __init__(self, p: dict[str, Any], seed: int) -> None:
        import numpy as np
        from sklearn.datasets import load_breast_cancer, load_digits
        from sklearn.model_selection import train_test_split

        ds = load_digits() if p["dataset"] == "digits" else load_breast_cancer()
        x = ds.data.astype("float32")
        y = ds.target.astype("int64")
        xtr, xva, ytr, yva = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
        rng = np.random.default_rng(seed)
        if p["train_size"]:
            idx = rng.choice(len(xtr), size=p["train_size"], replace=False)
            xtr, ytr = xtr[idx], ytr[idx]
        if p["normalize"]:
            mu, sd = xtr.mean(0), xtr.std(0)
            sd = np.where(sd < 1e-3, 1.0, sd)  # digits has pixels that are always 0 in training
            xtr, xva = (xtr - mu) / sd, (xva - mu) / sd
        if p["label_noise"]:
            flip = rng.random(len(ytr)) < p["label_noise"]
            ytr = ytr.copy()
            ytr[flip] = rng.integers(0, int(y.max()) + 1, flip.sum())
        if p["sort_classes"]:
            order = np.argsort(ytr, kind="stable")
            xtr, ytr = xtr[order], ytr[order]
        self.xtr, self.ytr, self.xva, self.yva = xtr, ytr, xva.astype("float32"), yva
        self.n_in = x.shape[1]
        self.n_classes = int(y.max()) + 1
        self.drift = (rng.standard_normal(self.n_in).astype("float32") * p["drift_shift"]) if p["drift_shift"] else None

    def val_x(self, epoch: int, p: dict[str, Any]) -> Any:
        """Validation inputs at ``epoch`` (0-based): shifted from ``drift_epoch`` on."""
        if self.drift is not None and epoch >= p["drift_epoch"] >= 0:
            return self.xva + self.drift
        return self.xva


def lr_at(p: dict[str, Any], epoch: float, total: int) -> float:
    """The scheduled LR at a (fractional, 0-based) epoch, for the schedules that are a function of time."""
    lr, e = p["lr"], epoch
    if p["schedule"] == "step":
        return lr * p["step_gamma"] ** int(e // p["step_every"])
    if p["schedule"] == "cosine":
        w = p["warmup_epochs"]
        if e < w:
            return lr * (e + 1) / (w + 1)
        return lr * 0.5 * (1 + math.cos(math.pi * (e - w) / max(total - w, 1)))
    if p["schedule"] == "onecycle":
        up = 0.3 * total
        if e < up:
            return lr * (0.04 + 0.96 * e / up)
        return lr * (0.5 * (1 + math.cos(math.pi * (e - up) / max(total - up, 1e-9)))) + lr * 1e-4
    return lr


# ---- torch model and loop ---------------------------------------------------------------------------


def torch_mlp(p: dict[str, Any], n_in: int, n_out: int) -> Any:
    import torch
    from torch import nn

    layers: list[Any] = []
    width = n_in
    for h in p["hidden"]:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, n_out))
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if p["init"] == "zeros":
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
            elif p["init"] == "large":
                nn.init.normal_(m.weight, 0.0, p["init_std"])
    torch.nn.utils.parameters_to_vector(model.parameters())  # materialize
    return model


def torch_optimizer(p: dict[str, Any], params: Any) -> Any:
    import torch

    if p["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=p["lr"], momentum=p["momentum"], weight_decay=p["l2"])
    return torch.optim.Adam(params, lr=p["lr"], weight_decay=p["l2"])


class Sink:
    """Where a plain torch loop writes its metrics (one subclass per writer)."""

    def __init__(self, out: Path, spec: RunSpec, p: dict[str, Any]) -> None:
        self.out, self.spec, self.p = out, spec, p

    def step(self, step: int, epoch: int, values: dict[str, float]) -> None: ...

    def epoch(self, step: int, epoch: int, values: dict[str, float]) -> None: ...

    def record(self, kind: str, step: int, epoch: int, values: dict[str, float]) -> None:
        """Write through to the sink and keep what was logged (the fixtures' ground truth)."""
        TRUTH.append({"at": kind, "step": step, "epoch": epoch, **values})
        (self.step if kind == "step" else self.epoch)(step, epoch, values)

    def close(self) -> None: ...


class SummaryWriterSink(Sink):
    def __init__(self, out: Path, spec: RunSpec, p: dict[str, Any]) -> None:
        super().__init__(out, spec, p)
        from torch.utils.tensorboard import SummaryWriter

        self.w = SummaryWriter(log_dir=str(out / "runs" / "exp"))

    def step(self, step: int, epoch: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.w.add_scalar(f"train/{k}_step", v, step)

    def epoch(self, step: int, epoch: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            split, _, name = k.partition("_")
            self.w.add_scalar(f"{split}/{name}" if name else k, v, step)
        self.w.add_scalar("epoch", epoch, step)

    def close(self) -> None:
        self.w.close()


class JsonlSink(Sink):
    """DETR style: one JSON object per epoch in ``log.txt`` (train_*, test_*, epoch, n_parameters)."""

    def __init__(self, out: Path, spec: RunSpec, p: dict[str, Any]) -> None:
        super().__init__(out, spec, p)
        self.fh = (out / "log.txt").open("w")
        self.n_parameters = 0

    def epoch(self, step: int, epoch: int, values: dict[str, float]) -> None:
        row = {("test_" + k[4:] if k.startswith("val_") else k): v for k, v in values.items()}
        row.update({"epoch": epoch, "n_parameters": self.n_parameters})
        self.fh.write(json.dumps(row) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


class MlflowSink(Sink):
    def __init__(self, out: Path, spec: RunSpec, p: dict[str, Any], uri: str) -> None:
        super().__init__(out, spec, p)
        import mlflow

        self.mlflow = mlflow
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("realwriter")
        self.run = mlflow.start_run(run_name=spec.name)
        mlflow.log_params({k: str(v) for k, v in p.items()})

    def step(self, step: int, epoch: int, values: dict[str, float]) -> None:
        self.mlflow.log_metrics({f"train_{k}_step": v for k, v in values.items()}, step=step)

    def epoch(self, step: int, epoch: int, values: dict[str, float]) -> None:
        self.mlflow.log_metrics({**values, "epoch": float(epoch)}, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


class WandbSink(Sink):
    def __init__(self, out: Path, spec: RunSpec, p: dict[str, Any]) -> None:
        super().__init__(out, spec, p)
        import wandb

        self.run = wandb.init(project="realwriter", name=spec.name, dir=str(out), mode="offline", config=p)

    def step(self, step: int, epoch: int, values: dict[str, float]) -> None:
        self.run.log({f"train/{k}_step": v for k, v in values.items()}, step=step)

    def epoch(self, step: int, epoch: int, values: dict[str, float]) -> None:
        self.run.log({**{k.replace("_", "/", 1): v for k, v in values.items()}, "epoch": epoch}, step=step)

    def close(self) -> None:
        self.run.finish()


class TextLogSink(Sink):
    """Python logging to ``training.log``: PyTorch-style step lines and one summary line per epoch."""

    def __init__(self, out: Path, spec: RunSpec, p: dict[str, Any]) -> None:
        super().__init__(out, spec, p)
        self.log = logging.getLogger(f"train.{spec.name}")
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        self.h = logging.FileHandler(out / "training.log")
        self.h.setFormatter(logging.Formatter("%(asctime)s | %(levelname)s | %(name)s | %(message)s"))
        self.log.addHandler(self.h)
        self.log.info("Starting training: %s", json.dumps({k: p[k] for k in ("optimizer", "lr", "batch", "epochs")}))
        self.steps_per_epoch = 1

    def step(self, step: int, epoch: int, values: dict[str, float]) -> None:
        within = step - epoch * self.steps_per_epoch
        self.log.info(
            "Epoch [%d/%d], Step [%d/%d], Loss: %.4f", epoch + 1, self.p["epochs"], within, self.steps_per_epoch, values["loss"]
        )

    def epoch(self, step: int, epoch: int, values: dict[str, float]) -> None:
        text = " - ".join(f"{k} {v:.6g}" for k, v in values.items())
        self.log.info("Epoch %d/%d - %s", epoch + 1, self.p["epochs"], text)

    def close(self) -> None:
        self.log.removeHandler(self.h)
        self.h.close()


SINKS: dict[str, Callable[[Path, RunSpec, dict[str, Any]], Sink]] = {
    "sw": SummaryWriterSink,
    "jsonl": JsonlSink,
    "mlflow_file": lambda o, s, p: MlflowSink(o, s, p, (o / "mlruns").resolve().as_uri()),
    "mlflow_db": lambda o, s, p: MlflowSink(o, s, p, f"sqlite:///{(o / 'mlflow.db').resolve()}"),
    "wandb": WandbSink,
    "textlog": TextLogSink,
}


def evaluate(model: Any, x: Any, y: Any) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F  # noqa: N812

    with torch.no_grad():
        out = model(torch.as_tensor(x))
        yt = torch.as_tensor(y)
        return float(F.cross_entropy(out, yt)), float((out.argmax(1) == yt).float().mean())


def train_torch(out: Path, spec: RunSpec, p: dict[str, Any], data: Data) -> None:
    import torch
    import torch.nn.functional as F  # noqa: N812

    torch.manual_seed(spec.seed)
    model = torch_mlp(p, data.n_in, data.n_classes)
    opt = torch_optimizer(p, model.parameters())
    sink = SINKS[spec.writer](out, spec, p)
    if isinstance(sink, JsonlSink):
        sink.n_parameters = sum(t.numel() for t in model.parameters())
    n = len(data.xtr)
    bs = p["batch"]
    steps_per_epoch = math.ceil(n / bs)
    if isinstance(sink, TextLogSink):
        sink.steps_per_epoch = steps_per_epoch
    plateau = p["schedule"] == "plateau"
    sched_plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=2) if plateau else None
    xtr, ytr = torch.as_tensor(data.xtr), torch.as_tensor(data.ytr)
    g = torch.Generator().manual_seed(spec.seed)
    step, best, bad = 0, math.inf, 0
    try:
        for epoch in range(p["epochs"]):
            t0 = time.perf_counter()
            data_time = 0.0
            order = torch.randperm(n, generator=g) if p["shuffle"] else torch.arange(n)
            tot_loss = tot_acc = 0.0
            for b in range(steps_per_epoch):
                if sched_plateau is None:
                    for group in opt.param_groups:
                        group["lr"] = lr_at(p, epoch + b / steps_per_epoch, p["epochs"])
                td = time.perf_counter()
                idx = order[b * bs : (b + 1) * bs]
                xb, yb = xtr[idx], ytr[idx]
                if epoch >= p["slow_epoch"] >= 0:
                    time.sleep(p["slow_sleep"])  # the input pipeline stalls from slow_epoch on
                if epoch == p["corrupt_epoch"] and b == steps_per_epoch // 2:
                    xb = xb * p["corrupt_scale"]  # one corrupted batch
                data_time += time.perf_counter() - td
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                lv = float(loss)
                tot_loss += lv * len(idx)
                tot_acc += float((logits.argmax(1) == yb).float().sum())
                if step % p["log_every"] == 0:
                    sink.record("step", step, epoch, {"loss": lv, "lr": opt.param_groups[0]["lr"]})
            vl, va = evaluate(model, data.val_x(epoch, p), data.yva)
            values = {
                "train_loss": tot_loss / n,
                "train_acc": tot_acc / n,
                "val_loss": vl,
                "val_acc": va,
                "lr": opt.param_groups[0]["lr"],
            }
            if p["slow_epoch"] >= 0:
                values["data_time"] = data_time / steps_per_epoch
                values["epoch_time"] = time.perf_counter() - t0
            sink.record("epoch", step, epoch, values)
            if sched_plateau is not None:
                sched_plateau.step(vl)
            if p["early_stop"]:
                best, bad = (vl, 0) if vl < best - 1e-4 else (best, bad + 1)
                if bad >= p["early_stop"]:
                    break
    finally:
        sink.close()


# ---- Lightning --------------------------------------------------------------------------------------


def train_lightning(out: Path, spec: RunSpec, p: dict[str, Any], data: Data) -> None:
    import lightning_fabric  # noqa: F401  (ships with pytorch-lightning)
    import pytorch_lightning as pl
    import torch
    import torch.nn.functional as F  # noqa: N812
    from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    pl.seed_everything(spec.seed, verbose=False)
    state = {"epoch": 0}

    class Train(Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return len(data.xtr)

        def __getitem__(self, i: int) -> tuple[Any, Any]:
            return torch.as_tensor(data.xtr[i]), torch.as_tensor(data.ytr[i])

    def collate(batch: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        if state["epoch"] >= p["slow_epoch"] >= 0:
            time.sleep(p["slow_sleep"])  # the input pipeline stalls from slow_epoch on
        xs, ys = zip(*batch)
        return torch.stack(xs), torch.stack(ys)

    steps_per_epoch = math.ceil(len(data.xtr) / p["batch"])

    class Module(pl.LightningModule):
        def __init__(self, hparams: dict[str, Any]) -> None:
            super().__init__()
            self.save_hyperparameters(hparams)
            self.net = torch_mlp(p, data.n_in, data.n_classes)
            self.t0 = 0.0

        def forward(self, x: Any) -> Any:
            return self.net(x)

        def on_train_epoch_start(self) -> None:
            state["epoch"] = self.current_epoch
            self.t0 = time.perf_counter()

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            if self.current_epoch == p["corrupt_epoch"] and batch_idx == steps_per_epoch // 2:
                x = x * p["corrupt_scale"]
            logits = self(x)
            loss = F.cross_entropy(logits, y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            self.log("train_acc", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True)
            return loss

        def on_train_epoch_end(self) -> None:
            if p["slow_epoch"] >= 0:
                self.log("epoch_time", time.perf_counter() - self.t0)

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            if data.drift is not None and self.current_epoch >= p["drift_epoch"] >= 0:
                x = x + torch.as_tensor(data.drift)
            logits = self(x)
            self.log("val_loss", F.cross_entropy(logits, y), on_epoch=True)
            self.log("val_acc", (logits.argmax(1) == y).float().mean(), on_epoch=True)

        def configure_optimizers(self) -> Any:
            opt = torch_optimizer(p, self.parameters())
            if p["schedule"] == "plateau":
                sch = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=2)
                return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "monitor": "val_loss"}}
            if p["schedule"] == "constant":
                return opt
            total = p["epochs"] * steps_per_epoch
            lam = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: lr_at(p, s / steps_per_epoch, p["epochs"]) / p["lr"] if s < total else 1.0
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": lam, "interval": "step"}}

    logger: Any
    if spec.writer == "pl_csv":
        logger = CSVLogger(str(out), name="lightning_logs")
    else:
        logger = TensorBoardLogger(str(out), name="lightning_logs")
    callbacks: list[Any] = [LearningRateMonitor(logging_interval="epoch")]
    if p["early_stop"]:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=p["early_stop"], min_delta=1e-4))
    trainer = pl.Trainer(
        max_epochs=p["epochs"],
        logger=logger,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=p["log_every"],
        accelerator="cpu",
        devices=1,
        num_sanity_val_steps=0,
    )
    train = DataLoader(Train(), batch_size=p["batch"], shuffle=p["shuffle"], collate_fn=collate)
    val = DataLoader(TensorDataset(torch.as_tensor(data.xva), torch.as_tensor(data.yva)), batch_size=512)
    trainer.fit(Module(dict(p)), train, val)


# ---- Keras 3 ----------------------------------------------------------------------------------------


def train_keras(out: Path, spec: RunSpec, p: dict[str, Any], data: Data) -> None:
    import keras

    keras.utils.set_random_seed(spec.seed)
    if p["init"] == "zeros":
        init: Any = "zeros"
    elif p["init"] == "large":
        init = keras.initializers.RandomNormal(stddev=p["init_std"], seed=spec.seed)
    else:
        init = "glorot_uniform"
    reg = keras.regularizers.L2(p["l2"]) if p["l2"] else None
    layers: list[Any] = [keras.Input((data.n_in,))]
    for h in p["hidden"]:
        layers.append(keras.layers.Dense(h, activation="relu", kernel_initializer=init, kernel_regularizer=reg))
    bias_init = "zeros"
    layers.append(keras.layers.Dense(data.n_classes, kernel_initializer=init, bias_initializer=bias_init, kernel_regularizer=reg))
    model = keras.Sequential(layers)
    if p["optimizer"] == "sgd":
        opt: Any = keras.optimizers.SGD(learning_rate=p["lr"], momentum=p["momentum"])
    else:
        opt = keras.optimizers.Adam(learning_rate=p["lr"])
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    callbacks: list[Any] = []
    if spec.writer == "keras_csv":
        callbacks.append(keras.callbacks.CSVLogger(str(out / "training.csv")))
    if spec.writer == "keras_tb":
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "logs"), update_freq="epoch"))
    if p["schedule"] in ("step", "cosine", "onecycle"):
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda e, lr: lr_at(p, e, p["epochs"])))
    if p["schedule"] == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=2))
    if p["early_stop"]:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=p["early_stop"], min_delta=1e-4))
    history = model.fit(
        data.xtr,
        data.ytr,
        batch_size=p["batch"],
        epochs=p["epochs"],
        validation_data=(data.xva, data.yva),
        shuffle=p["shuffle"],
        callbacks=callbacks,
        verbose=0,
    )
    TRUTH.extend({"at": "epoch", "epoch": i, **{k: float(v[i]) for k, v in history.history.items()}}
                 for i in range(len(history.epoch)))
    if spec.writer == "keras_json":
        with (out / "history.json").open("w") as fh:
            json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, fh)
    if spec.writer == "keras_pandas":  # the common notebook idiom: an unnamed index column, no epoch column
        import pandas as pd

        pd.DataFrame(history.history).to_csv(out / "training_history.csv")


# ---- Hugging Face Trainer ---------------------------------------------------------------------------


def train_hf(out: Path, spec: RunSpec, p: dict[str, Any], data: Data) -> None:
    import numpy as np
    import torch
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments, ViTConfig, ViTForImageClassification

    torch.manual_seed(spec.seed)
    small = max(p["hidden"]) <= 2  # a width-8 ViT still learns digits (loss 0.68, accuracy 0.80): width 2
    width = 2 if small else (64 if max(p["hidden"]) >= 256 else 32)
    config = ViTConfig(
        image_size=8,
        patch_size=2,
        num_channels=1,
        hidden_size=width,
        num_hidden_layers=1 if small else 2,
        num_attention_heads=1 if small else 2,
        intermediate_size=2 * width,
        num_labels=data.n_classes,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=p["init_std"] if p["init"] == "large" else 0.02,
    )
    model = ViTForImageClassification(config)

    class Split(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __init__(self, x: Any, y: Any) -> None:
            self.x = torch.as_tensor(x).reshape(-1, 1, 8, 8)
            self.y = torch.as_tensor(y)

        def __len__(self) -> int:
            return len(self.y)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"pixel_values": self.x[i], "labels": self.y[i]}

    def metrics(ev: Any) -> dict[str, float]:
        return {"accuracy": float((np.argmax(ev.predictions, -1) == ev.label_ids).mean())}

    steps_per_epoch = math.ceil(len(data.xtr) / p["batch"])
    sched = {"constant": "constant", "cosine": "cosine", "step": "constant", "plateau": "reduce_lr_on_plateau"}[p["schedule"]]
    if p["schedule"] == "constant" and p["optimizer"] == "adam":
        sched = "linear"  # the Trainer's default schedule
    args = TrainingArguments(
        output_dir=str(out),
        num_train_epochs=p["epochs"],
        per_device_train_batch_size=p["batch"],
        per_device_eval_batch_size=256,
        learning_rate=p["lr"],
        weight_decay=p["l2"] * 40.0,  # AdamW's decoupled decay: the same strength as the coupled L2 elsewhere
        lr_scheduler_type=sched,
        warmup_steps=p["warmup_epochs"] * steps_per_epoch,
        optim="sgd" if p["optimizer"] == "sgd" else "adamw_torch",
        eval_strategy="epoch",
        logging_strategy="steps",
        logging_steps=max(1, min(p["log_every"], steps_per_epoch // 2)),
        save_strategy="epoch" if p["early_stop"] else "no",
        save_total_limit=1,
        load_best_model_at_end=bool(p["early_stop"]),
        metric_for_best_model="eval_loss" if p["early_stop"] else None,
        report_to=[],
        seed=spec.seed,
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        max_grad_norm=1e9 if p["lr"] >= 1.0 else 1.0,
    )
    callbacks = [EarlyStoppingCallback(early_stopping_patience=p["early_stop"])] if p["early_stop"] else []
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Split(data.xtr, data.ytr),
        eval_dataset=Split(data.xva, data.yva),
        compute_metrics=metrics,
        callbacks=callbacks,
    )
    trainer.train()
    trainer.save_state()
    (out / "training_args.json").write_text(args.to_json_string())
    model.config.to_json_file(str(out / "config.json"))
    for ck in out.glob("checkpoint-*"):
        shutil.rmtree(ck)  # weights are not part of the corpus


ENGINES: dict[str, Callable[[Path, RunSpec, dict[str, Any], Data], None]] = {
    **dict.fromkeys(SINKS, train_torch),
    "pl_csv": train_lightning,
    "pl_tb": train_lightning,
    "keras_csv": train_keras,
    "keras_json": train_keras,
    "keras_pandas": train_keras,
    "keras_tb": train_keras,
    "hf": train_hf,
}


def meta(root: Path, what: str) -> Path:
    """``OUT.meta/<what>``: build markers and logged values, beside the corpus (the tool reads every file in it)."""
    return root.with_name(root.name + ".meta") / what


def build(spec: RunSpec, root: Path) -> float:
    """Train one run into ``root/<run>`` (replacing a partial one); return the seconds it took."""
    out = root / spec.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    p = {**DEFAULTS, **spec.scenario.params}
    t0 = time.perf_counter()
    TRUTH.clear()
    ENGINES[spec.writer](out, spec, p, Data(p, spec.seed))
    if TRUTH:
        meta(root, "truth").mkdir(parents=True, exist_ok=True)
        (meta(root, "truth") / f"{spec.name}.json").write_text(json.dumps(TRUTH))
    meta(root, "done").mkdir(parents=True, exist_ok=True)
    marker = {"scenario": spec.scenario.id, "writer": spec.writer, "seed": spec.seed}
    (meta(root, "done") / spec.name).write_text(json.dumps(marker) + "\n")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", default=None, help="build only these run names (or scenario ids)")
    ap.add_argument("--labels", action="store_true", help="write benchmarks/labels/realwriter.tsv and stop")
    args = ap.parse_args(argv)
    if args.labels:
        print(f"wrote {write_labels()} label rows")
        return 0
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    specs = runs()
    if args.only:
        specs = [s for s in specs if s.name in args.only or s.scenario.id in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for i, spec in enumerate(specs, 1):
        if (meta(args.out, "done") / spec.name).exists():
            continue
        try:
            secs = build(spec, args.out)
            print(f"[{i}/{len(specs)}] {spec.name}: {secs:.1f} s", flush=True)
        except Exception:
            failed.append(spec.name)
            print(f"[{i}/{len(specs)}] {spec.name}: FAILED\n{traceback.format_exc()}", flush=True)
    done = sum((meta(args.out, "done") / s.name).exists() for s in runs())
    meta(args.out, "FAILED").write_text("".join(f"{n}\n" for n in failed))
    if not args.only and done == len(runs()):
        (args.out / "READY").write_text(f"{done}\n")
    print(f"{done}/{len(runs())} runs built; {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
