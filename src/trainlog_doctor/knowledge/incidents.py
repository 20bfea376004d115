"""One incident, one card: the findings of a run that tell one story, grouped, with a primary finding.

Two findings are one story when

- both are non-finite values (a NaN spreads from the loss to the gradient norm and the validation loss);
- a divergence is followed by non-finite values (the climb ends in overflow);
- they are of the same kind and start within :data:`NEAR` of the run of each other (the spike on the
  training loss and on the validation loss after the same bad batch);
- one is an overfitting finding and the other is on a validation or test curve starting near it
  (the validation score dropping with the validation loss).

The primary is the finding the story starts from: a divergence before the NaN it ends in, an
overfitting onset before the score drop; among equals the training curve, a loss, the earliest.
:func:`group_incidents` writes ``incident`` (``"I1"``, ``"I2"`` ... in report order) and
``incident_primary`` on every finding; ``RunReport.incidents`` reads them back as groups.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainlog_doctor.model.report import Finding
from trainlog_doctor.run.view import RunView

#: Onsets within a tenth of the run (or three epochs, whichever is more) count as the same moment.
NEAR = 0.1
NEAR_EPOCHS = 3.0
#: Which kind leads an incident (lower first).
LEAD_ORDER = ("divergence", "overfitting", "collapse", "spike", "oscillation", "plateau", "stagnation", "non_finite",
              "slowdown")
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "other": 3}


def _position(f: Finding, view: RunView) -> float | None:
    """Where the finding starts, in run fractions (epochs when both are known, else steps)."""
    facts = view.facts
    if f.start_epoch is not None and facts.max_epoch:
        return float(f.start_epoch) / float(facts.max_epoch)
    if f.start_step is not None and facts.max_step:
        return float(f.start_step) / float(facts.max_step)
    return None


def near(a: Finding, b: Finding, view: RunView) -> bool:
    """True when the two findings start within :data:`NEAR` of the run (or three epochs) of each other."""
    pa, pb = _position(a, view), _position(b, view)
    if pa is None or pb is None:
        return False
    tol = NEAR
    if view.facts.max_epoch:
        tol = max(tol, NEAR_EPOCHS / float(view.facts.max_epoch))
    return abs(pa - pb) <= tol


def _before(a: Finding, b: Finding, view: RunView) -> bool:
    pa, pb = _position(a, view), _position(b, view)
    return pa is not None and pb is not None and pa <= pb + NEAR


def one_story(a: Finding, b: Finding, view: RunView) -> bool:
    """True when the two findings of one run are the same incident (see the module docstring)."""
    kinds = {a.kind, b.kind}
    if kinds == {"non_finite"}:
        return True
    if kinds == {"divergence", "non_finite"}:
        div, nf = (a, b) if a.kind == "divergence" else (b, a)
        return _before(div, nf, view)
    if a.kind == b.kind:
        return near(a, b, view)
    if "overfitting" in kinds and "slowdown" not in kinds:
        other = b if a.kind == "overfitting" else a
        return other.split in ("val", "test") and near(a, b, view)
    return False


def _lead_key(f: Finding, view: RunView, order: int) -> tuple[int, int, int, float, int]:
    kind = LEAD_ORDER.index(f.kind) if f.kind in LEAD_ORDER else len(LEAD_ORDER)
    metric = f.metric.lower()
    is_loss = 0 if "loss" in metric else 1
    pos = _position(f, view)
    return (kind, _SPLIT_ORDER.get(f.split, 4), is_loss, pos if pos is not None else 2.0, order)


def group_incidents(findings: Sequence[Finding], view: RunView) -> None:
    """Set ``incident`` and ``incident_primary`` on every finding of one run (in place)."""
    n = len(findings)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if one_story(findings[i], findings[j], view):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    for k, members in enumerate(sorted(groups.values(), key=lambda m: m[0]), start=1):
        lead = min(members, key=lambda i: _lead_key(findings[i], view, i))
        for i in members:
            findings[i].incident = f"I{k}"
            findings[i].incident_primary = i == lead
