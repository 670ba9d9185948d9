"""How evaluation figures are written: metric titles, numbers in tables, JSON values (nan <-> None)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from training.evaluation.metrics import N_CALIBRATION_BINS

_METRIC_TITLES = {
    "malignancy_auc": "Malignancy ROC AUC",
    "balanced_accuracy": "Balanced accuracy (6-class, argmax)",
    "malignancy_ece": f"Malignancy ECE ({N_CALIBRATION_BINS} bins)",
    "malignancy_brier": "Malignancy Brier score",
}


def metric_title(name: str) -> str:
    if name in _METRIC_TITLES:
        return _METRIC_TITLES[name]
    for prefix, title in (
        ("sensitivity_", "Sensitivity at {}"),
        ("specificity_", "Specificity at {}"),
        ("flagged_rate_", "Flagged fraction at {} (or above)"),
        ("recall_", "Recall {}"),
    ):
        if name.startswith(prefix):
            return title.format(name[len(prefix) :].removeprefix("at_"))
    return name


def jsonable(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def fmt(v: float, digits: int = 3) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def nan_if_none(v: Any) -> float:
    return float("nan") if v is None else float(v)
