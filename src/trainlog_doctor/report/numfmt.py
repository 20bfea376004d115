"""Short, readable numbers for the human-facing reports (chart ticks, evidence values, scores)."""

from __future__ import annotations

import math

__all__ = ["clean_exp", "fmt_num"]


def fmt_num(v: float, digits: int = 3) -> str:
    """A short, readable number: ``0.0123``, ``1.5k``, ``2.3M``, ``1e-05``, ``3``."""
    if v is None or not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e15 or a < 1e-4:
        return clean_exp(f"{v:.{max(digits - 1, 0)}e}")
    for limit, div, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if a >= limit:
            return f"{v / div:.{digits}g}{suffix}"
    return f"{v:.{digits}g}"


def clean_exp(label: str) -> str:
    """An exponent label without padding: ``1.50e-05`` -> ``1.5e-5``, ``2e+20`` -> ``2e20``."""
    mant, _, exp = label.partition("e")
    if not exp:
        return label
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    sign = "-" if exp.startswith("-") else ""
    return f"{mant}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"
