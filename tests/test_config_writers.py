"""The run's configuration read where each writer puts it, and what ``view.config`` reports for it.

The config files are written here in the writers' own shapes (key names, nesting, YAML tags, the
defaults they dump), then read by the reader of the log beside them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trainlog_doctor.readers.detectron2 import Detectron2Reader
from trainlog_doctor.readers.hf_trainer import HfTrainerStateReader
from trainlog_doctor.readers.keras_history import KerasHistoryReader
from trainlog_doctor.readers.lightning_csv import LightningCsvReader
from trainlog_doctor.readers.mlflow_store import MlflowStoreReader
from trainlog_doctor.readers.mmdet import MmdetJsonReader
from trainlog_doctor.readers.tfevents import TfEventsReader
from trainlog_doctor.readers.ultralytics_csv import UltralyticsCsvReader
from trainlog_doctor.readers.wandb_run import WandbRunReader
from trainlog_doctor.run.config import RunConfig, config_from_meta
from trainlog_doctor.run.view import build_view

DATA = Path(__file__).resolve().parent / "data"


def _config(run: object) -> RunConfig:
    """``view.config`` of a read run (built the way the api builds it)."""
    return build_view(run.frame, run.meta).config  # type: ignore[attr-defined]


def _lines(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


# ---- Lightning ----------------------------------------------------------------------------------------


LIGHTNING_HPARAMS = """\
batch_size: 64
betas: !!python/tuple
- 0.9
- 0.999
data_dir: /data/cifar10
gradient_clip_val: 0.5
learning_rate: 0.0003
model:
  depth: 18
  dropout: 0.1
  norm:
    momentum: 0.1
