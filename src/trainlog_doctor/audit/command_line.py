"""Small helpers for the ``audit`` command: the ``--since`` value, whether to draw a progress bar."""

from __future__ import annotations

import re
import sys
import time


def parse_since(text: str) -> float:
    """``--since``: an ISO date/time, or a duration like ``30m``, ``12h``, ``7d`` before now."""
    from datetime import datetime

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if m:
        mult = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return time.time() - float(m.group(1)) * mult
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"--since: expected an ISO date or a duration like 7d, got {text!r}") from None


def stderr_is_tty() -> bool:
    """True when standard error is a terminal (the progress bar is drawn only then)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
