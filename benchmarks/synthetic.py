"""Seeded generator of realistic training curves with ground truth (pure numpy).

Every run family builds its series from parts: a clean ``trend``, a ``fluct`` (noise plus any
oscillation), short ``spike`` bumps and non-finite points. The parts give the ground truth:

* finding labels ``{kind, metric, split, onset}`` for the nine finding kinds (empty for healthy runs);
* segment labels for the shape classifier, decided from the parts of a segment (never from the
  noisy values), with these definitions (``level`` = median |trend|, ``sigma`` = RMS of ``fluct``):

  ===========  ==================================================================================
  falling      the trend drops by >= 4 sigma and >= 1 % of the level across the segment
  rising       the trend climbs by >= 4 sigma and >= 1 % of the level
  flat         no trend (< 1.5 sigma or < 0.2 % of the level) and sigma is 0.1 % to 3 % of the level,
               or sigma <= 0.03 % of the level with a slow steady drift of 0.1 % to 0.2 % of it
  noisy        no trend and sigma >= 6 % of the level (noise or persistent swings)
  collapsed    no trend, sigma <= 0.03 % and drift <= 0.05 % of the level: the value is pinned
  spike        a 1-3 point excursion (>= 10 sigma) inside the segment that comes back to the baseline
               and is at least twice the trend's change across the segment (a small spike on a
               steep fall leaves the segment ``falling``)
  ===========  ==================================================================================

  Cases between these bands are ambiguous and left out of :func:`generate_segment_dataset`.

Healthy runs keep improving to the end, except where the logged lr schedule has decayed
(``step_decay``, ``warmup_cosine``); a ``plateau`` run stops improving abruptly well above its floor.
Run facts go to ``SyntheticRun.meta`` (``num_classes`` for classifiers, ``lr_schedule``, ``family``).

:func:`generate_runs` gives whole labelled runs (the detection benchmark);
:func:`generate_segment_dataset` gives labelled segments grouped by family (the shape classifier).
The output depends only on ``seed`` (and numpy's PCG64 stream), never on global state.
The package never imports this module: the benchmarks, ``scripts/train_segment_model.py`` (which
trains the shipped segment model on it) and the tests do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from trainlog_doctor.model.kinds import KINDS
from trainlog_doctor.signals.segments import LABELS

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "FAMILIES",
    "GENERATOR_VERSION",
    "KINDS",
    "LABELS",
    "Segment",
    "SyntheticRun",
    "family_names",
    "generate_runs",
    "generate_segment_dataset",
    "make_run",
    "segment_label",
]

# Bump when the curves or the labelling change (the segment model file records it).
GENERATOR_VERSION = "2"

# Oracle thresholds (see the module docstring).
_TREND_SIGMAS = 4.0
_TREND_REL = 0.01
_FLAT_SIGMAS = 1.5
_FLAT_REL = 0.002
_PINNED_MAX = 3e-4
_PINNED_DRIFT = 5e-4
_FLAT_MIN = 1e-3
_FLAT_MAX = 0.03
_NOISY_MIN = 0.06
_SPIKE_SIGMAS = 10.0
_MIN_SEGMENT = 4
_MIN_SPIKE_WINDOW = 7
_AR_TAPS = 64  # phi <= 0.5: phi**64 < 1e-19

Key = tuple[str, str]


@dataclass(frozen=True)
class Segment:
    """A half-open stretch ``[start, end)`` of a series with its shape label."""

    start: int
    end: int
    label: str


@dataclass
class _Track:
    """One series split into its ground-truth parts."""

    trend: np.ndarray
    fluct: np.ndarray
    regimes: list[tuple[int, int]]
    bump: np.ndarray | None = None
    spikes: list[tuple[int, int]] = field(default_factory=list)
    bad: dict[int, float] = field(default_factory=dict)  # index -> NaN / +-Inf written over the value
    finite_until: int | None = None  # non-finite from here to the end (regimes are clipped there)
    min_window: int = _MIN_SEGMENT
    float32: bool = False
    clip: tuple[float, float] | None = None

    def values(self) -> np.ndarray:
        """The observed series: trend + fluct + bumps, rounded like the writer, then NaN/Inf written in."""
        v = self.trend + self.fluct
        if self.bump is not None:
            v = v + self.bump
        if self.clip is not None:
            v = np.clip(v, *self.clip)
        if self.float32:
            with np.errstate(over="ignore"):
                v = v.astype(np.float32).astype(np.float64)
        for i, bad in self.bad.items():
            v[i] = bad
        return v


@dataclass
class SyntheticRun:
    """A generated run: its series, finding labels (empty when healthy) and segment ground truth."""

    family: str
    metrics: dict[Key, np.ndarray]
    labels: list[dict[str, Any]]
    segments: dict[Key, list[Segment]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def kinds(self) -> set[str]:
        """The finding kinds present in this run (empty for a healthy run)."""
        return {str(lab["kind"]) for lab in self.labels}

    @property
    def healthy(self) -> bool:
        """True when the run carries no finding label."""
        return not self.labels

    def to_frame(self, run_id: str = "synthetic", source: str = "synthetic") -> pl.DataFrame:
        """The run as a normalized long frame (step = epoch = index; wall time from a ``time`` series)."""
        import polars as pl

        from trainlog_doctor.model.frame import empty_frame, from_columns

        wall: np.ndarray | None = None
        time = self.metrics.get(("time", "other"))
        if time is not None:
            wall = np.cumsum(np.nan_to_num(time, nan=0.0, posinf=0.0, neginf=0.0))
        parts = []
        for (metric, split), values in self.metrics.items():
            idx = np.arange(values.size)
            parts.append(
                from_columns(
                    run_id=run_id,
                    source=source,
                    metric=metric,
                    split=split,
                    step=idx.tolist(),
                    epoch=idx.astype(np.float64).tolist(),
                    wall_time=None if wall is None else wall[: values.size].tolist(),
                    value=values.tolist(),
                )
            )
        return pl.concat(parts) if parts else empty_frame()


@dataclass
class _Spec:
    """What a family builder returns: tracks, finding labels and run facts."""

    tracks: dict[Key, _Track]
    labels: list[dict[str, Any]]
    meta: dict[str, Any]


# --------------------------------------------------------------------------------------------------
# ground-truth labelling


def segment_label(
    trend: np.ndarray,
    fluct: np.ndarray,
    *,
    resolve: bool = False,
) -> str | None:
    """The shape label of a spike-free segment from its clean trend and its fluctuation.

    Returns None for ambiguous segments unless ``resolve`` (then the nearest label is returned).
    """
    trend = np.asarray(trend, dtype=np.float64)
    fluct = np.asarray(fluct, dtype=np.float64)
    level = _median(np.abs(trend))
    if level <= 0.0:
        level = max(float(np.max(np.abs(trend))), 1e-300)
    change = float(trend[-1] - trend[0])
    span = float(trend.max() - trend.min())
    sigma = math.sqrt(float(np.dot(fluct, fluct)) / fluct.size)
    snr = abs(change) / max(sigma, 1e-12 * level)
    rel = abs(change) / level
    r = sigma / level
    if span > 1.5 * abs(change) + 0.5 * sigma and not resolve:
        return None  # not monotone: no single shape
    if snr >= _TREND_SIGMAS and rel >= _TREND_REL:
        return "falling" if change < 0 else "rising"
    no_trend = snr <= _FLAT_SIGMAS or rel <= _FLAT_REL
    if not no_trend:
        if not resolve:
            return None
        trend_score = min(snr / _TREND_SIGMAS, rel / _TREND_REL)
        flat_score = max(_FLAT_SIGMAS / max(snr, 1e-12), _FLAT_REL / max(rel, 1e-300))
        if trend_score >= 1.0 / flat_score:
            return "falling" if change < 0 else "rising"
    if r <= _PINNED_MAX:
        if rel <= _PINNED_DRIFT:
            return "collapsed"
        if rel >= _FLAT_REL / 2 or resolve:
            return "flat"  # barely any noise, but a slow steady drift: moving, not pinned
        return None
    if _FLAT_MIN <= r <= _FLAT_MAX:
        return "flat"
    if r >= _NOISY_MIN:
        return "noisy"
    if not resolve:
        return None
    if r < math.sqrt(_PINNED_MAX * _FLAT_MIN):
        return "collapsed"
    return "flat" if r < math.sqrt(_FLAT_MAX * _NOISY_MIN) else "noisy"


def _median(x: np.ndarray) -> float:
    """Median of a non-empty 1-D array (cheaper than np.median on small arrays)."""
    a = np.sort(x)
    m = a.size // 2
    return float(a[m]) if a.size % 2 else 0.5 * float(a[m - 1] + a[m])


def _window_label(track: _Track, start: int, end: int) -> str | None:
    """Ground-truth label of ``[start, end)`` of a track, None when ambiguous or unusable."""
    if end - start < _MIN_SEGMENT:
        return None
    if any(start <= i < end for i in track.bad):
        return None
    if track.finite_until is not None and end > track.finite_until:
        return None
    inside = False
    for a, b in track.spikes:
        if b <= start or a >= end:
            continue
        if a < start + 2 or b > end - 2:
            return None  # a spike cut by the window or without baseline on both sides
        inside = True
    if end - start < track.min_window:
        return None
    base = segment_label(track.trend[start:end], track.fluct[start:end])
    if not inside:
        return base
    if end - start < _MIN_SPIKE_WINDOW:
        return None
    # A spike names the segment only when it outweighs the trend's own change across the segment.
    height = float(np.max(np.abs(track.bump[start:end]))) if track.bump is not None else 0.0
    span = float(np.ptp(track.trend[start:end]))
    if height >= 2.0 * span:
        return "spike"
    if height <= 0.5 * span and base in ("falling", "rising"):
        return base
    return None


def _annotate(track: _Track) -> list[Segment]:
    """Ground-truth segments of a whole track (spikes as their own short segments, ambiguity resolved)."""
    limit = track.trend.size if track.finite_until is None else track.finite_until
    out: list[Segment] = []
    for s, e in track.regimes:
        e = min(e, limit)
        if e <= s:
            continue
        cuts = [s]
        for a, b in sorted(track.spikes):
            if s <= a and b <= e:
                cuts.extend([a, b])
        cuts.append(e)
        spike_starts = {a for a, _ in track.spikes}
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b <= a:
                continue
            if a in spike_starts:
                out.append(Segment(a, b, "spike"))
                continue
            out.extend(_split_tail(track, a, b))
    return out


def _split_tail(track: _Track, s: int, e: int) -> list[Segment]:
    """Label ``[s, e)``; a trend that has died out by the end is split into the trend and its flat tail."""
    label = str(segment_label(track.trend[s:e], track.fluct[s:e], resolve=True))
    if label not in ("falling", "rising") or e - s < 10:
        return [Segment(s, e, label)]
    for q in np.linspace(0.3, 0.9, 13):
        k = s + int(round(q * (e - s)))
        if e - k < 5 or k - s < 4:
            continue
        tail = segment_label(track.trend[k:e], track.fluct[k:e])
        head = segment_label(track.trend[s:k], track.fluct[s:k], resolve=True)
        if tail in ("flat", "noisy", "collapsed") and head == label:
            return [Segment(s, k, label), Segment(k, e, tail)]
    return [Segment(s, e, label)]


# --------------------------------------------------------------------------------------------------
# building blocks


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A draw spread evenly on a log scale between ``lo`` and ``hi``."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _n_points(rng: np.random.Generator) -> int:
    """A run length: mostly epoch-level (25-120), sometimes long (up to 1,200 logged points)."""
    u = rng.random()
    if u < 0.6:
        return int(rng.integers(25, 121))
    if u < 0.9:
        return int(rng.integers(121, 401))
    return int(rng.integers(401, 1201))


def _unit_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-variance noise: Gaussian or Student-t, white or mildly autocorrelated (AR(1))."""
    if rng.random() < 0.3:
        df = float(rng.integers(5, 11))
        e = rng.standard_t(df, n) / math.sqrt(df / (df - 2.0))
    else:
        e = rng.standard_normal(n)
    if n > 1 and rng.random() < 0.4:
        phi = float(rng.uniform(0.1, 0.5))
        # AR(1) as its (truncated) impulse response, with a burn-in so the start is stationary.
        burn = rng.standard_normal(_AR_TAPS) if e.size else e
        kernel = phi ** np.arange(_AR_TAPS, dtype=np.float64)
        return math.sqrt(1.0 - phi * phi) * np.convolve(np.concatenate([burn, e]), kernel)[_AR_TAPS : _AR_TAPS + n]
    return e