num_classes: 10
optimizer: AdamW
precision: 16-mixed
scheduler: cosine
warmup_steps: 500
weight_decay: 0.05
"""


def test_lightning_hparams_yaml_nested_with_tuples(tmp_path: Path) -> None:
    d = tmp_path / "lightning_logs" / "version_3"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("epoch,step,train_loss,val_loss,lr-AdamW\n0,0,,,0.0003\n0,49,2.0,,\n0,49,,1.9,\n")
    (d / "hparams.yaml").write_text(LIGHTNING_HPARAMS)
    (run,) = LightningCsvReader().read(d / "metrics.csv", "v3")
    assert run.meta["batch_size"] == 64 and run.meta["optimizer"] == "AdamW"
    cfg = _config(run)
    assert cfg.known() == {
        "optimizer": "adamw", "lr": 3e-4, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.05, "batch_size": 64,
        "warmup_steps": 500.0, "scheduler": "cosine", "grad_clip": 0.5, "clips_gradients": True, "precision": "fp16",
        "num_classes": 10, "dropout": 0.1,
    }  # model.norm.momentum is BatchNorm's, not the optimizer's
    assert cfg.origin["beta2"] == "hparams.betas" and cfg.origin["dropout"] == "hparams.model.dropout"


def test_lightning_clip_off_and_bf16() -> None:
    cfg = config_from_meta({"hparams": {"gradient_clip_val": 0, "precision": "bf16-mixed", "lr": 0.1}})
    assert cfg.clips_gradients is False and cfg.grad_clip is None and cfg.precision == "bf16"


# ---- YOLO / ultralytics ---------------------------------------------------------------------------------

ULTRALYTICS_ARGS = """\
task: detect
mode: train
model: yolov8n.pt
data: coco8.yaml
epochs: 100
time: null
patience: 100
batch: 16
imgsz: 640
optimizer: auto
cos_lr: false
amp: true
dropout: 0.0
val: true
split: val
lr0: 0.01
lrf: 0.01
momentum: 0.937
weight_decay: 0.0005
warmup_epochs: 3.0
warmup_momentum: 0.8
warmup_bias_lr: 0.1
nbs: 64
classes: null
"""


def test_ultralytics_args_yaml(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text("epoch,time,train/box_loss,metrics/mAP50(B),lr/pg0\n1,10.5,1.2,0.1,0.07\n2,20.1,1.1,0.2,0.04\n")
    (tmp_path / "args.yaml").write_text(ULTRALYTICS_ARGS)
    (run,) = UltralyticsCsvReader().read(path, "exp")
    cfg = _config(run)
    assert cfg.optimizer is None  # "auto": ultralytics picks SGD or AdamW itself
    assert (cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size, cfg.epochs) == (0.01, 0.937, 0.0005, 16, 100.0)
    assert (cfg.warmup_epochs, cfg.warmup_steps, cfg.scheduler, cfg.precision, cfg.dropout) == (3.0, None, "linear", "mixed", 0.0)
    assert cfg.num_classes is None


def test_yolov5_hyp_and_opt_yaml(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    cols = ["epoch", "train/box_loss", "metrics/mAP_0.5", "x/lr0"]
    path.write_text(",".join(cols) + "\n0,0.1,0.01,0.07\n1,0.09,0.02,0.04\n")
    (tmp_path / "hyp.yaml").write_text("lr0: 0.01\nlrf: 0.1\nmomentum: 0.937\nweight_decay: 0.0005\nwarmup_epochs: 3.0\n")
    (tmp_path / "opt.yaml").write_text(
        "weights: yolov5s.pt\ncfg: ''\ndata: data/coco128.yaml\nhyp:\n  lr0: 0.01\n  momentum: 0.937\n"
        "epochs: 300\nbatch_size: 16\nimgsz: 640\noptimizer: SGD\ncos_lr: true\nlabel_smoothing: 0.0\n"
    )
    (run,) = UltralyticsCsvReader().read(path, "exp")
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs, cfg.scheduler) == ("sgd", 0.01, 16, 300.0, "cosine")


# ---- Hugging Face -----------------------------------------------------------------------------------------


def _trainer_state(d: Path) -> Path:
    history = [
        {"epoch": 0.1, "grad_norm": 3.1, "learning_rate": 4.5e-05, "loss": 0.69, "step": 50},
        {"epoch": 0.2, "grad_norm": 2.7, "learning_rate": 4.0e-05, "loss": 0.51, "step": 100},
        {"epoch": 0.2, "eval_loss": 0.45, "eval_accuracy": 0.81, "step": 100},
    ]
    state = {"global_step": 100, "log_history": history, "logging_steps": 50, "max_steps": 500,
             "num_train_epochs": 1, "train_batch_size": 8}
    path = d / "trainer_state.json"
    path.write_text(json.dumps(state, indent=2))
    return path


def test_hf_checkpoint_with_training_args_model_config_and_results(tmp_path: Path) -> None:
    ckpt = tmp_path / "out" / "checkpoint-100"
    ckpt.mkdir(parents=True)
    path = _trainer_state(ckpt)
    (ckpt / "training_args.bin").write_bytes(b"\x80\x04\x95 not to be opened")
    args = {"output_dir": "out", "learning_rate": 5e-05, "per_device_train_batch_size": 8, "per_device_eval_batch_size": 16,
            "gradient_accumulation_steps": 4, "adam_beta1": 0.9, "adam_beta2": 0.98, "adam_epsilon": 1e-06,
            "weight_decay": 0.01, "max_grad_norm": 1.0, "num_train_epochs": 1.0, "max_steps": -1,
            "lr_scheduler_type": "cosine_with_restarts", "warmup_ratio": 0.1, "warmup_steps": 0, "fp16": False,
            "bf16": True, "optim": "adamw_torch_fused", "eval_strategy": "steps", "seed": 42}
    (tmp_path / "out" / "training_args.json").write_text(json.dumps(args, indent=2))
    model = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_dropout_prob": 0.1,
             "attention_probs_dropout_prob": 0.1, "layer_norm_eps": 1e-12, "id2label": {"0": "NEG", "1": "POS", "2": "NEU"},
             "label2id": {"NEG": 0, "POS": 1, "NEU": 2}}
    (ckpt / "config.json").write_text(json.dumps(model, indent=2))
    results = {"epoch": 1.0, "train_loss": 0.4, "train_samples": 12000, "eval_samples": 1000}
    (tmp_path / "out" / "all_results.json").write_text(json.dumps(results, indent=4, sort_keys=True))
    (run,) = HfTrainerStateReader().read(path, "r")
    assert run.meta["train_samples"] == 12000 and run.meta["config"]["num_labels"] == 3
    assert not any(k.startswith("id2label") for k in run.meta["config"])
    assert not any("training_args.bin" in w for w in run.warnings)  # the JSON copy stands in for it
    cfg = _config(run)
    assert cfg.known() == {
        "optimizer": "adamw", "lr": 5e-05, "beta1": 0.9, "beta2": 0.98, "eps": 1e-06, "weight_decay": 0.01,
        "batch_size": 8, "grad_accum": 4, "epochs": 1.0, "max_steps": 500, "warmup_steps": 0.0, "warmup_ratio": 0.1,
        "scheduler": "cosine", "grad_clip": 1.0, "clips_gradients": True, "precision": "bf16", "train_samples": 12000,
        "num_classes": 3, "dropout": 0.1,
    }
    assert cfg.origin["eps"] == "args.adam_epsilon" and cfg.origin["precision"] == "args.bf16"


def test_hf_pickled_args_alone_are_named_not_opened(tmp_path: Path) -> None:
    path = _trainer_state(tmp_path)
    (tmp_path / "training_args.bin").write_bytes(b"\x80\x04\x95")
    (tmp_path / "config.json").write_text('{"not": "a model config"}')
    (run,) = HfTrainerStateReader().read(path, "r")
    assert "args" not in run.meta and "config" not in run.meta
    assert any("training_args.bin not read: a pickle is never unpickled" in w for w in run.warnings)
    assert _config(run).batch_size == 8  # trainer_state's own train_batch_size


def test_hf_fp32_when_both_flags_are_off() -> None:
    assert config_from_meta({"args": {"fp16": False, "bf16": False}}).precision == "fp32"
    assert config_from_meta({"args": {"fp16": True, "bf16": False}}).precision == "fp16"


# ---- detectron2 -------------------------------------------------------------------------------------------

DETECTRON2_YACS = """\
CUDNN_BENCHMARK: false
DATALOADER:
  NUM_WORKERS: 4
