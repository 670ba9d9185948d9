"""Calibration and thresholds are fitted on out-of-fold predictions; the exported graph applies the
same calibration as the training code computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.contract import Calibration
from model.networks import ExportWrapper, NetworkConfig, build_network
from training.evaluation.metrics import expected_calibration_error
from training.urgency.calibration import calibrated, fit_calibration, operating_thresholds

MALIGNANT = (1, 2, 4)


def overconfident(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Log-probabilities of a model three times too sure of itself, and the malignancy labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, n)
    logits = rng.normal(size=(n, 6))
    logits[np.arange(n), y] += 1.2
    logits *= 3.0
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return log_probs, np.isin(y, MALIGNANT).astype(int)


def test_calibration_fixes_an_overconfident_model():
    log_probs, y = overconfident()
    cal = fit_calibration(log_probs, y, MALIGNANT)
    assert 2.0 < cal.temperature < 4.5
    fresh_log_probs, fresh_y = overconfident(seed=1)
    _, before = calibrated(fresh_log_probs, MALIGNANT, Calibration())
    _, after = calibrated(fresh_log_probs, MALIGNANT, cal)
    ece_before = expected_calibration_error(fresh_y, before)
    ece_after = expected_calibration_error(fresh_y, after)
    assert ece_after < 0.03 < ece_before


def test_thresholds_reach_the_sensitivity_on_the_predictions_they_were_chosen_on():
    log_probs, y = overconfident()
    _, p = calibrated(log_probs, MALIGNANT, fit_calibration(log_probs, y, MALIGNANT))
    t = operating_thresholds(y, p, urgent_sensitivity=0.95, priority_sensitivity=0.99)
    assert t["priority"] <= t["urgent"]
    assert np.mean(p[y == 1] >= t["urgent"]) >= 0.95 and np.mean(p[y == 1] >= t["priority"]) >= 0.99
    # the highest such threshold: one step up loses sensitivity
    assert np.mean(p[y == 1] > t["urgent"]) < 0.95


@pytest.mark.parametrize("calibration", [Calibration(), Calibration(temperature=1.7, malignant_shift=-0.4)])
def test_exported_graph_applies_the_calibration_the_training_code_fits(calibration):
    cfg = NetworkConfig(backbone="test_efficientnet", pretrained=False, image_size=64, q_hidden=8)
    net = build_network(cfg, seed=0).eval()
    malignant = cfg.malignant_indices
    images, q = torch.randn(4, 3, 64, 64), torch.zeros(4, cfg.n_features)
    with torch.no_grad():
        log_probs = torch.log_softmax(net(images, q), dim=1).numpy()
        probs, malignancy = ExportWrapper(net, calibration)(images, q)
    want_probs, want_malignancy = calibrated(log_probs.astype(np.float64), malignant, calibration)
    assert np.allclose(probs.numpy(), want_probs, atol=1e-5)
    assert np.allclose(malignancy.numpy(), want_malignancy, atol=1e-5)
