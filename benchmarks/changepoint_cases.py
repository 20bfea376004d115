"""Seeded generator of change-point benchmark curves with known breaks.

Families (each at lengths 50..5000, three signal-to-noise levels, 0 to 5 breaks):

- ``steps``: piecewise-constant levels in Gaussian noise.
- ``steps_spikes``: the same plus isolated 1-3 sample spikes of 8-30 sigma (a spike is not a break).
- ``steps_heavy``: piecewise-constant levels in Student-t (3 dof) noise, scaled to the same MAD.
- ``loss_decay``: a training-loss-like exponential decay ``a * exp(-t / tau) + c`` with level shifts
  (an instability that raises the loss, or a learning-rate drop that lowers it) at the breaks.
- ``trend``: a linear drift with level shifts at the breaks.
- ``ar_noise``: piecewise-constant levels in AR(1) noise (phi 0.3), like running-mean logged losses.

Breaks are 0-based indices where a new segment starts; jumps are drawn in units of the noise sigma:
low SNR 1.5-2.5, medium 3-5, high 8-15.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LENGTHS: tuple[int, ...] = (50, 100, 200, 500, 1000, 2000, 5000)
SNR_LEVELS: dict[str, tuple[float, float]] = {"low": (1.5, 2.5), "med": (3.0, 5.0), "high": (8.0, 15.0)}
FAMILIES: tuple[str, ...] = ("steps", "steps_spikes", "steps_heavy", "loss_decay", "trend", "ar_noise")


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


def make_case(rng: np.random.Generator, family: str, n: int, snr: str, k: int, name: str) -> Case:
    """One curve of ``family`` with about ``k`` breaks (fewer when they do not fit in ``n``)."""
    gap = max(10, n // 25)
    breaks = _breaks(rng, n, k, gap)
    levels = _levels(rng, len(breaks), SNR_LEVELS[snr])
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