DATASETS:
  TEST:
  - balloon_val
  TRAIN:
  - balloon_train
MODEL:
  META_ARCHITECTURE: GeneralizedRCNN
  RESNETS:
    DEPTH: 50
    NORM: FrozenBN
  RETINANET:
    NUM_CLASSES: 80
  ROI_HEADS:
    BATCH_SIZE_PER_IMAGE: 128
    NUM_CLASSES: 1
  SEM_SEG_HEAD:
    NUM_CLASSES: 54
OUTPUT_DIR: ./output
SOLVER:
  AMP:
    ENABLED: false
  BASE_LR: 0.00025
  CHECKPOINT_PERIOD: 5000
  CLIP_GRADIENTS:
    CLIP_TYPE: value
    CLIP_VALUE: 1.0
    ENABLED: false
    NORM_TYPE: 2.0
  GAMMA: 0.1
  IMS_PER_BATCH: 2
  LR_SCHEDULER_NAME: WarmupMultiStepLR
  MAX_ITER: 300
  MOMENTUM: 0.9
  NESTEROV: false
  STEPS: !!python/tuple
  - 210
  - 250
  WARMUP_FACTOR: 0.001
  WARMUP_ITERS: 100
  WEIGHT_DECAY: 0.0001
  WEIGHT_DECAY_NORM: 0.0
TEST:
  DETECTIONS_PER_IMAGE: 100
  EVAL_PERIOD: 0
VERSION: 2
"""

DETECTRON2_LAZY = """\
dataloader:
  test:
    _target_: detectron2.data.build_detection_test_loader
    batch_size: 1
  train:
    _target_: detectron2.data.build_detection_train_loader
    num_workers: 4
    total_batch_size: 64
lr_multiplier:
  _target_: detectron2.solver.WarmupParamScheduler
  scheduler:
    _target_: fvcore.common.param_scheduler.MultiStepParamScheduler
    milestones: [163889, 177546]
    num_updates: 184375
    values: [1.0, 0.1, 0.01]
  warmup_factor: 0.001
  warmup_length: 0.0013559322033898306
model:
  roi_heads:
    num_classes: 80
optimizer:
  _target_: torch.optim.SGD
  lr: 0.1
  momentum: 0.9
  params:
    _target_: detectron2.solver.get_default_optimizer_params
    weight_decay_norm: 0.0
  weight_decay: 4.0e-05
train:
  amp:
    enabled: true
  max_iter: 184375
  output_dir: ./output
