"""Shape labels for stretches of a metric series: features and the shipped tree-ensemble classifier.

A segment (the values between two change points) gets one of :data:`LABELS`:
``falling``, ``rising``, ``flat``, ``noisy`` (no trend, fluctuations >= ~5 % of the level),
``spike`` (a 1-3 point excursion that comes back) or ``collapsed`` (pinned: the value barely moves).
The labels describe shape only: a ``collapsed`` accuracy at 1.0 is a saturated metric, not a collapse,
so rules must still check the level (chance, ln C). Labels are meant for values on their natural
scale (the features are scale-free); the exact definitions are in ``benchmarks/synthetic.py``, the
generator of the labelled training curves.

The classifier is an ExtraTrees ensemble that ``scripts/train_segment_model.py`` fits with fixed
seeds (:mod:`trainlog_doctor.signals.segment_training`) and writes to ``segment_model.npz`` beside
this module: its trees as plain numpy arrays, read with ``allow_pickle=False`` and validated before
use. Prediction walks those arrays with numpy, so labelling needs neither scikit-learn nor the
generator, and every installation labels alike.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from trainlog_doctor.signals.changepoints import segments_from_changepoints
from trainlog_doctor.signals.transforms import as_float_array

__all__ = [
    "FEATURES_VERSION",
    "FEATURE_NAMES",
    "LABELS",
    "MODEL_PATH",
    "SegmentClassifier",
    "SegmentLabel",
    "TreeEnsemble",
    "feature_matrix",
    "get_classifier",
    "label_segments",
    "label_share",
    "load_classifier",
    "save_classifier",
    "segment_features",
]

#: The shape labels, in the generator's order.
LABELS: tuple[str, ...] = ("falling", "flat", "rising", "noisy", "spike", "collapsed")
#: The shipped model: written by ``scripts/train_segment_model.py``.
MODEL_PATH = Path(__file__).with_name("segment_model.npz")

# Bump when a feature changes: a model file records the version it was trained on.
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
# the trees as plain arrays


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """Fitted decision trees as flat arrays (node ids are global; leaves have left == right == -1)."""

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
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_features: int, n_classes: int) -> TreeEnsemble:
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
        forward = (left[inner] > ids[inner]) & (right[inner] > ids[inner]) & (left[inner] < nn) & (right[inner] < nn)
        if not forward.all():
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
# the classifier


@dataclass(frozen=True, eq=False)
class SegmentClassifier:
    """The fitted shape classifier: its classes, its trees and how it was trained (numpy only).

    ``predict_proba(X)`` / ``predict(X)`` take feature rows (:func:`feature_matrix`);
    ``predict_proba_segments`` / ``predict_labels`` take raw segments. ``provenance`` records the
    training recipe (generator and feature versions, library versions, size, seed, parameters).
    """

    classes_: np.ndarray
    forest: TreeEnsemble
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def n_features_in_(self) -> int:
        return _NF

    def _check(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != _NF:
            raise ValueError(f"X must have shape (n, {_NF}), got {X.shape}")
        return np.nan_to_num(X, nan=0.0, posinf=1e12, neginf=-1e12)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities per feature row, columns in ``classes_`` order."""
        return self.forest.proba(self._check(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class per feature row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_proba_segments(self, segments: Sequence[Any]) -> np.ndarray:
        """Class probabilities of raw segments, columns in ``classes_`` order."""
        return self.predict_proba(feature_matrix(segments).reshape(-1, _NF))

    def predict_labels(self, segments: Sequence[Any]) -> list[str]:
        """The shape label of each raw segment."""
        if len(segments) == 0:
            return []
        proba = self.predict_proba_segments(segments)
        return [str(c) for c in self.classes_[np.argmax(proba, axis=1)]]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The model as plain arrays (no objects): what :func:`save_classifier` writes."""
        arrays = dict(self.forest.to_arrays())
        arrays["classes"] = np.asarray([str(c) for c in self.classes_], dtype="<U16")
        arrays["feature_names"] = np.asarray(FEATURE_NAMES, dtype="<U32")
        arrays["provenance"] = np.asarray(json.dumps({**self.provenance, "features": FEATURES_VERSION}, sort_keys=True))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SegmentClassifier:
        """Rebuild the classifier from :meth:`to_arrays` output, validating every array."""
        try:
            names = tuple(str(v) for v in np.asarray(arrays["feature_names"]).tolist())
            classes = np.asarray([str(c) for c in np.asarray(arrays["classes"]).tolist()])
            provenance = json.loads(str(np.asarray(arrays["provenance"]).reshape(()).item()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"model file is malformed: {exc}") from None
        if names != FEATURE_NAMES or not isinstance(provenance, dict) or provenance.get("features") != FEATURES_VERSION:
            raise ValueError("model file was built for other features")
        if classes.size == 0 or not set(classes.tolist()) <= set(LABELS):
            raise ValueError("model file has unknown classes")
        forest = TreeEnsemble.from_arrays(arrays, _NF, classes.size)
        return cls(classes_=classes, forest=forest, provenance=provenance)


def save_classifier(clf: SegmentClassifier, path: str | os.PathLike[str]) -> Path:
    """Write ``clf`` as a compressed ``.npz`` of plain arrays, atomically (temp file + rename).

    The archive carries no time stamps, so the same model always gives the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, arr in clf.to_arrays().items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arr, allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue(), compresslevel=9)
        os.chmod(tmp, 0o644)
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


_DEFAULT: list[SegmentClassifier] = []
_DEFAULT_LOCK = threading.Lock()


def get_classifier() -> SegmentClassifier:
    """The shipped classifier (:data:`MODEL_PATH`), read once per process; ValueError if the file is unusable."""
    if not _DEFAULT:
        with _DEFAULT_LOCK:
            if not _DEFAULT:
                _DEFAULT.append(load_classifier(MODEL_PATH))
    return _DEFAULT[0]

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


def label_share(
    values: Any,
    changepoints: Sequence[int] | np.ndarray,
    start: int,
    labels: Sequence[str],
    *,
    min_points: int = 4,
    classifier: SegmentClassifier | None = None,
) -> float:
    """Share of ``values[start:]`` that lies in segments (cut at ``changepoints``) labelled one of ``labels``.

    0.0 when fewer than ``min_points`` values are left from ``start``.
    """
    n = len(values)
    start = int(min(max(start, 0), n))
    if n - start < min_points:
        return 0.0
    covered = 0
    for seg in label_segments(values, changepoints, classifier=classifier):
        lo, hi = max(seg.start, start), seg.end
        if hi > lo and seg.label in labels:
            covered += hi - lo
    return covered / float(n - start)
