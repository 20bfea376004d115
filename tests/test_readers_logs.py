"""Readers for the logs people have besides the framework files: Keras histories (JSON, pandas CSVs),
Lightning CSVs with odd column names, MLflow file-store runs, W&B run directories, console text logs."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from trainlog_doctor.readers import reader_for_file
from trainlog_doctor.readers.base import LogReadError, RunData
from trainlog_doctor.readers.discover import discover
from trainlog_doctor.readers.keras_csv import NO_EPOCH_WARNING, KerasCsvReader
from trainlog_doctor.readers.keras_history import KerasHistoryReader
from trainlog_doctor.readers.mlflow_store import MlflowStoreReader
from trainlog_doctor.readers.text_log import TextLogReader
from trainlog_doctor.readers.wandb_run import WandbRunReader

DATA = Path(__file__).resolve().parent / "data"
MLFLOW_RUN = DATA / "mlflow" / "mlruns" / "1" / "3f2a9c1d7e5b4a60b8d2c4e6f8a0b1c2"
WANDB_RUN = DATA / "wandb" / "wandb" / "run-20260508_223001-k3x9q2mw"


def _series(run: RunData) -> dict[tuple[str, str], pl.DataFrame]:
    """``(metric, split) -> rows`` sorted by step."""
    return {key: part.sort("step") for key, part in run.frame.group_by("metric", "split")}  # type: ignore[misc]


def _read_one(path: Path) -> RunData:
    reader = reader_for_file(path)
    assert reader is not None, f"{path} is not sniffed"
    runs = reader.read(path if reader.unit == "file" or path.is_dir() else path.parent, "r")
    assert len(runs) == 1
    return runs[0]


# ------------------------------------------------------------------------------------ Keras histories


@pytest.mark.parametrize("name", ["history.json", "training_history.json", "model_history.csv", "training_history.csv"])
def test_keras_histories_read_every_epoch(name: str) -> None:
    """All four shapes of one 12-epoch history give the same four series, the epoch being the row."""
    path = DATA / "keras_history" / name
    run = _read_one(path)
    series = _series(run)
    assert set(series) == {("loss", "train"), ("loss", "val"), ("acc" if "csv" in name else "accuracy", "train"),
                           ("acc" if "csv" in name else "accuracy", "val")}
    reference = json.loads((DATA / "keras_history" / "history.json").read_text())
    loss = series[("loss", "val")]
    assert loss["step"].to_list() == list(range(12))
    assert loss["epoch"].to_list() == [float(e) for e in range(12)]
    assert loss["value"].to_list() == pytest.approx(reference["val_loss"])
    assert any("row number" in w or "position in the list" in w for w in run.warnings)
    assert run.meta["epoch_from_row_index"] is True


def test_pandas_index_column_is_not_a_series() -> None:
    run = _read_one(DATA / "keras_history" / "model_history.csv")
    assert NO_EPOCH_WARNING in run.warnings
    assert not any(m.startswith("column") for m in run.frame["metric"].unique().to_list())


def test_keras_history_with_epoch_key_nulls_nan_and_ragged_lists(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"loss": [1.0, NaN, 0.5, null], "val_loss": [1.2, 1.1], "epoch": [5, 6, 7, 8], "name": "x"}')
    run = KerasHistoryReader().read(path, "r")[0]
    series = _series(run)
    train = series[("loss", "train")]
    assert train["step"].to_list() == [5, 6, 7]  # null is a missing point, NaN is kept
    assert math.isnan(train["value"][1])
    assert series[("loss", "val")]["epoch"].to_list() == [5.0, 6.0]
    assert not any("position in the list" in w for w in run.warnings)
    assert any("'name'" in w for w in run.warnings)


def test_keras_history_wrapped_with_params(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"history": {"loss": [0.9, 0.7, 0.6]}, "params": {"batch_size": 32, "epochs": 3}}))
    assert KerasHistoryReader().sniff(path, path.read_bytes())
    run = KerasHistoryReader().read(path, "r")[0]
    assert run.meta["batch_size"] == 32 and run.meta["params"]["epochs"] == 3
    assert run.frame.height == 3


@pytest.mark.parametrize(
    "text",
    ['{"name": "resnet", "layers": [1, 2]}', '[1, 2, 3]', '{"config": {"lr": 0.1}}', '[{"id": 1, "label": 3}]'],
)
def test_keras_history_sniff_refuses_other_json(tmp_path: Path, text: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(text)
    assert not KerasHistoryReader().sniff(path, path.read_bytes())


def test_truncated_history_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"loss": [0.9, 0.8, 0.7], "val_loss": [1.0, 0.')
    with pytest.raises(LogReadError, match="truncated or malformed JSON"):
        KerasHistoryReader().read(path, "r")


def test_keras_csvlogger_training_log_stays_csv() -> None:
    sample = Path(__file__).resolve().parents[1] / "sample_logs" / "healthy_keras" / "training.log"
    if not sample.is_file():
        pytest.skip("sample_logs not generated")
    assert isinstance(reader_for_file(sample), KerasCsvReader)


def test_lightning_metrics_csv_with_tensor_names() -> None:
    path = DATA / "lightning_csv" / "metrics.csv"
    assert reader_for_file(path).format == "lightning_csv"  # type: ignore[union-attr]
    series = _series(_read_one(path))
    assert set(series) == {("loss", "train"), ("out_tensor([0.])", "train"), ("out_tensor([1.])", "train")}
    assert series[("loss", "train")].height == 24
    tensor = series[("out_tensor([0.])", "train")]
    assert tensor["step"].to_list() == [39, 79, 119, 159, 199, 239]
    assert tensor["epoch"].to_list() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


# ---------------------------------------------------------------------------------------------- MLflow


def test_mlflow_run_series_steps_epochs_and_wall_time() -> None:
    run = MlflowStoreReader().read(MLFLOW_RUN, "r")[0]
    series = _series(run)
    assert set(series) == {("loss", "train"), ("loss", "val"), ("accuracy", "val"), ("lr-SGD", "other")}
    val = series[("loss", "val")]
    lines = (MLFLOW_RUN / "metrics" / "val_loss").read_text().split()
    assert val["step"].to_list() == [int(s) for s in lines[2::3]]
    assert val["value"].to_list() == pytest.approx([float(v) for v in lines[1::3]])
    assert val["wall_time"].to_list() == pytest.approx([int(t) / 1000 for t in lines[0::3]])
    assert val["epoch"].to_list() == [float(e) for e in range(20)]
    train = series[("loss", "train")]
    assert train.height == 100 and train["epoch"].to_list()[:6] == [0.0] * 5 + [1.0]
    assert run.meta["optimizer"] == "SGD" and run.meta["lr"] == 0.1 and run.meta["batch_size"] == 128
    assert run.meta["run_name"] == "bold-heron-42" and run.meta["status"] == "FINISHED"
    assert run.meta["experiment"] == "cifar10-resnet18"
    assert run.meta["params"]["momentum"] == 0.9
    assert run.warnings == []


def test_mlflow_discovery_finds_the_run_not_the_experiment() -> None:
    cands = [c for c in discover([DATA / "mlflow"]) if c.reader is not None]
    assert [(c.run_id, c.reader.format) for c in cands] == [("mlruns/1/3f2a9c1d7e5b4a60b8d2c4e6f8a0b1c2", "mlflow")]


def test_mlflow_bad_lines_old_format_and_yaml_tags(tmp_path: Path) -> None:
    run_dir = tmp_path / "0" / "abc"
    (run_dir / "metrics" / "train").mkdir(parents=True)
    (run_dir / "meta.yaml").write_text("run_uuid: abc\nstatus: !!python/object/apply:os.system ['echo hi']\nrun_name: x\n")
    (run_dir / "metrics" / "train" / "loss").write_text("1700000000000 0.9 0\ngarbage line here\n1700000001000 0.7 1\n")
    (run_dir / "metrics" / "acc").write_text("1700000000000 0.5\n")  # MLflow 0.x: no step
    run = MlflowStoreReader().read(run_dir, "r")[0]
    series = _series(run)
    assert series[("loss", "train")]["value"].to_list() == [0.9, 0.7]
    assert series[("acc", "train")]["step"].to_list() == [0]
    assert "status" not in run.meta
    assert any("metrics/train/loss: 1 line(s)" in w for w in run.warnings)


def test_mlflow_directory_without_meta_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LogReadError):
        MlflowStoreReader().read(tmp_path, "r")


# ------------------------------------------------------------------------------------------------ W&B


def test_wandb_text_only_run_reads_console_and_config() -> None:
    run = WandbRunReader().read(WANDB_RUN, "r")[0]
    series = _series(run)
    assert set(series) == {("loss", "train"), ("loss", "val"), ("acc", "train"), ("acc", "val"), ("lr", "other")}
    assert series[("loss", "val")]["epoch"].to_list() == [float(e) for e in range(1, 16)]
    assert run.meta["optimizer"] == "SGD" and run.meta["batch_size"] == 128 and run.meta["lr"] == 0.1
    assert "_wandb" not in run.meta["config"]
    assert run.meta["history_source"] == "files/output.log"
    assert any("files/output.log" in w and "no run-<id>.wandb" in w for w in run.warnings)


def test_wandb_discovery_reads_the_run_once(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(DATA / "wandb", root)
    (root / "wandb" / "latest-run").symlink_to(root / "wandb" / WANDB_RUN.name)
    warn: list[str] = []
    cands = discover([root], warn=warn)
    assert [(c.run_id, c.reader.format if c.reader else None) for c in cands] == [(f"wandb/{WANDB_RUN.name}", "wandb")]
    assert warn == []


@pytest.fixture(scope="module")
def offline_wandb_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real offline W&B run written by the wandb package (no network)."""
    pytest.importorskip("wandb")
    tmp = tmp_path_factory.mktemp("wandb")
    script = (
        "import math, wandb\n"
        f"run = wandb.init(dir={str(tmp)!r}, project='p', config={{'lr': 0.003, 'batch_size': 16, 'optimizer': 'AdamW'}})\n"
        "for s in range(40):\n"
        "    row = {'train/loss': 2.3 * math.exp(-s / 15) + 0.1, 'epoch': s // 10}\n"
        "    if s % 10 == 9:\n"
        "        row['val/loss'] = 2.4 * math.exp(-s / 15) + 0.2\n"
        "    wandb.log(row, step=s * 5)\n"
        "run.finish()\n"
    )
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300, cwd=tmp)
    (run_dir,) = [d for d in (tmp / "wandb").iterdir() if d.name.startswith("offline-run-")]
    return run_dir


