"""The metric vocabulary (run/names.py): split inference, granularity, one identity per tag."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from trainlog_doctor.model.frame import from_columns
from trainlog_doctor.run import build_view
from trainlog_doctor.run.names import granularity, infer_split, series_names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("val_loss", ("loss", "val")),
        ("Loss/train", ("Loss", "train")),
        ("train/lr", ("lr", "other")),
        ("time/epoch_seconds", ("time/epoch_seconds", "other")),  # a duration is no data split
        ("train/samples_per_sec", ("samples_per_sec", "other")),
        ("eval_runtime", ("runtime", "other")),
        ("train_loss_epoch", ("loss_epoch", "train")),
    ],
)
def test_infer_split(name: str, expected: tuple[str, str]) -> None:
    assert infer_split(name) == expected


def test_granularity_suffixes() -> None:
    assert granularity("loss_step") == ("loss", "step")
    assert granularity("acc_Epoch") == ("acc", "epoch")
    assert granularity("loss") == ("loss", None)


def test_series_names_lightning_granularities_and_collisions() -> None:
    names = series_names(["train_loss_step", "train_loss_epoch", "val_loss_epoch", "lr", "train/lr"], infer_split)
    # the per-epoch aggregate is the training loss when no plain train_loss exists; per-step stays apart
    assert names["train_loss_epoch"] == ("loss", "train")
    assert names["train_loss_step"] == ("loss_step", "train")
    assert names["val_loss_epoch"] == ("loss", "val")
    # two tags that infer the same series keep apart: the later one keeps its own tag as metric
    assert names["lr"] == ("lr", "other") and names["train/lr"] == ("train/lr", "other")
    with_plain = series_names(["train_loss", "train_loss_epoch"], infer_split)
    assert with_plain == {"train_loss": ("loss", "train"), "train_loss_epoch": ("loss_epoch", "train")}


def test_series_names_never_repeat_a_name() -> None:
    names = series_names(["acc", "train_acc", "accuracy_train", "train/acc"], infer_split)
    assert len(set(names.values())) == 4


def test_repeated_steps_are_counted_and_the_latest_written_kept() -> None:
    frame = from_columns(
        run_id="r", source="s", metric="loss", split="train",
        step=[0, 1, 1, 2, 2, 2], value=[1.0, 0.9, 0.8, 0.7, 0.6, 0.5], wall_time=[0, 1, 3, 4, 6, 5],
    )  # fmt: skip
    s = build_view(frame, {}).get("loss", "train")
    assert s is not None
    assert s.steps.tolist() == [0, 1, 2] and s.duplicates == 3
    assert np.allclose(s.values, [1.0, 0.8, 0.6])  # step 2: wall time 6 is the latest written


def _event_file(path, points: list[tuple[str, int, float, float]]) -> None:  # type: ignore[no-untyped-def]
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    with open(path, "wb") as fh:
        writer = RecordWriter(fh)
        writer.write(event_pb2.Event(wall_time=0.0, file_version="brain.Event:2").SerializeToString())
        for tag, step, value, wall in points:
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
            writer.write(event_pb2.Event(wall_time=wall, step=step, summary=summary).SerializeToString())
        writer.flush()


def test_torch_writer_lr_per_epoch_and_per_step_stay_two_series(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SummaryWriter logging ``lr`` once per epoch and ``train/lr`` once per step: two series, not one."""
    import trainlog_doctor

    points = [("train/lr", s, 0.1 * (1 - s / 40), float(s)) for s in range(40)]
    points += [("lr", e * 10, 0.1, float(e * 10) + 0.5) for e in range(4)]
    points += [("train/loss", s, 2.0 / (1 + s), float(s)) for s in range(40)]
    points += [("train/loss", 39, 0.04, 99.0)]  # step 39 written twice: the later one is kept, and counted
    run = tmp_path / "run"
    run.mkdir()
    _event_file(run / "events.out.tfevents.1.host", points)
    report = trainlog_doctor.analyze([str(run)]).to_dict()["runs"][0]
    series = {(s["metric"], s["split"]): s for s in report["series"]}
    assert series[("lr", "other")]["points"] == 4
    assert series[("train/lr", "other")]["points"] == 40
    assert series[("loss", "train")]["points"] == 40 and series[("loss", "train")]["duplicate_steps"] == 1
    assert "duplicate_steps" not in series[("lr", "other")]
    assert any("1 repeated step(s) in 1 series" in w for w in report["warnings"])  # said, not dropped silently
    loaded = trainlog_doctor.load([str(run)])
    assert loaded.filter(pl.col("metric") == "loss").height == 41  # load() keeps what the file holds
