"""sample_logs/LABELS.json agrees with the files in sample_logs/ (structure and the labelled onsets).

Detection is not tested here: these tests re-read each run with small stdlib parsers and check that every
labelled problem is really where LABELS.json says it is.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

KINDS = {
    "non_finite",
    "divergence",
    "spike",
    "plateau",
    "stagnation",
    "collapse",
    "oscillation",
    "overfitting",
    "slowdown",
}
SPLITS = {"train", "val", "test", "other"}
# Every problem the sample set promises to contain.
REQUIRED_KINDS = {"non_finite", "divergence", "overfitting", "plateau", "collapse", "spike", "slowdown"}
SIZE_BUDGET = 2_000_000

Point = tuple[float | None, int | None, float]  # (epoch, step, value) in file order
Series = dict[str, list[Point]]


# ------------------------------------------------------------------ small per-format parsers


def _num(text: str) -> float | None:
    text = text.strip()
    return None if text in ("", "NA") else float(text)


def _add(series: Series, column: str, epoch: float | None, step: int | None, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    series.setdefault(column, []).append((epoch, step, float(value)))


def parse_csv_epoch(path: Path, epoch_col: str = "epoch", step_col: str | None = None) -> Series:
    """Keras CSVLogger, YOLOv5 / ultralytics results.csv, Lightning metrics.csv (padding stripped, sparse cells)."""
    series: Series = {}
    with open(path, newline="") as fh:
        reader = csv.reader(fh, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        for row in reader:
            cells = dict(zip(header, row, strict=True))
            epoch = _num(cells[epoch_col]) if cells.get(epoch_col, "").strip() else None
            step = int(cells[step_col]) if step_col and cells.get(step_col, "").strip() else None
            for col, text in cells.items():
                if col in (epoch_col, step_col):
                    continue
                value = _num(text)
                if value is not None:
                    _add(series, col, epoch, step, value)
    return series


def parse_hf(path: Path) -> Series:
    series: Series = {}
    for row in json.loads(path.read_text())["log_history"]:
        for key, value in row.items():
            if key not in ("epoch", "step"):
                _add(series, key, row["epoch"], row["step"], value)
    return series


def parse_json_lines(path: Path, epoch_key: str | None, step_key: str | None, skip_header: bool = False) -> Series:
    series: Series = {}
    lines = path.read_text().splitlines()
    for line in lines[1:] if skip_header else lines:
        row = json.loads(line)
        epoch = row.get(epoch_key) if epoch_key else None
        step = row.get(step_key) if step_key else None
        for key, value in row.items():
            if key not in (epoch_key, step_key):
                _add(series, key, epoch, step, value)
    return series


def parse_tfevents(run_dir: Path) -> Series:
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2

    series: Series = {}
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        for record in RawEventFileLoader(str(path)).Load():
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                if value.WhichOneof("value") == "simple_value":
                    _add(series, value.tag, None, event.step, value.simple_value)
    return series


def load_run(run_dir: Path, run: dict[str, Any]) -> Series:
    """Parse a run with the parser of its format."""
    fmt = run["format"]
    first = run_dir / run["files"][0]
    parsers: dict[str, Callable[[], Series]] = {
        "keras_csv": lambda: parse_csv_epoch(first),
        "yolov5_cls_results_csv": lambda: parse_csv_epoch(first),
        "ultralytics_results_csv": lambda: parse_csv_epoch(first),
        "lightning_csv": lambda: parse_csv_epoch(first, step_col="step"),
        "hf_trainer_state": lambda: parse_hf(first),
        "mmcv_log_json": lambda: parse_json_lines(first, "epoch", None, skip_header=True),
        "deit_log_txt": lambda: parse_json_lines(first, "epoch", None),
        "detectron2_metrics_json": lambda: parse_json_lines(first, None, "iteration"),
        "tensorboard": lambda: parse_tfevents(run_dir),
    }
    assert fmt in parsers, f"unknown format {fmt!r}"
    return parsers[fmt]()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def labels(sample_logs: Path) -> dict[str, Any]:
    return json.loads((sample_logs / "LABELS.json").read_text())


@pytest.fixture(scope="module")
def parsed(sample_logs: Path, labels: dict[str, Any]) -> dict[str, Series]:
    return {name: load_run(sample_logs / name, run) for name, run in labels["runs"].items()}


# ------------------------------------------------------------------ structure


def test_labels_document_shape(labels: dict[str, Any]) -> None:
    assert labels["schema_version"] == 1
    assert labels["runs"], "no runs labelled"
    for name, run in labels["runs"].items():
        assert {"format", "files", "epochs", "findings", "mechanism"} <= run.keys(), name
        assert isinstance(run["findings"], list)


def test_run_directories_match_labels(sample_logs: Path, labels: dict[str, Any]) -> None:
    dirs = {p.name for p in sample_logs.iterdir() if p.is_dir()}
    assert dirs == set(labels["runs"])


def test_listed_files_are_exactly_the_files_on_disk(sample_logs: Path, labels: dict[str, Any]) -> None:
    for name, run in labels["runs"].items():
        run_dir = sample_logs / name
        on_disk = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
        assert on_disk == set(run["files"]), name
        for rel in run["files"]:
            assert (run_dir / rel).stat().st_size > 0, f"{name}/{rel} is empty"


def test_findings_are_well_formed(labels: dict[str, Any]) -> None:
    for name, run in labels["runs"].items():
        for f in run["findings"]:
            assert f["kind"] in KINDS, (name, f)
            assert f["split"] in SPLITS, (name, f)
            assert f["metric"] and f["column"] and f["note"], (name, f)
            assert "onset_epoch" in f or "onset_step" in f, (name, f)
            if "end_epoch" in f:
                assert f["end_epoch"] > f["onset_epoch"], (name, f)
            if "end_step" in f:
                assert f["end_step"] > f["onset_step"], (name, f)


def test_healthy_runs_are_unlabelled_and_problem_runs_labelled(labels: dict[str, Any]) -> None:
    for name, run in labels["runs"].items():
        assert (not run["findings"]) == name.startswith("healthy"), name


def test_every_required_problem_and_several_formats_are_covered(labels: dict[str, Any]) -> None:
    kinds = {f["kind"] for run in labels["runs"].values() for f in run["findings"]}
    assert REQUIRED_KINDS <= kinds
    assert len({run["format"] for run in labels["runs"].values()}) >= 8


def test_sample_logs_stay_small(sample_logs: Path) -> None:
    total = sum(p.stat().st_size for p in sample_logs.rglob("*") if p.is_file())
    assert total < SIZE_BUDGET, f"sample_logs/ is {total} bytes"


def test_readme_lists_every_run(sample_logs: Path, labels: dict[str, Any]) -> None:
    readme = (sample_logs / "README.md").read_text()
    for name in labels["runs"]:
        assert f"`{name}`" in readme, name


# ------------------------------------------------------------------ the labelled onsets are in the data


def _at_onset(points: list[Point], f: dict[str, Any]) -> int:
    """Index of the first point of the series at the labelled onset (step when given, else epoch)."""
    for i, (epoch, step, _) in enumerate(points):
        if "onset_step" in f and step is not None:
            if step == f["onset_step"]:
                return i
        elif epoch is not None and "onset_epoch" in f and math.isclose(epoch, f["onset_epoch"]):
            return i
    raise AssertionError(f"onset of {f['kind']} on {f['column']} is not a logged point")


def _by_epoch_means(points: list[Point]) -> list[tuple[float, float]]:
    groups: dict[float, list[float]] = {}
    for epoch, _, value in points:
        assert epoch is not None
        groups.setdefault(epoch, []).append(value)
    return [(e, sum(v) / len(v)) for e, v in groups.items()]


def check_finding(points: list[Point], f: dict[str, Any]) -> None:
    """Assert that the series really shows the labelled problem at the labelled onset."""
    i = _at_onset(points, f)
    values = [v for _, _, v in points]
    before, after = values[:i], values[i:]
    kind = f["kind"]
    if kind == "non_finite":
        assert not math.isfinite(values[i]) and all(math.isfinite(v) for v in before)
    elif kind == "divergence":  # first point from which the loss stays above 2x its earlier minimum
        floor = 2 * min(before)
        finite_after = [v for v in after if math.isfinite(v)]
        assert finite_after and min(finite_after) > floor and before[-1] <= floor
    elif kind == "overfitting":
        assert min(values) == values[i - 1] and values[-1] > 1.3 * values[i - 1]
    elif kind == "plateau":  # first point after which less than 5% of the drop so far is still gained

        def settled(j: int) -> bool:
            return values[j] - min(values[j:]) < 0.05 * (values[0] - values[j])

        assert values[0] > values[i] and settled(i) and not settled(i - 1)
        assert max(after) - min(after) < 0.1 * (values[0] - values[i])
    elif kind == "collapse":
        if f["metric"] == "loss":  # pinned at ln(C) after the onset, clearly lower before it
            means = _by_epoch_means(points)
            later = [m for e, m in means if e > f["onset_epoch"]]
            earlier = [m for e, m in means if e < f["onset_epoch"]]
            assert later and all(abs(m - math.log(10)) < 0.15 for m in later) and earlier[-1] < 1.0
        else:  # accuracy at chance (10 classes) from the onset on, not before it
            scale = 100.0 if max(values) > 1.0 else 1.0
            assert all(v / scale <= 0.15 for v in after) and before[-1] / scale > 0.5
    elif kind == "spike":
        assert values[i] > 2 * max(before[-3:])
        if "end_step" in f or "end_epoch" in f:
            assert min(after[1:]) < values[i] / 2
    elif kind == "slowdown":
        durations = [values[0]] + [b - a for a, b in zip(values, values[1:])]  # cumulative time -> per epoch
        assert statistics.median(durations[i:]) > 2 * statistics.median(durations[:i])
        assert durations[i] > 2 * statistics.median(durations[:i]) and durations[i - 1] < durations[i] / 2
    else:  # pragma: no cover - no other kind is labelled yet
        raise AssertionError(f"no check for kind {kind}")


def test_labelled_onsets_match_the_data(labels: dict[str, Any], parsed: dict[str, Series]) -> None:
    checked = 0
    for name, run in labels["runs"].items():
        series = parsed[name]
        assert series, f"{name}: nothing parsed"
        for f in run["findings"]:
            assert f["column"] in series, (name, f["column"], sorted(series))
            try:
                check_finding(series[f["column"]], f)
            except AssertionError as exc:
                raise AssertionError(f"{name}: {f['kind']} on {f['column']}: {exc}") from exc
            checked += 1
    assert checked >= len(REQUIRED_KINDS)


def test_healthy_runs_reach_a_good_final_accuracy(labels: dict[str, Any], parsed: dict[str, Series]) -> None:
    accuracy_columns = ("val_accuracy", "Accuracy/val", "validation_accuracy")
    for name in (n for n in labels["runs"] if n.startswith("healthy")):
        column = next(c for c in accuracy_columns if c in parsed[name])
        values = [v for _, _, v in parsed[name][column]]
        assert all(math.isfinite(v) for v in values)
        assert values[-1] > 0.95, name


def test_check_finding_rejects_a_wrong_onset() -> None:
    """The onset checks are not vacuous: a label one epoch off fails."""
    points: list[Point] = [(float(e), None, v) for e, v in enumerate([1.0, 0.5, 0.4, 0.5, 0.7, 0.9])]
    check_finding(points, {"kind": "overfitting", "column": "val_loss", "onset_epoch": 3})
    with pytest.raises(AssertionError):
        check_finding(points, {"kind": "overfitting", "column": "val_loss", "onset_epoch": 4})
    with pytest.raises(AssertionError):
        check_finding(points, {"kind": "overfitting", "column": "val_loss", "onset_epoch": 7})