def test_wandb_binary_history(offline_wandb_run: Path) -> None:
    cands = [c for c in discover([offline_wandb_run.parent.parent]) if c.reader is not None]
    assert [c.reader.format for c in cands] == ["wandb"]  # type: ignore[union-attr]
    run = WandbRunReader().read(offline_wandb_run, "r")[0]
    series = _series(run)
    assert set(series) == {("loss", "train"), ("loss", "val")}
    train = series[("loss", "train")]
    assert train["step"].to_list() == [s * 5 for s in range(40)]
    assert train["value"].to_list() == pytest.approx([2.3 * math.exp(-s / 15) + 0.1 for s in range(40)])
    assert train["epoch"].to_list() == [float(s // 10) for s in range(40)]
    assert train["wall_time"].null_count() == 0
    assert series[("loss", "val")]["step"].to_list() == [45, 95, 145, 195]
    assert run.meta["lr"] == 0.003 and run.meta["optimizer"] == "AdamW" and run.meta["batch_size"] == 16
    assert run.warnings == []


def test_wandb_binary_damage(offline_wandb_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / offline_wandb_run.name
    shutil.copytree(offline_wandb_run, run_dir)
    (binary,) = run_dir.glob("run-*.wandb")
    data = bytearray(binary.read_bytes())
    full = len(_series(WandbRunReader().read(run_dir, "r")[0])[("loss", "train")])
    binary.write_bytes(bytes(data[: len(data) * 2 // 3]))
    cut = WandbRunReader().read(run_dir, "r")[0]
    assert any("truncated" in w for w in cut.warnings)
    assert 0 < len(_series(cut)[("loss", "train")]) < full


def test_wandb_without_the_package_falls_back_to_the_console(
    offline_wandb_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trainlog_doctor.readers.wandb_run as wandb_run

    monkeypatch.setattr(wandb_run, "_wandb_proto", lambda: None)
    (offline_wandb_run / "files" / "output.log").write_text(
        "".join(f"epoch {e} - loss: {1.0 / (e + 1):.4f} - val_loss: {1.2 / (e + 1):.4f}\n" for e in range(5))
    )
    run = WandbRunReader().read(offline_wandb_run, "r")[0]
    assert any("wandb package is not installed" in w for w in run.warnings)
    assert _series(run)[("loss", "val")]["step"].to_list() == [0, 1, 2, 3, 4]


# ------------------------------------------------------------------------------------------ text logs


def test_keras_console_output_skips_progress_updates() -> None:
    run = _read_one(DATA / "text_log" / "keras_stdout.txt")
    series = _series(run)
    assert set(series) == {("loss", "train"), ("loss", "val"), ("accuracy", "train"), ("accuracy", "val")}
    for part in series.values():
        assert part["epoch"].to_list() == [float(e) for e in range(1, 9)]
    first = series[("loss", "train")]["value"][0]
    assert first == pytest.approx(0.9 * math.exp(-1 / 3) + 0.15, abs=1e-4)  # the epoch's last line, not the 2.2011 update
    assert run.meta["text_pattern"] == "keras progress"


def test_python_logging_lines_with_wall_time() -> None:
    run = _read_one(DATA / "text_log" / "training.log")
    series = _series(run)
    assert set(series) == {("loss", "train"), ("loss", "val"), ("acc", "train"), ("acc", "val"), ("lr", "other")}
    acc = series[("acc", "val")]
    assert acc["step"].to_list() == list(range(1, 13))  # the "best val_acc" summary line is not a point
    wall = acc["wall_time"].to_list()
    assert wall[0] == pytest.approx(1778279443.0)  # 2026-05-08 22:30:43 UTC
    assert all(b - a == 41 for a, b in zip(wall, wall[1:]))
    assert run.meta["text_pattern"].startswith("python logging")


def test_pytorch_prints_with_a_per_epoch_step_counter() -> None:
    run = _read_one(DATA / "text_log" / "train.log")
    series = _series(run)
    assert set(series) == {("Loss", "train")}
    loss = series[("Loss", "train")]
    assert loss["step"].to_list() == [e * 600 + s for e in range(3) for s in range(100, 700, 100)]
    assert loss["epoch"].to_list()[::6] == [1.0, 2.0, 3.0]


def test_printed_trainer_dicts(tmp_path: Path) -> None:
    path = tmp_path / "stdout.txt"
    lines = [f"{{'loss': {2.0 - 0.1 * i:.2f}, 'learning_rate': {5e-5 * (1 - i / 10):.2e}, 'epoch': {0.25 * (i + 1):.2f}}}"
             for i in range(8)]
    lines.insert(4, "{'eval_loss': 1.62, 'eval_runtime': 3.1, 'epoch': 1.0}")
    path.write_text("\n".join(lines) + "\n")
    run = _read_one(path)
    series = _series(run)
    assert series[("loss", "train")].height == 8
    assert series[("loss", "val")]["epoch"].to_list() == [1.0]
    assert series[("loss", "val")]["step"].to_list() == series[("loss", "train")].filter(pl.col("epoch") == 1.0)["step"].to_list()
    assert run.meta["text_pattern"] == "printed dicts"


@pytest.mark.parametrize(
    "text",
    [
        "The model was trained for 3 epochs.\nThe loss: it went down.\nSee epoch 2 for details, accuracy 0.9 was nice.\n",
        'Traceback (most recent call last):\n  File "train.py", line 12, in <module>\n    loss = step(1)\n'
        "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 7.79 GiB total capacity)\n",
        "epoch 1 started\nepoch 2 started\nepoch 3 started\nepoch 4 started\n",
        "".join(f"2026-05-08 10:00:0{i} INFO worker {i} ready, queue size: {i * 3}\n" for i in range(9)),
    ],
)
def test_prose_and_tracebacks_are_not_logs(tmp_path: Path, text: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(text)
    assert not TextLogReader().sniff(path, path.read_bytes()[:4096])
    with pytest.raises(LogReadError, match="not a training log"):
        TextLogReader().read(path, "r")


def test_text_log_skips_overlong_lines_and_ansi(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    body = "".join(f"\x1b[32mEpoch {e}\x1b[0m loss={1 / e:.3f} acc=0.{e}\n" for e in range(1, 6))
    path.write_text("x" * 70_000 + " epoch 9 loss=5.0\n" + body)
    series = _series(TextLogReader().read(path, "r")[0])
    assert series[("loss", "train")]["step"].to_list() == [1, 2, 3, 4, 5]


def test_hostile_long_line_is_fast(tmp_path: Path) -> None:
    import time

    path = tmp_path / "train.log"
    path.write_text(("epoch 1 " + "a" * 80 + ":" + " " * 4) * 700 + "\n" + "epoch=1 loss=0.5\n" * 3)
    start = time.perf_counter()
    TextLogReader().read(path, "r")
    assert time.perf_counter() - start < 2.0


def test_broken_history_named_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "training_history.json").write_text("not json at all")
    (tmp_path / "output.log").write_text("hello\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    cands = discover([tmp_path])
    assert sorted((c.path.name, c.reader is None and c.error is not None) for c in cands) == [
        ("output.log", True),
        ("training_history.json", True),
    ]
