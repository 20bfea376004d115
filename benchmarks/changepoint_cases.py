"""Seeded generator of change-point benchmark curves with known breaks.

Families (each at lengths 50..5000, three signal-to-noise levels, 0 to 5 breaks):

- ``steps``: piecewise-constant levels in Gaussian noise.
- ``steps_spikes``: the same plus isolated 1-3 sample spikes of 8-30 sigma (a spike is not a break).
- ``steps_heavy``: piecewise-constant levels in Student-t (3 dof) noise, scaled to the same MAD.
- ``loss_decay``: a training-loss-like exponential decay ``a * exp(-t / tau) + c`` with level shifts
  (an instability that raises the loss, or a learning-rate drop that lowers it) at the breaks.
- ``trend``: a linear drift with level shifts at the breaks.
- ``ar_noise``: piecewise-constant levels in AR(1) noise (phi 0.3), like running-mean logged losses.
- ``ar_strong``: the same in strongly dependent AR(1) noise (phi 0.6-0.9, an EMA-smoothed loss); jumps are
  in units of the marginal sigma, with low SNR 3-4, medium 5-7, high 10-15 (a 2-sigma "step" in phi 0.9
  noise is indistinguishable from the noise itself).
- ``random_walk``: a Gaussian random walk, no break (a wandering metric, a drifting price).
- ``seasonal``: a sinusoid of 0.5-2 sigma amplitude and period 12-60 samples (with a random phase) in
  AR(1) noise (phi 0-0.5), no break.
- ``smooth_drift``: a smooth logistic or slow cosine drift of 3-20 sigma plus noise, no break (a population
  curve, an accuracy that saturates).

The change-free families (random_walk, seasonal, smooth_drift) have no breaks whatever ``k`` says.

Breaks are 0-based indices where a new segment starts; jumps are drawn in units of the noise sigma:
low SNR 1.5-2.5, medium 3-5, high 8-15.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

LENGTHS: tuple[int, ...] = (50, 100, 200, 500, 1000, 2000, 5000)
SNR_LEVELS: dict[str, tuple[float, float]] = {"low": (1.5, 2.5), "med": (3.0, 5.0), "high": (8.0, 15.0)}
FAMILIES: tuple[str, ...] = (
    "steps",
    "steps_spikes",
    "steps_heavy",
    "loss_decay",
    "trend",
    "ar_noise",
    "ar_strong",
    "random_walk",
    "seasonal",
    "smooth_drift",
)
#: Families with no change point by construction.
NO_CHANGE_FAMILIES: tuple[str, ...] = ("random_walk", "seasonal", "smooth_drift")
#: Jump sizes of ``ar_strong`` in marginal sigmas (see the module docstring).
AR_STRONG_SNR: dict[str, tuple[float, float]] = {"low": (3.0, 4.0), "med": (5.0, 7.0), "high": (10.0, 15.0)}
#: Salt of the tuning/test split (see :func:`split_of`).
SPLIT_SALT = "cp14-split"


@dataclass
class Case:
    """One benchmark curve: its values, true breaks and how it was made."""

    name: str
    family: str
    snr: str
    values: np.ndarray
    breaks: list[int]
    spikes: list[int] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.values.size)


def _breaks(rng: np.random.Generator, n: int, k: int, gap: int) -> list[int]:
    """``k`` sorted break positions at least ``gap`` apart and from both ends (fewer if they do not fit)."""
    while k > 0 and (k + 1) * gap > n:
        k -= 1
    if k == 0:
        return []
    # Draw spacings: k + 1 segments, each gap + a random share of the slack.
    slack = n - (k + 1) * gap
    cuts = np.sort(rng.integers(0, slack + 1, size=k))
    return [int(gap * (i + 1) + c) for i, c in enumerate(cuts)]


def _levels(rng: np.random.Generator, k: int, snr: tuple[float, float]) -> np.ndarray:
    """Cumulative levels for k + 1 segments with jumps of random sign and size in ``snr``."""
    jumps = rng.uniform(*snr, size=k) * rng.choice([-1.0, 1.0], size=k)
    return np.concatenate([[0.0], np.cumsum(jumps)])


def _piecewise(n: int, breaks: list[int], levels: np.ndarray) -> np.ndarray:
    out = np.empty(n)
    bounds = [0, *breaks, n]
    for i in range(len(bounds) - 1):
        out[bounds[i] : bounds[i + 1]] = levels[i]
    return out


def _spikes(rng: np.random.Generator, n: int, breaks: list[int], count: int) -> list[int]:
    """Spike positions at least 8 samples from any break and from each other."""
    taken = list(breaks)
    out: list[int] = []
    for _ in range(count * 20):
        if len(out) == count:
            break
        p = int(rng.integers(3, n - 4))
        if all(abs(p - q) >= 8 for q in taken):
            out.append(p)
            taken.append(p)
    return sorted(out)


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """Stationary AR(1) noise of unit marginal variance."""
    e = rng.normal(size=n) * np.sqrt(1.0 - phi * phi)
    out = np.empty(n)
    out[0] = rng.normal()
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def _no_change(rng: np.random.Generator, family: str, n: int) -> np.ndarray:
    """A change-free curve of ``family`` (random walk, seasonal or smooth drift) in unit noise."""
    t = np.arange(n, dtype=np.float64)
    if family == "random_walk":
        return np.cumsum(rng.normal(size=n))
    if family == "seasonal":
        period = rng.uniform(12, 60)
        amp = rng.uniform(0.5, 2.0)
        return amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) + _ar1(rng, n, rng.uniform(0.0, 0.5))
    size = rng.uniform(3.0, 20.0) * rng.choice([-1.0, 1.0])
    if rng.random() < 0.5:  # logistic growth centred somewhere in the middle half
        centre, width = n * rng.uniform(0.25, 0.75), n * rng.uniform(0.08, 0.25)
        curve = size / (1.0 + np.exp(-(t - centre) / width))
    else:  # half to one and a half slow cosine periods
        curve = size * 0.5 * np.cos(np.pi * t / n * rng.uniform(1.0, 3.0) + rng.uniform(0, np.pi))
    return curve + rng.normal(size=n)


def make_case(rng: np.random.Generator, family: str, n: int, snr: str, k: int, name: str) -> Case:
    """One curve of ``family`` with about ``k`` breaks (fewer when they do not fit in ``n``)."""
    if family in NO_CHANGE_FAMILIES:
        return Case(name=name, family=family, snr=snr, values=_no_change(rng, family, n), breaks=[])
    gap = max(10, n // 25)
    breaks = _breaks(rng, n, k, gap)
    levels = _levels(rng, len(breaks), AR_STRONG_SNR[snr] if family == "ar_strong" else SNR_LEVELS[snr])
    base = _piecewise(n, breaks, levels)
    t = np.arange(n, dtype=np.float64)
    spikes: list[int] = []
    if family == "steps_heavy":
        noise = rng.standard_t(3, size=n) / 0.7649  # t(3) MAD is 0.7649: unit robust sigma
    elif family == "ar_noise":
        e = rng.normal(size=n)
        noise = np.empty(n)
        noise[0] = e[0]
        for i in range(1, n):
            noise[i] = 0.3 * noise[i - 1] + e[i] * np.sqrt(1 - 0.09)
    elif family == "ar_strong":
        noise = _ar1(rng, n, rng.uniform(0.6, 0.9))
    else:
        noise = rng.normal(size=n)
    y = base + noise
    if family == "steps_spikes":
        spikes = _spikes(rng, n, breaks, int(rng.integers(1, 4)))
        for p in spikes:
            width = int(rng.integers(1, 4))
            y[p : p + width] += rng.uniform(8, 30) * rng.choice([-1.0, 1.0])
    elif family == "loss_decay":
        amp = rng.uniform(20, 120)
        tau = n * rng.uniform(0.08, 0.3)
        y = y + amp * np.exp(-t / tau) + 5.0
    elif family == "trend":
        drift = rng.uniform(-25, 25)
        y = y + drift * t / n
    return Case(name=name, family=family, snr=snr, values=y, breaks=breaks, spikes=spikes)


def generate_cases(seed: int = 0, reps: int = 1, lengths: tuple[int, ...] = LENGTHS) -> list[Case]:
    """Every family x length x SNR level, ``reps`` times, with 0-5 breaks (about one case in five has none)."""
    rng = np.random.default_rng(seed)
    cases: list[Case] = []
    for rep in range(reps):
        for family in FAMILIES:
            for n in lengths:
                for snr in SNR_LEVELS:
                    k = int(rng.choice([0, 1, 2, 3, 5], p=[0.2, 0.25, 0.25, 0.15, 0.15]))
                    name = f"{family}-n{n}-{snr}-r{rep}"
                    cases.append(make_case(rng, family, n, snr, k, name))
    return cases


def split_of(name: str) -> str:
    """``"tune"`` or ``"test"`` for a case name: the first byte of sha256(SPLIT_SALT + ":" + name), even = tune.

    Fixed by the name alone (family, length, SNR level, repetition), so it does not move when cases are added.
    """
    digest = hashlib.sha256(f"{SPLIT_SALT}:{name}".encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "test"
