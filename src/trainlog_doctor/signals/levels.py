"""Levels a series sits at: pinned tails, bands it enters for good, chance levels and class counts."""

from __future__ import annotations

import math

import numpy as np

from trainlog_doctor.signals.transforms import median

__all__ = [
    "band_entry",
    "chance_classes",
    "classes_from_levels",
    "flat_between",
    "ln_classes",
    "pinned_tail",
    "tail_level",
]


def pinned_tail(
    values: np.ndarray,
    *,
    rel_tol: float,
    abs_tol: float,
    min_len: int,
    rel_sigma: float | None = None,
    max_off: float = 0.0,
) -> int | None:
    """Start position of the constant stretch that ends the series (within tolerances), or None.

    The level is the median of the last ``min_len`` points; the stretch extends back while points
    stay within ``max(abs_tol, rel_tol * |level|)`` of it. With ``max_off`` > 0 the stretch may
    contain isolated single points off the level, at most that share of it (a stuck accuracy that
    flickers once). With ``rel_sigma``, the stretch's robust sigma (1.4826 * MAD) must also be at
    most ``rel_sigma * |level|`` (or ``abs_tol``): a pinned value jitters by float rounding, a
    converged but still training value by more.
    """
    n = values.size
    if n < min_len or min_len < 1:
        return None
    level = median(values[-min_len:])
    tol = max(abs_tol, rel_tol * abs(level))
    off = np.abs(values / 2 - level / 2) > tol / 2  # halved: 1e308 minus -1e308 would overflow
    if off[-min_len:].any():
        return None
    start = n - min_len
    n_off = 0
    i = start - 1
    while i >= 0:
        if not off[i]:
            start = i
            i -= 1
            continue
        # an off point may stay inside only when isolated and rare
        if i == 0 or off[i - 1] or (n_off + 1) > max_off * (n - i):
            break
        n_off += 1
        i -= 1
    if n - start < min_len:
        return None
    if rel_sigma is not None:
        seg = values[start:][~off[start:]]
        sigma = 1.4826 * median(np.abs(seg - median(seg)))
        if sigma > max(abs_tol, rel_sigma * abs(level)):
            return None
    return start


def tail_level(values: np.ndarray, *, tail_frac: float, min_len: int) -> float:
    """Median of the last ``tail_frac`` of ``values`` (at least ``min_len`` points)."""
    return median(values[-max(min_len, math.ceil(tail_frac * values.size)) :])


def band_entry(
    y: np.ndarray,
    lo: float,
    hi: float,
    *,
    tail_frac: float,
    min_len: int,
    inside_share: float = 0.9,
    min_start: int = 2,
) -> int | None:
    """Where ``y`` enters the band ``[lo, hi]`` for good, or None.

    The last point and ``inside_share`` of the last ``tail_frac`` (at least ``min_len`` points) must
    lie in the band; the entry is the first point in the band from which ``inside_share`` of the rest
    does. It must leave at least ``min_start`` points before it and ``min_len`` from it on.
    """
    inside = (y >= lo) & (y <= hi)
    k = max(min_len, math.ceil(tail_frac * y.size))
    if not inside[-k:].mean() >= inside_share or not inside[-1]:
        return None
    share = np.cumsum(inside[::-1])[::-1] / np.arange(y.size, 0, -1)
    ok = np.flatnonzero((share >= inside_share) & inside)
    if not ok.size:
        return None
    start = int(ok[0])
    if start < min_start or y.size - start < min_len:
        return None
    return start


def flat_between(
    steps: np.ndarray, values: np.ndarray, step_from: int, step_to: int, *, rel: float = 2e-3, min_points: int = 3
) -> bool:
    """True when finite ``values`` at ``steps`` stay within ``rel`` (relative) of their median between
    two steps (with at least ``min_points`` points there)."""
    seg = values[(steps >= step_from) & (steps <= step_to)]
    if seg.size < min_points:
        return False
    med = median(seg)
    return bool(float(np.max(np.abs(seg - med))) <= rel * max(abs(med), 1e-12))


def chance_classes(level: float, *, max_classes: int, tol: float, max_level: float = 0.75) -> int | None:
    """The number of classes C (2..``max_classes``) with 1/C within ``tol`` (relative) of ``level``
    (an accuracy below ``max_level``), or None."""
    if not (0.0 < level < max_level):
        return None
    c = round(1.0 / level)
    if 2 <= c <= max_classes and abs(level * c - 1.0) <= tol:
        return c
    return None


def ln_classes(level: float, *, max_classes: int, rel_tol: float) -> int | None:
    """The number of classes C (2..``max_classes``) with ln(C) within ``rel_tol`` of ``level``, or None."""
    if not (0.5 < level < math.log(max_classes) * 1.1):
        return None
    c = round(math.exp(level))
    if 2 <= c <= max_classes and abs(level - math.log(c)) <= rel_tol * math.log(c):
        return c
    return None


