"""Readers for the CSV families: Keras CSVLogger (and per-epoch CSVs), Lightning metrics.csv, YOLO results.csv."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import polars as pl
import pytest

from trainlog_doctor.model.frame import SCHEMA, SPLITS
from trainlog_doctor.readers._csv import find_header, is_metric_like, parse_csv, sniff_header
from trainlog_doctor.readers.base import LogReadError, RunData, read_head
from trainlog_doctor.readers.keras_csv import KerasCsvReader
from trainlog_doctor.readers.lightning_csv import LightningCsvReader
from trainlog_doctor.readers.ultralytics_csv import UltralyticsCsvReader

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real_logs"
KERAS = KerasCsvReader()
LIGHTNING = LightningCsvReader()
YOLO = UltralyticsCsvReader()
CSV_READERS = (YOLO, LIGHTNING, KERAS)


def _real(rel: str) -> Path:
    path = REAL / rel
    if not path.exists():
        pytest.skip(f"real log {rel} not available")
    return path


def _real_files(*dirs: str) -> list[Path]:
    if not REAL.is_dir():
        return []
    out: list[Path] = []
    for d in dirs:
        out.extend(sorted(p for p in (REAL / d).rglob("*") if p.is_file()))
    return out


def _sniffers(path: Path) -> list[str]:
    head = read_head(path)
    return [r.format for r in CSV_READERS if r.sniff(path, head)]


def _check_frame(run: RunData) -> None:
    assert dict(run.frame.schema) == SCHEMA
    assert set(run.frame["split"].unique().to_list()) <= set(SPLITS)
    assert run.frame["value"].null_count() == 0
    assert run.frame["step"].null_count() == 0


def _series(run: RunData, metric: str, split: str) -> pl.DataFrame:
    return run.frame.filter((pl.col("metric") == metric) & (pl.col("split") == split)).sort("step")


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ------------------------------------------------------------------------------------ every real file

EXPECTED_FORMAT = {"keras_csv": "keras_csv", "lightning_csv": "lightning_csv", "ultralytics": "ultralytics_csv"}
REAL_CSV_FILES = _real_files("keras_csv", "lightning_csv", "ultralytics", "jsonl_other/jsonl_other_04")


@pytest.mark.parametrize("path", REAL_CSV_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_csv_is_sniffed_by_one_reader_and_reads(path: Path) -> None:
    hits = _sniffers(path)
    if path.name == "monitor_detection.log":
        assert hits == []  # AUTOTRAINER's detector log is not a training log
        return
    family = path.parent.parent.name
    assert hits == [EXPECTED_FORMAT.get(family, "keras_csv")]
    reader = {r.format: r for r in CSV_READERS}[hits[0]]
    runs = reader.read(path, "run")
    assert runs, "at least one run"
    for i, run in enumerate(runs):
        assert run.suffix == ("" if i == 0 else f"#{i + 1}")
        assert run.frame.height > 0
        _check_frame(run)
        assert set(run.frame["run_id"].unique().to_list()) == {"run" + run.suffix}
        assert set(run.frame["source"].unique().to_list()) == {str(path)}


def test_no_csv_reader_sniffs_the_other_real_families() -> None:
    others = _real_files("tfevents", "hf_trainer_state", "detectron2", "mmdet", "jsonl_other")
    others = [p for p in others if p.parent.name != "jsonl_other_04"]
    if not others:
        pytest.skip("real logs not available")
    assert {str(p): _sniffers(p) for p in others if _sniffers(p)} == {}


def test_monitor_detection_log_read_explicitly_is_refused() -> None:
    path = _real("keras_csv/keras_csv_12/monitor_detection.log")
    with pytest.raises(LogReadError, match="not a training log"):
        KERAS.read(path, "m")


# --------------------------------------------------------------------------------- notable real files


def test_keras_csv_01_has_four_appended_runs() -> None:
    runs = KERAS.read(_real("keras_csv/keras_csv_01/model_history_log.csv"), "ai4mars")
    assert [r.suffix for r in runs] == ["", "#2", "#3", "#4"]
    epochs = [sorted(_series(r, "loss", "train")["epoch"].to_list()) for r in runs]
    assert epochs == [[0.0, 1.0, 2.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    assert _series(runs[1], "loss", "val")["value"].to_list()[0] == pytest.approx(4.502778053283691)
    assert runs[3].frame["run_id"].unique().to_list() == ["ai4mars#4"]


@pytest.mark.parametrize(
    ("rel", "lengths"),
    [
        ("keras_csv/keras_csv_03/training_log.csv", [5, 4, 10, 5]),
        ("keras_csv/keras_csv_07/training.log", [2, 48]),
        ("keras_csv/keras_csv_13/training_log.csv", [5, 10]),
        ("keras_csv/keras_csv_02/model_history_logdef.csv", [82]),
    ],
)
def test_keras_appended_runs_split_on_epoch_reset(rel: str, lengths: list[int]) -> None:
    runs = KERAS.read(_real(rel), "r")
    assert [_series(r, "loss", "train").height for r in runs] == lengths


def test_keras_csv_23_semicolon_and_junk_first_line() -> None:
    path = _real("keras_csv/keras_csv_23/model_history_log.csv")
    header = sniff_header(read_head(path))
    assert header is not None and header.separator == ";" and header.junk_lines == 1
    (run,) = KERAS.read(path, "digits")
    assert any("before the header" in w for w in run.warnings)
    loss = _series(run, "loss", "train")
    assert loss["epoch"].to_list() == [float(e) for e in range(17)]
    assert loss["value"][0] == pytest.approx(1.576022744178772)
    assert _series(run, "accuracy", "val")["value"][-1] == pytest.approx(0.9516162872314453)


def test_keras_csv_04_learning_rate_goes_to_other() -> None:
    (run,) = KERAS.read(_real("keras_csv/keras_csv_04/training.log"), "brain")
    lr = _series(run, "learning_rate", "other")
    assert lr.height == 35
    assert lr["value"][0] == pytest.approx(0.0010000000474974513)
    assert lr["value"][-1] == pytest.approx(9.999999974752427e-07)
    pairs = set(zip(run.frame["metric"].to_list(), run.frame["split"].to_list()))
    assert {("dice_coef", "train"), ("dice_coef", "val"), ("mean_io_u", "val")} <= pairs


def test_keras_csv_09_without_epoch_column_uses_row_index() -> None:
    (run,) = KERAS.read(_real("keras_csv/keras_csv_09/log.csv"), "deepfd")
    assert run.meta.get("epoch_from_row_index") is True
    val = _series(run, "loss", "val")
    assert val["epoch"].to_list() == [float(i) for i in range(100)]
    assert val["step"].to_list() == list(range(100))
    assert val["value"][0] == pytest.approx(2.3017282024383543)
    assert _series(run, "accuracy", "train")["value"][0] == pytest.approx(0.11056667)


def test_keras_csv_08_missing_epoch_is_not_a_new_run() -> None:
    (run,) = KERAS.read(_real("keras_csv/keras_csv_08/model_history_log.csv"), "color")
    steps = _series(run, "loss", "train")["step"].to_list()
    assert 243 in steps and 244 not in steps and 245 in steps
    assert set(run.frame["split"].to_list()) == {"train"}


def test_keras_csv_10_cr_cr_lf_line_endings() -> None:
    (run,) = KERAS.read(_real("keras_csv/keras_csv_10/training_log.csv"), "deepfake")
    assert run.warnings == []
    assert _series(run, "loss", "val")["step"].to_list() == list(range(7))


def test_keras_negative_losses_are_kept() -> None:
    (run,) = KERAS.read(_real("keras_csv/keras_csv_15/training.log"), "ecg")
    assert _series(run, "loss", "val")["value"].max() < 0
    assert _series(run, "lr", "other").height == 70


def test_custom_fold_csv_jsonl_other_04() -> None:
    (run,) = KERAS.read(_real("jsonl_other/jsonl_other_04/training_log.csv"), "lung")
    assert run.meta["fold"] == 1
    pairs = set(zip(run.frame["metric"].to_list(), run.frame["split"].to_list()))
    assert pairs == {("loss", "train"), ("loss", "val"), ("acc", "train"), ("acc", "val"),
                     ("f1", "train"), ("f1", "val"), ("lr", "other")}
    assert _series(run, "loss", "train")["epoch"].to_list() == [float(e) for e in range(1, 30)]
    assert "fold" not in run.frame["metric"].to_list()


def test_ultralytics_05_padded_nan_is_a_nan_value() -> None:
    (run,) = YOLO.read(_real("ultralytics/ultralytics_05/results.csv"), "lid")
    assert run.meta["writer"] == "yolov5" and run.meta["epoch_base"] == 0
    nan_rows = run.frame.filter(pl.col("value").is_nan())
    assert sorted(nan_rows["metric"].to_list()) == ["box_loss", "obj_loss"]
    assert set(nan_rows["split"].to_list()) == {"val"} and set(nan_rows["epoch"].to_list()) == {1.0}
    assert _series(run, "mAP_0.5", "val").height == 151
    assert _series(run, "x/lr0", "other")["value"][0] == pytest.approx(0.070349)
    assert _series(run, "box_loss", "train")["epoch"][0] == 0.0


def test_ultralytics_02_appended_rerun_is_two_runs() -> None:
    runs = YOLO.read(_real("ultralytics/ultralytics_02/results.csv"), "bottle")
    assert [r.suffix for r in runs] == ["", "#2"]
    assert [(_series(r, "box_loss", "train")["epoch"].min(), _series(r, "box_loss", "train")["epoch"].max())
            for r in runs] == [(1.0, 12.0), (1.0, 32.0)]
    assert runs[0].meta["writer"] == "ultralytics" and runs[0].meta["epoch_base"] == 1
    pairs = set(zip(runs[0].frame["metric"].to_list(), runs[0].frame["split"].to_list()))
    assert {("mAP50(B)", "val"), ("mAP50-95(B)", "val"), ("lr/pg0", "other"), ("dfl_loss", "val")} <= pairs


def test_ultralytics_07_time_is_wall_time() -> None:
    (run,) = YOLO.read(_real("ultralytics/ultralytics_07/results.csv"), "v11")
    loss = _series(run, "box_loss", "train")
    assert loss.height == 100
    assert loss["wall_time"][0] == pytest.approx(72.5337)
    assert loss["wall_time"].is_sorted()
    assert "time" not in run.frame["metric"].to_list()


def test_ultralytics_01_resume_continues_numbering_one_run() -> None:
    runs = YOLO.read(_real("ultralytics/ultralytics_01/results.csv"), "bills")
    assert len(runs) == 1
    assert _series(runs[0], "obj_loss", "val")["step"].to_list() == list(range(300))


def test_lightning_csv_02_lr_rows_get_an_epoch() -> None:
    (run,) = LIGHTNING.read(_real("lightning_csv/lightning_csv_02/metrics.csv"), "opal")
    lr = _series(run, "lr-Adam", "other")
    assert lr.height > 0 and lr["epoch"].null_count() == 0
    assert lr["step"][0] == 49 and lr["epoch"][0] == 0.0
    train = _series(run, "nll_loss", "train")
    assert set(lr["step"].to_list()) & set(train["step"].to_list())
    val = _series(run, "rmse_loss", "val")
    assert val.height == 8 and val["epoch"].to_list() == [float(e) for e in range(8)]
    assert run.frame["epoch"].null_count() == 0


def test_lightning_step_and_epoch_suffixes() -> None:
    (run,) = LIGHTNING.read(_real("lightning_csv/lightning_csv_03/metrics.csv"), "pinn")
    pairs = set(zip(run.frame["metric"].to_list(), run.frame["split"].to_list()))
    assert pairs == {
        ("loss", "train"), ("loss_step", "train"), ("dynamics_loss", "train"), ("dynamics_loss_step", "train"),
        ("initial_omega_loss", "train"), ("initial_omega_loss_step", "train"),
        ("initial_theta_loss", "train"), ("initial_theta_loss_step", "train"),
    }
    epoch_loss = _series(run, "loss", "train")
    assert epoch_loss["value"][0] == pytest.approx(306.91754150390625)
    assert epoch_loss["step"][0] == 7 and epoch_loss["epoch"][0] == 0.0


def test_lightning_test_only_and_val_only_files() -> None:
    (test_run,) = LIGHTNING.read(_real("lightning_csv/lightning_csv_08/metrics.csv"), "waste")
    assert sorted(zip(test_run.frame["metric"], test_run.frame["split"], test_run.frame["value"])) == [
        ("acc", "test", pytest.approx(0.954224169254303)),
        ("loss", "test", pytest.approx(0.15669432282447815)),
    ]
    (val_run,) = LIGHTNING.read(_real("lightning_csv/lightning_csv_01/metrics.csv"), "eurosat")
    assert set(val_run.frame["split"].to_list()) == {"val"}
    assert _series(val_run, "loss", "val")["step"].to_list() == list(range(1, 20, 2))


def test_lightning_old_insertion_order_header() -> None:
    (run,) = LIGHTNING.read(_real("lightning_csv/lightning_csv_07/metrics.csv"), "probe")
    assert _series(run, "loss", "train").height == 28
    assert _series(run, "acc", "train")["step"].to_list()[:3] == [49, 99, 149]


# ----------------------------------------------------------------------------------- hand-made inputs


def test_na_nan_inf_spellings(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log",
                  "epoch,acc,loss,val_loss\n0,0.5,1.0,NA\n1,INF, nan ,2.0\n2,,-inf,NaN\n3,0.7,0.5,NA\n")
    assert KERAS.sniff(path, read_head(path))
    (run,) = KERAS.read(path, "r")
    _check_frame(run)
    loss = _series(run, "loss", "train")["value"].to_list()
    assert loss[0] == 1.0 and math.isnan(loss[1]) and loss[2] == -math.inf and loss[3] == 0.5
    acc = _series(run, "acc", "train")
    assert acc["step"].to_list() == [0, 1, 3]  # the empty cell is missing, not zero
    assert acc["value"][1] == math.inf
    val = _series(run, "loss", "val")
    assert val["step"].to_list() == [1, 2] and math.isnan(val["value"][1])
    assert run.warnings == []


def test_tab_separator(tmp_path: Path) -> None:
    path = _write(tmp_path, "history.tsv", "epoch\tloss\tval_loss\n0\t1.0\t1.1\n1\t0.8\t0.9\n")
    assert _sniffers(path) == ["keras_csv"]
    (run,) = KERAS.read(path, "r")
    assert _series(run, "loss", "val")["value"].to_list() == [1.1, 0.9]


@pytest.mark.parametrize("newline", ["\r\n", "\r\r\n", "\r"])
def test_windows_and_odd_line_endings(tmp_path: Path, newline: str) -> None:
    path = _write(tmp_path, "log.csv", newline.join(["epoch,loss,val_loss", "0,1.0,1.1", "1,0.8,0.9", ""]))
    assert KERAS.sniff(path, read_head(path))
    (run,) = KERAS.read(path, "r")
    assert run.warnings == []
    assert _series(run, "loss", "train")["value"].to_list() == [1.0, 0.8]


@pytest.mark.parametrize(
    ("reader", "header"),
    [
        (KERAS, "epoch,accuracy,loss,val_accuracy,val_loss\n"),
        (LIGHTNING, "epoch,step,train_loss\n"),
        (YOLO, "epoch,time,train/box_loss,metrics/mAP50(B),lr/pg0\n"),
    ],
)
def test_header_only_file_is_an_empty_run(tmp_path: Path, reader: object, header: str) -> None:
    path = _write(tmp_path, "metrics.csv" if reader is LIGHTNING else "results.csv", header)
    assert reader.sniff(path, read_head(path))  # type: ignore[attr-defined]
    (run,) = reader.read(path, "r")  # type: ignore[attr-defined]
    assert run.frame.height == 0 and dict(run.frame.schema) == SCHEMA
    assert run.warnings[0] == "header only, no rows"


def test_empty_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log", b"")
    assert _sniffers(path) == []
    for reader in CSV_READERS:
        with pytest.raises(LogReadError, match="empty file"):
            reader.read(path, "r")


def test_binary_junk_named_csv(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = _write(tmp_path, "training_log.csv", b"epoch,loss\n" + bytes(rng.randrange(256) for _ in range(5000)))
    assert _sniffers(path) == []
    with pytest.raises(LogReadError, match="^not a CSV"):
        KERAS.read(path, "r")
    png = _write(tmp_path, "results.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    assert _sniffers(png) == []
    with pytest.raises(LogReadError, match="^not a CSV"):
        YOLO.read(png, "r")


def test_non_utf8_bytes_in_a_column_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log", "epoch,loss,val_acc\xe9\n0,1.0,0.5\n1,0.9,0.6\n".encode("latin-1"))
    assert KERAS.sniff(path, read_head(path))
    (run,) = KERAS.read(path, "r")
    assert any("non-UTF-8" in w for w in run.warnings)
    assert _series(run, "acc\ufffd", "val")["value"].to_list() == [0.5, 0.6]
    assert _series(run, "loss", "train")["value"].to_list() == [1.0, 0.9]


def test_git_lfs_pointer(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "results.csv",
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 44688\n",
    )
    assert _sniffers(path) == []
    with pytest.raises(LogReadError, match="LFS"):
        YOLO.read(path, "r")


def test_rows_with_too_many_or_too_few_fields(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log", "epoch,loss,val_loss\n0,1.0,1.1\n1,0.8,0.9,7,8\n2,0.7\n3,0.6,0.7\n")
    (run,) = KERAS.read(path, "r")
    assert any("more fields" in w for w in run.warnings)
    assert any("fewer fields" in w for w in run.warnings)
    assert _series(run, "loss", "train")["value"].to_list() == [1.0, 0.8, 0.7, 0.6]
    assert _series(run, "loss", "val")["step"].to_list() == [0, 1, 3]


def test_trailing_separator_is_not_a_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log", "epoch,loss,val_loss,\n0,1.0,1.1,\n1,0.8,0.9,\n")
    (run,) = KERAS.read(path, "r")
    assert run.warnings == []
    assert sorted(set(run.frame["metric"].to_list())) == ["loss"]


def test_quoted_list_column_is_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log", 'epoch,loss,per_class\n0,1.0,"[0.1, 0.2]"\n1,0.9,"[0.2, 0.3]"\n')
    (run,) = KERAS.read(path, "r")
    assert set(run.frame["metric"].to_list()) == {"loss"}
    assert any("per_class" in w for w in run.warnings)


def test_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log", "epoch;loss;val_loss\n0;1,5;1,6\n1;0,8;0,9\n")
    assert KERAS.sniff(path, read_head(path))
    (run,) = KERAS.read(path, "r")
    assert _series(run, "loss", "train")["value"].to_list() == [1.5, 0.8]
    assert _series(run, "loss", "val")["value"].to_list() == [1.6, 0.9]


def test_repeated_header_starts_a_new_run(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log", "epoch,loss\n0,1.0\n1,0.9\nepoch,loss\n5,0.8\n6,0.7\n")
    runs = KERAS.read(path, "r")
    assert [r.suffix for r in runs] == ["", "#2"]
    assert _series(runs[1], "loss", "train")["step"].to_list() == [5, 6]


def test_resumed_keras_run_restarting_at_initial_epoch(tmp_path: Path) -> None:
    rows = [f"{e},{1.0 / (e + 1)}" for e in range(6)] + [f"{e},{0.5 / (e + 1)}" for e in range(3, 8)]
    path = _write(tmp_path, "training.log", "\n".join(["epoch,loss", *rows, ""]))
    runs = KERAS.read(path, "r")
    assert [_series(r, "loss", "train")["step"].to_list() for r in runs] == [list(range(6)), list(range(3, 8))]


def test_k_fold_csv_gives_one_run_per_fold(tmp_path: Path) -> None:
    rows = [f"{f},{e},{1 / e:.3f},{1.1 / e:.3f}" for f in (1, 2, 3) for e in range(1, 5)]
    path = _write(tmp_path, "training_log.csv", "\n".join(["fold,epoch,train_loss,val_loss", *rows, ""]))
    runs = KERAS.read(path, "cv")
    assert [r.suffix for r in runs] == ["", "#2", "#3"]
    assert [r.meta["fold"] for r in runs] == [1, 2, 3]
    assert all(_series(r, "loss", "train")["epoch"].to_list() == [1.0, 2.0, 3.0, 4.0] for r in runs)


def test_name_collision_keeps_series_apart(tmp_path: Path) -> None:
    path = _write(tmp_path, "training.log", "epoch,acc,train_acc,loss\n0,0.1,0.2,1.0\n1,0.3,0.4,0.9\n")
    (run,) = KERAS.read(path, "r")
    assert _series(run, "acc", "train")["value"].to_list() == [0.1, 0.3]
    assert _series(run, "train_acc", "train")["value"].to_list() == [0.2, 0.4]


def test_yolov5_padded_synthetic(tmp_path: Path) -> None:
    cols = ["epoch", "train/box_loss", "metrics/mAP_0.5", "val/box_loss", "x/lr0"]
    rows = [[0, 0.1, 0.01, 0.09, 0.07], [1, 0.09, 0.02, float("nan"), 0.04]]
    text = ",".join(f"{c:>20}" for c in cols) + "\n"
    text += "".join(",".join(f"{v:>20.5g}" for v in row) + "\n" for row in rows)
    path = _write(tmp_path, "runs/train/exp/results.csv", text)
    _write(tmp_path, "runs/train/exp/opt.yaml", "weights: yolov5s.pt\nbatch_size: 16\noptimizer: SGD\nepochs: 2\n")
    _write(tmp_path, "runs/train/exp/hyp.yaml", "lr0: 0.01\nmomentum: 0.937\n")
    assert _sniffers(path) == ["ultralytics_csv"]
    (run,) = YOLO.read(path, "exp")
    assert run.meta["lr"] == 0.01 and run.meta["batch_size"] == 16 and run.meta["optimizer"] == "SGD"
    assert run.meta["epochs"] == 2
    assert _series(run, "mAP_0.5", "val")["value"].to_list() == [0.01, 0.02]
    assert math.isnan(_series(run, "box_loss", "val")["value"][1])


def test_ultralytics_args_yaml_meta(tmp_path: Path) -> None:
    path = _write(tmp_path, "results.csv",
                  "epoch,time,train/box_loss,metrics/mAP50(B),lr/pg0\n1,10.5,1.2,0.1,0.07\n2,20.1,1.1,0.2,0.04\n")
    _write(tmp_path, "args.yaml", "task: detect\nbatch: 8\nlr0: 0.01\noptimizer: auto\nepochs: 2\n")
    (run,) = YOLO.read(path, "exp")
    assert run.meta["batch_size"] == 8 and run.meta["lr"] == 0.01 and run.meta["optimizer"] == "auto"
    assert run.meta["hparams"]["task"] == "detect"
    assert _series(run, "box_loss", "train")["wall_time"].to_list() == [10.5, 20.1]


def test_lightning_hparams_and_sparse_rows(tmp_path: Path) -> None:
    text = (
        "epoch,lr-SGD,step,train_loss_epoch,train_loss_step,val_loss\n"
        ",0.1,0,,,\n0,,9,,2.0,\n0,,9,,,1.9\n0,,9,2.1,,\n,0.05,10,,,\n1,,19,,1.5,\n1,,19,,,1.6\n1,,19,1.7,,\n"
    )
    path = _write(tmp_path, "lightning_logs/version_0/metrics.csv", text)
    _write(tmp_path, "lightning_logs/version_0/hparams.yaml",
           "lr: 0.1\nbatch_size: 32\noptimizer: SGD\nmodel:\n  depth: 18\n")
    assert _sniffers(path) == ["lightning_csv"]
    (run,) = LIGHTNING.read(path, "v0")
    assert run.meta["lr"] == 0.1 and run.meta["batch_size"] == 32 and run.meta["optimizer"] == "SGD"
    assert "depth" not in run.meta["hparams"]
    assert _series(run, "loss", "train")["value"].to_list() == [2.1, 1.7]
    assert _series(run, "loss_step", "train")["step"].to_list() == [9, 19]
    assert _series(run, "loss", "val")["epoch"].to_list() == [0.0, 1.0]
    lr = _series(run, "lr-SGD", "other")
    assert lr["epoch"].to_list() == [0.0, 0.0]  # step 0: taken from the next row; step 10: from the row before


def test_sniffers_are_exclusive_on_hand_made_headers(tmp_path: Path) -> None:
    cases = {
        "a/metrics.csv": ("epoch,step,train_loss\n0,9,1.0\n", ["lightning_csv"]),
        "b/log.csv": ("step,loss,lr\n10,1.0,0.1\n", ["lightning_csv"]),
        "c/results.csv": ("epoch,train/box_loss,metrics/mAP_0.5,x/lr0\n0,0.1,0.2,0.01\n", ["ultralytics_csv"]),
        "d/training.log": ("epoch,loss\n0,1.0\n", ["keras_csv"]),
        "e/prices.csv": ("id,name,price\n1,apple,0.5\n", []),
        "f/notes.txt": ("Training notes, round 2\nwe tried a lower lr, it helped\n", []),
        "g/log.txt": ('{"train_loss": 1.0, "epoch": 0}\n', []),
        "h/monitor.log": ("checktype,current_epoch,issue_list,time_usage,Describe\nepoch,0,[],1.2,No Issue now\n", []),
        "i/metrics.json": ('{"epoch": 0, "loss": 1.0}\n', []),
    }
    for name, (text, expected) in cases.items():
        assert _sniffers(_write(tmp_path, name, text)) == expected, name


def test_long_lightning_header_beyond_the_sniff_head(tmp_path: Path) -> None:
    names = ["epoch", "step"] + [f"train_metric_number_{i}_loss_step" for i in range(200)]
    path = _write(tmp_path, "metrics.csv", ",".join(names) + "\n" + ",".join(["0", "9"] + ["0.5"] * 200) + "\n")
    assert len(path.read_bytes()) > 4096
    assert _sniffers(path) == ["lightning_csv"]
    (run,) = LIGHTNING.read(path, "wide")
    assert run.frame.height == 200


def test_sniff_never_raises_on_garbage(tmp_path: Path) -> None:
    rng = random.Random(1234)
    samples = [b"", b",", b";;;\n;;;", b"\xff\xfe\x00\x00", b"epoch\n", b'"unterminated,quote\n1,2']
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))) for _ in range(40)]
    samples += [bytes(rng.choice(b"epoch,loss;val_\t\r\n0123456789.-naif\"[] ") for _ in range(300)) for _ in range(40)]
    for i, head in enumerate(samples):
        path = tmp_path / f"f{i}.csv"
        for reader in CSV_READERS:
            assert reader.sniff(path, head) in (True, False)
        path.write_bytes(head)
        for reader in CSV_READERS:
            try:
                runs = reader.read(path, "g")
            except LogReadError:
                continue
            for run in runs:
                assert dict(run.frame.schema) == SCHEMA


def test_find_header_skips_prose_line_with_a_comma() -> None:
    lines = ["Run 3, final", "epoch,loss,val_loss,acc,val_acc", "0,1,1,0.1,0.1"]
    found = find_header(lines)
    assert found is not None and found[0] == 1 and found[1] == ","


def test_is_metric_like() -> None:
    assert all(map(is_metric_like, ["loss", "val_acc", "F1_score", "learning_rate", "mean_io_u_5", "dice_coef",
                                    "root_mean_squared_error", "train/nll_loss", "top1"]))
    assert not any(map(is_metric_like, ["checktype", "current_epoch", "issue_list", "time_usage", "Describe", "name"]))


def test_parse_csv_keeps_rows_aligned_after_dropping_empty_rows() -> None:
    table = parse_csv(b"epoch,loss\n0,1.0\n,\n1,0.9\nepoch,loss\n0,0.8\n")
    assert table.frame["loss"].to_list() == [1.0, 0.9, 0.8]
    assert table.restarts == [2]


def test_large_file_reads_fast(tmp_path: Path) -> None:
    rng = random.Random(0)
    lines = ["epoch,accuracy,loss,lr,val_accuracy,val_loss"]
    lines += [f"{e},{rng.random():.6f},{rng.random():.6f},0.001,{rng.random():.6f},{rng.random():.6f}"
              for e in range(100_000)]
    path = _write(tmp_path, "training.log", "\n".join(lines) + "\n")
    start = time.perf_counter()
    (run,) = KERAS.read(path, "big")
    elapsed = time.perf_counter() - start
    assert run.frame.height == 500_000
    assert elapsed < 5.0  # about 0.4 s on an idle 2-core machine; the bound only catches pathologies
