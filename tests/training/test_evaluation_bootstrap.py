"""Patient-cluster bootstrap (training.evaluation.bootstrap)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from evaluation_data import binary_preds, evaluated, make_preds

from training.evaluation.bootstrap import Interval, bootstrap_ci, bootstrap_many, resample_weights
from training.evaluation.metrics import MALIGNANCY_AUC, malignancy_auc, sensitivity_at
from training.evaluation.predictions import Predictions


def test_bootstrap_deterministic_and_contains_point() -> None:
    preds = make_preds()
    a = bootstrap_ci(MALIGNANCY_AUC, preds, n=500, seed=1)
    b = bootstrap_ci(MALIGNANCY_AUC, preds, n=500, seed=1)
    c = bootstrap_ci(MALIGNANCY_AUC, preds, n=500, seed=2)
    assert a == b and a != c
    point, low, high = a  # unpacks as a triple
    assert point == malignancy_auc(preds.y_malignant, preds.malignancy)
    assert low < point < high
    assert a.n_used == a.n_boot == 500


def test_bootstrap_does_not_depend_on_row_order() -> None:
    preds = make_preds()
    perm = np.random.default_rng(0).permutation(len(preds))
    a = bootstrap_ci(MALIGNANCY_AUC, preds, n=300)
    b = bootstrap_ci(MALIGNANCY_AUC, preds.take(perm), n=300)
    assert (a.point, a.low, a.high) == pytest.approx((b.point, b.low, b.high), abs=1e-12)


def test_bootstrap_narrows_with_more_data() -> None:
    small = make_preds(n=100, n_patients=80)
    copies = [make_preds(n=100, n_patients=80, patient_prefix=f"c{k}_") for k in range(4)]
    big = Predictions(
        image_ids=tuple(f"{k}_{i}" for k, c in enumerate(copies) for i in c.image_ids),
        patient_ids=sum((c.patient_ids for c in copies), ()),
        y_true=np.concatenate([c.y_true for c in copies]),
        probs=np.concatenate([c.probs for c in copies]),
        malignancy=np.concatenate([c.malignancy for c in copies]),
    )
    a = bootstrap_ci(MALIGNANCY_AUC, small, n=400)
    b = bootstrap_ci(MALIGNANCY_AUC, big, n=400)
    assert b.point == pytest.approx(a.point)
    assert (b.high - b.low) < 0.7 * (a.high - a.low)


def test_patient_resampling_keeps_photos_together() -> None:
    preds = make_preds(n=60, n_patients=20)
    w = resample_weights(preds, n=200, seed=0, by="patient")
    pids = np.asarray(preds.patient_ids)
    for p in np.unique(pids):
        cols = w[:, pids == p]
        assert np.all(cols == cols[:, :1])  # all photos of a patient share its draw count
    # each resample draws exactly n_patients patients
    first_photo = np.unique(pids, return_index=True)[1]
    assert np.all(w[:, first_photo].sum(axis=1) == 20)
    wi = resample_weights(preds, n=200, seed=0, by="image")
    assert np.all(wi.sum(axis=1) == 60)
    assert any(len(set(wi[:, pids == p].ravel())) > 1 for p in np.unique(pids))


def test_patient_cluster_bootstrap_widens_interval_when_photos_correlate() -> None:
    # one patient with 20 photos of a missed carcinoma; 19 malignant patients detected; 20 benign
    y = [1] * 20 + [1] * 19 + [0] * 20
    s = [0.1] * 20 + [0.9] * 19 + [0.2] * 20
    patients = ["big"] * 20 + [f"m{i}" for i in range(19)] + [f"b{i}" for i in range(20)]
    preds = binary_preds(y, s, patients)
    metric = sensitivity_at(0.5)
    by_patient = bootstrap_ci(metric, preds, n=1000, by="patient")
    by_image = bootstrap_ci(metric, preds, n=1000, by="image")
    assert by_patient.point == by_image.point == pytest.approx(19 / 39)
    assert (by_patient.high - by_patient.low) > 2 * (by_image.high - by_image.low)
    # with the big patient drawn 0 times, sensitivity is 1: only possible when photos move together
    w = resample_weights(preds, n=1000, by="patient")
    values = metric.batch(preds, w)
    assert np.all(values[w[:, 0] == 0] == 1.0)


def test_bootstrap_skips_undefined_resamples() -> None:
    # 1 malignant patient among 6: resamples without it have no AUC
    preds = binary_preds([1, 0, 0, 0, 0, 0], [0.9, 0.1, 0.2, 0.3, 0.4, 0.5])
    ci = bootstrap_ci(MALIGNANCY_AUC, preds, n=300, seed=4)
    w = resample_weights(preds, n=300, seed=4)
    assert ci.n_used == int((w[:, 0] > 0).sum()) < 300
    assert ci.point == 1.0 and ci.low == ci.high == 1.0


def test_bootstrap_callable_matches_vectorized_metric() -> None:
    preds = make_preds(n=80, n_patients=50)

    def auc_fn(p: Predictions) -> float:
        return malignancy_auc(p.y_malignant, p.malignancy)

    slow = bootstrap_ci(auc_fn, preds, n=100, seed=5)
    fast = bootstrap_ci(MALIGNANCY_AUC, preds, n=100, seed=5)
    assert (slow.point, slow.low, slow.high) == pytest.approx((fast.point, fast.low, fast.high), abs=1e-12)
    assert slow.n_used == fast.n_used


def test_bootstrap_many_is_fast() -> None:
    preds = make_preds(n=190, n_patients=146)
    started = time.perf_counter()
    report = evaluated(preds, n_boot=2000)
    elapsed = time.perf_counter() - started
    assert len(report.metrics) >= 15
    assert elapsed < 5.0, f"evaluate with 2000 resamples took {elapsed:.2f} s"


def test_bootstrap_many_shares_resamples() -> None:
    preds = make_preds()
    both = bootstrap_many({"a": MALIGNANCY_AUC, "b": sensitivity_at(0.5)}, preds, n=200, seed=3)
    assert both["a"] == bootstrap_ci(MALIGNANCY_AUC, preds, n=200, seed=3)
    assert isinstance(both["b"], Interval)