"""


def _detectron2_metrics(d: Path) -> Path:
    rows = [{"data_time": 0.01, "eta_seconds": 50.0, "iteration": 19, "lr": 4.9e-05, "loss_cls": 0.6, "time": 0.3,
             "total_loss": 1.9},
            {"data_time": 0.01, "eta_seconds": 40.0, "iteration": 39, "lr": 9.9e-05, "loss_cls": 0.4, "time": 0.3,
             "total_loss": 1.4}]
    path = d / "metrics.json"
    path.write_text(_lines(rows))
    return path


def test_detectron2_yacs_config_yaml(tmp_path: Path) -> None:
    path = _detectron2_metrics(tmp_path)
    (tmp_path / "config.yaml").write_text(DETECTRON2_YACS)
    (run,) = Detectron2Reader().read(path, "r")
    assert run.meta["config"]["SOLVER.BASE_LR"] == 0.00025 and run.meta["optimizer"] == "SGD"
    cfg = _config(run)
    assert cfg.known() == {
        "optimizer": "sgd", "lr": 0.00025, "momentum": 0.9, "weight_decay": 0.0001, "batch_size": 2, "max_steps": 300,
        "warmup_steps": 100.0, "scheduler": "step", "lr_milestones": (210.0, 250.0), "lr_gamma": 0.1,
        "clips_gradients": False, "precision": "fp32", "num_classes": 1,
    }


def test_detectron2_lazy_config_yaml(tmp_path: Path) -> None:
    path = _detectron2_metrics(tmp_path)
    (tmp_path / "config.yaml").write_text(DETECTRON2_LAZY)
    (run,) = Detectron2Reader().read(path, "r")
    assert "optimizer" not in run.meta  # the config names it
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay) == ("sgd", 0.1, 0.9, 4e-05)
    assert (cfg.batch_size, cfg.max_steps, cfg.scheduler, cfg.precision) == (64, 184375, "step", "mixed")
    assert cfg.lr_milestones == (163889.0, 177546.0) and cfg.num_classes == 80


def test_detectron2_config_only_for_the_last_appended_run(tmp_path: Path) -> None:
    rows = [{"iteration": i, "total_loss": 1.0, "lr": 0.01, "time": 0.1} for i in (19, 39, 9, 19)]
    path = tmp_path / "metrics.json"
    path.write_text(_lines(rows))
    (tmp_path / "config.yaml").write_text(DETECTRON2_YACS)
    first, second = Detectron2Reader().read(path, "r")
    assert "config" not in first.meta and second.meta["config"]["SOLVER.MAX_ITER"] == 300


# ---- mmdetection -------------------------------------------------------------------------------------------

MMENGINE_CONFIG = """\
default_scope = 'mmdet'
model = dict(
    type='RetinaNet',
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='BN', requires_grad=True, momentum=0.1, eps=1e-05)),
    bbox_head=dict(type='RetinaHead', num_classes=20, in_channels=256))
train_dataloader = dict(batch_size=4, num_workers=2, dataset=dict(type='VOCDataset'))
val_dataloader = dict(batch_size=1, num_workers=2)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05, eps=1e-08),
    clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', T_max=36, by_epoch=True, begin=0, end=36)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=36, val_interval=1)
