"""The console/text-log reader on the layouts frameworks print (fixtures in tests/data/text_logs, see make.py there)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import polars as pl
import pytest

from trainlog_doctor.readers import reader_for_file
from trainlog_doctor.readers.base import LogReadError, RunData
from trainlog_doctor.readers.text_log import PATTERNS, TextLogReader

DATA = Path(__file__).parent / "data" / "text_logs"


def loss(i: int) -> float:
    """The fixtures' made-up loss at the i-th logged point (as in make.py)."""
    return round(2.0 / (1 + i / 10), 4)


def read(name: str | Path) -> RunData:
    path = name if isinstance(name, Path) else DATA / name
    assert reader_for_file(path) is not None and reader_for_file(path).format == "text_log", path  # type: ignore[union-attr]
    (run,) = TextLogReader().read(path, "r")
    return run


def series(run: RunData) -> dict[tuple[str, str], pl.DataFrame]:
    groups = run.frame.group_by(["metric", "split"], maintain_order=True)
    return {(m, s): g.sort("step", maintain_order=True) for (m, s), g in groups}


def steps_values(run: RunData, metric: str, split: str) -> tuple[list[int], list[float]]:
    part = series(run)[(metric, split)]
    return part["step"].to_list(), part["value"].to_list()


# ------------------------------------------------------------------------------------ one per framework


def test_mmengine_epoch_counter_becomes_a_global_step_and_val_sits_at_the_epoch_end() -> None:
    run = read("mmengine.log")
    assert run.meta["text_pattern"] == "mmengine"
    steps, values = steps_values(run, "loss", "train")
    assert steps == list(range(50, 601, 50))  # [e][i/200] -> (e - 1) * 200 + i
    assert values == pytest.approx([round(loss(i), 4) for i in range(12)])
    assert steps_values(run, "accuracy/top1", "val") == ([200, 400, 600], [40.0, 50.0, 60.0])
    assert steps_values(run, "lr", "other")[1][::4] == pytest.approx([0.1, 0.05, 0.025])
    # the per-iteration val lines (eta/time/memory only) add nothing; time keeps its 12 training points
    assert series(run)[("time", "other")].height == 12
    assert ("eta", "train") not in series(run)
    wall = series(run)[("loss", "train")]["wall_time"].to_list()
    assert wall[0] == pytest.approx(1772445610.0)  # 2026/03/02 10:00:10 UTC


def test_mmcv_text_log_with_val_lines_and_copypaste() -> None:
    run = read("mmcv_mmdet.log")
    assert run.meta["text_pattern"] == "mmcv"
    steps, values = steps_values(run, "loss", "train")
    assert steps == [50, 100, 150, 200, 250, 300]
    assert values == pytest.approx([loss(i) for i in range(6)])
    assert steps_values(run, "bbox_mAP", "val") == ([150, 300], [0.1, 0.2])
    assert not any("copypaste" in m for m, _ in series(run))
    assert ("acc", "train") in series(run) and ("eta", "train") not in series(run)


def test_detectron2_iterations_and_evaluation() -> None:
    run = read("detectron2_log.txt")
    assert run.meta["text_pattern"] == "detectron2"
    steps, values = steps_values(run, "total_loss", "train")
    assert steps == list(range(19, 200, 20))
    assert values == pytest.approx([float(f"{loss(i):.4g}") for i in range(10)])
    assert steps_values(run, "bbox/AP", "val") == ([199], [35.1234])
    assert steps_values(run, "max_mem", "train")[1][0] == 2725.0  # "2725M"
    wall = series(run)[("total_loss", "train")]["wall_time"].to_list()
    assert wall[1] - wall[0] == 60.0  # yearless [03/02 10:00:25 stamps still give durations


def test_fairseq_inner_lines_valid_and_no_double_counted_epoch_summary() -> None:
    run = read("fairseq_train.log")
    assert run.meta["text_pattern"] == "fairseq"
    steps, values = steps_values(run, "loss", "train")
    assert steps == [100, 200, 300, 400, 500, 600]  # num_updates
    assert values == pytest.approx([round(loss(i), 3) for i in range(6)])  # the 9.999 epoch summaries are left out
    assert steps_values(run, "loss", "val") == ([300, 600], [3.0, 1.5])
    assert ("score", "train") not in series(run)  # "(epoch 1 @ 300 updates, score 3.000)" is not a point
    assert ("num_updates", "train") not in series(run)


