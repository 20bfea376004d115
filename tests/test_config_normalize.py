"""run.config normalization: key patterns, foreign sections, value shapes and the writers' conventions."""

from __future__ import annotations

import pytest

from trainlog_doctor.run.config import config_from_meta


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("cosine", "cosine"), ("cosine_with_restarts", "cosine"), ("CosineAnnealing", "cosine"),
        ("fvcore.common.param_scheduler.CosineParamScheduler", "cosine"), ("WarmupMultiStepLR", "step"),
        ("step", "step"), ("torch.optim.lr_scheduler.StepLR", "step"), ("reduce_lr_on_plateau", "plateau"),
        ("ReduceLROnPlateau", "plateau"), ("OneCycleLR", "onecycle"), ("polynomial", "poly"), ("linear", "linear"),
        ("constant_with_warmup", "constant"), ("ExponentialLR", "exponential"), ("inverse_sqrt", "inverse_sqrt"),
        ("CyclicLR", "cyclic"), ("warmup_stable_decay", "warmup_stable_decay"),
    ],
)
def test_scheduler_families(name: str, family: str) -> None:
    assert config_from_meta({"args": {"lr_scheduler_type": name}}).scheduler == family


def test_tensorboard_hparams_with_slash_keys_and_class_reprs() -> None:
    cfg = config_from_meta({"hparams": {"optimizer": "<class 'torch.optim.sgd.SGD'>", "optimizer/lr": 0.01,
                                        "model/norm/momentum": 0.1, "optimizer/momentum": 0.9}})
    assert (cfg.optimizer, cfg.lr, cfg.momentum) == ("sgd", 0.01, 0.9)
    assert cfg.origin["momentum"] == "hparams.optimizer/momentum"


def test_foreign_sections_are_not_read() -> None:
    cfg = config_from_meta({"config": {
        "model.backbone.norm_cfg.momentum": 0.1, "model.backbone.norm_cfg.eps": 1e-5, "ema.momentum": 0.9999,
        "val_dataloader.batch_size": 1, "data.test.samples_per_gpu": 1, "custom_hooks.0.momentum": 2e-4,
        "lr_config.warmup_ratio": 0.001,
    }})
    assert cfg.known() == {}


def test_specific_patterns_win_over_generic_ones_and_depth() -> None:
    cfg = config_from_meta({"config": {"model.head.lr": 5.0, "optimizer.lr": 0.02, "model.dropout": 0.5,
                                       "dropout": 0.1, "num_classes": 3, "classes": ["a", "b"]}})
    assert (cfg.lr, cfg.dropout, cfg.num_classes) == (0.02, 0.1, 3)
    assert config_from_meta({"config": {"classes": ["cat", "dog", "bird"]}}).num_classes == 3


def test_bad_values_fall_through_to_the_next_candidate() -> None:
    cfg = config_from_meta({"config": {"optimizer.lr": "auto", "lr": 0.1, "batch": -1, "batch_size": 8,
                                       "betas": [0.9], "adam_beta1": 1.5, "beta1": 0.8}})
    assert (cfg.lr, cfg.batch_size, cfg.beta1) == (0.1, 8, 0.8)


def test_strings_from_mlflow_params_and_yaml_scientific_notation() -> None:
    cfg = config_from_meta({"params": {"learning_rate": "1e-4", "batch_size": "32", "optimizer": "torch.optim.AdamW",
                                       "max_grad_norm": "0.0", "epochs": "10"}})
    assert (cfg.lr, cfg.batch_size, cfg.optimizer, cfg.epochs) == (1e-4, 32, "adamw", 10.0)
    assert cfg.clips_gradients is False and cfg.grad_clip is None


def test_clipping_switched_off_in_the_writers_ways() -> None:
    assert config_from_meta({"grad_clip": None}).clips_gradients is False  # mmcv optimizer_config = dict(grad_clip=None)
    detectron2 = {"config": {"SOLVER.CLIP_GRADIENTS.ENABLED": False, "SOLVER.CLIP_GRADIENTS.CLIP_VALUE": 1.0}}
    assert config_from_meta(detectron2).clips_gradients is False and config_from_meta(detectron2).grad_clip is None
    detectron2["config"]["SOLVER.CLIP_GRADIENTS.ENABLED"] = True
    assert config_from_meta(detectron2).grad_clip == 1.0
    assert config_from_meta({}).clips_gradients is None


def test_precision_spellings() -> None:
    cases = {("precision", 16): "fp16", ("precision", "32-true"): "fp32", ("precision", "bf16-mixed"): "bf16",
             ("mixed_precision", "no"): "fp32", ("mixed_precision", "fp16"): "fp16", ("amp", True): "mixed",
             ("dtype_policy", "mixed_float16"): "fp16", ("amp", False): "fp32"}
    for (key, value), want in cases.items():
        assert config_from_meta({"config": {key: value}}).precision == want, (key, value)


def test_optimizer_names() -> None:
    for raw, want in (("adamw_torch_fused", "adamw"), ("adamw_bnb_8bit", "adamw"), ("auto", None), ("RMSprop", "rmsprop"),
                      ("torch.optim.SGD", "sgd"), ("", None)):
        assert config_from_meta({"args": {"optim": raw}}).optimizer == want, raw


def test_bounded_on_a_huge_nested_meta() -> None:
    meta = {"config": {f"k{i}": {"a": {"b": i}} for i in range(20_000)}}
    cfg = config_from_meta(meta)
    assert cfg.known() == {}