def _train_rel(rng: np.random.Generator, top: float = 0.025) -> float:
    """Relative noise of a training curve: usually 0.15 %..``top``, sometimes tiny (full-batch, big data)."""
    if rng.random() < 0.25:
        return _loguniform(rng, 2e-5, 1e-3)
    return _loguniform(rng, 0.0015, top)


def _mult_noise(rng: np.random.Generator, trend: np.ndarray, rel: float) -> np.ndarray:
    """Noise proportional to the trend's level (relative sigma ``rel``)."""
    return np.abs(trend) * rel * _unit_noise(rng, trend.size)


def _add_noise(rng: np.random.Generator, trend: np.ndarray, rel: float) -> np.ndarray:
    """Noise of constant size ``rel`` times the trend's median level."""
    return float(np.median(np.abs(trend))) * rel * _unit_noise(rng, trend.size)


def _decay_shape(rng: np.random.Generator, n: int, style: str, still_improving: bool = True) -> np.ndarray:
    """A decreasing shape from 1 to about 0 over ``n`` points.

    ``exp`` and ``power`` keep improving to the end when ``still_improving`` (healthy runs);
    ``first_drop`` falls hard after the first point, then decays slowly.
    """
    t = np.arange(n, dtype=np.float64)
    if style == "exp":
        tau = n * (rng.uniform(0.25, 0.6) if still_improving else rng.uniform(0.05, 0.2))
        return np.exp(-t / tau)
    if style == "power":
        t0 = max(1.0, n * rng.uniform(0.01, 0.08))
        alpha = rng.uniform(0.4, 1.0)
        return (1.0 + t / t0) ** (-alpha)
    # first_drop
    tau = n * rng.uniform(0.25, 0.6)
    drop = rng.uniform(0.3, 0.7)
    shape = (1.0 - drop) * np.exp(-np.maximum(t - 1.0, 0.0) / tau)
    shape[0] = 1.0
    return shape


