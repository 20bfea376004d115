"""Train the segment shape classifier and write it as package data (``signals/segment_model.npz``).

The training set is :data:`~trainlog_doctor.signals.segment_training.TRAIN_SIZE` segments that the
synthetic-curve generator (``benchmarks/synthetic.py``) makes from seed
:data:`~trainlog_doctor.signals.segment_training.TRAIN_SEED`; the estimator is
:class:`~trainlog_doctor.signals.segment_training.SegmentEstimator` with its defaults. The file holds
the fitted trees as plain numpy arrays (no pickle) and the recipe that made them; its bytes depend
only on the trees, so retraining with the same library versions rewrites the same file.

Usage::

    python scripts/train_segment_model.py            # (re)write src/trainlog_doctor/signals/segment_model.npz
    python scripts/train_segment_model.py --check    # exit 1 when retraining gives other trees

Needs ``scikit-learn`` (the runtime only needs numpy).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402

from synthetic import GENERATOR_VERSION, generate_segment_dataset  # noqa: E402
from trainlog_doctor.signals.segment_training import (  # noqa: E402
    TRAIN_SEED,
    TRAIN_SIZE,
    SegmentEstimator,
)
from trainlog_doctor.signals.segments import (  # noqa: E402
    MODEL_PATH,
    SegmentClassifier,
    load_classifier,
    save_classifier,
)


def train(size: int = TRAIN_SIZE, seed: int = TRAIN_SEED) -> SegmentClassifier:
    """The shipped model's recipe: generate ``size`` labelled segments from ``seed`` and fit the default estimator."""
    segments, labels, _ = generate_segment_dataset(size, seed)
    clf = SegmentEstimator().fit_segments(segments, labels).classifier_
    recipe = {"generator": GENERATOR_VERSION, "size": size, "seed": seed}
    return SegmentClassifier(clf.classes_, clf.forest, {**clf.provenance, **recipe})


def same_trees(a: SegmentClassifier, b: SegmentClassifier) -> bool:
    """True when two models have the same classes and node arrays, bit for bit."""
    if list(a.classes_) != list(b.classes_):
        return False
    fa, fb = a.forest.to_arrays(), b.forest.to_arrays()
    return all(fa[k].dtype == fb[k].dtype and np.array_equal(fa[k], fb[k]) for k in fa)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=MODEL_PATH, help="where to write the model (default: the package's)")
    ap.add_argument("--check", action="store_true", help="compare a fresh training with the existing file; write nothing")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    clf = train()
    seconds = time.perf_counter() - started
    if args.check:
        ok = same_trees(clf, load_classifier(args.output))
        print(f"{args.output}: {'identical to' if ok else 'DIFFERENT from'} a fresh training ({seconds:.1f} s)")
        return 0 if ok else 1
    save_classifier(clf, args.output)
    nodes, trees = clf.forest.left.size, clf.forest.roots.size
    size_kb = args.output.stat().st_size / 1024
    print(f"wrote {args.output} ({size_kb:.0f} KiB: {trees} trees, {nodes} nodes) in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
