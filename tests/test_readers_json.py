"""The JSON-family readers: HF trainer_state.json, detectron2 metrics.json, mmcv log.json, generic JSON lines.

Real files come from ../shared/real_logs (skipped when absent); ugly inputs are written to tmp_path.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from trainlog_doctor.model.frame import COLUMNS, SCHEMA
from trainlog_doctor.readers._jsonlines import (
    _fast_frame,
    assign_runs,
    parse_rows,
    parse_table,
    rows_to_frame,
)
from trainlog_doctor.readers.base import LogReadError, RunData, read_head
from trainlog_doctor.readers.detectron2 import Detectron2Reader
from trainlog_doctor.readers.hf_trainer import HfTrainerStateReader
from trainlog_doctor.readers.jsonl import JsonLinesReader
from trainlog_doctor.readers.mmdet import MmdetJsonReader, config_meta

HF = HfTrainerStateReader()
D2 = Detectron2Reader()
MM = MmdetJsonReader()
JL = JsonLinesReader()
ORDER = (HF, D2, MM, JL)  # the registry's sniff order for the JSON families
DIRS = {"hf_trainer_state": HF, "detectron2": D2, "mmdet": MM, "jsonl_other": JL}


def real_file(real_logs: Path, family: str, number: str) -> Path:
    folder = real_logs / family / f"{family}_{number}"
    (path,) = [p for p in folder.iterdir() if p.is_file()]
    return path


def series(run: RunData, metric: str, split: str) -> pl.DataFrame:
    return run.frame.filter((pl.col("metric") == metric) & (pl.col("split") == split))


def first_sniffer(path: Path) -> str | None:
    head = read_head(path)
    return next((r.format for r in ORDER if r.sniff(path, head)), None)


def check_frame(run: RunData) -> None:
    assert run.frame.columns == COLUMNS
    assert dict(run.frame.schema) == SCHEMA
    assert set(run.frame["split"].unique().to_list()) <= {"train", "val", "test", "other"}
    assert run.frame["step"].null_count() == 0


# --------------------------------------------------------------------------------------------------
# every real file


def _real_files(real_logs: Path) -> list[tuple[str, Path]]:
    out = []
    for family in DIRS:
        for folder in sorted((real_logs / family).iterdir()):
            out.extend((family, p) for p in sorted(folder.iterdir()) if p.is_file())
    return out


def test_every_real_file_sniffs_and_reads(real_logs: Path) -> None:
    files = _real_files(real_logs)
    assert len(files) == 34
    for family, path in files:
        reader = DIRS[family]
        if path.suffix == ".csv":  # jsonl_other_04 is a k-fold CSV: no JSON reader may claim it
            assert first_sniffer(path) is None
            with pytest.raises(LogReadError, match="not JSON lines"):
                reader.read(path, "x")
            continue
        assert first_sniffer(path) == reader.format, path
        runs = reader.read(path, "x")
        assert runs, path
        for k, run in enumerate(runs):
            check_frame(run)
            assert run.suffix == ("" if k == 0 else f"#{k + 1}")
            assert set(run.frame["run_id"].unique().to_list()) <= {"x" + run.suffix}
            assert set(run.frame["source"].unique().to_list()) <= {str(path)}


def test_registry_picks_the_json_readers(real_logs: Path) -> None:
    from trainlog_doctor.readers import reader_for_file

    expected = {"hf_trainer_state": "hf_trainer_state", "detectron2": "detectron2_json", "mmdet": "mmdet_json"}
    for family, fmt in expected.items():
        for folder in sorted((real_logs / family).iterdir()):
            (path,) = list(folder.iterdir())
            reader = reader_for_file(path)
            assert reader is not None and reader.format == fmt, path
    for number in ("01", "02", "03", "05", "06", "07", "08"):
        reader = reader_for_file(real_file(real_logs, "jsonl_other", number))
        assert reader is not None and reader.format == "jsonl"


def test_json_sniffers_reject_other_families(real_logs: Path) -> None:
    others = [
        *sorted((real_logs / "keras_csv").rglob("*.*"))[:5],
        *sorted((real_logs / "lightning_csv").rglob("metrics.csv"))[:3],
        *sorted((real_logs / "ultralytics").rglob("results.csv"))[:3],
        *sorted((real_logs / "tfevents").rglob("events.out.tfevents.*"))[:3],
    ]
    assert len(others) >= 10
    for path in others:
        assert first_sniffer(path) is None, path


# --------------------------------------------------------------------------------------------------
# HuggingFace trainer_state.json


def test_hf_train_and_eval_rows(real_logs: Path) -> None:
    (run,) = HF.read(real_file(real_logs, "hf_trainer_state", "01"), "hf")
    loss = series(run, "loss", "train")
    assert loss.height == 18 and loss["step"].to_list()[:3] == [20, 40, 60]
    assert loss["epoch"][0] == pytest.approx(0.16)
    assert series(run, "loss", "val")["step"].to_list() == [125, 250, 375]
    assert series(run, "learning_rate", "other").height == 18
    assert series(run, "grad_norm", "other").height == 18
    assert series(run, "runtime", "other").height == 3
    assert run.meta["batch_size"] == 16 and run.meta["max_steps"] == 375 and run.meta["logging_steps"] == 20
    assert "lr" not in run.meta and run.meta["lr_max"] == pytest.approx(0.00018986666666666668)


def test_hf_fractional_epoch(real_logs: Path) -> None:
    (run,) = HF.read(real_file(real_logs, "hf_trainer_state", "02"), "hf")
    loss = series(run, "loss", "train")
    assert loss.height == 128
    assert loss["epoch"][0] == pytest.approx(0.023391812865497075)
    assert series(run, "loss", "val").height == 2


def test_hf_several_eval_sets(real_logs: Path) -> None:
    (run,) = HF.read(real_file(real_logs, "hf_trainer_state", "04"), "hf")
    for g in range(6):
        loss = series(run, f"g{g}_loss", "val")
        assert loss.height == 31
        assert loss["step"][0] == 0 and loss["epoch"][0] == 0.0 and loss["step"][-1] == 12030
        assert series(run, f"g{g}_accuracy", "val").height == 31
        assert series(run, f"g{g}_runtime", "other").height == 31
    assert series(run, "loss", "val").height == 0  # no plain eval_loss in this file
    assert series(run, "loss", "train").height == 30
    assert run.meta["lr"] == pytest.approx(1e-05)  # constant learning rate


def test_hf_summary_row_is_meta_not_a_loss_point(real_logs: Path) -> None:
    (run,) = HF.read(real_file(real_logs, "hf_trainer_state", "07"), "hf")
    loss = series(run, "loss", "train")
    assert loss.height == 430 and loss["step"].max() == 215000
    assert run.meta["train_loss_avg"] == pytest.approx(1.8040490566820844)
    assert run.meta["train_runtime"] == pytest.approx(54713.1806)
    assert not (loss["value"] == run.meta["train_loss_avg"]).any()
    assert run.frame.filter(pl.col("metric").str.contains("runtime|flos")).height == 0

    (run,) = HF.read(real_file(real_logs, "hf_trainer_state", "09"), "hf")
    assert series(run, "loss", "train").height == 200
    assert series(run, "wer", "val")["step"].to_list() == [1000, 2000, 3000, 4000, 5000]
    assert run.meta["best_metric"] == pytest.approx(32.011343435198505)
    assert run.meta["train_loss_avg"] == pytest.approx(0.06323314253110439)


def test_hf_single_loss_row_and_trl_fields(real_logs: Path) -> None:
    (run,) = HF.read(real_file(real_logs, "hf_trainer_state", "06"), "hf")
    assert series(run, "loss", "train")["epoch"].to_list() == [pytest.approx(2.16)]
    assert run.meta["train_runtime"] == pytest.approx(542.8804) and "batch_size" not in run.meta

    (run,) = HF.read(real_file(real_logs, "hf_trainer_state", "08"), "hf")
    assert series(run, "mean_token_accuracy", "train").height == 186
    assert series(run, "mean_token_accuracy", "val").height == 14
    # num_tokens (train rows) and eval_num_tokens (eval rows) are two tags: two series, never interleaved
    assert series(run, "num_tokens", "other").height == 186
    assert series(run, "eval_num_tokens", "other").height == 14
    assert run.meta["best_metric"] == pytest.approx(1.1219322681427002)
    assert run.meta["early_stopping_patience"] == 4


def _state(history: list[dict]) -> dict:
    return {"global_step": 30, "train_batch_size": 8, "log_history": history}


def test_hf_empty_history_nan_and_bad_documents(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps(_state([])))
    (run,) = HF.read(path, "r")
    assert run.frame.height == 0 and run.meta["batch_size"] == 8

    history = [
        {"epoch": 0.5, "step": 10, "loss": 2.0, "learning_rate": 1e-3},
        {"epoch": 1.0, "step": 20, "loss": float("nan"), "learning_rate": 1e-3},
        {"epoch": 1.0, "step": 20, "eval_loss": float("inf")},
    ]
    path.write_text(json.dumps(_state(history), indent=2))
    assert "NaN" in path.read_text() and "Infinity" in path.read_text()
    (run,) = HF.read(path, "r")
    values = series(run, "loss", "train")["value"].to_list()
    assert values[0] == 2.0 and math.isnan(values[1])
    assert series(run, "loss", "val")["value"].to_list() == [math.inf]
    assert run.meta["lr"] == pytest.approx(1e-3)

    path.write_text("[1, 2, 3]")
    with pytest.raises(LogReadError, match="not an object"):
        HF.read(path, "r")
    path.write_text('{"global_step": 3}')
    with pytest.raises(LogReadError, match="no log_history"):
        HF.read(path, "r")
    path.write_text("{ this is not json")
    with pytest.raises(LogReadError, match="invalid JSON"):
        HF.read(path, "r")


def test_hf_truncated_file_keeps_complete_rows(real_logs: Path, tmp_path: Path) -> None:
    text = real_file(real_logs, "hf_trainer_state", "01").read_text()
    path = tmp_path / "trainer_state.json"
    path.write_text(text[: len(text) // 2])
    (run,) = HF.read(path, "r")
    assert any("truncated" in w for w in run.warnings)
    loss = series(run, "loss", "train")
    assert 3 <= loss.height < 18 and loss["step"].to_list()[:2] == [20, 40]


def test_hf_sniff() -> None:
    assert HF.sniff(Path("x/trainer_state.json"), b"")
    assert HF.sniff(Path("state.json"), b'{\n  "best_metric": null,\n  "log_history": [\n')
    assert not HF.sniff(Path("config.json"), b'{\n  "hidden_size": 768\n}\n')
    assert not HF.sniff(Path("metrics.jsonl"), b'{"step": 1, "loss": 2.0}\n')


# --------------------------------------------------------------------------------------------------
# detectron2 metrics.json


def test_detectron2_five_appended_runs(real_logs: Path) -> None:
    runs = D2.read(real_file(real_logs, "detectron2", "01"), "d2")
    assert [r.suffix for r in runs] == ["", "#2", "#3", "#4", "#5"]
    assert [series(r, "total_loss", "train").height for r in runs] == [8, 15, 7, 5, 42]
    assert all(series(r, "total_loss", "train")["step"][0] == 19 for r in runs)
    assert series(runs[-1], "total_loss", "train")["step"][-1] == 839
    assert all(series(r, "lr", "other").height == series(r, "total_loss", "train").height for r in runs)


def test_detectron2_restarts_finished_runs_and_continuation(real_logs: Path) -> None:
    runs = D2.read(real_file(real_logs, "detectron2", "03"), "d2")
    # [9] [9] (two finished 10-iteration launches), [19..224] (crashed), 4 x [9], then one training
    # that finished at 299 and was continued to 999 and 1999 (299 -> 319 is one writer period)
    assert [series(r, "total_loss", "train").height for r in runs] == [1, 1, 12, 1, 1, 1, 1, 100]
    crashed = series(runs[2], "total_loss", "train")
    assert crashed["step"][0] == 19 and crashed["step"][-1] == 224
    assert series(runs[2], "eta_seconds", "other")["step"][-1] == 225  # the eta-only crash line
    last = series(runs[-1], "total_loss", "train")["step"].to_list()
    assert last[0] == 19 and last[-1] == 1999 and 319 in last and 1019 in last
    assert last == sorted(set(last))
    assert series(runs[0], "loss_mask", "train").height == 1

    runs = D2.read(real_file(real_logs, "detectron2", "04"), "d2")
    assert [series(r, "total_loss", "train")["step"].to_list()[:2] for r in runs] == [[19], [19, 39]]


def test_detectron2_eval_rows_and_nan(real_logs: Path) -> None:
    (run,) = D2.read(real_file(real_logs, "detectron2", "02"), "d2")
    ap = series(run, "bbox/AP", "val")
    assert ap["step"].to_list() == [99, 199, 300]
    assert ap["value"][-1] == pytest.approx(75.7732398239824)  # percent, as written
    aps = series(run, "bbox/APs", "val")["value"]
    assert aps.len() == 3 and aps.is_nan().all()
    assert series(run, "total_loss", "train").height == 15
    assert series(run, "fast_rcnn/cls_accuracy", "train").height == 15
    for other in ("lr", "time", "data_time", "eta_seconds", "roi_head/num_fg_samples", "rpn/num_pos_anchors"):
        assert series(run, other, "other").height == 15, other

    (run,) = D2.read(real_file(real_logs, "detectron2", "07"), "d2")
    assert series(run, "bbox/AP-numbers", "val")["value"].is_nan().sum() == 4
    assert series(run, "bbox/AP", "val").height == 4 and series(run, "total_loss", "train").height == 90


def _lines(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_detectron2_resume_dedupe_and_sparse_eval(tmp_path: Path) -> None:
    rows = [{"iteration": i, "total_loss": 1.0 / (i + 1), "lr": 0.01, "eta_seconds": 100.0 - i} for i in (19, 39, 59)]
    rows.append(dict(rows[-1]))  # a byte-identical repeat: dropped, not a new launch
    rows += [{"iteration": i, "total_loss": 5.0, "lr": 0.01, "eta_seconds": 50.0} for i in (39, 59, 79)]  # resume
    rows.append({"iteration": 79, "bbox/AP": 12.5})  # evaluation merged at the same iteration
    path = tmp_path / "metrics.json"
    path.write_text(_lines(rows))
    (run,) = D2.read(path, "r")
    loss = series(run, "total_loss", "train")
    assert loss["step"].to_list() == [19, 39, 59, 79]
    assert loss["value"].to_list() == [pytest.approx(1 / 20), 5.0, 5.0, 5.0]  # later values win
    assert series(run, "bbox/AP", "val")["step"].to_list() == [79]
    assert any("dropped 1 duplicated" in w for w in run.warnings)
    assert any("resume" in w for w in run.warnings)


def test_detectron2_ugly_tokens_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(
        '{"iteration": 19, "total_loss": NaN, "lr": Infinity}\n'
        "\n"
        "garbage line\n"
        '{"iteration": 39, "total_loss": -Infinity, "lr": 0.1}\n'
        '{"iteration": 59, "total_lo'
    )
    (run,) = D2.read(path, "r")
    loss = series(run, "total_loss", "train")["value"].to_list()
    assert math.isnan(loss[0]) and loss[1] == -math.inf
    assert series(run, "lr", "other")["value"].to_list() == [math.inf, 0.1]
    assert run.warnings == ["skipped 2 invalid JSON lines (the last line is truncated)"]

    path.write_text('{"step": 1, "loss": 2.0}\n')
    with pytest.raises(LogReadError, match="iteration"):
        D2.read(path, "r")


def test_nan_index_and_reserved_names(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(
        '{"iteration": NaN, "total_loss": 1.0}\n'
        '{"iteration": 19, "total_loss": 2.0, "epoch": 1, "step": 19, "wall_time": 5.0}\n'
        '{"iteration": 39, "total_loss": 1.5}\n'
    )
    (run,) = D2.read(path, "r")  # custom trainers add epoch/step keys: no clash with the frame's columns
    assert series(run, "total_loss", "train")["step"].to_list() == [19, 39]
    assert run.warnings == ["skipped 1 line without an iteration"]

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": NaN, "loss": 1.0}\n{"step": 5, "loss": 0.5, "wall_time": 1700000000}\n')
    (run,) = JL.read(path, "r")
    assert run.frame["wall_time"].to_list() == [1.7e9] and run.warnings == ["skipped 1 line without step"]


def test_detectron2_sniff() -> None:
    assert D2.sniff(Path("m.json"), b'{"data_time": 0.1, "iteration": 19, "lr": 0.01}\n')
    long_line = b'{"bbox/AP": 1.0, ' + b'"bbox/AP-c": 1.0, ' * 400  # first line longer than the head
    assert D2.sniff(Path("metrics.json"), long_line[:4096])
    assert not D2.sniff(Path("other.json"), long_line[:4096])
    assert not D2.sniff(Path("m.json"), b'{"step": 1, "loss": 2.0}\n')
    assert not D2.sniff(Path("m.json"), b"\x00\x01\x02")


# --------------------------------------------------------------------------------------------------
# mmdetection / mmcv log.json


def test_mmdet_global_step_epochs_and_val_rows(real_logs: Path) -> None:
    (run,) = MM.read(real_file(real_logs, "mmdet", "02"), "mm")
    loss = series(run, "loss", "train")
    assert loss.height == 372
    assert loss["step"][0] == 50 and loss["step"][-1] == 11 * 1581 + 1550
    assert loss["step"].is_sorted() and loss["step"].n_unique() == 372
    assert loss["epoch"][0] == pytest.approx(50 / 1581) and loss["epoch"][-1] == pytest.approx(11 + 1550 / 1581)
    mAP = series(run, "bbox_mAP", "val")
    assert mAP["step"].to_list() == [1581 * k for k in range(1, 13)]
    assert mAP["epoch"].to_list() == [float(k) for k in range(1, 13)]
    assert mAP["value"][0] == pytest.approx(0.141)
    assert run.frame.filter(pl.col("metric").str.contains("copypaste")).height == 0
    assert series(run, "lr", "other").height == 372  # val rows' lr is not a point
    for other in ("memory", "time", "data_time", "grad_norm"):
        assert series(run, other, "other").height == 372
    assert run.meta["iters_per_epoch"] == 1581
    assert run.meta["optimizer"] == "SGD" and run.meta["lr"] == 0.01 and run.meta["batch_size"] == 4
    assert run.meta["grad_clip"] == 10.0 and run.meta["max_epochs"] == 12 and run.meta["gpus"] == 8


def test_mmdet_nan_preserved(real_logs: Path) -> None:
    (run,) = MM.read(real_file(real_logs, "mmdet", "01"), "mm")
    loss = series(run, "loss", "train")
    assert loss.height == 7200 and loss["value"].is_nan().sum() == 7198
    assert series(run, "loss_cls", "train")["value"].is_nan().sum() == 0
    assert loss["step"][-1] == 11 * 30045 + 30000
    assert run.meta["val_rows_without_metrics"] == 12 and run.meta["grad_clip"] is None
    assert run.frame.filter(pl.col("split") == "val").height == 0

    (run,) = MM.read(real_file(real_logs, "mmdet", "09"), "mm")
    assert series(run, "loss", "train")["value"].is_nan().sum() == 305
    assert series(run, "loss_bbox", "train")["value"].is_nan().sum() == 305
    assert series(run, "loss_cls", "train")["value"].max() == pytest.approx(348096.40187)


def test_mmdet_header_only_is_empty(real_logs: Path) -> None:
    (run,) = MM.read(real_file(real_logs, "mmdet", "07"), "mm")
    assert run.frame.height == 0 and run.frame.columns == COLUMNS
    assert run.warnings == ["header only: no log rows"]
    assert run.meta["optimizer"] == "SGD" and run.meta["lr"] == 0.02 and run.meta["batch_size"] == 8
    assert run.meta["seed"] == 2079955543


def test_mmdet_long_schedule(real_logs: Path) -> None:
    (run,) = MM.read(real_file(real_logs, "mmdet", "04"), "mm")
    loss = series(run, "loss", "train")
    assert loss.height == 4095 and loss["value"][0] > 1000  # the YOLOv3 first-point outlier is kept
    assert loss["epoch"].min() > 0 and loss["epoch"].max() <= 273
    assert series(run, "bbox_mAP", "val").height == 273
    assert run.meta["iters_per_epoch"] == 791 and run.meta["max_epochs"] == 273


def test_mmdet_synthetic_lr_dict_restart_and_workflow_val(tmp_path: Path) -> None:
    header = {"env_info": "GPU 0: T4", "config": "optimizer = dict(\n    type='AdamW', lr=2e-4, weight_decay=0.05)\n"}
    rows = [header]
    rows += [
        {"mode": "train", "epoch": e, "iter": i, "lr": {"g": 1e-3, "d": 2e-3}, "loss": 1.0 / (e * i), "time": 0.1}
        for e in (1, 2)
        for i in (10, 20)
    ]
    rows.append({"mode": "val", "epoch": 2, "iter": 5, "lr": {"g": 1e-3, "d": 2e-3}, "loss": 0.7})
    rows.append({"mode": "train", "epoch": 1, "iter": 10, "lr": {"g": 1e-3, "d": 2e-3}, "loss": 3.0, "time": 0.1})
    path = tmp_path / "20240101_000000.log.json"
    path.write_text(_lines(rows))
    first, second = MM.read(path, "r")
    assert series(first, "lr/g", "other")["value"].to_list() == [1e-3] * 4
    assert series(first, "loss", "train")["step"].to_list() == [10, 20, 30, 40]
    val = series(first, "loss", "val")
    assert val["value"].to_list() == [0.7] and val["step"].to_list() == [40] and val["epoch"].to_list() == [2.0]
    assert first.meta["optimizer"] == "AdamW" and first.meta["lr"] == 2e-4 and first.meta["weight_decay"] == 0.05
    assert second.suffix == "#2" and series(second, "loss", "train")["value"].to_list() == [3.0]


def test_mmdet_config_meta() -> None:
    text = (
        "data = dict(\n    samples_per_gpu=16,\n    workers_per_gpu=2)\n"
        "optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4,"
        " paramwise_cfg=dict(norm_decay_mult=0.0))\n"
        "optimizer_config = dict(grad_clip=dict(max_norm=35, norm_type=2))\n"
        "lr_config = dict(policy='CosineAnnealing', warmup='linear', warmup_iters=1000, min_lr=0)\n"
        "runner = dict(type='EpochBasedRunner', max_epochs=36)\n"
    )
    assert config_meta(text) == {
        "optimizer": "SGD",
        "lr": 0.02,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "batch_size": 16,
        "grad_clip": 35.0,
        "lr_policy": "CosineAnnealing",
        "warmup_iters": 1000,
        "max_epochs": 36,
    }
    assert config_meta("model = dict(type='X')") == {}


def test_mmdet_sniff() -> None:
    assert MM.sniff(Path("a.log.json"), b'{"env_info": "sys.platform: linux\\nPython: 3.8", "config": "')
    assert MM.sniff(Path("a.log.json"), b'{"mode": "train", "epoch": 1, "iter": 50, "lr": 0.01}\n')
    assert not MM.sniff(Path("a.log"), b"2021-03-13 19:47:05,123 - mmdet - INFO - Environment info:\n")
    assert not MM.sniff(Path("a.json"), b'{"iteration": 19, "lr": 0.01}\n')


# --------------------------------------------------------------------------------------------------
# generic JSON lines


def test_jsonl_detr_style_logs(real_logs: Path) -> None:
    (run,) = JL.read(real_file(real_logs, "jsonl_other", "01"), "j")
    loss = series(run, "loss", "train")
    assert loss["step"].to_list() == list(range(400)) and loss["epoch"][-1] == 399.0
    assert series(run, "lr", "other").height == 400

    (run,) = JL.read(real_file(real_logs, "jsonl_other", "05"), "j")
    assert series(run, "acc1", "test").height == 50 and series(run, "loss", "test").height == 50
    assert series(run, "acc1", "test")["value"][0] == pytest.approx(14.355999990234375)  # percent
    assert run.meta["n_parameters"] == 385000
    assert run.frame.filter(pl.col("metric") == "n_parameters").height == 0

    (run,) = JL.read(real_file(real_logs, "jsonl_other", "06"), "j")
    assert series(run, "loss", "train")["step"].to_list() == list(range(281, 288))  # resumed log starting late


def test_jsonl_detr_two_epoch_zero_rows_and_coco_list(real_logs: Path) -> None:
    runs = JL.read(real_file(real_logs, "jsonl_other", "03"), "j")
    assert [r.suffix for r in runs] == ["", "#2"]
    for run in runs:
        assert series(run, "loss", "train")["step"].to_list() == [0]
        assert series(run, "loss_bbox_0", "train").height == 1  # DETR aux-loss suffixes survive
        ap = series(run, "coco_eval_bbox/AP", "test")["value"]
        assert ap.len() == 1 and 0 < ap[0] < 0.1
        assert series(run, "coco_eval_bbox/ARl", "test").height == 1
        assert run.meta["n_parameters"] == 41302368
    assert series(runs[0], "loss", "train")["value"][0] == pytest.approx(24.53344465317914)
    assert series(runs[1], "loss", "train")["value"][0] == pytest.approx(24.619954395823076)


def test_jsonl_appended_epoch_runs_with_timestamps(real_logs: Path) -> None:
    runs = JL.read(real_file(real_logs, "jsonl_other", "02"), "j")
    assert [series(r, "loss", "train").height for r in runs] == [10, 10, 2]
    assert [series(r, "acc", "val").height for r in runs] == [10, 10, 2]
    wall = series(runs[0], "loss", "train")["wall_time"]
    assert wall.null_count() == 0 and wall.is_sorted() and wall[0] > 1.7e9
    assert runs[0].frame.filter(pl.col("metric") == "timestamp").height == 0


def test_jsonl_resume_rewind_keeps_later_values(real_logs: Path) -> None:
    runs = JL.read(real_file(real_logs, "jsonl_other", "08"), "j")
    # two aborted launches (step 20; steps 20, 40), then the real run with two resumes from step 7500
    assert [series(r, "loss", "train")["step"].to_list()[:2] for r in runs] == [[20], [20, 40], [20, 40]]
    main = series(runs[2], "loss", "train")
    steps = main["step"].to_list()
    assert steps == list(range(20, 7761, 20))
    assert main.filter(pl.col("step") == 7580)["value"][0] == pytest.approx(2.2118, abs=1e-4)  # not 2.2088
    assert sum("resume" in w for w in runs[2].warnings) == 2
    assert series(runs[2], "usd", "other").height == len(steps)


def test_jsonl_ugly_inputs(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"step": 1, "loss": NaN, "note": "loss is NaN, Infinity next"}\n'
        '{"step": 2, "loss": Infinity}\n'
        "[1, 2]\n"
        '"just a string"\n'
        '{"step": 3, "loss": -Infinity}\n'
        '{"step": 4, "loss": 1.5}\n'
        '{"step": 5, "lo'
    )
    (run,) = JL.read(path, "r")
    values = series(run, "loss", "train")["value"].to_list()
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 1.5]
    assert run.warnings == ["skipped 3 invalid JSON lines (the last line is truncated)"]


def test_jsonl_sparse_rows_and_per_epoch_counter(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    rows = [
        {"step": 0, "loss": 2.0},
        {"step": 0, "val_loss": 2.5},
        {"step": 10, "loss": 1.0},
        {"step": 10, "val_loss": 1.4},
    ]
    path.write_text(_lines(rows))
    (run,) = JL.read(path, "r")  # the same step on two rows with different keys is not a restart
    assert series(run, "loss", "val")["step"].to_list() == [0, 10]

    rows = [{"epoch": e, "iter": i, "loss": 1.0 / (e * 10 + i)} for e in (1, 2, 3) for i in (50, 100)]
    path.write_text(_lines(rows))
    (run,) = JL.read(path, "r")
    assert series(run, "loss", "train")["step"].to_list() == [50, 100, 150, 200, 250, 300]
    assert series(run, "loss", "train")["epoch"].to_list() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]

    path.write_text(_lines([{"loss": 3.0}, {"loss": 2.0}, {"loss": 1.0}]))
    (run,) = JL.read(path, "r")  # no index at all: the line number
    assert series(run, "loss", "train")["step"].to_list() == [0, 1, 2]

    path.write_text(_lines([{"name": "a"}, {"name": "b"}]))
    with pytest.raises(LogReadError, match="no numeric metrics"):
        JL.read(path, "r")


def test_jsonl_sniff() -> None:
    assert JL.sniff(Path("log.txt"), b'{"train_lr": 0.1, "train_loss": 2.0, "epoch": 0}\n')
    assert JL.sniff(Path("log.txt"), b'{"train_lr": 0.1, "train_loss_ce": 1.0, "train_lo')  # cut-off first line
    assert not JL.sniff(Path("config.json"), b'{\n  "hidden_size": 768\n}\n')
    assert not JL.sniff(Path("x.jsonl"), b'{"name": "a", "tags": ["x"]}\n')
    assert not JL.sniff(Path("x.csv"), b"epoch,loss\n0,1.0\n")
    assert not JL.sniff(Path("x.jsonl"), b"")


# --------------------------------------------------------------------------------------------------
# file-level trouble, every reader


@pytest.mark.parametrize("reader", ORDER, ids=lambda r: r.format)
def test_empty_lfs_binary(reader: object, tmp_path: Path) -> None:
    empty = tmp_path / "trainer_state.json"
    empty.write_bytes(b"")
    (run,) = reader.read(empty, "r")  # type: ignore[attr-defined]
    assert run.frame.height == 0 and run.frame.columns == COLUMNS and run.warnings == ["empty file"]
    empty.write_bytes(b"\n  \n")
    assert reader.read(empty, "r")[0].warnings == ["empty file"]  # type: ignore[attr-defined]

    lfs = tmp_path / "lfs.json"
    lfs.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0123abcd\nsize 52414\n")
    with pytest.raises(LogReadError, match=r"^git-lfs pointer, not the log itself$"):
        reader.read(lfs, "r")  # type: ignore[attr-defined]

    junk = tmp_path / "junk.json"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(LogReadError, match="binary"):
        reader.read(junk, "r")  # type: ignore[attr-defined]

    with pytest.raises(LogReadError, match="directory"):
        reader.read(tmp_path, "r")  # type: ignore[attr-defined]


@pytest.mark.parametrize("reader", (D2, MM, JL), ids=lambda r: r.format)
def test_lines_that_are_not_objects(reader: object, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[1, 2]\n[3, 4]\nnot json\n")
    with pytest.raises(LogReadError, match="not JSON lines: none of its 3 lines is a JSON object"):
        reader.read(path, "r")  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# shared parsing


def test_parse_rows_counts_invalid_lines() -> None:
    rows, n_invalid = parse_rows(b'{"a": NaN}\n\n{"a": 1}\n[1]\n{"a": \n')
    assert n_invalid == 2 and len(rows) == 2 and math.isnan(rows[0]["a"])
    rows, n_invalid = parse_rows('\ufeff{"a": 1}\r\n{"a": 2}\r\n'.encode())
    assert (rows, n_invalid) == ([{"a": 1}, {"a": 2}], 0)


def test_fast_path_matches_json_path(real_logs: Path) -> None:
    for family in ("detectron2", "mmdet", "jsonl_other"):
        for folder in sorted((real_logs / family).iterdir()):
            (path,) = list(folder.iterdir())
            data = path.read_bytes()
            fast = _fast_frame(data)
            if path.suffix == ".csv":
                assert fast is None
                continue
            assert fast is not None, path
            slow = rows_to_frame(parse_rows(data)[0])
            assert_frame_equal(fast.select(sorted(fast.columns)), slow.select(sorted(slow.columns)))


def test_parse_table_types_and_fallbacks() -> None:
    table = parse_table(b'{"a": 1, "b": "x", "c": [1, 2], "d": {"e": 0.5}, "f": true}\n{"a": 2.5, "b": "y"}\n')
    assert table.frame.schema == {"a": pl.Float64, "b": pl.Utf8, "c": pl.List(pl.Float64), "d/e": pl.Float64}
    # a key holding numbers and strings: numbers win (polars alone would stringify them)
    table = parse_table(b'{"a": 1}\n{"a": "n/a"}\n{"a": 3}\n')
    assert table.frame["a"].to_list() == [1.0, None, 3.0]
    # a NaN token inside a string must not be touched by the sentinel trick
    table = parse_table(b'{"msg": "x: NaN, y", "v": NaN}\n{"msg": "ok", "v": 1.0}\n')
    assert table.frame["msg"].to_list() == ["x: NaN, y", "ok"]
    assert math.isnan(table.frame["v"][0])


def test_assign_runs() -> None:
    assert assign_runs([0, 1, 2, 3]).run_of == [0, 0, 0, 0]
    split = assign_runs([0, 1, 2, 0, 1, 0])
    assert split.run_of == [0, 0, 0, 1, 1, 2] and split.n_runs == 3
    split = assign_runs([20, 40, 60, 80, 40, 60, 100])  # partial rewind: a resume, same run
    assert split.run_of == [0] * 7 and split.resumes == [(0, 80.0, 40.0)] and split.has_resume(0)
    assert assign_runs([5, 5], overlap=[False, False]).n_runs == 1  # sparse rows at one index
    assert assign_runs([5, 5], overlap=[False, True]).n_runs == 2  # the same quantity re-logged
    assert assign_runs([9, 19, 39], force_new=[False, True, False]).run_of == [0, 1, 1]
    assert assign_runs([1, None, float("nan"), 0]).run_of == [0, 0, 0, 1]
    assert assign_runs([]).n_runs == 0


def test_large_file_reads_fast(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    rows = (
        {
            "iteration": 19 + 20 * i,
            "total_loss": 1.0 / (i + 1),
            "loss_box_reg": float("nan") if i % 97 == 0 else 0.5,
            "lr": 0.01,
            "time": 0.3,
            "data_time": 0.01,
            "eta_seconds": 1e6 - i,
        }
        for i in range(30_000)
    )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    start = time.perf_counter()
    (run,) = D2.read(path, "r")
    elapsed = time.perf_counter() - start
    assert series(run, "total_loss", "train").height == 30_000
    assert series(run, "loss_box_reg", "train")["value"].is_nan().sum() == len(range(0, 30_000, 97))
    assert elapsed < 10.0  # ~0.3 s CPU on an idle machine; generous for a loaded CI box
