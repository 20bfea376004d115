"""The finding kinds of the JSON contract (``../shared/DESIGN.md``), in catalogue order.

One definition shared by the rules, the knowledge base and the synthetic-run generator.
"""

from __future__ import annotations

KINDS: tuple[str, ...] = (
    "non_finite",
    "divergence",
    "spike",
    "plateau",
    "stagnation",
    "collapse",
    "oscillation",
    "overfitting",
    "slowdown",
)
