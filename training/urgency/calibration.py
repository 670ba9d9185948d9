"""Calibration and operating thresholds, both chosen on out-of-fold predictions of train patients only.

Calibration (``model.contract.Calibration``, applied inside the exported graph): the logits divided
by a temperature, plus a shift on the malignant classes, fitted to minimise the log-loss of the
malignancy probability. Thresholds: the URGENT threshold is the highest at which the calibrated
malignancy probability still flags ``target_sensitivity`` of the out-of-fold malignant photos (a
margin above the 95 % goal, for the few malignant photos a fold has), PRIORITY likewise at
``priority_sensitivity``.
"""

from __future__ import annotations

import numpy as np

from model.contract import Calibration
from training.evaluation.metrics import choose_threshold_for_sensitivity

TEMPERATURES = np.exp(np.linspace(np.log(0.4), np.log(4.0), 61))
SHIFTS = np.linspace(-2.0, 2.0, 81)


def calibrated(
    log_probs: np.ndarray, malignant_idx: tuple[int, ...], calibration: Calibration
) -> tuple[np.ndarray, np.ndarray]:
    """(class probabilities, malignancy probability) after ``calibration`` (as the exported graph does)."""
    z = log_probs / calibration.temperature
    z[:, list(malignant_idx)] += calibration.malignant_shift
    z = z - z.max(axis=1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs, probs[:, list(malignant_idx)].sum(axis=1)


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_calibration(
    log_probs: np.ndarray, y_malignant: np.ndarray, malignant_idx: tuple[int, ...]
) -> Calibration:
    """The (temperature, malignant shift) of the grid with the lowest malignancy log-loss, refined once
    on a finer grid around it."""
    y = np.asarray(y_malignant, dtype=float)

    def best(temperatures, shifts) -> tuple[float, float]:
        scores = [
            (_log_loss(y, calibrated(log_probs, malignant_idx, Calibration(t, s))[1]), t, s)
            for t in temperatures
            for s in shifts
        ]
        _, t, s = min(scores)
        return float(t), float(s)

    t, s = best(TEMPERATURES, SHIFTS)
    t, s = best(t * np.exp(np.linspace(-0.04, 0.04, 9)), s + np.linspace(-0.05, 0.05, 11))
    return Calibration(temperature=round(t, 4), malignant_shift=round(s, 4))


def operating_thresholds(
    y_malignant: np.ndarray, malignancy: np.ndarray, *, urgent_sensitivity: float, priority_sensitivity: float
) -> dict[str, float]:
    thresholds = {
        "urgent": choose_threshold_for_sensitivity(y_malignant, malignancy, urgent_sensitivity),
        "priority": choose_threshold_for_sensitivity(y_malignant, malignancy, priority_sensitivity),
    }
    thresholds["priority"] = min(thresholds["priority"], thresholds["urgent"])
    return thresholds
