"""Metric functions and operating points (training.evaluation.metrics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from evaluation_data import make_preds
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from training.evaluation.metrics import (
    balanced_accuracy,
    brier,
    choose_threshold_for_sensitivity,
    choose_thresholds,
    expected_calibration_error,
    malignancy_auc,
    per_class_recall,
    sensitivity_specificity,
    wilson_interval,
)


def test_auc_perfect_inverted_tied_and_known_ranking() -> None:
    y = [0, 0, 1, 1]
    assert malignancy_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert malignancy_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert malignancy_auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    # pairs (pos, neg): 0.35>0.1 win, 0.35<0.4 loss, 0.8 wins both -> 3/4
    assert malignancy_auc(y, [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # a tie between a positive and a negative counts 1/2: (1 + 0.5) / 2
    assert malignancy_auc([0, 0, 1], [0.1, 0.5, 0.5]) == pytest.approx(0.75)


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.integers(0, 2, 60)
        s = rng.integers(0, 10, 60) / 10  # many ties
        assert malignancy_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_auc_one_class_is_nan_without_warning() -> None:
    assert math.isnan(malignancy_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(malignancy_auc([], []))


def test_balanced_accuracy_hand_computed() -> None:
    y = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 0, 2]  # recalls 2/3, 1/2, 1
    assert balanced_accuracy(y, pred) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    probs = np.eye(3)[pred] * 0.8 + 0.05
    assert balanced_accuracy(y, probs) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert balanced_accuracy(y, pred) == pytest.approx(balanced_accuracy_score(y, pred))
    # classes absent from y_true are not averaged (scikit-learn's definition)
    assert balanced_accuracy([0, 0, 2], [0, 0, 2], n_classes=6) == 1.0


def test_per_class_recall() -> None:
    y = [0, 0, 1, 1]
    probs = np.array([[0.9, 0.1, 0], [0.2, 0.8, 0], [0.1, 0.9, 0], [0.1, 0.9, 0]])
    rec = per_class_recall(y, probs)
    assert rec[0] == 0.5 and rec[1] == 1.0 and math.isnan(rec[2])


def test_sensitivity_specificity_ties_at_threshold() -> None:
    y = [1, 1, 0, 0, 1]
    s = [0.5, 0.3, 0.5, 0.2, 0.7]
    sens, spec = sensitivity_specificity(y, s, 0.5)  # score == threshold is positive
    assert sens == pytest.approx(2 / 3)  # 0.5 and 0.7 flagged, 0.3 missed
    assert spec == pytest.approx(1 / 2)  # the negative at 0.5 is flagged
    sens, spec = sensitivity_specificity(y, s, np.nextafter(0.5, 1))
    assert sens == pytest.approx(1 / 3) and spec == 1.0
    sens, spec = sensitivity_specificity([1, 1], [0.2, 0.9], 0.5)
    assert sens == 0.5 and math.isnan(spec)


def test_choose_threshold_is_largest_with_target_sensitivity() -> None:
    y = [1] * 20 + [0] * 5
    s = [i / 20 for i in range(1, 21)] + [0.01, 0.3, 0.6, 0.9, 0.99]
    t = choose_threshold_for_sensitivity(y, s, 0.95)
    assert t == 0.10  # the 19th largest of 20 positives
    assert sensitivity_specificity(y, s, t)[0] >= 0.95
    assert sensitivity_specificity(y, s, np.nextafter(t, 1))[0] < 0.95
    assert choose_threshold_for_sensitivity(y, s, 1.0) == 0.05


def test_choose_threshold_with_tied_positive_scores() -> None:
    y = [1, 1, 1, 1, 1, 0]
    s = [0.9, 0.8, 0.8, 0.8, 0.1, 0.85]
    t = choose_threshold_for_sensitivity(y, s, 0.6)  # need 3 of 5: the 3rd largest is 0.8
    assert t == 0.8
    assert sensitivity_specificity(y, s, t)[0] == pytest.approx(0.8)  # ties flagged together
    assert sensitivity_specificity(y, s, np.nextafter(t, 1))[0] == pytest.approx(0.2)


def test_choose_threshold_randomized_properties() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(5, 80))
        y = rng.integers(0, 2, n)
        y[0] = 1
        s = np.round(rng.random(n), 2)
        target = float(rng.choice([0.5, 0.9, 0.95, 0.99]))
        t = choose_threshold_for_sensitivity(y, s, target)
        assert t in set(s[y == 1])
        assert sensitivity_specificity(y, s, t)[0] >= target
        assert sensitivity_specificity(y, s, np.nextafter(t, 2))[0] < target
        assert choose_threshold_for_sensitivity(y, s, target) == t  # deterministic


def test_choose_threshold_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        choose_threshold_for_sensitivity([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError):
        choose_threshold_for_sensitivity([1, 0], [0.1, 0.2], 0.0)
    with pytest.raises(ValueError):
        choose_threshold_for_sensitivity([1, 0], [0.1, 0.2], 1.01)


def test_choose_thresholds_priority_not_above_urgent() -> None:
    preds = make_preds()
    th = choose_thresholds(preds)
    assert th["priority"] <= th["urgent"]
    assert sensitivity_specificity(preds.y_malignant, preds.malignancy, th["priority"])[0] >= 0.99


def test_ece_and_brier_hand_computed() -> None:
    y = [0, 0, 1, 1]
    s = [0.05, 0.15, 0.15, 0.95]
    # bins: [0,.1): gap .05 (n=1); [.1,.2): |0.5-0.15|=.35 (n=2); [.9,1]: .05 (n=1)
    assert expected_calibration_error(y, s) == pytest.approx((0.05 + 2 * 0.35 + 0.05) / 4)
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == 0.0  # 1.0 falls in the last bin
    assert expected_calibration_error([0, 1, 0, 1], [0.5] * 4) == 0.0
    assert brier([0, 1], [0.2, 0.8]) == pytest.approx(0.04)
    assert brier([0, 1, 1], [0.0, 1.0, 0.0]) == pytest.approx(1 / 3)


def test_wilson_interval() -> None:
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