custom_hooks = [dict(type='EMAHook', momentum=0.0002)]
"""


def test_mmengine_dumped_config_beside_the_log(tmp_path: Path) -> None:
    (tmp_path / "retinanet_r50_fpn_voc.py").write_text(MMENGINE_CONFIG)
    rows = [{"env_info": "GPU 0: A100", "seed": 0},
            {"mode": "train", "epoch": 1, "iter": 50, "lr": 1e-4, "loss": 1.2, "time": 0.3}]
    log = tmp_path / "20240101_000000.log.json"
    log.write_text(_lines(rows))
    (run,) = MmdetJsonReader().read(log, "r")
    assert run.meta["optimizer"] == "AdamW" and run.meta["batch_size"] == 4 and run.meta["max_epochs"] == 36
    cfg = _config(run)
    assert cfg.known() == {
        "optimizer": "adamw", "lr": 0.0001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08, "weight_decay": 0.05,
        "batch_size": 4, "epochs": 36.0, "scheduler": "cosine", "grad_clip": 0.1, "clips_gradients": True,
        "precision": "mixed", "num_classes": 20,
    }  # neither BatchNorm's momentum/eps nor the EMA hook's momentum


def test_mmdet_2x_header_config_normalized(tmp_path: Path) -> None:
    text = (
        "optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)\n"
        "optimizer_config = dict(grad_clip=dict(max_norm=35, norm_type=2))\n"
        "lr_config = dict(policy='step', warmup='linear', warmup_iters=500, warmup_ratio=0.001, step=[8, 11])\n"
        "runner = dict(type='EpochBasedRunner', max_epochs=12)\n"
        "data = dict(samples_per_gpu=2, workers_per_gpu=2, val=dict(samples_per_gpu=1), test=dict(samples_per_gpu=1))\n"
        "fp16 = dict(loss_scale=512.0)\n"
    )
    rows = [{"env_info": "GPU 0,1: V100", "config": text},
            {"mode": "train", "epoch": 1, "iter": 50, "lr": 0.02, "loss": 1.2, "time": 0.3}]
    log = tmp_path / "20240101_000000.log.json"
    log.write_text(_lines(rows))
    (run,) = MmdetJsonReader().read(log, "r")
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs, cfg.warmup_steps) == ("sgd", 0.02, 2, 12.0, 500.0)
    assert cfg.warmup_ratio is None  # mmcv's warmup_ratio is the warm-up start factor, not a share of the steps
    assert (cfg.scheduler, cfg.lr_milestones, cfg.grad_clip, cfg.precision) == ("step", (8.0, 11.0), 35.0, "fp16")
    assert run.meta["gpus"] == 2


# ---- Keras, MLflow, W&B, TensorBoard ------------------------------------------------------------------------


def test_keras_history_params(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"history": {"loss": [0.9, 0.7], "val_loss": [1.0, 0.8]},
                                "params": {"verbose": 1, "epochs": 2, "steps": 188}}))
    (run,) = KerasHistoryReader().read(path, "r")
    assert _config(run).known() == {"epochs": 2.0}


def test_mlflow_params() -> None:
    run = MlflowStoreReader().read(DATA / "mlflow" / "mlruns" / "1" / "3f2a9c1d7e5b4a60b8d2c4e6f8a0b1c2", "r")[0]
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.momentum) == ("sgd", 0.1, 128, 0.9)


def test_wandb_config_yaml_nested_and_tagged(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-20260508_223001-k3x9q2mw"
    shutil.copytree(DATA / "wandb" / "wandb" / "run-20260508_223001-k3x9q2mw", run_dir)
    (run_dir / "files" / "config.yaml").write_text(
        "_wandb:\n  desc: null\n  value:\n    cli_version: 0.17.4\n"
        "optimizer:\n  desc: null\n  value:\n    name: AdamW\n    lr: 0.002\n    betas: [0.9, 0.95]\n"
        "batch_size:\n  desc: null\n  value: 256\n"
        "mixed_precision:\n  desc: null\n  value: bf16\n"
        "callback:\n  desc: null\n  value: !!python/object/apply:builtins.eval ['1+1']\n"
    )
    (run,) = WandbRunReader().read(run_dir, "r")
    assert "_wandb.cli_version" not in run.meta["config"] and run.meta["config"]["callback"] == ["1+1"]
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.beta2, cfg.batch_size, cfg.precision) == ("adamw", 0.002, 0.95, 256, "bf16")


def test_wandb_malformed_config_yaml_is_a_warning(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-20260508_223001-k3x9q2mw"
    shutil.copytree(DATA / "wandb" / "wandb" / "run-20260508_223001-k3x9q2mw", run_dir)
    (run_dir / "files" / "config.yaml").write_text("lr: {value: [0.1\n")
    (run,) = WandbRunReader().read(run_dir, "r")
    assert run.frame.height > 0 and "config" not in run.meta
    assert any(w.startswith("config files/config.yaml ignored: invalid YAML") for w in run.warnings)


# ---- real logs (skipped when ../shared/real_logs is absent) ---------------------------------------------------


def test_real_mmdet_headers(real_logs: Path) -> None:
    (log,) = sorted((real_logs / "mmdet" / "mmdet_04").glob("*.log.json"))
    (run,) = MmdetJsonReader().read(log, "r")
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size) == ("sgd", 0.001, 0.9, 0.0005, 8)
    assert (cfg.epochs, cfg.warmup_steps, cfg.scheduler, cfg.lr_milestones) == (273.0, 2000.0, "step", (218.0, 246.0))
    assert (cfg.grad_clip, cfg.clips_gradients, cfg.num_classes) == (35.0, True, 10)
    assert not any("config" in w for w in run.warnings)
    (log,) = sorted((real_logs / "mmdet" / "mmdet_01").glob("*.log.json"))
    (run,) = MmdetJsonReader().read(log, "r")
    assert _config(run).clips_gradients is False  # optimizer_config = dict(grad_clip=None)


def test_real_hf_tensorboard_args(real_logs: Path) -> None:
    d = real_logs / "tfevents" / "tfevents_07"
    if not d.is_dir():
        pytest.skip("tfevents_07 is not present")
    (run,) = TfEventsReader().read(d, "r")
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.eps, cfg.scheduler) == ("adamw", 5e-05, 4, 1e-08, "linear")
    assert (cfg.grad_clip, cfg.precision, cfg.dropout) == (1.0, "fp32", 0.1)
    assert cfg.origin["eps"] == "args.adam_epsilon"


def test_real_hf_trainer_state(real_logs: Path) -> None:
    (run,) = HfTrainerStateReader().read(real_logs / "hf_trainer_state" / "hf_trainer_state_01" / "trainer_state.json", "r")
    cfg = _config(run)
    assert (cfg.batch_size, cfg.epochs, cfg.max_steps) == (16, 3.0, 375)


def test_sample_collapse_mmdet_config(sample_logs: Path) -> None:
    (log,) = sorted((sample_logs / "collapse").glob("*.log.json"))
    (run,) = MmdetJsonReader().read(log, "r")
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.scheduler, cfg.lr_milestones, cfg.lr_gamma) == ("sgd", 0.05, "step", (8.0,), 10.0)


def test_sample_overfitting_lightning_hparams(sample_logs: Path) -> None:
    d = sample_logs / "overfitting" / "lightning_logs" / "version_0"
    (run,) = LightningCsvReader().read(d / "metrics.csv", "r")
    cfg = _config(run)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.weight_decay) == ("adam", 0.001, 16, 0.0)


LIGHTNING_CLI_CONFIG = """\
seed_everything: 42
trainer:
  accelerator: gpu
  precision: bf16-mixed
  max_epochs: 20
  accumulate_grad_batches: 2
  gradient_clip_val: 1.0
  gradient_clip_algorithm: norm
