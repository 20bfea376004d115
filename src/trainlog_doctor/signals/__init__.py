"""Pure numpy math for metric series: arrays and numbers in, arrays, numbers and small dataclasses out.

* :mod:`.transforms`: cleaning, log scale, robust noise, smoothing, windows, downsampling;
* :mod:`.changepoints`: change points with a penalty from the series' own noise (ruptures, PELT);
* :mod:`.analysis`: a series prepared for trend questions (:class:`~.analysis.AnalysisSeries`);
* :mod:`.trends`: sustained rises, turns for the worse, stalls, progress;
* :mod:`.excursions`: short spikes and dips that come back;
* :mod:`.periodic`: persistent periodic swings;
* :mod:`.levels`: pinned tails, chance bands and class counts;
* :mod:`.short`: verdicts on series too short for a noise estimate (a short-run turn, sparse
  evaluation jumps, a band kept around ln(C), a final-point jump);
* :mod:`.lr`: learning-rate schedule questions;
* :mod:`.segments`: shape labels of segments from the shipped tree model (``segment_model.npz``);
  :mod:`.segment_training` fits that model with scikit-learn (training only, never at runtime).

Every threshold that decides an answer is a keyword parameter with a default. Nothing here imports
the run model, the rules, the reports, ``cli`` or ``api``.
"""

from __future__ import annotations

from trainlog_doctor.signals.changepoints import (
    detect_changepoints,
    detect_changepoints_auto,
    segments_from_changepoints,
)
from trainlog_doctor.signals.transforms import (
    as_float_array,
    downsample_indices,
    fill_nonfinite,
    finite,
    log_view,
    robust_noise,
    robust_scale,
    rolling_mad_zscore,
    rolling_median,
    should_use_log,
    smooth,
)

__all__ = [
    "as_float_array",
    "detect_changepoints",
    "detect_changepoints_auto",
    "downsample_indices",
    "fill_nonfinite",
    "finite",
    "log_view",
    "robust_noise",
    "robust_scale",
    "rolling_mad_zscore",
    "rolling_median",
    "segments_from_changepoints",
    "should_use_log",
    "smooth",
]