def classes_from_levels(
    loss_level: float | None,
    acc_level: float | None,
    *,
    ln_tol: float,
    acc_tol: float = 0.3,
    max_classes: int = 1000,
    max_from_loss: int = 5,
    max_from_accuracy: int = 10,
    accuracy_only_tol: float = 0.15,
) -> int | None:
    """The class count C on which a cross-entropy level (ln C) and an accuracy level (1/C, a fraction) agree.

    With both, the loss must be within ``ln_tol`` (relative) of ln(C) and the accuracy within
    ``acc_tol`` of 1/C; the C with the smallest errors (in units of their tolerances) wins. With a
    loss alone, C is guessed up to ``max_from_loss`` (above that ln(C) values are too close together
    to tell one from another); with an accuracy alone, up to ``max_from_accuracy`` (within
    ``accuracy_only_tol``). None when nothing agrees.
    """
    best: tuple[float, int] | None = None
    for c in range(2, max_classes + 1):
        e_loss = abs(loss_level / math.log(c) - 1.0) if loss_level is not None else None
        e_acc = abs(acc_level * c - 1.0) if acc_level is not None else None
        if e_loss is not None and e_acc is not None:
            ok = e_loss <= ln_tol and e_acc <= acc_tol
        elif e_loss is not None:
            ok = c <= max_from_loss and e_loss <= ln_tol
        elif e_acc is not None:
            ok = c <= max_from_accuracy and e_acc <= accuracy_only_tol
        else:
            ok = False
        if ok:
            # errors in units of their tolerance: ln(C) pins C far more precisely than 1/C does
            err = (e_loss or 0.0) / ln_tol + (e_acc or 0.0) / acc_tol
            if best is None or err < best[0]:
                best = (err, c)
    return best[1] if best else None


def gain_kept(values: np.ndarray, start: int, *, higher_is_better: bool) -> tuple[float, float] | None:
    """How much a series improved before ``start`` and how much of that it gave back from ``start`` on.

    Returns ``(gain, given_back)``: ``gain`` is the best value before ``start`` measured from the
    first value, as a share of the first value for a loss (``higher_is_better`` False) or of the room
    from the first value to 1 for an accuracy; ``given_back`` is the share of that improvement lost by
    the median from ``start`` on (0 = still at its best, 1 = back where it started, > 1 = worse).
    None when there is nothing to measure (no point before ``start``, no room, a loss at or below 0).
    """
    if start < 1 or start >= values.size:
        return None
    first = float(values[0])
    level = median(values[start:])
    if higher_is_better:
        best, room = float(np.max(values[: start + 1])), 1.0 - first
        if room <= 0:
            return None
        gain = best - first
        return gain / room, ((best - level) / gain if gain > 0 else math.inf)
    if first <= 0:
        return None
    best = float(np.min(values[: start + 1]))
    gain = first - best
    return gain / first, ((level - best) / gain if gain > 0 else math.inf)


def still_falling(values: np.ndarray, *, min_drop: float, min_share: float, min_points: int = 4) -> bool:
    """True when ``values`` (a loss over a stretch) fall by more than ``min_drop`` (relative to the
    first value) from first to last, with at least ``min_share`` of the steps going down: the model
    still changes, slowly, rather than giving the same output every epoch."""
    if values.size < min_points:
        return False
    first = float(values[0])
    if first <= 0:
        return False
    d = np.diff(values)
    return bool(first - float(values[-1]) > min_drop * first and float(np.mean(d < 0)) >= min_share)


def entered_smoothly(values: np.ndarray, start: int, *, max_jump: float, window: int = 10) -> bool:
    """True when the level from ``start`` on (its median) is no further from the value just before
    ``start`` than ``max_jump`` times the median step-to-step move over the ``window`` steps before:
    the curve came to rest where it was heading, rather than breaking to a new level at once."""
    if start < 2 or start >= values.size:
        return start >= 1 and start < values.size
    level = median(values[start:])
    before = values[max(0, start - window - 1) : start]
    typical = float(np.median(np.abs(np.diff(before))))
    return abs(level - float(values[start - 1])) <= max_jump * typical


def fits_both(
    val: np.ndarray, train: np.ndarray, start: int, *, max_drop: float, max_gap: float, min_level: float, tail: int = 3
) -> bool:
    """True when a validation score (fractions, higher is better) holds a high level from ``start`` on
    and ends close to the training score: the model fits both sets about equally well.

    Holds: the median of ``val`` from ``start`` on is at most ``max_drop`` below its best up to
    ``start`` and at least ``min_level``. Close: the median of the last ``tail`` training points is at most ``max_gap`` above the
    median of the last ``tail`` validation points. A validation loss that rises on such a run measures
    growing confidence on the few examples still wrong, not worse generalization.
    """
    if start < 0 or start >= val.size or train.size == 0:
        return False
    level = median(val[start:])
    held = level >= min_level and level >= float(np.max(val[: start + 1])) - max_drop
    gap = median(train[-tail:]) - median(val[-tail:])
    return held and gap <= max_gap