def test_fairseq_legacy_epoch_summaries_are_the_curve() -> None:
    run = read("fairseq_legacy.log")
    steps, values = steps_values(run, "loss", "train")
    assert steps == [1102, 2204, 3306, 4408]
    assert values == pytest.approx([round(loss(e), 3) for e in range(4)])
    assert steps_values(run, "loss", "val")[0] == steps


@pytest.mark.parametrize(("name", "first_epoch", "val_metric"), [("yolov5_console.txt", 0, "mAP50"),
                                                                   ("ultralytics_console.txt", 1, "Box/mAP50")])
def test_yolo_console_tables(name: str, first_epoch: int, val_metric: str) -> None:
    run = read(name)
    assert run.meta["text_pattern"] == "yolo console"
    part = series(run)[("box_loss", "train")]
    assert part["epoch"].to_list() == [float(first_epoch + e) for e in range(3)]  # one row per epoch, redraws skipped
    assert part["step"].to_list() == [first_epoch + e for e in range(3)]
    assert series(run)[(val_metric, "val")].height == 3
    assert not any(m in ("Instances", "Size") for m, _ in series(run))
    if first_epoch == 0:
        assert part["value"].to_list() == pytest.approx([float(f"{loss(e * 8 + 8) / 20:.4g}") for e in range(3)])
        assert steps_values(run, "mAP50-95", "val")[1] == pytest.approx([0.4, 0.45, 0.5])


@pytest.mark.parametrize("name", ["keras2_backspace.txt", "keras3_stdout.txt"])
def test_keras_progress_reads_only_the_finished_bar(name: str) -> None:
    run = read(name)
    assert run.meta["text_pattern"] == "keras progress"
    steps, values = steps_values(run, "loss", "train")
    assert steps == [1, 2, 3, 4, 5]
    assert values == pytest.approx([loss(e) for e in range(5)])  # never the 9.9999 of a redraw
    assert steps_values(run, "loss", "val")[1] == pytest.approx([round(loss(e) + 0.1, 4) for e in range(1, 6)])


def test_trainer_dicts_use_the_banner_for_steps_and_drop_the_final_summary() -> None:
    run = read("hf_trainer_stdout.txt")
    assert run.meta["text_pattern"] == "printed dicts"
    steps, values = steps_values(run, "loss", "train")
    assert steps == list(range(50, 501, 50))  # epoch x 500 steps / 2 epochs
    assert values == pytest.approx([loss(i) for i in range(10)])  # no 0.3412 train_loss summary
    assert steps_values(run, "loss", "val") == ([250, 500], [0.5, 0.25])
    assert steps_values(run, "accuracy", "val")[1] == pytest.approx([0.81, 0.82])


def test_lightning_bar_printed_twice_per_epoch_is_one_point() -> None:
    run = read("lightning_tqdm.txt")
    assert run.meta["text_pattern"] == "tqdm postfix"
    assert steps_values(run, "loss", "train") == ([0, 1, 2, 3], pytest.approx([round(loss(e), 3) for e in range(4)]))
    assert steps_values(run, "loss", "val")[1] == pytest.approx([round(loss(e) + 0.2, 3) for e in range(4)])
    assert not any(m == "v_num" for m, _ in series(run))


def test_nanogpt_iterations_and_evaluations() -> None:
    run = read("nanogpt_train.log")
    assert run.meta["text_pattern"] == "nanogpt"
    assert steps_values(run, "loss", "train") == (list(range(0, 60, 10)), pytest.approx([loss(i) for i in range(6)]))
    assert steps_values(run, "loss", "val") == ([0, 20, 40], pytest.approx([round(loss(i) + 0.15, 4) for i in (0, 2, 4)]))
    assert steps_values(run, "time", "other")[1][:2] == [30.5, 40.5]  # "30.50ms"


def test_metric_logger_epoch_and_counter() -> None:
    run = read("metric_logger.log")
    assert run.meta["text_pattern"] == "torch metric logger"
    steps, values = steps_values(run, "loss", "train")
    assert steps == [0, 10, 19, 20, 30, 39]  # Epoch: [e]  [i/20]
    assert values == pytest.approx([loss(i) for i in range(6)])  # the value, not the (average) after it


