"""Synthetic curve generator, segment features, the shape classifier and its pickle-free model file."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.exceptions import NotFittedError

from synthetic import (
    FAMILIES,
    KINDS,
    LABELS,
    generate_runs,
    generate_segment_dataset,
    make_run,
)
from trainlog_doctor.signals import segments as seg
from trainlog_doctor.signals.segment_training import (
    TRAIN_SEED,
    TRAIN_SIZE,
    SegmentEstimator,
)

RNG_SEED = 20240611
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clf() -> seg.SegmentClassifier:
    """The shipped classifier (``signals/segment_model.npz``)."""
    return seg.get_classifier()


# -- generator --------------------------------------------------------------------------------------


def _same_runs(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x.family != y.family or x.labels != y.labels or x.segments != y.segments:
            return False
        if x.metrics.keys() != y.metrics.keys():
            return False
        if not all(np.array_equal(x.metrics[k], y.metrics[k], equal_nan=True) for k in x.metrics):
            return False
    return True


def test_generator_is_deterministic_for_a_seed() -> None:
    assert _same_runs(generate_runs(12, seed=5), generate_runs(12, seed=5))
    assert not _same_runs(generate_runs(12, seed=5), generate_runs(12, seed=6))
    # run i depends on (seed, i) only, not on how many runs are asked for
    assert _same_runs(generate_runs(4, seed=5), generate_runs(12, seed=5)[:4])
    s1, l1, g1 = generate_segment_dataset(60, seed=3)
    s2, l2, g2 = generate_segment_dataset(60, seed=3)
    assert l1 == l2 and g1 == g2
    assert all(np.array_equal(a, b) for a, b in zip(s1, s2))


def test_segment_dataset_is_balanced_and_grouped_by_family() -> None:
    segments, labels, groups = generate_segment_dataset(120, seed=11)
    assert len(segments) == len(labels) == len(groups) == 120
    assert {lab: labels.count(lab) for lab in LABELS} == dict.fromkeys(LABELS, 20)
    assert set(groups) <= set(FAMILIES)
    assert all(s.ndim == 1 and s.size >= 4 and np.isfinite(s).all() for s in segments)


def test_runs_cover_healthy_and_every_kind_with_true_onsets() -> None:
    runs = generate_runs(40, seed=2)
    assert {k for r in runs for k in r.kinds} == set(KINDS)
    assert sum(r.healthy for r in runs) == 4
    for run in runs:
        for lab in run.labels:
            series = run.metrics[(lab["metric"], lab["split"])]
            onset = lab["onset"]
            assert 0 <= onset < series.size
            before, after = series[:onset], series[onset:]
            fin = after[np.isfinite(after)]
            if lab["kind"] == "non_finite":
                assert not np.isfinite(series[onset])
            elif lab["kind"] == "divergence":
                assert np.nanmax(fin) > 1.5 * np.median(before[-5:])
            elif lab["kind"] == "slowdown":
                assert np.median(after) > 1.3 * np.median(before[1:])
            elif lab["kind"] == "collapse":
                assert np.ptp(fin) <= 1e-3 * max(abs(float(np.median(fin))), 1e-9) or lab["split"] == "train"
            elif lab["kind"] == "overfitting":
                assert np.median(after[-5:]) > 1.1 * np.min(series)
            elif lab["kind"] == "spike":
                ref = np.median(series[max(0, onset - 6) : onset])
                assert abs(series[onset] - ref) > 0.1 * abs(ref)
        for _key, segs in run.segments.items():
            assert all(s.label in LABELS and s.start < s.end for s in segs)
            assert all(a.end == b.start for a, b in zip(segs, segs[1:]))
            assert segs == [] or segs[0].start == 0


def test_families_yield_the_labels_they_promise() -> None:
    plateau = make_run("plateau", seed=1)
    onset = next(lab["onset"] for lab in plateau.labels if lab["split"] == "train")
    train = plateau.segments[("loss", "train")]
    assert train[0].label == "falling" and train[-1].label == "flat" and train[-1].start == onset
    collapse = make_run("collapse", seed=4)
    assert collapse.segments[("accuracy", "val")][-1].label == "collapsed"
    frame = make_run("slowdown", seed=3).to_frame("r1")
    assert set(frame["split"].unique().to_list()) >= {"train", "val", "other"}
    assert frame["wall_time"].is_not_null().all()
    with pytest.raises(ValueError, match="unknown family"):
        make_run("nope", seed=0)
    with pytest.raises(ValueError, match="unknown finding kind"):
        generate_runs(2, seed=0, kinds=["exploding"])


# -- features ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [],
        [1.0],
        [1.0, 2.0],
        [3.0, 1.0, 2.0],
        [0.5] * 10,
        [0.0] * 7,
        [float("nan"), 1.0, float("inf"), 2.0, -float("inf")],
        [float("nan")] * 5,
        [1e300, -1e300, 1e300, 1e299],
        [1e-300, 2e-300, 1e-300, 5e-301, 1e-300],
        [-5.0, -4.0, -6.0, -5.5, -5.2, -4.9],
        [1.0, -1.0] * 20,
        np.linspace(0, 1, 3000),
    ],
)
def test_features_are_finite_for_ugly_input(values: list[float]) -> None:
    f = seg.segment_features(values)
    assert f.shape == (len(seg.FEATURE_NAMES),)
    assert np.isfinite(f).all()


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(0, 80), elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_features_never_blow_up(values: np.ndarray) -> None:
    assert np.isfinite(seg.segment_features(values)).all()


def test_features_are_scale_free() -> None:
    x = 2.0 + np.sin(np.arange(50) / 3.0) + np.random.default_rng(0).normal(0, 0.05, 50)
    assert np.allclose(seg.segment_features(x), seg.segment_features(x * 1e-6), atol=1e-6)


# -- classifier -------------------------------------------------------------------------------------


def test_classifier_labels_held_out_synthetic_segments(clf: seg.SegmentClassifier) -> None:
    segments, labels, _ = generate_segment_dataset(600, seed=RNG_SEED)
    pred = np.asarray(clf.predict_labels(segments))
    truth = np.asarray(labels)
    assert np.mean(pred == truth) >= 0.9
    for lab in LABELS:
        assert np.mean(pred[truth == lab] == lab) >= 0.75, lab


def test_classifier_on_hand_made_shapes(clf: seg.SegmentClassifier) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(60, dtype=np.float64)
    flat = 0.8 * (1 + 0.01 * rng.standard_normal(60))
    spiky = flat.copy()
    spiky[30] *= 4.0
    cases = {
        "falling": 2.3 * np.exp(-t / 25) + 0.1 + 0.005 * rng.standard_normal(60),
        "rising": 0.1 + 0.85 * (1 - np.exp(-t / 20)) + 0.004 * rng.standard_normal(60),
        "flat": flat,
        "noisy": 0.5 * (1 + 0.25 * rng.standard_normal(60)),
        "spike": spiky,
        "collapsed": np.full(60, 0.1),
        # persistent alternation with no trend is "noisy" too (oscillation)
        "noisy ": 1.0 + 0.3 * np.where(t % 2 == 0, 1.0, -1.0) + 0.01 * rng.standard_normal(60),
    }
    got = clf.predict_labels(list(cases.values()))
    assert got == [k.strip() for k in cases]
    proba = clf.predict_proba_segments(list(cases.values()))
    assert proba.shape == (len(cases), len(clf.classes_))
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_label_segments_aligns_with_changepoints(clf: seg.SegmentClassifier) -> None:
    rng = np.random.default_rng(3)
    fall = 2.0 * np.exp(-np.arange(40) / 12) + 0.3
    flat = 0.3 * (1 + 0.01 * rng.standard_normal(40))
    flat[20] = 1.5
    values = np.concatenate([fall * (1 + 0.01 * rng.standard_normal(40)), flat, [np.nan] * 3, [0.3, 0.31]])
    out = seg.label_segments(values, [40, 80, 83, 999, -3], classifier=clf)
    assert [(s.start, s.end) for s in out] == [(0, 40), (40, 80), (80, 83), (83, 85)]
    assert out[0].label == "falling"
    assert out[1].label == "spike" and out[1].peak == 60
    assert out[2].label == "flat" and out[2].proba == {} and out[2].confidence == 0.0
    assert out[3].label in LABELS and abs(sum(out[3].proba.values()) - 1.0) < 1e-9
    assert seg.label_segments([], [3], classifier=clf) == []
    assert [s.label for s in seg.label_segments(np.full(30, 2.302585), [])] == ["collapsed"]


def test_estimator_conventions_and_sklearn_equivalence() -> None:
    est = SegmentEstimator(n_estimators=7, random_state=3)
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        est.predict(np.zeros((1, len(seg.FEATURE_NAMES))))
    with pytest.raises(ValueError, match="model must be"):
        SegmentEstimator(model="svm").fit(np.zeros((2, 3)), ["a", "b"])
    segments, labels, _ = generate_segment_dataset(120, seed=9)
    X = seg.feature_matrix(segments)
    est.fit(X, labels)
    ref = ExtraTreesClassifier(
        n_estimators=7, max_depth=18, min_samples_leaf=2, max_features="sqrt", class_weight="balanced", random_state=3
    ).fit(X, labels)
    assert list(est.classes_) == list(ref.classes_)
    assert np.allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-12)
    assert est.predict_labels(segments) == [str(c) for c in ref.predict(X)]


# -- the shipped model: numpy arrays only, never pickle ---------------------------------------------


def test_shipped_model_is_plain_arrays_and_round_trips(clf: seg.SegmentClassifier, tmp_path: Path) -> None:
    path = seg.MODEL_PATH
    assert path.is_file() and path.stat().st_size < 2 * 1024 * 1024
    with np.load(path, allow_pickle=False) as data:  # raises if anything needed unpickling
        assert all(data[k].dtype != object for k in data.files)
    with zipfile.ZipFile(path) as zf:
        assert all(name.endswith(".npy") for name in zf.namelist())
    assert clf.provenance["features"] == seg.FEATURES_VERSION and clf.provenance["size"] == TRAIN_SIZE
    segments, _, _ = generate_segment_dataset(120, seed=77)
    X = seg.feature_matrix(segments)
    again = seg.save_classifier(clf, tmp_path / "m.npz")
    assert again.read_bytes() == seg.save_classifier(clf, tmp_path / "m2.npz").read_bytes()  # no time stamps
    assert np.array_equal(seg.load_classifier(again).predict_proba(X), clf.predict_proba(X))


def test_shipped_model_is_what_the_training_script_makes(clf: seg.SegmentClassifier) -> None:
    sklearn = pytest.importorskip("sklearn")
    if clf.provenance.get("sklearn") != sklearn.__version__:
        pytest.skip(f"the model was trained with scikit-learn {clf.provenance.get('sklearn')}, not {sklearn.__version__}")
    spec = importlib.util.spec_from_file_location("train_segment_model", REPO / "scripts" / "train_segment_model.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    fresh = script.train(TRAIN_SIZE, TRAIN_SEED)
    assert script.same_trees(fresh, clf)
    assert not script.same_trees(script.train(120, TRAIN_SEED), clf)


def test_runtime_needs_neither_scikit_learn_nor_the_generator() -> None:
    code = (
        "import sys\n"
        "import numpy as np, polars as pl\n"
        "from trainlog_doctor.rules import detect\n"
        "from trainlog_doctor.signals.segments import label_segments\n"
        "n = 60\n"
        "loss = list(2.3 * np.exp(-np.arange(n) / 8.0) + 0.9)\n"
        "frame = pl.DataFrame({'metric': ['loss'] * n, 'split': ['train'] * n, 'step': list(range(n)),"
        " 'epoch': [float(i) for i in range(n)], 'value': loss})\n"
        "detect(frame, {})\n"
        "assert label_segments(np.full(30, 0.5), [])[0].label == 'collapsed'\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sklearn', 'synthetic') or m.endswith('segment_training')]\n"
        "print(','.join(bad))\n"
    )
    src = str(Path(seg.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_broken_or_hostile_model_files_are_rejected(clf: seg.SegmentClassifier, tmp_path: Path) -> None:
    arrays = clf.to_arrays()
    bad_link = dict(arrays)
    left = arrays["left"].copy()
    left[int(np.flatnonzero(left >= 0)[0])] = 0  # a cycle back to the root
    bad_link["left"] = left
    np.savez(tmp_path / "cycle.npz", **bad_link)
    with pytest.raises(ValueError, match="point forward"):
        seg.load_classifier(tmp_path / "cycle.npz")
    np.savez(tmp_path / "obj.npz", left=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="cannot read"):
        seg.load_classifier(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read"):
        seg.load_classifier(tmp_path / "junk.npz")
    other = dict(arrays, feature_names=np.asarray(["a", "b"]))
    np.savez(tmp_path / "other.npz", **other)
    with pytest.raises(ValueError, match="other features"):
        seg.load_classifier(tmp_path / "other.npz")
    np.savez(tmp_path / "shape.npz", **dict(arrays, value=arrays["value"][:, :2]))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        seg.load_classifier(tmp_path / "shape.npz")


def test_default_classifier_is_read_once_across_threads() -> None:
    got: list[seg.SegmentClassifier] = []
    threads = [threading.Thread(target=lambda: got.append(seg.get_classifier())) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(got) == 4 and all(g is got[0] for g in got)


def test_source_never_unpickles() -> None:
    for module in ("segments.py", "segment_training.py"):
        src = (Path(seg.__file__).parent / module).read_text()
        for needle in ("import pickle", "allow_pickle=True", "joblib", "pickle.load"):
            assert needle not in src


# -- real logs --------------------------------------------------------------------------------------


def _keras_column(path: Path, column: str) -> np.ndarray:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return np.array([float(r[column]) for r in rows])


def test_real_keras_logs(real_logs: Path, clf: seg.SegmentClassifier) -> None:
    # MNIST run that never left ln(10): validation loss pinned at 2.3014 +- 0.0004 for 100 epochs
    val_loss = _keras_column(real_logs / "keras_csv" / "keras_csv_09" / "log.csv", "val_loss")
    assert [s.label for s in seg.label_segments(val_loss, [], classifier=clf)] == ["collapsed"]
    # a healthy run: training loss falls over the first 20 epochs, accuracy rises
    path = real_logs / "keras_csv" / "keras_csv_02" / "model_history_logdef.csv"
    loss = _keras_column(path, "loss")
    acc = _keras_column(path, "categorical_accuracy")
    assert seg.label_segments(loss[:20], [], classifier=clf)[0].label == "falling"
    assert seg.label_segments(acc[:20], [], classifier=clf)[0].label == "rising"
