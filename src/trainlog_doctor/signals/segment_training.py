"""Fitting the segment shape classifier with scikit-learn: the training side of :mod:`.segments`.

Only ``scripts/train_segment_model.py``, the benchmarks and the tests import this module; runtime
loads the model that script wrote and never needs scikit-learn. :class:`SegmentEstimator` follows
scikit-learn's conventions (``get_params``, ``clone``, ``fit``/``predict``) and turns the fitted
trees into a :class:`~trainlog_doctor.signals.segments.SegmentClassifier` of plain arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from trainlog_doctor.signals.segments import (
    SegmentClassifier,
    TreeEnsemble,
    feature_matrix,
)

__all__ = ["TRAIN_SEED", "TRAIN_SIZE", "SegmentEstimator", "ensemble_from_sklearn"]

#: The shipped model's training set: this many generated segments from this seed.
TRAIN_SIZE = 2400
TRAIN_SEED = 1234


def ensemble_from_sklearn(estimators: Sequence[Any]) -> TreeEnsemble:
    """Concatenate fitted scikit-learn trees into one set of node arrays (class fractions at nodes)."""
    lefts, rights, feats, thrs, vals, roots = [], [], [], [], [], []
    offset = 0
    for est in estimators:
        tree = est.tree_
        left = tree.children_left.astype(np.int64)
        right = tree.children_right.astype(np.int64)
        leaf = left < 0
        lefts.append(np.where(leaf, -1, left + offset))
        rights.append(np.where(leaf, -1, right + offset))
        feats.append(np.where(leaf, -1, tree.feature))
        thrs.append(np.where(leaf, 0.0, tree.threshold))
        v = tree.value[:, 0, :].astype(np.float64)
        vals.append(v / np.maximum(v.sum(axis=1, keepdims=True), 1e-300))
        roots.append(offset)
        offset += left.size
    return TreeEnsemble(
        left=np.concatenate(lefts).astype(np.int32),
        right=np.concatenate(rights).astype(np.int32),
        feature=np.concatenate(feats).astype(np.int32),
        threshold=np.concatenate(thrs).astype(np.float64),
        value=np.concatenate(vals),
        roots=np.asarray(roots, dtype=np.int32),
    )


class SegmentEstimator(ClassifierMixin, BaseEstimator):
    """Tree-ensemble estimator of segment shapes; ``classifier_`` is the fitted numpy model.

    ``model`` is ``"extra_trees"`` (the shipped default) or ``"random_forest"``.
    """

    def __init__(
        self,
        model: str = "extra_trees",
        n_estimators: int = 80,
        max_depth: int | None = 18,
        min_samples_leaf: int = 2,
        max_features: str | float | None = "sqrt",
        class_weight: str | None = "balanced",
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.model = model
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _make_estimator(self) -> Any:
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

        kinds = {"extra_trees": ExtraTreesClassifier, "random_forest": RandomForestClassifier}
        if self.model not in kinds:
            raise ValueError(f"model must be one of {', '.join(kinds)}, got {self.model!r}")
        return kinds[self.model](
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            class_weight=self.class_weight,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def fit(self, X: Any, y: Any) -> SegmentEstimator:
        """Fit the ensemble on feature rows ``X`` and labels ``y``; keeps the trees as arrays."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError(f"X must be 2-D with one row per label, got X {X.shape} and y {y.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite")
        import sklearn

        est = self._make_estimator().fit(X, y)
        self.classes_ = np.asarray([str(c) for c in est.classes_])
        self.n_features_in_ = X.shape[1]
        provenance = {
            "params": self.get_params(),
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "training_rows": int(X.shape[0]),
        }
        self.classifier_ = SegmentClassifier(self.classes_, ensemble_from_sklearn(est.estimators_), provenance)
        return self

    def _fitted(self) -> SegmentClassifier:
        if not hasattr(self, "classifier_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("SegmentEstimator is not fitted yet; call fit()")
        return self.classifier_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities per feature row, columns in ``classes_`` order."""
        return self._fitted().predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class per feature row."""
        return self._fitted().predict(X)

    def fit_segments(self, segments: Sequence[Any], labels: Sequence[str]) -> SegmentEstimator:
        """Fit on raw segments (features computed here)."""
        return self.fit(feature_matrix(segments), np.asarray(labels))

    def predict_labels(self, segments: Sequence[Any]) -> list[str]:
        """The shape label of each raw segment."""
        return self._fitted().predict_labels(segments)