model:
  class_path: mypkg.LitClassifier
  init_args:
    num_classes: 100
data:
  class_path: mypkg.CIFARData
  init_args:
    batch_size: 128
    num_workers: 8
optimizer:
  class_path: torch.optim.SGD
  init_args:
    lr: 0.1
    momentum: 0.9
    weight_decay: 0.0005
    nesterov: true
lr_scheduler:
  class_path: torch.optim.lr_scheduler.OneCycleLR
  init_args:
    max_lr: 0.1
    total_steps: 7820
"""


def test_lightning_cli_config_yaml(tmp_path: Path) -> None:
    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n0,49,2.0,\n0,49,,1.9\n")
    (d / "config.yaml").write_text(LIGHTNING_CLI_CONFIG)
    (run,) = LightningCsvReader().read(d / "metrics.csv", "v0")
    cfg = _config(run)
    assert cfg.known() == {
        "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0005, "batch_size": 128, "grad_accum": 2,
        "epochs": 20.0, "max_steps": 7820, "scheduler": "onecycle", "grad_clip": 1.0, "clips_gradients": True,
        "precision": "bf16", "num_classes": 100,
    }
    assert cfg.origin["lr"] == "config.optimizer.init_args.lr"


def test_lightning_tensorboard_logger_hparams_yaml(tmp_path: Path) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    d = tmp_path / "lightning_logs" / "version_1"
    writer = EventFileWriter(str(d))
    for step, loss in enumerate((2.0, 1.5, 1.2)):
        value = summary_pb2.Summary.Value(tag="train_loss", simple_value=loss)
        writer.add_event(event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    (d / "hparams.yaml").write_text(LIGHTNING_HPARAMS)
    reader = TfEventsReader()
    assert d / "hparams.yaml" in reader.unit_files(d)  # a changed config invalidates the audit cache
    (run,) = reader.read(d, "r")
    assert run.meta["optimizer"] == "AdamW" and run.meta["batch_size"] == 64 and run.meta["lr"] == 3e-4
    cfg = _config(run)
    assert (cfg.optimizer, cfg.beta2, cfg.grad_clip, cfg.precision, cfg.dropout) == ("adamw", 0.999, 0.5, "fp16", 0.1)


def test_audit_cache_key_covers_the_config_files_beside_a_log(tmp_path: Path) -> None:
    from trainlog_doctor.audit.units import unit_files
    from trainlog_doctor.readers.discover import discover

    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n0,49,2.0,\n0,49,,1.9\n")
    (d / "hparams.yaml").write_text("lr: 0.1\n")
    ckpt = tmp_path / "hf" / "checkpoint-100"
    ckpt.mkdir(parents=True)
    _trainer_state(ckpt)
    (tmp_path / "hf" / "training_args.json").write_text("{}")
    files = {c.run_id: unit_files(c) for c in discover([tmp_path]) if c.reader is not None}
    assert files == {
        "lightning_logs/version_0": [d / "metrics.csv", d / "hparams.yaml"],
        "hf/checkpoint-100": [ckpt / "trainer_state.json", tmp_path / "hf" / "training_args.json"],
    }