def _loss_levels(rng: np.random.Generator, classes: int | None) -> tuple[float, float]:
    """Start and floor of a loss curve: near ln(C) for classifiers, anywhere for regressions."""
    if classes is not None:
        start = math.log(classes) * rng.uniform(0.9, 1.3)
    else:
        start = 10.0 ** rng.uniform(-2.0, 2.0)
    floor = start * 10.0 ** rng.uniform(-2.0, -0.4)
    return start, floor


def _classes(rng: np.random.Generator) -> int | None:
    """Number of classes of the task, or None for a regression."""
    return [None, 2, 2, 5, 10, 10, 100, 1000][int(rng.integers(0, 8))]


def _accuracy(shape_progress: np.ndarray, classes: int, top: float, gamma: float) -> np.ndarray:
    """Accuracy from progress in [0, 1]: chance (1/C) to ``top``."""
    chance = 1.0 / classes
    return chance + (top - chance) * np.clip(shape_progress, 0.0, 1.0) ** gamma


def _whole(n: int) -> list[tuple[int, int]]:
    """One regime covering the whole series."""
    return [(0, n)]


def _loss_pair(
    rng: np.random.Generator,
    n: int,
    classes: int | None,
    style: str,
    *,
    still_improving: bool = True,
    val_rel: tuple[float, float] = (0.002, 0.12),
) -> tuple[_Track, _Track, np.ndarray, float, float]:
    """Healthy train and val loss tracks plus the shared decay shape, the start and the floor."""
    start, floor = _loss_levels(rng, classes)
    shape = _decay_shape(rng, n, style, still_improving)
    train = floor + (start - floor) * shape
    vfloor = floor * rng.uniform(1.1, 3.0)
    vstart = start * rng.uniform(0.8, 1.0)
    val = vfloor + max(vstart - vfloor, 0.0) * shape ** rng.uniform(0.8, 1.2)
    f32 = bool(rng.random() < 0.5)
    tr = _Track(train, _mult_noise(rng, train, _train_rel(rng)), _whole(n), float32=f32)
    va = _Track(val, _mult_noise(rng, val, _loguniform(rng, *val_rel)), _whole(n), float32=f32)
    return tr, va, shape, start, floor


def _acc_tracks(
    rng: np.random.Generator, progress: np.ndarray, classes: int, float32: bool
) -> tuple[_Track, _Track]:
    """Train and val accuracy tracks following ``progress`` (0 = untrained, 1 = done)."""
    n = progress.size
    top = rng.uniform(0.6, 0.995)
    gamma = rng.uniform(0.6, 1.5)
    tr = _accuracy(progress, classes, top, gamma)
    va = _accuracy(progress, classes, top * rng.uniform(0.85, 1.0), gamma)
    a = _Track(tr, _add_noise(rng, tr, _train_rel(rng, 0.02)), _whole(n), float32=float32, clip=(0.0, 1.0))
    b = _Track(va, _add_noise(rng, va, _loguniform(rng, 0.002, 0.05)), _whole(n), float32=float32, clip=(0.0, 1.0))
    _fix_clip(a)
    _fix_clip(b)
    return a, b


def _fix_clip(track: _Track) -> None:
    """Fold clipping into ``fluct`` so the parts still add up to the observed values."""
    if track.clip is None:
        return
    v = np.clip(track.trend + track.fluct, *track.clip)
    track.fluct = v - track.trend


def _time_track(rng: np.random.Generator, n: int, onset: int | None = None, gradual: bool = False) -> _Track:
    """Seconds per epoch: a slower first epoch (a spike), then flat (and after ``onset`` slower for good)."""
    base = 10.0 ** rng.uniform(0.0, 3.0)
    trend = np.full(n, base)
    regimes = [(0, n)]
    if onset is not None:
        factor = rng.uniform(1.6, 4.0)
        if gradual:
            ramp = np.linspace(0.0, 1.0, n - onset + 1)[1:]
            trend[onset:] = base * (1.0 + (factor - 1.0) * ramp)
        else:
            trend[onset:] = base * factor
        regimes = [(0, onset), (onset, n)]
    fluct = _mult_noise(rng, trend, _loguniform(rng, 0.002, 0.025))
    bump = np.zeros(n)
    bump[0] = base * rng.uniform(0.2, 2.0)  # start-up work (compilation, caches) in the first epoch
    return _Track(trend, fluct, regimes, bump=bump, spikes=[(0, 1)])


def _lr_track(rng: np.random.Generator, n: int, style: str, cuts: Sequence[int] = ()) -> _Track:
    """A learning-rate series: ``const``, ``step`` (drops at ``cuts``) or ``warmup_cosine``."""
    lr0 = 10.0 ** rng.uniform(-5.0, -1.0)
    t = np.arange(n, dtype=np.float64)
    if style == "const":
        trend, regimes = np.full(n, lr0), _whole(n)
    elif style == "step":
        gamma = rng.choice([0.1, 0.2, 0.5])
        trend = np.full(n, lr0)
        for c in cuts:
            trend[c:] *= gamma
        bounds = [0, *cuts, n]
        regimes = list(zip(bounds[:-1], bounds[1:]))
    else:
        warm = max(2, int(n * rng.uniform(0.03, 0.15)))
        trend = np.where(
            t < warm,
            lr0 * (t + 1.0) / warm,
            lr0 * 0.5 * (1.0 + np.cos(math.pi * (t - warm) / max(n - warm, 1))),
        )
        trend = np.maximum(trend, lr0 * 1e-3)
        regimes = [(0, warm), (warm, n)]
    return _Track(trend, np.zeros(n), regimes, float32=True)


def _label(kind: str, metric: str, split: str, onset: int) -> dict[str, Any]:
    """A finding label as the detection benchmark reads it."""
    return {"kind": kind, "metric": metric, "split": split, "onset": int(onset)}


