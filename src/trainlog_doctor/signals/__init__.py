"""Pure numpy signal processing for metric series: transforms, robust noise and change points.

Nothing here imports ``report``, ``rules``, ``cli`` or ``api``.
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
