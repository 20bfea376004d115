"""Benchmark the segment shape classifier (signals/segments.py) on synthetic curves with families held out.

Usage: ``python benchmarks/bench_segments.py [--size 4800] [--folds 5] [--seed 7] [--quick] [--no-real]``

1. Cross-validation with GroupKFold by curve family: every fold trains on some families and is scored on
   families it never saw (per-class precision/recall/F1 and the confusion matrix of the pooled
   out-of-fold predictions), for ExtraTrees (the default), RandomForest and HistGradientBoosting.
2. The shipped default model (``scripts/train_segment_model.py``'s recipe): time to build it (generation,
   features, fit), accuracy on a fresh seed, predict time per 1,000 segments, file size and load time,
   and whether it is the model in ``signals/segment_model.npz``.
3. A learning curve (training-set size against fresh-seed accuracy).
4. A look at real logs: segments of a few Keras CSV curves from ``../shared/real_logs`` (change points
   from ``detect_changepoints_auto``) with their labels, printed for eyeballing.

Writes ``benchmarks/results/segments.md``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from synthetic import GENERATOR_VERSION, LABELS, generate_segment_dataset  # noqa: E402
from trainlog_doctor.signals import segments as seg  # noqa: E402
from trainlog_doctor.signals.segment_training import TRAIN_SEED, TRAIN_SIZE, SegmentEstimator  # noqa: E402

REAL_LOGS = HERE.parent.parent / "shared" / "real_logs"
REAL_FILES = (
    "keras_csv/keras_csv_02/model_history_logdef.csv",
    "keras_csv/keras_csv_04/training.log",
    "keras_csv/keras_csv_06/training.log",
    "keras_csv/keras_csv_09/log.csv",
    "keras_csv/keras_csv_21/cnn_bn_10percent_history.csv",
)


def _cv(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, make) -> tuple[np.ndarray, float, dict[str, float]]:
    """Out-of-fold predictions with families held out, total fit seconds, accuracy per held-out family."""
    pred = np.empty(y.shape, dtype=object)
    fit_s = 0.0
    for train, test in GroupKFold(n_splits=folds).split(X, y, groups):
        model = make()
        t0 = time.perf_counter()
        with threadpool_limits(1):  # OpenMP spinning on a shared 2-core box distorts the timings
            model.fit(X[train], y[train])
        fit_s += time.perf_counter() - t0
        pred[test] = model.predict(X[test])
    per_family = {
        fam: float(np.mean(pred[groups == fam] == y[groups == fam])) for fam in sorted(set(groups.tolist()))
    }
    return pred.astype(str), fit_s, per_family


def _matrix(y: np.ndarray, pred: np.ndarray) -> str:
    labels = list(LABELS)
    cm = confusion_matrix(y, pred, labels=labels)
    head = "| true \\ predicted | " + " | ".join(labels) + " |\n|---|" + "---:|" * len(labels) + "\n"
    rows = "".join(f"| {lab} | " + " | ".join(str(v) for v in cm[i]) + " |\n" for i, lab in enumerate(labels))
    return head + rows


def _real_check(out: io.StringIO, clf: seg.SegmentClassifier) -> None:
    from trainlog_doctor import load
    from trainlog_doctor.signals.changepoints import detect_changepoints_auto

    if not REAL_LOGS.is_dir():
        out.write("_../shared/real_logs is absent: real check skipped._\n")
        return
    for rel in REAL_FILES:
        path = REAL_LOGS / rel
        if not path.is_file():
            continue
        try:
            frame = load([str(path)])
        except Exception as exc:  # a reader problem must not stop the benchmark
            out.write(f"- `{rel}`: cannot read ({exc})\n")
            continue
        out.write(f"\n**{rel}**\n\n```\n")
        for (run_id, metric, split), part in frame.sort("step").group_by(
            ["run_id", "metric", "split"], maintain_order=True
        ):
            values = part["value"].to_numpy()
            if split == "other" or values.size < 3:
                continue
            labels = seg.label_segments(values, detect_changepoints_auto(values), classifier=clf)
            text = " ".join(f"[{s.start},{s.end}){s.label}:{s.confidence:.2f}" for s in labels)
            out.write(f"{run_id} {split}/{metric} (n={values.size}): {text}\n")
        out.write("```\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=4800, help="segments in the cross-validation set")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="smaller sets, no model comparison")
    ap.add_argument("--no-real", action="store_true", help="skip the real-log check")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "segments.md")
    args = ap.parse_args()
    size = 1200 if args.quick else args.size

    out = io.StringIO()
    out.write("# Segment shape classifier\n\n")
    out.write(
        f"Labels: {', '.join(LABELS)}. Synthetic segments from `benchmarks/synthetic.py` (generator "
        f"v{GENERATOR_VERSION}, features v{seg.FEATURES_VERSION}, {len(seg.FEATURE_NAMES)} features).\n\n"
    )

    t0 = time.perf_counter()
    segments, labels, groups = generate_segment_dataset(size, args.seed)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X = seg.feature_matrix(segments)
    feat_s = time.perf_counter() - t0
    y = np.asarray(labels)
    g = np.asarray(groups)
    fams = Counter(groups)
    out.write(
        f"## Cross-validation, families held out\n\n{size} segments (seed {args.seed}) from {len(fams)} families, "
        f"GroupKFold({args.folds}) by family: each fold is scored on families absent from its training set. "
        f"Generation {gen_s:.2f} s, features {feat_s:.2f} s ({1000 * feat_s / size:.3f} ms per segment).\n\n"
    )
    print(out.getvalue(), end="")

    candidates = {"extra_trees (default)": lambda: SegmentEstimator()}
    if not args.quick:
        candidates["random_forest"] = lambda: SegmentEstimator(model="random_forest")
        candidates["hist_gradient_boosting"] = lambda: HistGradientBoostingClassifier(max_iter=100, random_state=0)
    table = "| model | accuracy | macro F1 | fit time, all folds (s) |\n|---|---:|---:|---:|\n"
    best_pred: np.ndarray | None = None
    per_family: dict[str, float] = {}
    for name, make in candidates.items():
        pred, fit_s, fam_acc = _cv(X, y, g, args.folds, make)
        table += f"| {name} | {accuracy_score(y, pred):.3f} | {f1_score(y, pred, average='macro'):.3f} | {fit_s:.2f} |\n"
        print(f"{name}: accuracy {accuracy_score(y, pred):.3f}, fit {fit_s:.2f} s")
        if best_pred is None:
            best_pred, per_family = pred, fam_acc
    assert best_pred is not None
    out.write(table + "\n")
    out.write("### Default model, pooled out-of-fold predictions\n\n```\n")
    out.write(classification_report(y, best_pred, labels=list(LABELS), digits=3))
    out.write("```\n\nConfusion matrix (rows: truth):\n\n" + _matrix(y, best_pred) + "\n")
    out.write("Accuracy on each family when it was held out:\n\n| family | segments | accuracy |\n|---|---:|---:|\n")
    for fam, acc in sorted(per_family.items(), key=lambda kv: kv[1]):
        out.write(f"| {fam} | {fams[fam]} | {acc:.3f} |\n")

    # the shipped default model (CPU seconds too: wall time suffers when the machine is shared)
    c0, t0 = time.process_time(), time.perf_counter()
    tr_segments, tr_labels, _ = generate_segment_dataset(TRAIN_SIZE, TRAIN_SEED)
    c1, t1 = time.process_time(), time.perf_counter()
    tr_X = seg.feature_matrix(tr_segments)
    c2, t2 = time.process_time(), time.perf_counter()
    est = SegmentEstimator().fit(tr_X, tr_labels)
    clf = est.classifier_
    c3, t3 = time.process_time(), time.perf_counter()
    fresh, fresh_labels, _ = generate_segment_dataset(3000 if not args.quick else 1200, args.seed + 1000)
    t4 = time.process_time()
    fresh_X = seg.feature_matrix(fresh)
    t5 = time.process_time()
    reps = 5
    for _ in range(reps):
        fresh_pred = clf.predict(fresh_X)
    t6 = time.process_time()
    per_1000_feat = 1000 * (t5 - t4) / len(fresh)
    per_1000_pred = 1000 * (t6 - t5) / reps / len(fresh)
    fresh_acc = accuracy_score(fresh_labels, fresh_pred)
    with tempfile.TemporaryDirectory() as tmp:
        path = seg.save_classifier(clf, Path(tmp) / "model.npz")
        size_kb = path.stat().st_size / 1024
        t7 = time.perf_counter()
        loaded = seg.load_classifier(path)
        load_s = time.perf_counter() - t7
        same = bool(np.array_equal(loaded.predict_proba(fresh_X), clf.predict_proba(fresh_X)))
    shipped = bool(np.array_equal(seg.get_classifier().predict_proba(fresh_X), clf.predict_proba(fresh_X)))
    out.write(
        "\n## The default model\n\n"
        f"`SegmentEstimator()` = {est.get_params()}\n\n"
        f"| what | value |\n|---|---:|\n"
        f"| training segments (seed {TRAIN_SEED}) | {TRAIN_SIZE} |\n"
        f"| build: generate / features / fit, wall (s) | {t1 - t0:.2f} / {t2 - t1:.2f} / {t3 - t2:.2f} |\n"
        f"| build: generate / features / fit, CPU (s) | {c1 - c0:.2f} / {c2 - c1:.2f} / {c3 - c2:.2f} |\n"
        f"| tree nodes | {clf.forest.left.size} |\n"
        f"| accuracy on {len(fresh)} fresh segments (seed {args.seed + 1000}) | {fresh_acc:.3f} |\n"
        f"| features per 1,000 segments, CPU (s) | {per_1000_feat:.3f} |\n"
        f"| predict per 1,000 segments, numpy trees, CPU (s) | {per_1000_pred:.4f} |\n"
        f"| model file (.npz, allow_pickle=False) | {size_kb:.0f} KiB |\n"
        f"| model file load (s) | {load_s:.3f} |\n"
        f"| saved and loaded model predicts identically | {same} |\n"
        f"| same predictions as the shipped signals/segment_model.npz | {shipped} |\n"
    )
    print(f"default: build {t3 - t0:.2f} s, fresh accuracy {fresh_acc:.3f}, predict/1000 {per_1000_pred:.4f} s")

    if not args.quick:
        out.write("\n## Learning curve (fresh-seed accuracy)\n\n| training segments | accuracy | fit (s) |\n|---:|---:|---:|\n")
        for n in (600, 1200, 2400, 4800):
            s_, l_, _ = generate_segment_dataset(n, TRAIN_SEED + n)
            Xn = seg.feature_matrix(s_)
            t0 = time.perf_counter()
            m = SegmentEstimator().fit(Xn, l_)
            fit_s = time.perf_counter() - t0
            acc = accuracy_score(fresh_labels, m.predict(fresh_X))
            out.write(f"| {n} | {acc:.3f} | {fit_s:.2f} |\n")
            print(f"learning curve {n}: {acc:.3f}")

    if not args.no_real:
        out.write(
            "\n## Real logs (for eyeballing)\n\nChange points from `detect_changepoints_auto`, labels from the default model.\n"
        )
        real = io.StringIO()
        _real_check(real, clf)
        out.write(real.getvalue())
        print(real.getvalue())

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out.write(f"\n_Machine: {os.cpu_count()} cores, 1-minute load average {load:.1f} at the end of the run "
              "(other jobs share it: wall times above include their contention)._\n")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(out.getvalue())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