def _base_run(
    rng: np.random.Generator,
    style: str,
    *,
    n: int | None = None,
    still_improving: bool = True,
    val_rel: tuple[float, float] = (0.002, 0.12),
) -> tuple[dict[Key, _Track], dict[str, Any], np.ndarray]:
    """A healthy run: losses, accuracies for classifiers, sometimes a constant lr and the epoch time."""
    n = _n_points(rng) if n is None else n
    classes = _classes(rng)
    tr, va, shape, start, floor = _loss_pair(rng, n, classes, style, still_improving=still_improving, val_rel=val_rel)
    tracks: dict[Key, _Track] = {("loss", "train"): tr, ("loss", "val"): va}
    if classes is not None:
        at, av = _acc_tracks(rng, 1.0 - shape, classes, tr.float32)
        tracks[("accuracy", "train")] = at
        tracks[("accuracy", "val")] = av
    if rng.random() < 0.35:
        tracks[("lr", "other")] = _lr_track(rng, n, "const")
    if rng.random() < 0.3:
        tracks[("time", "other")] = _time_track(rng, n)
    meta: dict[str, Any] = {"n": n}
    if classes is not None:
        meta["num_classes"] = classes
    return tracks, meta, shape


# --------------------------------------------------------------------------------------------------
# families: healthy


def _fam_exp(rng: np.random.Generator) -> _Spec:
    """Healthy: exponential decay that is still improving at the end."""
    tracks, meta, _ = _base_run(rng, "exp")
    return _Spec(tracks, [], meta)


def _fam_power(rng: np.random.Generator) -> _Spec:
    """Healthy: power-law decay."""
    tracks, meta, _ = _base_run(rng, "power")
    return _Spec(tracks, [], meta)


def _fam_first_drop(rng: np.random.Generator) -> _Spec:
    """Healthy: a big drop after the first epoch, then a slow decay."""
    tracks, meta, _ = _base_run(rng, "first_drop")
    return _Spec(tracks, [], meta)


def _fam_noisy_val(rng: np.random.Generator) -> _Spec:
    """Healthy, with a very noisy validation loss (6 % to 30 % of its level)."""
    tracks, meta, _ = _base_run(rng, str(rng.choice(["exp", "power"])), val_rel=(0.08, 0.3))
    return _Spec(tracks, [], meta)


def _fam_step_decay(rng: np.random.Generator) -> _Spec:
    """Loss decays within each lr stage and drops sharply at each lr step."""
    n = max(_n_points(rng), 40)
    k = int(rng.integers(1, 4))
    cuts = sorted({int(c) for c in np.sort(rng.uniform(0.25, 0.85, k)) * n})
    cuts = [c for i, c in enumerate(cuts) if c - (cuts[i - 1] if i else 0) >= 8 and n - c >= 8]
    classes = _classes(rng)
    start, floor = _loss_levels(rng, classes)
    bounds = [0, *cuts, n]
    trend = np.empty(n)
    level = start
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        m = b - a
        last = i == len(bounds) - 2
        tau = m * (rng.uniform(0.3, 0.6) if last else rng.uniform(0.1, 0.3))
        # The floor never exceeds the level after the lr drop: a healthy step decay never rises.
        stage_floor = min(max(level * rng.uniform(0.4, 0.75), floor), level * 0.95)
        t = np.arange(m, dtype=np.float64)
        trend[a:b] = stage_floor + (level - stage_floor) * np.exp(-t / tau)
        level = stage_floor * rng.uniform(0.35, 0.7)  # the drop at the next lr step
    regimes = list(zip(bounds[:-1], bounds[1:]))
    f32 = bool(rng.random() < 0.5)
    tracks: dict[Key, _Track] = {
        ("loss", "train"): _Track(trend, _mult_noise(rng, trend, _loguniform(rng, 0.0015, 0.025)), regimes, float32=f32),
    }
    val = trend * rng.uniform(1.05, 1.6)
    tracks[("loss", "val")] = _Track(val, _mult_noise(rng, val, _loguniform(rng, 0.002, 0.1)), list(regimes), float32=f32)
    if classes is not None:
        progress = (start - trend) / max(start - trend.min(), 1e-12)
        at, av = _acc_tracks(rng, progress, classes, f32)
        at.regimes, av.regimes = list(regimes), list(regimes)
        tracks[("accuracy", "train")], tracks[("accuracy", "val")] = at, av
    tracks[("lr", "other")] = _lr_track(rng, n, "step", cuts)
    meta: dict[str, Any] = {"n": n, "lr_schedule": "step"}
    if classes is not None:
        meta["num_classes"] = classes
    return _Spec(tracks, [], meta)


def _fam_warmup_cosine(rng: np.random.Generator) -> _Spec:
    """Loss progress follows the cumulative learning rate of a warm-up + cosine schedule."""
    n = max(_n_points(rng), 30)
    lr = _lr_track(rng, n, "warmup_cosine")
    classes = _classes(rng)
    start, floor = _loss_levels(rng, classes)
    cum = np.cumsum(lr.trend) / lr.trend.sum()
    shape = np.exp(-cum * rng.uniform(3.0, 6.0))
    shape = (shape - shape[-1] * 0.7) / (1.0 - shape[-1] * 0.7)
    train = floor + (start - floor) * shape
    f32 = bool(rng.random() < 0.5)
    tracks: dict[Key, _Track] = {
        ("loss", "train"): _Track(train, _mult_noise(rng, train, _loguniform(rng, 0.0015, 0.025)), _whole(n), float32=f32),
        ("lr", "other"): lr,
    }
    val = floor * rng.uniform(1.1, 2.0) + (start - floor) * shape
    tracks[("loss", "val")] = _Track(val, _mult_noise(rng, val, _loguniform(rng, 0.002, 0.1)), _whole(n), float32=f32)
    if classes is not None:
        at, av = _acc_tracks(rng, 1.0 - shape, classes, f32)
        tracks[("accuracy", "train")], tracks[("accuracy", "val")] = at, av
    meta: dict[str, Any] = {"n": n, "lr_schedule": "warmup_cosine"}
    if classes is not None:
        meta["num_classes"] = classes
    return _Spec(tracks, [], meta)


# --------------------------------------------------------------------------------------------------
# families: problems


def _onset(rng: np.random.Generator, n: int, lo: float, hi: float, margin: int = 5) -> int:
    """An onset index in the ``[lo, hi)`` fraction of the run, ``margin`` points from either end."""
    return int(min(max(int(n * rng.uniform(lo, hi)), margin), n - margin))


def _fam_non_finite(rng: np.random.Generator) -> _Spec:
    """NaN/Inf from an onset to the end (fp16 overflow, bad batch), or isolated NaNs in validation."""
    tracks, meta, _ = _base_run(rng, str(rng.choice(["exp", "power", "first_drop"])))
    n = meta["n"]
    labels: list[dict[str, Any]] = []
    if rng.random() < 0.75:
        onset = _onset(rng, n, 0.2, 0.9, margin=3)
        first_bad = float(rng.choice([math.nan, math.inf]))
        for key, tr in tracks.items():
            if key[1] == "other":
                continue
            shift = 0 if key[1] == "train" else int(rng.integers(0, 2))
            at = min(onset + shift, n - 1)
            for i in range(at, n):
                tr.bad[i] = first_bad if (i == at and key[0] == "loss") else math.nan
            tr.finite_until = at
            labels.append(_label("non_finite", key[0], key[1], at))
    else:
        val = tracks[("loss", "val")]
        count = int(rng.integers(1, 4))
        spots = sorted({int(i) for i in rng.integers(3, n - 1, count)})
        for i in spots:
            val.bad[i] = math.nan
        labels.append(_label("non_finite", "loss", "val", spots[0]))
    return _Spec(tracks, labels, meta)


