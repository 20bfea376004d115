"""Shape labels for stretches of a metric series: features, a tree-ensemble classifier and its safe cache.

A segment (the values between two change points) gets one of :data:`LABELS`:
``falling``, ``rising``, ``flat``, ``noisy`` (no trend, fluctuations >= ~5 % of the level),
``spike`` (a 1-3 point excursion that comes back) or ``collapsed`` (pinned: the value barely moves).
The labels describe shape only: a ``collapsed`` accuracy at 1.0 is a saturated metric, not a collapse,
so rules must still check the level (chance, ln C). Labels are meant for values on their natural
scale (the features are scale-free); the exact definitions are in :mod:`trainlog_doctor.signals.synthetic`.

The classifier is an ExtraTrees/RandomForest ensemble trained on first use from the synthetic
generator with fixed seeds, so it is the same on every machine with the same library versions.
The fitted trees are kept as plain numpy arrays and predicted with numpy; they are cached in
``$TRAINLOG_DOCTOR_CACHE_DIR`` or ``$XDG_CACHE_HOME/trainlog-doctor`` (default
``~/.cache/trainlog-doctor``) as an ``.npz`` read with ``allow_pickle=False`` — never unpickled.
Set ``TRAINLOG_DOCTOR_CACHE_DIR=off`` to keep the model in memory only. Nothing here uses the network.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin

from trainlog_doctor.signals.changepoints import segments_from_changepoints
from trainlog_doctor.signals.synthetic import GENERATOR_VERSION, LABELS, generate_segment_dataset
from trainlog_doctor.signals.transforms import as_float_array

__all__ = [
    "FEATURE_NAMES",
    "FEATURES_VERSION",
    "LABELS",
    "SegmentClassifier",
    "SegmentLabel",
    "cache_path",
    "feature_matrix",
    "get_classifier",
    "label_segments",
    "load_classifier",
    "save_classifier",
    "segment_features",
    "train_default_classifier",
]

# Bump when a feature changes: the cache key depends on it.
FEATURES_VERSION = "1"
FEATURE_NAMES: tuple[str, ...] = (
    "trend_snr",  # robust (Theil-Sen) total change / diff-noise sigma, signed log
    "trend_snr_resid",  # the same change / residual sigma around the line
    "trend_rel",  # the change in % of the level, signed log
    "end_change_snr",  # median of the last quarter - median of the first quarter, / noise
    "end_change_rel",  # the same in % of the level
    "kendall_tau",  # monotonicity in [-1, 1]
    "curvature",  # quadratic coefficient on [-1, 1] / noise, signed log
    "curvature_shape",  # c2 / (|c1| + |c2| + noise), in (-1, 1)
    "noise_rel",  # log10(diff-noise sigma / level)
    "resid_rel",  # log10(residual sigma / level)
    "resid_to_diff",  # log10(residual sigma / diff-noise sigma): slow structure vs point noise
    "max_z",  # log1p of the largest robust z of a residual
    "z4",  # log1p of the 4th largest robust z (spikes are at most 3 points wide)
    "frac_3sigma",  # fraction of points beyond 3 sigma
    "n_6sigma",  # number of points beyond 6 sigma (capped at 10)
    "peak_interior",  # how far the most extreme point is from the edges (0..1, 1 = >= 5 points)
    "peak_recovers",  # 1 when points on both sides of the most extreme one are back within 3 sigma
    "log_len",  # ln(number of points)
    "diff_acf1",  # lag-1 autocorrelation of the differences (oscillation ~ -0.5 or below)
    "sign_changes",  # fraction of sign changes between consecutive differences
    "range_rel",  # log10((max - min) / level)
    "range_snr",  # log1p((max - min) / noise)
    "zero_diff_frac",  # fraction of exactly repeated consecutive values
    "resid_acf1",  # lag-1 autocorrelation of the residuals
    "iqr_rel",  # log10(interquartile range / level)
    "local_max_z",  # log1p of the largest robust z around a 7-point rolling median (blind to curvature)
    "local_z4",  # log1p of the 4th largest such z
    "local_n_6sigma",  # points beyond 6 sigma of the rolling median (capped at 10)
)
_NF = len(FEATURE_NAMES)
_IDX = {name: i for i, name in enumerate(FEATURE_NAMES)}
_TS_POINTS = 64  # Theil-Sen and Kendall tau on at most this many evenly spaced points
_REL_FLOOR = 1e-9  # noise below this fraction of the level counts as none
_LOG_CLIP = (-9.0, 4.0)
_MIN_POINTS = 4  # shorter segments are classified with their neighbours as context
_CONTEXT = 3

# Default training set: fixed, so every machine builds the same model.
TRAIN_SIZE = 2400
TRAIN_SEED = 1234


# --------------------------------------------------------------------------------------------------
# features


def _median(a: np.ndarray) -> float:
    """Median of a non-empty 1-D array (cheaper than np.median on small arrays)."""
    s = np.sort(a)
    m = s.size // 2
    return float(s[m]) if s.size % 2 else 0.5 * float(s[m - 1] + s[m])


def _robust_sigma(v: np.ndarray) -> float:
    """1.4826 * MAD, falling back to the mean absolute deviation (x1.2533) for mostly-equal values."""
    if v.size == 0:
        return 0.0
    dev = np.abs(v - _median(v))
    mad = _median(dev)
    if mad > 0.0:
        return 1.4826 * mad
    return 1.2533 * float(dev.mean())


def _slog(v: float) -> float:
    """Signed log1p, bounded (keeps huge ratios finite and comparable)."""
    v = max(min(v, 1e12), -1e12)
    return math.copysign(math.log1p(abs(v)), v)


def _log10c(v: float) -> float:
    """log10 clipped to a fixed range; 0 and negatives map to the bottom of the range."""
    return min(max(math.log10(v), _LOG_CLIP[0]), _LOG_CLIP[1]) if v > 0.0 else _LOG_CLIP[0]


def _acf1(v: np.ndarray) -> float:
    """Lag-1 autocorrelation (0 for fewer than 3 points or no variation)."""
    if v.size < 3:
        return 0.0
    c = v - v.sum() / v.size
    den = float(np.dot(c, c))
    return float(np.dot(c[:-1], c[1:]) / den) if den > 0.0 else 0.0


@lru_cache(maxsize=256)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Subsample positions of a length-``n`` segment, their pair indices (i < j) and the pair spacings."""
    idx = np.unique(np.round(np.arange(min(n, _TS_POINTS)) * ((n - 1) / max(min(n, _TS_POINTS) - 1, 1))).astype(np.int64))
    i, j = np.triu_indices(idx.size, k=1)
    dt = (idx[j] - idx[i]).astype(np.float64)
    for a in (idx, i, j, dt):
        a.setflags(write=False)
    return idx, i, j, dt


