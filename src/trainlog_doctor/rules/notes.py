"""What the rules could not judge: one note per series too short for a verdict (``RunReport.notes``)."""

from __future__ import annotations

from trainlog_doctor.run import RunView, is_per_class_metric

#: The fewest finite points the trend rules (divergence, spike, stagnation, plateau, oscillation) look at.
TREND_MIN_POINTS = 8
#: The fewest finite validation-loss points a short-run overfitting verdict (OF003) needs.
OVERFITTING_MIN_POINTS = 5
#: The fewest finite evaluation-loss points the sparse-evaluation jump check (SP003) needs.
SPARSE_EVAL_MIN_POINTS = 4


def series_notes(view: RunView) -> list[str]:
    """One line per logged loss or score series (train, val, test) with fewer than ``TREND_MIN_POINTS``
    finite points, saying which verdicts it was too short for; series names are the view's (untrusted
    text, escaped by each renderer)."""
    out: list[str] = []
    for s in sorted(view.series.values(), key=lambda s: (s.split, s.metric)):
        if not s.logged or s.role not in ("loss", "score") or s.split not in ("train", "val", "test"):
            continue
        if is_per_class_metric(s.metric):
            continue
        n = s.n_finite
        if n == 0 or n >= TREND_MIN_POINTS:
            continue
        pts = f"{n} point{'s' if n != 1 else ''}"
        need = f"trends need {TREND_MIN_POINTS}"
        if s.role == "loss" and s.split != "train":
            if n < SPARSE_EVAL_MIN_POINTS:
                need += f", overfitting {OVERFITTING_MIN_POINTS}, sparse-evaluation jumps {SPARSE_EVAL_MIN_POINTS}"
            elif n < OVERFITTING_MIN_POINTS:
                need += f", overfitting {OVERFITTING_MIN_POINTS}"
        out.append(f"{s.split}/{s.metric}: {pts}, too few for a trend verdict ({need})")
    return out