def test_split_words_before_names() -> None:
    run = read("seq2seq_tutorial.out")
    assert steps_values(run, "Loss", "train") == ([1, 2, 3, 4, 5], pytest.approx([round(loss(e) * 2, 3) for e in range(5)]))
    assert steps_values(run, "Loss", "val")[1] == pytest.approx([round(loss(e) * 2, 3) for e in range(1, 6)])  # " Val. Loss"


def test_every_fixture_is_documented_in_make_py() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_text_logs", DATA / "make.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, build in module.FIXTURES.items():
        assert (DATA / name).read_bytes() == build().encode("utf-8"), f"{name} differs from make.py: run it again"


# ------------------------------------------------------------------------------------------ behaviours


def test_layout_cache_keeps_digits_inside_names_apart(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    lines = [f"step {i} loss_ce_{i % 2}: {1 / (i + 1):.4f} top{1 + i % 2}_acc: 0.{i}" for i in range(1, 9)]
    path.write_text("\n".join(lines) + "\n")
    got = series(read(path))
    assert got[("loss_ce_1", "train")]["step"].to_list() == [1, 3, 5, 7]
    assert got[("loss_ce_0", "train")]["step"].to_list() == [2, 4, 6, 8]
    assert got[("top2_acc", "train")]["value"].to_list() == pytest.approx([0.1, 0.3, 0.5, 0.7])


def test_nan_and_signed_values(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    values = ["0.5", "nan", "-0.25", ".75", "inf", "1e-3"]
    path.write_text("".join(f"epoch {e} loss: {v} delta={v}\n" for e, v in enumerate(values)))
    got = series(read(path))[("loss", "train")]["value"].to_list()
    assert got[0] == 0.5 and math.isnan(got[1]) and got[2:4] == [-0.25, 0.75] and got[4] == math.inf and got[5] == 0.001


def test_yearless_stamps_move_on_a_year(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    stamps = ["12/31 23:59:00", "12/31 23:59:30", "01/01 00:00:00"]
    path.write_text("".join(f"[{s} d2.utils.events]:  iter: {i}  total_loss: 1.{i}\n" for i, s in enumerate(stamps)))
    wall = series(read(path))[("total_loss", "train")]["wall_time"].to_list()
    assert [b - a for a, b in zip(wall, wall[1:])] == [30.0, 30.0]


def test_windows_line_endings_and_ansi(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    path.write_bytes("".join(f"\x1b[1;32mEpoch {e}/4\x1b[0m - loss: {loss(e):.4f}\r\n" for e in range(1, 5)).encode())
    assert steps_values(read(path), "loss", "train") == ([1, 2, 3, 4], pytest.approx([loss(e) for e in range(1, 5)]))


HOSTILE = [
    "epoch " * 200_000,
    "Epoch [" * 150_000,
    "a" * 1_000_000 + ":",
    "1" * 1_000_000,
    "loss: " * 170_000,
    "x=" * 500_000,
    "'k': " * 200_000,
    "step 1/" * 150_000,
    "Epoch(train)  [1][" * 60_000,
    "-" * 1_000_000,
    "train " * 170_000,
]


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_every_pattern_is_linear_on_1_mb_hostile_lines(name: str) -> None:
    rx = PATTERNS[name].regex
    start = time.perf_counter()
    for text in HOSTILE:
        for _ in rx.finditer(text):
            pass
    assert time.perf_counter() - start < 8.0, name  # about 0.1 s each on an idle core; quadratic would take hours


def test_a_1_mb_hostile_line_in_a_log_is_fast(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    good = "".join(f"epoch {e} loss={loss(e):.4f}\n" for e in range(5))
    path.write_text(good + "epoch 1 " + ("loss: 1e" * 120_000) + "\n" + ("a" * 60_000 + ": 1 ") + "\n" + good)
    start = time.perf_counter()
    run = read(path)
    assert time.perf_counter() - start < 5.0
    assert series(run)[("loss", "train")].height == 10
    assert "1 line(s) over 64 KiB skipped" in run.warnings


@pytest.mark.parametrize(
    "text",
    [
        "Downloading model.safetensors: 100%|██████████| 440M/440M [00:05<00:00, 80.1MB/s]\n" * 5,
        "".join(f"2026-05-08 10:00:0{i} INFO step {i}: processed {i * 100} files, size 12 MB\n" for i in range(9)),
        "Epoch 1/10\nEpoch 2/10\nEpoch 3/10\nKeyboardInterrupt\n",
    ],
)
def test_downloads_and_chatter_are_not_logs(tmp_path: Path, text: str) -> None:
    path = tmp_path / "output.log"
    path.write_text(text)
    assert reader_for_file(path) is None
    with pytest.raises(LogReadError, match="not a training log"):
        TextLogReader().read(path, "r")


def test_a_layout_seen_before_with_other_numbers_in_its_slots(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    lines = [f"step {s} loss {loss(s):.4f}" for s in range(1, 5)]
    lines += ["step 1.5 loss 0.3000", f"step {'9' * 30} loss 0.2000", "step 6 loss 0.1000"]
    path.write_text("\n".join(lines) + "\n")
    steps, values = steps_values(read(path), "loss", "train")
    assert steps[:4] == [1, 2, 3, 4] and steps[-1] == 6
    assert all(0 <= s < 2**62 for s in steps)
    assert values[-1] == 0.1


# --------------------------------------------------------------------- labelled runs, printed as text

def _labelled_curves(label: str) -> tuple[list[float], list[float]]:
    """Train and val loss of a run whose diagnosis is known (``label``): 40 epochs from the testing recipes."""
    from trainlog_doctor import testing as t

    train = t.noisy(t.decay(40, start=2.0, floor=0.1), noise=0.005, seed=1)
    if label == "overfitting":
        val = t.decay_then_rise(40, start=2.1, floor=0.3, rise_at=15, rise=2.5, ramp=20)
    else:
        val = t.noisy(t.decay(40, start=2.1, floor=0.25), noise=0.005, seed=2)
    if label == "non_finite":
        train = t.nan_from(train, at=25)
        val = t.nan_from(val, at=25)
    return [float(v) for v in train], [float(v) for v in val]


def _as_layout(layout: str, train: list[float], val: list[float]) -> str:
    n = len(train)
    if layout == "keras":
        return "".join(f"Epoch {e + 1}/{n}\n1875/1875 [==============================] - 4s 2ms/step - loss: {a:.4f} - "
                       f"val_loss: {b:.4f}\n" for e, (a, b) in enumerate(zip(train, val)))
    if layout == "logging":
        return "".join(f"2026-05-08 22:{e:02d}:00,100 | INFO | trainer | Epoch {e + 1}/{n} train_loss {a:.4f} val_loss {b:.4f}\n"
                       for e, (a, b) in enumerate(zip(train, val)))
    return "".join(f"\rEpoch {e}: 100%|██████████| 938/938 [00:10<00:00, 90.12it/s, v_num=0, train_loss={a:.3f}, "
                   f"val_loss={b:.3f}]\n" for e, (a, b) in enumerate(zip(train, val)))


@pytest.mark.parametrize("label", ["overfitting", "non_finite", "healthy"])
@pytest.mark.parametrize("layout", ["keras", "logging", "tqdm"])
def test_labelled_runs_printed_as_text_get_the_diagnosis_of_their_csv(tmp_path: Path, label: str, layout: str) -> None:
    from trainlog_doctor.api import analyze

    train, val = _labelled_curves(label)
    csv = tmp_path / "csv" / "training.log"
    csv.parent.mkdir()
    csv.write_text("epoch,loss,val_loss\n" + "".join(f"{e},{a:.4f},{b:.4f}\n" for e, (a, b) in enumerate(zip(train, val))))
    text = tmp_path / "text" / "output.log"
    text.parent.mkdir()
    text.write_text(_as_layout(layout, train, val))
    (ref,) = analyze([csv]).runs
    (got,) = analyze([text]).runs
    assert (ref.format, got.format) == ("keras_csv", "text_log")
    kinds = {f.kind for f in got.findings if f.severity != "info"}
    if label == "healthy":
        assert not kinds, [f.code for f in got.findings]
    else:
        assert label in kinds, [f.code for f in got.findings]
    assert sorted({f.code for f in got.findings}) == sorted({f.code for f in ref.findings})