@lru_cache(maxsize=256)
def _quad_basis(n: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Orthogonal linear and quadratic bases on ``n`` even points of [-1, 1] and their squared norms."""
    u = np.linspace(-1.0, 1.0, n)
    p2 = u * u - float(np.mean(u * u))
    for a in (u, p2):
        a.setflags(write=False)
    return u, p2, float(np.dot(u, u)), float(np.dot(p2, p2))


def _theil_sen(x: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Slope per index and intercept of a Theil-Sen line through ``x``, plus the subsample and its pair signs."""
    n = x.size
    idx, i, j, dt = _pairs(n)
    xs = x[idx]
    dx = xs[j] - xs[i]
    slope = _median(dx / dt)
    intercept = _median(x - slope * np.arange(n, dtype=np.float64))
    return slope, intercept, idx, dx


def _local_resid(x: np.ndarray) -> np.ndarray:
    """Residuals around a centered rolling median (7 points, fewer for short segments; odd-reflected edges)."""
    n = x.size
    w = 7 if n >= 9 else 5 if n >= 6 else 3
    h = w // 2
    padded = np.concatenate([2.0 * x[0] - x[h:0:-1], x, 2.0 * x[-1] - x[-2 : -h - 2 : -1]])
    med = np.median(np.lib.stride_tricks.sliding_window_view(padded, w), axis=1)
    return x - med


def _quantile_sorted(s: np.ndarray, q: float) -> float:
    """Linear-interpolation quantile of an already sorted array."""
    pos = q * (s.size - 1)
    lo = int(pos)
    hi = min(lo + 1, s.size - 1)
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))


