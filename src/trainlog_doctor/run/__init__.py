"""One run, read once: the metric vocabulary (``names``), the series (``series``) and the view (``view``)."""

from __future__ import annotations

from trainlog_doctor.run.names import PRIMARY_LOSS_NAMES, infer_split, is_lr_name, is_per_class_metric, metric_role
from trainlog_doctor.run.series import Key, Series, SeriesArrays, split_series
from trainlog_doctor.run.view import RunView, build_view

__all__ = [
    "PRIMARY_LOSS_NAMES",
    "Key",
    "RunView",
    "Series",
    "SeriesArrays",
    "build_view",
    "infer_split",
    "is_lr_name",
    "is_per_class_metric",
    "metric_role",
    "split_series",
]