def _fam_divergence(rng: np.random.Generator) -> _Spec:
    """Loss falls, then leaves its trend at the onset and rises for good (optionally to Inf/NaN)."""
    n = max(_n_points(rng), 30)
    tracks, meta, shape = _base_run(rng, str(rng.choice(["exp", "power"])), n=n)
    onset = _onset(rng, n, 0.3, 0.8, margin=6)
    labels: list[dict[str, Any]] = []
    explode = rng.random() < 0.6
    to_nan = explode and rng.random() < 0.4
    growth = rng.uniform(3.0, 1000.0) if explode else rng.uniform(1.8, 8.0)
    m = n - onset
    u = np.arange(1, m + 1, dtype=np.float64) / m
    rise = np.exp(np.log(growth) * u) if explode else 1.0 + (growth - 1.0) * u ** rng.uniform(0.7, 1.5)
    for split in ("train", "val"):
        tr = tracks[("loss", split)]
        base = tr.trend[onset - 1]
        new = tr.trend.copy()
        new[onset:] = base * rise
        rel = float(np.sqrt(np.mean((tr.fluct / np.maximum(np.abs(tr.trend), 1e-300)) ** 2)))
        tr.trend = new
        tr.fluct = _mult_noise(rng, new, rel)
        tr.regimes = [(0, onset), (onset, n)]
        labels.append(_label("divergence", "loss", split, onset))
        if to_nan:
            at = min(n - 1, onset + max(3, int(m * rng.uniform(0.4, 0.9))))
            for i in range(at, n):
                tr.bad[i] = math.inf if i == at else math.nan
            tr.finite_until = at
            labels.append(_label("non_finite", "loss", split, at))
    if "num_classes" in meta:
        chance = 1.0 / meta["num_classes"]
        for split in ("train", "val"):
            acc = tracks[("accuracy", split)]
            peak = acc.trend[onset - 1]
            floor = chance + (peak - chance) * rng.uniform(0.2, 0.6)
            new = acc.trend.copy()
            new[onset:] = peak + (floor - peak) * (1.0 - np.exp(-np.arange(1, m + 1) / max(m * 0.2, 1.0)))
            acc.trend = new
            acc.fluct = _add_noise(rng, new, _loguniform(rng, 0.005, 0.03))
            _fix_clip(acc)
            acc.regimes = [(0, onset), (onset, n)]
            if to_nan:
                at = tracks[("loss", split)].finite_until or n
                for i in range(at, n):
                    acc.bad[i] = math.nan
                acc.finite_until = at
                labels.append(_label("non_finite", "accuracy", split, at))
    return _Spec(tracks, labels, meta)


def _spike_profile(rng: np.random.Generator) -> np.ndarray:
    """Relative heights of the 1-3 points of one spike."""
    width = int(rng.choice([1, 1, 2, 3]))
    return np.array([1.0, rng.uniform(0.5, 1.0), rng.uniform(0.5, 0.9)][:width])


def _add_spikes(
    rng: np.random.Generator,
    tr: _Track,
    where: tuple[float, float],
    count: int,
    *,
    dip: bool = False,
    log_scale: bool = False,
) -> list[int]:
    """Add ``count`` transient 1-3 point spikes (dips when ``dip``) in the ``where`` fraction of the run."""
    n = tr.trend.size
    if tr.bump is None:
        tr.bump = np.zeros(n)
    starts: list[int] = []
    lo, hi = max(3, int(where[0] * n)), min(n - 6, int(where[1] * n))
    if hi <= lo:
        return starts
    for _ in range(count * 4):
        if len(starts) == count:
            break
        prof = _spike_profile(rng)
        i = int(rng.integers(lo, hi))
        if any(abs(i - s) < 8 for s in starts):
            continue
        w = prof.size
        local = np.abs(tr.trend[i : i + w])
        sigma = float(np.sqrt(np.mean(tr.fluct[max(0, i - 10) : i + 10] ** 2)))
        if log_scale:
            height = local * 10.0 ** rng.uniform(1.0, 5.0)
        elif dip:
            room = tr.trend[i : i + w] - (tr.clip[0] if tr.clip else 0.0)
            height = np.minimum(local * rng.uniform(0.15, 0.6), room * 0.9)
        else:
            height = local * _loguniform(rng, 0.3, 20.0)
        height = prof * np.maximum(height, 2.0 * _SPIKE_SIGMAS * sigma)
        if dip:
            if np.any(height < 1.2 * _SPIKE_SIGMAS * sigma) or np.any(height > tr.trend[i : i + w]):
                continue
            tr.bump[i : i + w] -= height
        else:
            tr.bump[i : i + w] += height
        tr.spikes.append((i, i + w))
        starts.append(i)
    tr.spikes.sort()
    return sorted(starts)


def _spike_family(where: tuple[float, float], series: str, log_tail: bool = False) -> Callable[[np.random.Generator], _Spec]:
    """A builder of runs with transient spikes in ``series`` (train or val) in the ``where`` part of the run."""
    def build(rng: np.random.Generator) -> _Spec:
        """One spiky run."""
        if log_tail:
            return _log_tail_spikes(rng)
        tracks, meta, _ = _base_run(rng, str(rng.choice(["exp", "power", "first_drop"])), val_rel=(0.002, 0.04))
        split = series
        tr = tracks[("loss", split)]
        starts = _add_spikes(rng, tr, where, int(rng.choice([1, 1, 2, 3])))
        labels = [_label("spike", "loss", split, s) for s in starts]
        acc = tracks.get(("accuracy", split))
        if acc is not None and starts and rng.random() < 0.5:
            dips = []
            for s in starts:
                w = next(b - a for a, b in tr.spikes if a == s)
                acc.bump = np.zeros(acc.trend.size) if acc.bump is None else acc.bump
                sigma = float(np.sqrt(np.mean(acc.fluct[max(0, s - 10) : s + 10] ** 2)))
                depth = acc.trend[s : s + w] * rng.uniform(0.2, 0.6)
                if np.all(depth >= 1.5 * _SPIKE_SIGMAS * sigma) and np.all(depth < acc.trend[s : s + w] - 0.01):
                    acc.bump[s : s + w] -= depth
                    acc.spikes.append((s, s + w))
                    dips.append(s)
            acc.spikes.sort()
            labels += [_label("spike", "accuracy", split, s) for s in dips]
        return _Spec(tracks, labels, meta)

    return build


