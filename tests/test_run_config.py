"""The run configuration: one name per fact, whatever the writer called it."""

from __future__ import annotations

from trainlog_doctor.run.config import config_from_meta
from trainlog_doctor.run.view import build_view


def test_hf_training_args_normalize() -> None:
    meta = {"hparams": {"learning_rate": 3e-4, "per_device_train_batch_size": 8, "fp16": True,
                        "lr_scheduler_type": "cosine", "optim": "adamw_torch", "max_grad_norm": 1.0}}
    cfg = config_from_meta(meta)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.precision, cfg.scheduler, cfg.grad_clip) == (
        "adamw", 3e-4, 8, "fp16", "cosine", 1.0)
    assert cfg.origin["lr"] == "hparams.learning_rate"


def test_dotted_detectron2_keys_and_bad_values() -> None:
    cfg = config_from_meta({"config": {"SOLVER.BASE_LR": 0.02, "SOLVER.IMS_PER_BATCH": 16, "SOLVER.MOMENTUM": "x",
                                       "weight_decay": -1, "num_classes": 2.5}})
    assert cfg.known() == {"lr": 0.02, "batch_size": 16}


def test_top_level_wins_and_view_exposes_config() -> None:
    from trainlog_doctor.model.frame import from_columns

    frame = from_columns(run_id="r", source="x.csv", metric="loss", split="train", step=[0, 1], value=[1.0, 0.5])
    view = build_view(frame, {"optimizer": "SGD", "hparams": {"optimizer": "adam", "lr": 0.1}})
    assert view.config.optimizer == "sgd" and view.config.lr == 0.1