def _features(x: np.ndarray) -> np.ndarray:
    """Features of finite values ``x`` (see :data:`FEATURE_NAMES`)."""
    out = np.zeros(_NF)
    n = x.size
    out[_IDX["log_len"]] = math.log(max(n, 1))
    if n == 0:
        for name in ("noise_rel", "resid_rel", "range_rel", "iqr_rel"):
            out[_IDX[name]] = _LOG_CLIP[0]
        return out
    top = float(np.max(np.abs(x)))
    if top > 0.0:
        x = x / top  # every feature is scale-free; this keeps sums in range for any magnitude
    xsort = np.sort(x)
    absx = np.abs(x)
    level = _median(absx)
    if level <= 0.0:
        level = float(absx.sum() / n) or 1.0
    tiny = _REL_FLOOR * level
    d = x[1:] - x[:-1]
    sigma_d = _robust_sigma(d) / math.sqrt(2.0) if d.size >= 2 else 0.0
    t = np.arange(n, dtype=np.float64)
    if n >= 2:
        slope, intercept, _, dx = _theil_sen(x)
    else:
        slope, intercept, dx = 0.0, float(x[0]), np.zeros(0)
    res = x - (intercept + slope * t)
    sigma_r = _robust_sigma(res)
    s = max(sigma_d, tiny)
    sr = max(sigma_r, tiny)
    change = slope * (n - 1)
    out[_IDX["trend_snr"]] = _slog(change / s)
    out[_IDX["trend_snr_resid"]] = _slog(change / sr)
    out[_IDX["trend_rel"]] = _slog(100.0 * change / level)
    k = max(1, min(n // 4, 20))
    end_change = _median(x[-k:]) - _median(x[:k])
    out[_IDX["end_change_snr"]] = _slog(end_change / s)
    out[_IDX["end_change_rel"]] = _slog(100.0 * end_change / level)
    if dx.size:
        out[_IDX["kendall_tau"]] = float(np.sign(dx).sum() / dx.size)
    if n >= 3:
        u, p2, uu, pp = _quad_basis(n)
        c1 = float(np.dot(x, u)) / uu
        c2 = float(np.dot(x, p2)) / pp
        out[_IDX["curvature"]] = _slog(c2 / s)
        out[_IDX["curvature_shape"]] = c2 / (abs(c1) + abs(c2) + s)
    out[_IDX["noise_rel"]] = _log10c(sigma_d / level)
    out[_IDX["resid_rel"]] = _log10c(sigma_r / level)
    out[_IDX["resid_to_diff"]] = min(max(math.log10(sr / s), -6.0), 6.0)
    z = np.abs(res - _median(res)) / sr
    p = int(np.argmax(z))
    zmax = float(z[p])
    out[_IDX["max_z"]] = math.log1p(min(zmax, 1e12))
    if n >= 5:
        out[_IDX["z4"]] = math.log1p(min(float(np.partition(z, n - 4)[n - 4]), 1e12))
    out[_IDX["frac_3sigma"]] = float(np.count_nonzero(z > 3.0)) / n
    out[_IDX["n_6sigma"]] = float(min(int(np.count_nonzero(z > 6.0)), 10))
    out[_IDX["peak_interior"]] = min(p, n - 1 - p, 5) / 5.0
    before = z[max(0, p - 4) : p]
    after = z[p + 1 : p + 5]
    out[_IDX["peak_recovers"]] = float(bool((before <= 3.0).any()) and bool((after <= 3.0).any()))
    if d.size >= 3:
        out[_IDX["diff_acf1"]] = _acf1(d)
        nz = np.sign(d[d != 0.0])
        out[_IDX["sign_changes"]] = float(np.count_nonzero(nz[1:] != nz[:-1])) / (nz.size - 1) if nz.size >= 2 else 0.0
    span = float(xsort[-1] - xsort[0])
    out[_IDX["range_rel"]] = _log10c(span / level)
    out[_IDX["range_snr"]] = math.log1p(min(span / s, 1e12))
    out[_IDX["zero_diff_frac"]] = float(np.count_nonzero(d == 0.0)) / d.size if d.size else 1.0
    out[_IDX["resid_acf1"]] = _acf1(res)
    if n >= 4:
        out[_IDX["iqr_rel"]] = _log10c((_quantile_sorted(xsort, 0.75) - _quantile_sorted(xsort, 0.25)) / level)
    else:
        out[_IDX["iqr_rel"]] = _log10c(span / level)
    if n >= 4:
        loc = _local_resid(x)
        zl = np.abs(loc - _median(loc)) / max(_robust_sigma(loc), tiny)
        out[_IDX["local_max_z"]] = math.log1p(min(float(zl.max()), 1e12))
        if n >= 5:
            out[_IDX["local_z4"]] = math.log1p(min(float(np.partition(zl, n - 4)[n - 4]), 1e12))
        out[_IDX["local_n_6sigma"]] = float(min(int(np.count_nonzero(zl > 6.0)), 10))
    return out


def segment_features(values: Any) -> np.ndarray:
    """Shape features of one segment (non-finite values dropped), always finite, in :data:`FEATURE_NAMES` order."""
    x = as_float_array(values)
    return _features(x[np.isfinite(x)])


def feature_matrix(segments: Sequence[Any]) -> np.ndarray:
    """Stack :func:`segment_features` of many segments into an ``(n_segments, n_features)`` array."""
    if len(segments) == 0:
        return np.zeros((0, _NF))
    return np.vstack([segment_features(s) for s in segments])


# --------------------------------------------------------------------------------------------------
# the forest as plain arrays


@dataclass(frozen=True)
class _Forest:
    """A fitted tree ensemble as flat arrays (node ids are global; leaves have left == right == -1)."""

    left: np.ndarray  # int32
    right: np.ndarray  # int32
    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    value: np.ndarray  # float64, (n_nodes, n_classes), class fractions at each node
    roots: np.ndarray  # int32, (n_trees,)

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Mean of the trees' class fractions at the leaf each row of ``X`` reaches."""
        m = X.shape[0]
        if m == 0:
            return np.zeros((0, self.value.shape[1]))
        # Trees compare float32 features with float64 thresholds, as scikit-learn does.
        X32 = X.astype(np.float32)
        trees = self.roots.size
        node = np.tile(self.roots, m)  # row r, tree t sits at r * trees + t
        row = np.repeat(np.arange(m), trees)
        active = np.arange(node.size)
        for _ in range(self.left.size + 1):  # child ids only grow, so this bound is never reached
            nd = node[active]
            lft = self.left[nd]
            inner = lft >= 0
            if not inner.all():
                active, nd, lft = active[inner], nd[inner], lft[inner]
            if active.size == 0:
                break
            go_left = X32[row[active], self.feature[nd]] <= self.threshold[nd]
            node[active] = np.where(go_left, lft, self.right[nd])
        return self.value[node].reshape(m, trees, -1).mean(axis=1)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The node arrays by name."""
        return {
            "left": self.left,
            "right": self.right,
            "feature": self.feature,
            "threshold": self.threshold,
            "value": self.value,
            "roots": self.roots,
        }

    @classmethod
    def from_sklearn(cls, estimators: Sequence[Any]) -> "_Forest":
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
        return cls(
            left=np.concatenate(lefts).astype(np.int32),
            right=np.concatenate(rights).astype(np.int32),
            feature=np.concatenate(feats).astype(np.int32),
            threshold=np.concatenate(thrs).astype(np.float64),
            value=np.concatenate(vals),
            roots=np.asarray(roots, dtype=np.int32),
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_features: int, n_classes: int) -> "_Forest":
        """Check every array (types, shapes, child links going forward) before trusting it."""
        try:
            left = np.asarray(arrays["left"])
            right = np.asarray(arrays["right"])
            feature = np.asarray(arrays["feature"])
            threshold = np.asarray(arrays["threshold"])
            value = np.asarray(arrays["value"])
            roots = np.asarray(arrays["roots"])
        except KeyError as exc:
            raise ValueError(f"model file lacks array {exc}") from None
        for name, arr in (("left", left), ("right", right), ("feature", feature), ("roots", roots)):
            if arr.dtype.kind != "i" or arr.ndim != 1:
                raise ValueError(f"model array {name} must be 1-D integers")
        if threshold.dtype.kind != "f" or value.dtype.kind != "f":
            raise ValueError("model thresholds and values must be floats")
        nn = left.size
        if not (right.size == feature.size == threshold.size == nn and value.shape == (nn, n_classes)) or nn == 0:
            raise ValueError("model arrays have inconsistent shapes")
        if roots.size == 0 or roots.min() < 0 or roots.max() >= nn:
            raise ValueError("model tree roots are out of range")
        ids = np.arange(nn)
        inner = left >= 0
        if not np.array_equal(inner, right >= 0) or np.any(left[~inner] != -1) or np.any(right[~inner] != -1):
            raise ValueError("model leaves are malformed")
        if np.any(left[inner] <= ids[inner]) or np.any(right[inner] <= ids[inner]) or np.any(left[inner] >= nn) or np.any(right[inner] >= nn):
            raise ValueError("model child links must point forward inside the arrays")
        if np.any(feature[inner] < 0) or np.any(feature[inner] >= n_features):
            raise ValueError("model split features are out of range")
        if not np.all(np.isfinite(threshold)) or not np.all(np.isfinite(value)) or np.any(value < 0.0):
            raise ValueError("model thresholds or values are not finite")
        return cls(
            left=left.astype(np.int32),
            right=right.astype(np.int32),
            feature=feature.astype(np.int32),
            threshold=threshold.astype(np.float64),
            value=value.astype(np.float64),
            roots=roots.astype(np.int32),
        )


# --------------------------------------------------------------------------------------------------
# the estimator


class SegmentClassifier(ClassifierMixin, BaseEstimator):
    """Tree-ensemble classifier of segment shapes (scikit-learn conventions).

    ``fit(X, y)`` / ``predict(X)`` / ``predict_proba(X)`` take feature rows (:func:`feature_matrix`);
    ``fit_segments`` / ``predict_labels`` / ``predict_proba_segments`` take raw segments.
    ``model`` is ``"extra_trees"`` or ``"random_forest"``; prediction runs on plain numpy arrays.
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

    def fit(self, X: Any, y: Any) -> "SegmentClassifier":
        """Fit the ensemble on feature rows ``X`` and labels ``y``; keeps the trees as arrays."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError(f"X must be 2-D with one row per label, got X {X.shape} and y {y.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite")
        est = self._make_estimator().fit(X, y)
        self.classes_ = np.asarray(est.classes_)
        self.n_features_in_ = X.shape[1]
        self.forest_ = _Forest.from_sklearn(est.estimators_)
        return self

    def _check(self, X: Any) -> np.ndarray:
        if not hasattr(self, "forest_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("SegmentClassifier is not fitted yet; call fit() or use get_classifier()")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}), got {X.shape}")
        return np.nan_to_num(X, nan=0.0, posinf=1e12, neginf=-1e12)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities per feature row, columns in ``classes_`` order."""
        X = self._check(X)
        return self.forest_.proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class per feature row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def fit_segments(self, segments: Sequence[Any], labels: Sequence[str]) -> "SegmentClassifier":
        """Fit on raw segments (features computed here)."""
        return self.fit(feature_matrix(segments), np.asarray(labels))

    def predict_proba_segments(self, segments: Sequence[Any]) -> np.ndarray:
        """Class probabilities of raw segments, columns in ``classes_`` order."""
        return self.predict_proba(feature_matrix(segments).reshape(-1, self.n_features_in_))

    def predict_labels(self, segments: Sequence[Any]) -> list[str]:
        """The shape label of each raw segment."""
        if len(segments) == 0:
            return []
        proba = self.predict_proba_segments(segments)
        return [str(c) for c in self.classes_[np.argmax(proba, axis=1)]]

    # -- safe serialization ------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted model as plain arrays (no objects): what :func:`save_classifier` writes."""
        self._check(np.zeros((0, getattr(self, "n_features_in_", _NF))))
        arrays = dict(self.forest_.to_arrays())
        arrays["classes"] = np.asarray([str(c) for c in self.classes_], dtype="<U16")
        arrays["feature_names"] = np.asarray(FEATURE_NAMES, dtype="<U32")
        arrays["params"] = np.asarray(json.dumps(self.get_params(), sort_keys=True))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "SegmentClassifier":
        """Rebuild a fitted classifier from :meth:`to_arrays` output, validating every array."""
        try:
            names = tuple(str(v) for v in np.asarray(arrays["feature_names"]).tolist())
            classes = np.asarray([str(c) for c in np.asarray(arrays["classes"]).tolist()])
            params = json.loads(str(np.asarray(arrays["params"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"model file is malformed: {exc}") from None
        if names != FEATURE_NAMES:
            raise ValueError("model file was built for other features")
        if classes.size == 0 or not set(classes.tolist()) <= set(LABELS):
            raise ValueError("model file has unknown classes")
        clf = cls(**{k: v for k, v in params.items() if k in cls().get_params()})
        clf.forest_ = _Forest.from_arrays(arrays, len(FEATURE_NAMES), classes.size)
        clf.classes_ = classes
        clf.n_features_in_ = len(FEATURE_NAMES)
        return clf


def save_classifier(clf: SegmentClassifier, path: str | os.PathLike[str]) -> Path:
    """Write ``clf`` as a compressed ``.npz`` of plain arrays, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **clf.to_arrays())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def load_classifier(path: str | os.PathLike[str]) -> SegmentClassifier:
    """Read a model written by :func:`save_classifier` (``allow_pickle=False``); ValueError if unusable."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read model file {path}: {exc}") from None
    return SegmentClassifier.from_arrays(arrays)


# --------------------------------------------------------------------------------------------------
# the default, trained on first use


def _cache_key() -> str:
    blob = json.dumps(
        {
            "generator": GENERATOR_VERSION,
            "features": FEATURES_VERSION,
            "sklearn": sklearn.__version__,
            "numpy": ".".join(np.__version__.split(".")[:2]),
            "params": SegmentClassifier().get_params(),
            "size": TRAIN_SIZE,
            "seed": TRAIN_SEED,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_path() -> Path | None:
    """Where the default model is cached, or None when caching is switched off."""
    env = os.environ.get("TRAINLOG_DOCTOR_CACHE_DIR")
    if env is not None and env.strip().lower() in ("", "0", "off", "none", "false", "no"):
        return None
    if env:
        base = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        try:
            base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "trainlog-doctor"
        except (RuntimeError, KeyError):  # no home directory to be found
            return None
    name = f"segments-g{GENERATOR_VERSION}-f{FEATURES_VERSION}-sk{sklearn.__version__}-{_cache_key()}.npz"
    return base / name


def train_default_classifier() -> SegmentClassifier:
    """Train the default model from the synthetic generator (fixed seed and size): deterministic."""
    segments, labels, _ = generate_segment_dataset(TRAIN_SIZE, TRAIN_SEED)
    return SegmentClassifier().fit_segments(segments, labels)


@dataclass
class _State:
    """The in-memory default model, the lock that guards building it, and where it came from."""

    clf: SegmentClassifier | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    source: str = ""
    seconds: float = 0.0


_STATE = _State()


def get_classifier() -> SegmentClassifier:
    """The default classifier: from memory, else from the cache file, else trained now (and cached).

    Safe to call from several threads (one trains, the others wait) and processes (the cache file is
    replaced atomically; a broken or foreign file is ignored and rewritten).
    """
    if _STATE.clf is not None:
        return _STATE.clf
    with _STATE.lock:
        if _STATE.clf is not None:
            return _STATE.clf
        started = time.perf_counter()
        path = cache_path()
        clf: SegmentClassifier | None = None
        if path is not None:
            try:
                if path.is_file():
                    clf = load_classifier(path)
                    _STATE.source = f"cache:{path}"
            except (OSError, ValueError):
                clf = None  # unreadable, foreign or broken: rebuild and overwrite it
        if clf is None:
            clf = train_default_classifier()
            _STATE.source = "trained"
            if path is not None:
                try:
                    save_classifier(clf, path)
                except OSError:
                    pass  # read-only home or full disk: keep the in-memory model
        _STATE.seconds = time.perf_counter() - started
        _STATE.clf = clf
        return clf


def _reset_default_classifier() -> None:
    """Forget the in-memory default model (tests)."""
    with _STATE.lock:
        _STATE.clf = None
        _STATE.source = ""


# --------------------------------------------------------------------------------------------------
# the rules' entry point


@dataclass(frozen=True)
class SegmentLabel:
    """The shape of ``values[start:end]``: its label, the class probabilities and, for spikes, the peak index."""

    start: int
    end: int
    label: str
    proba: dict[str, float]
    peak: int | None = None

    @property
    def confidence(self) -> float:
        """Probability of the chosen label (0.0 when the segment had no finite value)."""
        return self.proba.get(self.label, 0.0)


def _peak_index(values: np.ndarray, start: int, end: int) -> int | None:
    """Absolute index of the point furthest (robustly) from the segment's Theil-Sen line."""
    seg = values[start:end]
    ok = np.isfinite(seg)
    if ok.sum() < 3:
        return None
    pos = np.flatnonzero(ok)
    x = seg[ok]
    slope, intercept, _, _ = _theil_sen(x)
    res = x - (intercept + slope * np.arange(x.size))
    return int(start + pos[int(np.argmax(np.abs(res - _median(res))))])


def label_segments(
    values: Any,
    changepoints: Sequence[int] | np.ndarray,
    *,
    classifier: SegmentClassifier | None = None,
) -> list[SegmentLabel]:
    """Label every segment of ``values`` cut at ``changepoints`` (0-based segment starts).

    Non-finite values are ignored. Segments with fewer than 4 finite points are classified together
    with up to 3 neighbours on each side (a lone 1-3 point segment is usually a spike or an edge).
    A segment with no finite value at all gets the label ``flat`` and an empty ``proba``.
    """
    arr = as_float_array(values)
    n = arr.size
    bounds = segments_from_changepoints(n, list(changepoints))
    if not bounds:
        return []
    clf = classifier if classifier is not None else get_classifier()
    rows: list[np.ndarray] = []
    usable: list[int] = []
    for i, (s, e) in enumerate(bounds):
        seg = arr[s:e]
        fin = seg[np.isfinite(seg)]
        if fin.size < _MIN_POINTS:
            wide = arr[max(0, s - _CONTEXT) : min(n, e + _CONTEXT)]
            fin = wide[np.isfinite(wide)] if fin.size else fin
        if fin.size == 0:
            continue
        rows.append(_features(fin))
        usable.append(i)
    proba = clf.predict_proba(np.vstack(rows)) if rows else np.zeros((0, len(clf.classes_)))
    classes = [str(c) for c in clf.classes_]
    out: list[SegmentLabel] = []
    row_of = {i: r for r, i in enumerate(usable)}
    for i, (s, e) in enumerate(bounds):
        r = row_of.get(i)
        if r is None:
            out.append(SegmentLabel(s, e, "flat", {}))
            continue
        p = {c: float(proba[r, j]) for j, c in enumerate(classes)}
        label = classes[int(np.argmax(proba[r]))]
        peak = _peak_index(arr, s, e) if label == "spike" else None
        out.append(SegmentLabel(s, e, label, p, peak))
    return out