def _log_tail_spikes(rng: np.random.Generator) -> _Spec:
    """A regression loss decaying over decades to 1e-9..1e-6 with late spikes (seen on a log scale)."""
    n = max(_n_points(rng), 40)
    t = np.arange(n, dtype=np.float64)
    top = rng.uniform(-3.0, 0.0)
    bottom = rng.uniform(-9.0, -6.0)
    tau = n * rng.uniform(0.15, 0.4)
    trend = 10.0 ** (bottom + (top - bottom) * np.exp(-t / tau))
    tracks: dict[Key, _Track] = {
        ("loss", "train"): _Track(trend, _mult_noise(rng, trend, _loguniform(rng, 0.005, 0.2)), _whole(n)),
    }
    val = trend * rng.uniform(1.2, 3.0)
    tracks[("loss", "val")] = _Track(val, _mult_noise(rng, val, _loguniform(rng, 0.01, 0.3)), _whole(n))
    starts = _add_spikes(rng, tracks[("loss", "train")], (0.5, 0.97), int(rng.choice([1, 2, 3])), log_scale=True)
    labels = [_label("spike", "loss", "train", s) for s in starts]
    return _Spec(tracks, labels, {"n": n})


def _fam_plateau(rng: np.random.Generator) -> _Spec:
    """Fast progress, then a kink: the loss stops improving for good well above its floor."""
    n = max(_n_points(rng), 30)
    classes = _classes(rng)
    start, _ = _loss_levels(rng, classes)
    onset = _onset(rng, n, 0.15, 0.6, margin=8)
    level = start * rng.uniform(0.2, 0.7)
    t = np.arange(n, dtype=np.float64)
    k = rng.uniform(1.0, 2.5)
    trend = np.where(t < onset, level + (start - level) * np.clip(1.0 - t / onset, 0.0, 1.0) ** k, level)
    drift = rng.uniform(0.0, 0.0015)
    trend[onset:] *= 1.0 - drift * (t[onset:] - onset) / max(n - onset, 1)
    f32 = bool(rng.random() < 0.5)
    regimes = [(0, onset), (onset, n)]
    tracks: dict[Key, _Track] = {
        ("loss", "train"): _Track(trend, _mult_noise(rng, trend, _loguniform(rng, 0.0015, 0.025)), regimes, float32=f32),
    }
    val = trend * rng.uniform(1.05, 1.5)
    tracks[("loss", "val")] = _Track(val, _mult_noise(rng, val, _loguniform(rng, 0.002, 0.025)), list(regimes), float32=f32)
    labels = [_label("plateau", "loss", "train", onset), _label("plateau", "loss", "val", onset)]
    meta: dict[str, Any] = {"n": n}
    if classes is not None:
        meta["num_classes"] = classes
        progress = (start - trend) / (start - level)
        at, av = _acc_tracks(rng, progress * rng.uniform(0.3, 0.8), classes, f32)
        at.regimes, av.regimes = list(regimes), list(regimes)
        tracks[("accuracy", "train")], tracks[("accuracy", "val")] = at, av
    if rng.random() < 0.3:
        tracks[("lr", "other")] = _lr_track(rng, n, "const")
    return _Spec(tracks, labels, meta)


def _fam_stagnation(rng: np.random.Generator) -> _Spec:
    """Never learns: loss flat at ln(C) (or its start) with noise, accuracy at chance."""
    n = _n_points(rng)
    classes = _classes(rng)
    level = math.log(classes) if classes is not None else 10.0 ** rng.uniform(-2.0, 2.0)
    level *= rng.uniform(1.0, 1.05)
    t = np.arange(n, dtype=np.float64)
    trend = level * (1.0 - rng.uniform(0.0, 0.0015) * t / n)
    noisy = rng.random() < 0.3
    rel = _loguniform(rng, 0.07, 0.2) if noisy else _loguniform(rng, 0.0015, 0.025)
    f32 = bool(rng.random() < 0.5)
    tracks: dict[Key, _Track] = {("loss", "train"): _Track(trend, _mult_noise(rng, trend, rel), _whole(n), float32=f32)}
    val = trend * rng.uniform(1.0, 1.05)
    vrel = rel * rng.uniform(1.0, 2.0)
    tracks[("loss", "val")] = _Track(val, _mult_noise(rng, val, vrel), _whole(n), float32=f32)
    labels = [_label("stagnation", "loss", "train", 0), _label("stagnation", "loss", "val", 0)]
    meta: dict[str, Any] = {"n": n}
    if classes is not None:
        meta["num_classes"] = classes
        for split in ("train", "val"):
            acc = np.full(n, 1.0 / classes * rng.uniform(1.0, 1.1))
            tr = _Track(acc, _add_noise(rng, acc, _loguniform(rng, 0.005, 0.1)), _whole(n), float32=f32, clip=(0.0, 1.0))
            _fix_clip(tr)
            tracks[("accuracy", split)] = tr
    return _Spec(tracks, labels, meta)


def _pinned(rng: np.random.Generator, level: float, n: int) -> np.ndarray:
    """Fluctuation of a pinned value: exactly constant or float-rounding-sized jitter."""
    if rng.random() < 0.4:
        return np.zeros(n)
    return level * _loguniform(rng, 1e-8, 1e-4) * rng.standard_normal(n)


def _fam_collapse(rng: np.random.Generator) -> _Spec:
    """Progress, then the model gives one answer: accuracy pinned at chance, loss pinned at ln(C)."""
    n = max(_n_points(rng), 30)
    classes = int(rng.choice([2, 3, 5, 10, 10, 100]))
    tracks, meta, shape = _base_run(rng, str(rng.choice(["exp", "power"])), n=n)
    if "num_classes" not in meta:  # a regression base: redo the run as a classifier
        meta["num_classes"] = classes
        at, av = _acc_tracks(rng, 1.0 - shape, classes, False)
        tracks[("accuracy", "train")], tracks[("accuracy", "val")] = at, av
    classes = int(meta["num_classes"])
    onset = _onset(rng, n, 0.2, 0.75, margin=8)
    labels: list[dict[str, Any]] = []
    chance = 1.0 / classes if rng.random() < 0.7 else rng.uniform(0.5, 0.9)  # chance or the majority class
    pinned_loss = math.log(classes) if chance <= 1.0 / classes + 1e-12 else -(
        chance * math.log(chance) + (1 - chance) * math.log(max(1 - chance, 1e-12))
    )
    for metric, value in (("accuracy", chance), ("loss", pinned_loss)):
        for split in ("train", "val"):
            tr = tracks[(metric, split)]
            new = tr.trend.copy()
            new[onset:] = value
            tr.trend = new
            fl = tr.fluct.copy()
            fl[onset:] = _pinned(rng, value, n - onset)
            tr.fluct = fl
            tr.clip = None
            tr.float32 = False
            tr.regimes = [(0, onset), (onset, n)]
            labels.append(_label("collapse", metric, split, onset))
    meta["collapse_value"] = chance
    return _Spec(tracks, labels, meta)


