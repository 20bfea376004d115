from __future__ import annotations

import math

import polars as pl
import pytest

from trainlog_doctor.model.frame import COLUMNS, SCHEMA, conform, from_columns
from trainlog_doctor.readers._frame import split_on_reset, wide_to_long
from trainlog_doctor.run.names import infer_split, is_lr_name
from trainlog_doctor.run.series import split_series


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("loss", ("loss", "train")),
        ("val_loss", ("loss", "val")),
        ("val_accuracy", ("accuracy", "val")),
        ("eval_loss", ("loss", "val")),
        ("eval_g0_loss", ("g0_loss", "val")),
        ("valid_loss", ("loss", "val")),
        ("test_acc1", ("acc1", "test")),
        ("train_loss", ("loss", "train")),
        ("train/box_loss", ("box_loss", "train")),
        ("val/box_loss", ("box_loss", "val")),
        ("Loss/val", ("Loss", "val")),
        ("Accuracy/train", ("Accuracy", "train")),
        ("Loss/Train_Batch", ("Loss_Batch", "train")),
        ("Loss/Val_Epoch", ("Loss_Epoch", "val")),
        ("metrics/mAP_0.5", ("mAP_0.5", "val")),
        ("epoch_loss", ("loss", "train")),
        ("lr", ("lr", "other")),
        ("learning_rate", ("learning_rate", "other")),
        ("lr-Adam", ("lr-Adam", "other")),
        ("x/lr0", ("x/lr0", "other")),
        ("train/learning_rate", ("learning_rate", "other")),
        ("eval_runtime", ("runtime", "other")),
        ("data_time", ("data_time", "other")),
        ("time", ("time", "other")),
        ("total_loss", ("total_loss", "train")),
        ("train_loss_step", ("loss_step", "train")),
        ("val_loss_epoch", ("loss_epoch", "val")),
        ("epoch", ("epoch", "other")),
        ("train/epoch", ("epoch", "other")),
        ("step", ("step", "other")),
        ("fast_rcnn/cls_accuracy", ("fast_rcnn/cls_accuracy", "train")),
    ],
)
def test_infer_split(name: str, expected: tuple[str, str]) -> None:
    assert infer_split(name) == expected


def test_lr_names() -> None:
    for name in ("lr", "learning_rate", "lr-Adam", "x/lr0", "lr/pg1", "train_lr", "epoch_lr"):
        assert is_lr_name(name), name
    for name in ("loss", "clr_loss", "flr", "val_accuracy"):
        assert not is_lr_name(name), name


def test_split_on_reset() -> None:
    assert split_on_reset([0, 1, 2, 3]) == []
    assert split_on_reset([0, 1, 0, 1, 2, 0]) == [2, 5]
    assert split_on_reset([0, 1, 1, 2]) == [2]
    assert split_on_reset([0, 1, 1, 2], allow_equal=True) == []
    assert split_on_reset([None, 3, float("nan"), 4, 2]) == [4]


def test_wide_to_long_keeps_nan_and_drops_nulls() -> None:
    wide = pl.DataFrame(
        {"epoch": [0, 1, 2], "loss": [1.0, float("nan"), 0.5], "val_loss": [1.2, None, 0.9], "name": ["a", "b", "c"]}
    )
    long = wide_to_long(wide, run_id="r", source="f.csv", step_col="epoch", epoch_col="epoch")
    assert long.columns == COLUMNS
    assert dict(long.schema) == SCHEMA
    train = long.filter((pl.col("metric") == "loss") & (pl.col("split") == "train"))
    assert train.height == 3 and math.isnan(train["value"][1])
    val = long.filter(pl.col("split") == "val")
    assert val["step"].to_list() == [0, 2]
    assert "name" not in long["metric"].to_list()


def test_from_columns_and_conform() -> None:
    df = from_columns(run_id="r", source="s", metric="loss", split="train", step=[0, 1], value=[2.0, 1.0])
    assert df.columns == COLUMNS and df["epoch"].null_count() == 2
    assert conform(pl.DataFrame({"value": [1]})).schema == pl.Schema(SCHEMA)


def test_wide_to_long_metric_named_like_an_index_column() -> None:
    wide = pl.DataFrame({"iteration": [1, 2], "epoch": [0.5, 1.0], "step": [7.0, 8.0], "loss": [1.0, 0.5]})
    long = wide_to_long(wide, run_id="r", source="s", step_col="iteration")
    assert sorted(long["metric"].unique().to_list()) == ["epoch", "loss", "step"]
    assert long.filter(pl.col("metric") == "loss")["step"].to_list() == [1, 2]


def test_split_series_sorts_dedups_and_keeps_first_appearance_order() -> None:
    import numpy as np

    df = pl.DataFrame(
        {
            "metric": ["acc", "loss", "loss", "loss", "acc", "loss", None],
            "split": ["val", "train", "train", "train", "val", None, "train"],
            "step": [2, 3, 1, 3, 1, None, 4],
            "wall_time": [5.0, 3.0, 1.0, 2.0, 4.0, 9.0, 9.0],
            "value": [0.5, 0.3, 0.9, float("nan"), None, 1.0, 1.0],
        }
    )
    got = split_series(df)
    assert [(a.metric, a.split) for a in got] == [("acc", "val"), ("loss", "train")]
    acc, loss = got
    assert acc.steps.tolist() == [1, 2] and np.isnan(acc.values[0]) and acc.values[1] == 0.5
    # two rows on step 3: the later wall time (3.0, value 0.3) wins over the later row (wall 2.0)
    assert loss.steps.tolist() == [1, 3] and loss.values.tolist() == [0.9, 0.3]
    assert np.isnan(loss.epochs).all() and loss.wall_time.tolist() == [1.0, 3.0]
    with pytest.raises(ValueError):
        loss.values[0] = 0.0  # shared by rules and charts: read-only
    assert loss.duplicates == 1 and acc.duplicates == 0