def _fam_constant_output(rng: np.random.Generator) -> _Spec:
    """Collapsed from the first epoch: validation accuracy pinned at chance or the majority class."""
    n = _n_points(rng)
    classes = int(rng.choice([2, 2, 3, 10, 100]))
    value = 1.0 / classes if rng.random() < 0.6 else rng.uniform(0.5, 0.95)
    loss_level = math.log(classes) if value == 1.0 / classes else -(
        value * math.log(value) + (1 - value) * math.log(max(1 - value, 1e-12))
    )
    tracks: dict[Key, _Track] = {}
    labels: list[dict[str, Any]] = []
    for metric, level in (("accuracy", value), ("loss", loss_level)):
        v = np.full(n, level)
        tracks[(metric, "val")] = _Track(v, _pinned(rng, level, n), _whole(n))
        labels.append(_label("collapse", metric, "val", 0))
        if rng.random() < 0.5:
            tracks[(metric, "train")] = _Track(v.copy(), _pinned(rng, level, n), _whole(n))
            labels.append(_label("collapse", metric, "train", 0))
        else:
            tv = np.full(n, level)
            tracks[(metric, "train")] = _Track(tv, _add_noise(rng, tv, _loguniform(rng, 0.0015, 0.02)), _whole(n))
    if rng.random() < 0.5:
        tracks[("lr", "other")] = _lr_track(rng, n, "const")
    return _Spec(tracks, labels, {"n": n, "num_classes": classes, "collapse_value": value})


def _fam_oscillation(rng: np.random.Generator) -> _Spec:
    """After some progress the loss swings persistently (sine, sawtooth or alternation) with no trend."""
    n = max(_n_points(rng), 40)
    tracks, meta, _ = _base_run(rng, str(rng.choice(["exp", "power"])), n=n)
    period = float(rng.choice([2.0, rng.uniform(3.0, 6.0), rng.uniform(6.0, 16.0)]))
    # At least four full cycles after the onset, so the label is observable in the data.
    onset = min(_onset(rng, n, 0.1, 0.5, margin=5), max(5, n - int(math.ceil(4 * period))))
    amp = rng.uniform(0.15, 0.5)
    # A period-2 sine sampled at phase 0 or pi is flat: use the alternating phase for it.
    phase = math.pi / 2 if period == 2.0 else rng.uniform(0.0, 2 * math.pi)
    labels: list[dict[str, Any]] = []
    splits = ["train", "val"] if rng.random() < 0.6 else ["train"]
    for split in splits:
        tr = tracks[("loss", split)]
        level = tr.trend[onset]
        new = tr.trend.copy()
        new[onset:] = level
        t = np.arange(n - onset, dtype=np.float64)
        if rng.random() < 0.7:
            wave = np.sin(2 * math.pi * t / period + phase)
        else:  # sawtooth: a slow climb then a sharp fall
            wave = 2.0 * ((t / period + phase / (2 * math.pi)) % 1.0) - 1.0
        osc = level * amp * wave * rng.uniform(0.8, 1.2, n - onset)
        fl = tr.fluct.copy()
        fl[onset:] = osc + level * _loguniform(rng, 0.002, 0.03) * rng.standard_normal(n - onset)
        tr.trend, tr.fluct = new, fl
        tr.regimes = [(0, onset), (onset, n)]
        tr.min_window = max(_MIN_SEGMENT, int(math.ceil(2 * period)))
        labels.append(_label("oscillation", "loss", split, onset))
    return _Spec(tracks, labels, meta)


def _fam_overfitting(rng: np.random.Generator) -> _Spec:
    """Training loss keeps falling; validation loss falls to a minimum at the onset and then rises."""
    n = max(_n_points(rng), 30)
    tracks, meta, shape = _base_run(rng, str(rng.choice(["exp", "power"])), n=n, val_rel=(0.002, 0.04))
    onset = _onset(rng, n, 0.2, 0.6, margin=8)
    val = tracks[("loss", "val")]
    t = np.arange(n, dtype=np.float64)
    vmin = val.trend[onset]
    rise = rng.uniform(0.2, 2.0)
    p = rng.uniform(1.0, 1.8)
    new = val.trend.copy()
    new[onset:] = vmin * (1.0 + rise * ((t[onset:] - onset) / (n - onset)) ** p)
    rel = float(np.sqrt(np.mean((val.fluct / val.trend) ** 2)))
    val.trend = new
    val.fluct = _mult_noise(rng, new, rel)
    val.regimes = [(0, onset), (onset, n)]
    labels = [_label("overfitting", "loss", "val", onset)]
    if ("accuracy", "val") in tracks:
        acc = tracks[("accuracy", "val")]
        peak = acc.trend[onset]
        new_acc = acc.trend.copy()
        new_acc[onset:] = peak * (1.0 - rng.uniform(0.0, 0.1) * ((t[onset:] - onset) / (n - onset)))
        acc.trend = new_acc
        acc.fluct = _add_noise(rng, new_acc, _loguniform(rng, 0.002, 0.03))
        _fix_clip(acc)
        acc.regimes = [(0, onset), (onset, n)]
    return _Spec(tracks, labels, meta)


def _fam_slowdown(rng: np.random.Generator) -> _Spec:
    """Healthy curves, but the time per epoch steps up (or creeps up) at the onset and stays there."""
    n = max(_n_points(rng), 20)
    tracks, meta, _ = _base_run(rng, str(rng.choice(["exp", "power", "first_drop"])), n=n)
    onset = _onset(rng, n, 0.2, 0.8, margin=5)
    tracks[("time", "other")] = _time_track(rng, n, onset, gradual=bool(rng.random() < 0.3))
    return _Spec(tracks, [_label("slowdown", "time", "other", onset)], meta)


# family name -> (finding kind or None for healthy, builder)
FAMILIES: dict[str, tuple[str | None, Callable[[np.random.Generator], _Spec]]] = {
    "exp_decay": (None, _fam_exp),
    "power_law": (None, _fam_power),
    "first_epoch_drop": (None, _fam_first_drop),
    "step_decay": (None, _fam_step_decay),
    "warmup_cosine": (None, _fam_warmup_cosine),
    "noisy_val": (None, _fam_noisy_val),
    "non_finite": ("non_finite", _fam_non_finite),
    "divergence": ("divergence", _fam_divergence),
    "spike_early": ("spike", _spike_family((0.1, 0.5), "train")),
    "spike_late": ("spike", _spike_family((0.5, 0.95), "train")),
    "spike_val": ("spike", _spike_family((0.1, 0.95), "val")),
    "spike_log_tail": ("spike", _spike_family((0.5, 0.97), "train", log_tail=True)),
    "plateau": ("plateau", _fam_plateau),
    "stagnation": ("stagnation", _fam_stagnation),
    "collapse": ("collapse", _fam_collapse),
    "constant_output": ("collapse", _fam_constant_output),
    "oscillation": ("oscillation", _fam_oscillation),
    "overfitting": ("overfitting", _fam_overfitting),
    "slowdown": ("slowdown", _fam_slowdown),
}

# Which segment labels a family can yield (used to steer sampling toward classes still short).
_FAMILY_YIELDS: dict[str, frozenset[str]] = {
    "exp_decay": frozenset({"falling", "rising", "flat", "noisy", "collapsed"}),
    "power_law": frozenset({"falling", "rising", "flat", "noisy", "collapsed"}),
    "first_epoch_drop": frozenset({"falling", "rising", "flat", "noisy", "collapsed"}),
    "step_decay": frozenset({"falling", "rising", "flat", "noisy", "collapsed"}),
    "warmup_cosine": frozenset({"falling", "rising", "flat", "noisy"}),
    "noisy_val": frozenset({"falling", "rising", "flat", "noisy"}),
    "non_finite": frozenset({"falling", "rising", "flat", "noisy"}),
    "divergence": frozenset({"falling", "rising", "flat", "noisy"}),
    "spike_early": frozenset({"spike", "falling", "rising", "flat"}),
    "spike_late": frozenset({"spike", "falling", "rising", "flat"}),
    "spike_val": frozenset({"spike", "falling", "rising", "flat"}),
    "spike_log_tail": frozenset({"spike", "falling", "flat", "noisy"}),
    "plateau": frozenset({"falling", "rising", "flat", "collapsed"}),
    "stagnation": frozenset({"flat", "noisy"}),
    "collapse": frozenset({"collapsed", "falling", "rising", "flat"}),
    "constant_output": frozenset({"collapsed", "flat"}),
    "oscillation": frozenset({"noisy", "falling", "rising", "flat"}),
    "overfitting": frozenset({"falling", "rising", "flat"}),
    "slowdown": frozenset({"flat", "rising", "falling"}),
}


def family_names(kind: str | None = "any") -> list[str]:
    """Family names, all of them (``"any"``), the healthy ones (None) or those of one finding kind."""
    return [name for name, (k, _) in FAMILIES.items() if kind == "any" or k == kind]


# --------------------------------------------------------------------------------------------------
# public entry points


def _rng(seed: int, index: int, salt: int) -> np.random.Generator:
    """An independent stream for (seed, index, purpose)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index), salt])


def _to_run(family: str, spec: _Spec) -> SyntheticRun:
    """Observed values and ground-truth segments of a built run."""
    metrics = {key: tr.values() for key, tr in spec.tracks.items()}
    segments = {key: _annotate(tr) for key, tr in spec.tracks.items()}
    meta = dict(spec.meta)
    meta["family"] = family
    return SyntheticRun(family=family, metrics=metrics, labels=list(spec.labels), segments=segments, meta=meta)


def make_run(family: str, seed: int) -> SyntheticRun:
    """One run of ``family`` (a key of :data:`FAMILIES`), deterministic for ``seed``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    return _to_run(family, FAMILIES[family][1](_rng(seed, 0, 1)))


def generate_runs(n: int, seed: int = 0, kinds: Sequence[str | None] | None = None) -> list[SyntheticRun]:
    """``n`` labelled runs cycling over healthy and each finding kind (or over ``kinds``; None = healthy).

    Run ``i`` depends only on ``seed`` and ``i``; the family within a kind is drawn at random.
    """
    order: list[str | None] = [None, *KINDS] if kinds is None else list(kinds)
    for k in order:
        if k is not None and k not in KINDS:
            raise ValueError(f"unknown finding kind {k!r}; choose from {', '.join(KINDS)} or None for healthy")
    runs: list[SyntheticRun] = []
    for i in range(int(n)):
        rng = _rng(seed, i, 2)
        choices = family_names(order[i % len(order)])
        family = choices[int(rng.integers(0, len(choices)))]
        runs.append(_to_run(family, FAMILIES[family][1](rng)))
    return runs


def _windows(rng: np.random.Generator, track: _Track) -> list[tuple[int, int]]:
    """Candidate windows inside each regime: the whole regime, random sub-windows, windows round spikes."""
    limit = track.trend.size if track.finite_until is None else track.finite_until
    out: list[tuple[int, int]] = []
    for s, e in track.regimes:
        e = min(e, limit)
        length = e - s
        if length < _MIN_SEGMENT:
            continue
        out.append((s, e))
        for _ in range(2):
            w = int(round(_loguniform(rng, _MIN_SEGMENT, length + 0.999)))
            w = min(max(w, _MIN_SEGMENT), length)
            a = s + int(rng.integers(0, length - w + 1))
            out.append((a, a + w))
        for a, b in track.spikes:
            if s <= a and b <= e:
                for _ in range(2):
                    left = a - int(rng.integers(1, max(2, min(40, a - s) + 1)))
                    right = b + int(rng.integers(2, max(3, min(40, e - b) + 1)))
                    out.append((max(s, left), min(e, right)))
    return out


def generate_segment_dataset(
    n: int, seed: int = 0, *, max_per_run: int = 12
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """``n`` labelled segments, balanced over :data:`LABELS`, with the family each came from.

    Segments are windows of generated runs whose ground-truth label is unambiguous; at most
    ``max_per_run`` come from one run. Returns ``(segments, labels, groups)``.
    """
    n = int(n)
    if n < len(LABELS):
        raise ValueError(f"n must be at least {len(LABELS)}, got {n}")
    quota = {lab: n // len(LABELS) + (1 if i < n % len(LABELS) else 0) for i, lab in enumerate(LABELS)}
    bins: dict[str, list[tuple[np.ndarray, str]]] = {lab: [] for lab in LABELS}
    names = list(FAMILIES)
    run_index = 0
    max_runs = 50 * n + 1000
    while any(len(bins[lab]) < quota[lab] for lab in LABELS):
        if run_index >= max_runs:
            raise RuntimeError("the generator could not fill every class; check the families")
        short = {lab for lab in LABELS if len(bins[lab]) < quota[lab]}
        pool = [f for f in names if _FAMILY_YIELDS[f] & short]
        rng = _rng(seed, run_index, 3)
        run_index += 1
        family = pool[int(rng.integers(0, len(pool)))]
        spec = FAMILIES[family][1](rng)
        found: list[tuple[np.ndarray, str]] = []
        for track in spec.tracks.values():
            values = track.values()
            for a, b in _windows(rng, track):
                label = _window_label(track, a, b)
                if label is None or label not in short:
                    continue
                seg = values[a:b]
                if not np.isfinite(seg).all():
                    continue
                found.append((seg.copy(), label))
        order = rng.permutation(len(found))[:max_per_run]
        for j in order:
            seg, label = found[int(j)]
            if len(bins[label]) < quota[label]:
                bins[label].append((seg, family))
    rng = _rng(seed, 0, 4)
    flat = [(seg, lab, fam) for lab in LABELS for seg, fam in bins[lab]]
    perm = rng.permutation(len(flat))
    segments = [flat[int(i)][0] for i in perm]
    labels = [flat[int(i)][1] for i in perm]
    groups = [flat[int(i)][2] for i in perm]
    return segments, labels, groups
