"""Metrics, bootstrap, reports, comparison, CSV and plots of training.evaluate / training.plots."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from training.evaluate import (
    LABELS,
    MALIGNANCY_AUC,
    MISSING_GROUP,
    EvaluationReport,
    Interval,
    Predictions,
    balanced_accuracy,
    bootstrap_ci,
    bootstrap_many,
    brier,
    choose_threshold_for_sensitivity,
    choose_thresholds,
    compare,
    expected_calibration_error,
    malignancy_auc,
    per_class_recall,
    resample_weights,
    sensitivity_at,
    sensitivity_specificity,
    subgroups,
    wilson_interval,
)
from training.plots import calibration_plot, confusion_matrix_plot, roc_curve_plot, subgroup_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAL_IDX = [LABELS.index(m) for m in ("BCC", "MEL", "SCC")]


def make_preds(
    n: int = 190,
    n_patients: int = 146,
    seed: int = 0,
    signal: float = 1.5,
    patient_prefix: str = "p",
    groups: bool = True,
) -> Predictions:
    """Synthetic predictions with some signal; every class present; some patients with several photos."""
    rng = np.random.default_rng(seed)
    patient = np.sort(np.r_[np.arange(n_patients), rng.integers(0, n_patients, n - n_patients)])
    y = np.arange(n) % len(LABELS)
    rng.shuffle(y)
    logits = rng.normal(size=(n, len(LABELS)))
    logits[np.arange(n), y] += signal
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    g = {}
    if groups:
        g = {
            "fitzpatrick": rng.choice(
                ["1", "2", "3", "4", "5", "6", ""], n, p=[0.1, 0.3, 0.3, 0.15, 0.1, 0.02, 0.03]
            ),
            "body_site": rng.choice(["face", "arm", "back", "chest", "ear"], n),
        }
    return Predictions(
        image_ids=tuple(f"img{i:04d}" for i in range(n)),
        patient_ids=tuple(f"{patient_prefix}{p:03d}" for p in patient),
        y_true=y,
        probs=probs,
        malignancy=probs[:, MAL_IDX].sum(axis=1),
        groups=g,
    )


def binary_preds(y_mal: list[int], scores: list[float], patients: list[str] | None = None) -> Predictions:
    """Predictions from a binary truth (BCC vs NEV) and malignancy scores."""
    n = len(y_mal)
    y = np.where(np.asarray(y_mal, dtype=bool), LABELS.index("BCC"), LABELS.index("NEV"))
    probs = np.full((n, len(LABELS)), 0.1)
    probs[np.arange(n), y] = 0.5
    return Predictions(
        image_ids=tuple(f"i{i}" for i in range(n)),
        patient_ids=tuple(patients if patients is not None else (f"p{i}" for i in range(n))),
        y_true=y,
        probs=probs,
        malignancy=np.asarray(scores, dtype=float),
    )


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------------


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
    report = _evaluate(preds, n_boot=2000)
    elapsed = time.perf_counter() - started
    assert len(report.metrics) >= 15
    assert elapsed < 5.0, f"evaluate with 2000 resamples took {elapsed:.2f} s"


def test_bootstrap_many_shares_resamples() -> None:
    preds = make_preds()
    both = bootstrap_many({"a": MALIGNANCY_AUC, "b": sensitivity_at(0.5)}, preds, n=200, seed=3)
    assert both["a"] == bootstrap_ci(MALIGNANCY_AUC, preds, n=200, seed=3)
    assert isinstance(both["b"], Interval)


# ---------------------------------------------------------------------------------------------
# Subgroups, evaluate, report
# ---------------------------------------------------------------------------------------------


def _evaluate(preds: Predictions, n_boot: int = 200, prefix: str = "test_") -> EvaluationReport:
    from training.evaluate import evaluate

    return evaluate(preds, {"urgent": 0.5, "priority": 0.3}, n_boot=n_boot, seed=0, prefix=prefix)


def test_subgroup_table_counts() -> None:
    y = [1, 0, 1, 1, 0, 0, 1]
    s = [0.9, 0.2, 0.4, 0.8, 0.6, 0.1, 0.7]
    preds = binary_preds(y, s, ["a", "a", "b", "c", "c", "d", "e"])
    preds = Predictions(
        preds.image_ids,
        preds.patient_ids,
        preds.y_true,
        preds.probs,
        preds.malignancy,
        groups={"fitzpatrick": ["2", "2", "2", "10", "10", None, "3"]},
    )
    rows = subgroups(preds, {"urgent": 0.5}, "fitzpatrick")
    assert [r.value for r in rows] == ["2", "3", "10", MISSING_GROUP]  # numeric order, missing last
    by = {r.value: r for r in rows}
    r2 = by["2"]
    assert (r2.n, r2.n_patients, r2.n_malignant) == (3, 2, 2)
    assert r2.sensitivity == 0.5 and r2.specificity == 1.0 and r2.auc == 1.0
    r10 = by["10"]
    assert (r10.n, r10.n_malignant, r10.sensitivity, r10.specificity) == (2, 1, 1.0, 0.0)
    # a one-photo subgroup is reported, with undefined metrics as nan
    r3 = by["3"]
    assert r3.n == 1 and r3.n_malignant == 1 and math.isnan(r3.auc) and math.isnan(r3.specificity)
    assert by[MISSING_GROUP].n == 1 and math.isnan(by[MISSING_GROUP].sensitivity)
    assert all(r.low_n for r in rows)


def test_evaluate_report_contents() -> None:
    preds = make_preds()
    report = _evaluate(preds)
    d = report.to_dict()
    for name in (
        "malignancy_auc",
        "balanced_accuracy",
        "sensitivity_urgent",
        "specificity_urgent",
        "sensitivity_priority",
        "specificity_priority",
        "recall_MEL",
        "malignancy_ece",
        "malignancy_brier",
    ):
        for suffix in ("", "_ci_low", "_ci_high"):
            assert isinstance(d[f"test_{name}{suffix}"], float), name + suffix
        assert d[f"test_{name}_ci_low"] <= d[f"test_{name}"] <= d[f"test_{name}_ci_high"]
    assert d["test_malignancy_auc"] == malignancy_auc(preds.y_malignant, preds.malignancy)
    sens, spec = sensitivity_specificity(preds.y_malignant, preds.malignancy, 0.5)
    assert (d["test_sensitivity_urgent"], d["test_specificity_urgent"]) == (sens, spec)
    assert d["test_n_images"] == 190 and d["test_n_patients"] == 146
    assert d["test_n_malignant"] == int(preds.y_malignant.sum())
    assert d["test_threshold_urgent"] == 0.5
    cm = np.array(d["test_confusion_matrix"]["counts"])
    assert cm.sum() == 190 and list(cm.sum(axis=1)) == [d[f"test_n_{lab}"] for lab in LABELS]
    tiers = np.array(d["test_tiers"]["counts"])
    assert d["test_tiers"]["tiers"] == ["urgent", "priority", "routine"]
    assert tiers.sum() == 190
    assert tiers[:, 0].sum() == int((preds.malignancy >= 0.5).sum())
    assert set(d["test_subgroups"]) == {"body_site", "fitzpatrick"}
    fitz = d["test_subgroups"]["fitzpatrick"]
    assert sum(r["n"] for r in fitz) == 190
    json.dumps(d, allow_nan=False)
    assert report.to_dict("val_")["val_malignancy_auc"] == d["test_malignancy_auc"]
    metrics = report.metrics_dict()
    assert all(isinstance(v, float) for v in metrics.values()) and "test_malignancy_auc" in metrics


def test_report_round_trips_through_json() -> None:
    report = _evaluate(make_preds())
    d = json.loads(report.to_json())
    again = EvaluationReport.from_dict(d, prefix="test_")
    assert again.to_dict() == report.to_dict()
    assert again.data_fingerprint == report.data_fingerprint
    # the flat metrics (as an MLflow run stores them) are enough for compare()
    flat = EvaluationReport.from_dict(report.metrics_dict(), prefix="test_")
    assert flat.value("malignancy_auc") == report.value("malignancy_auc")
    assert flat.metrics["sensitivity_urgent"].low == report.metrics["sensitivity_urgent"].low
    assert flat.counts["n_images"] == 190 and flat.thresholds == report.thresholds
    assert compare(flat, report).no_worse is True


def test_report_markdown_has_tables_and_small_subgroups() -> None:
    report = _evaluate(make_preds())
    md = report.to_markdown("Test split")
    assert "### Test split" in md
    assert "| Malignancy ROC AUC |" in md and "Sensitivity at urgent" in md
    assert "Confusion matrix" in md and "| true \\ pred | ACK | BCC | MEL | NEV | SCC | SEK |" in md
    assert "Subgroups by fitzpatrick" in md and "Subgroups by body_site" in md
    small = [r for r in report.subgroups["fitzpatrick"] if r.n < 10]
    assert small, "the fixture should have a small Fitzpatrick group"
    for r in small:
        assert f"| {r.value} † | {r.n} |" in md


def test_evaluate_requires_urgent_and_ordered_thresholds() -> None:
    from training.evaluate import evaluate

    preds = make_preds(n=30, n_patients=20)
    with pytest.raises(ValueError):
        evaluate(preds, {"priority": 0.3}, n_boot=10)
    with pytest.raises(ValueError):
        evaluate(preds, {"urgent": 0.3, "priority": 0.5}, n_boot=10)


# ---------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------


def crafted(auc: float, sens: float, spec: float = 0.5, fingerprint: str = "data-1") -> EvaluationReport:
    return EvaluationReport(
        metrics={
            "malignancy_auc": Interval(auc, auc - 0.05, auc + 0.05),
            "sensitivity_urgent": Interval(sens, sens - 0.05, min(1.0, sens + 0.05)),
            "specificity_urgent": Interval(spec, spec - 0.05, spec + 0.05),
        },
        thresholds={"urgent": 0.4},
        data_fingerprint=fingerprint,
    )


@pytest.mark.parametrize(
    ("cand", "champ", "no_worse"),
    [
        ((0.900, 0.950), (0.900, 0.950), True),  # equal
        ((0.896, 0.950), (0.900, 0.950), True),  # AUC within the 0.005 tolerance
        ((0.895, 0.950), (0.900, 0.950), True),  # exactly at the tolerance
        ((0.894, 0.970), (0.900, 0.950), False),  # AUC too low, better sensitivity does not help
        ((0.950, 0.940), (0.900, 0.950), False),  # one more missed malignancy is worse
        ((0.910, 0.960), (0.900, 0.950), True),  # better on both
        ((float("nan"), 0.960), (0.900, 0.950), False),  # undefined is not "no worse"
    ],
)
def test_compare_decisions(cand: tuple[float, float], champ: tuple[float, float], no_worse: bool) -> None:
    result = compare(crafted(*cand), crafted(*champ))
    assert result.no_worse is no_worse
    assert len(result.reasons) >= 2
    row = next(r for r in result.rows if r.metric == "malignancy_auc")
    assert (row.candidate, row.champion) == pytest.approx((cand[0], champ[0]), nan_ok=True)
    assert row.delta == pytest.approx(cand[0] - champ[0], nan_ok=True)


def test_compare_options_and_different_data() -> None:
    assert compare(crafted(0.9, 0.95), crafted(0.9, 0.95, fingerprint="data-2")).no_worse is False
    loose = compare(crafted(0.9, 0.94), crafted(0.9, 0.95), sensitivity_tolerance=0.02)
    assert loose.no_worse is True
    strict_spec = compare(
        crafted(0.9, 0.95, spec=0.4), crafted(0.9, 0.95, spec=0.5), specificity_tolerance=0.0
    )
    assert strict_spec.no_worse is False
    assert "Verdict" in strict_spec.to_markdown()


def test_compare_on_evaluated_reports() -> None:
    champion = _evaluate(make_preds(signal=1.5))
    candidate = _evaluate(make_preds(signal=3.0))
    assert compare(candidate, champion).no_worse is True
    assert compare(champion, candidate).no_worse is False


# ---------------------------------------------------------------------------------------------
# Predictions and CSV
# ---------------------------------------------------------------------------------------------


def test_predictions_csv_round_trip(tmp_path: Path) -> None:
    preds = make_preds()
    odd = preds.probs.copy()
    odd[0] = [0.1 + 0.2, 1e-17, 1 / 3, 0.0, 1.0, 0.123456789012345678]
    preds = Predictions(
        image_ids=('a,b "quoted"',) + preds.image_ids[1:],
        patient_ids=preds.patient_ids,
        y_true=preds.y_true,
        probs=odd,
        malignancy=preds.malignancy,
        groups=preds.groups,
    )
    path = preds.to_csv(tmp_path / "sub" / "test_predictions.csv")
    loaded = Predictions.from_csv(path)
    assert loaded == preds
    assert loaded.groups["fitzpatrick"].tolist().count(MISSING_GROUP) == preds.groups[
        "fitzpatrick"
    ].tolist().count(MISSING_GROUP)
    data = path.read_bytes()
    assert loaded.to_csv(tmp_path / "again.csv").read_bytes() == data  # deterministic bytes
    header = data.split(b"\n")[0].decode()
    assert header.startswith("image_id,patient_id,diagnosis,malignant,p_ACK,")
    assert header.endswith("malignancy,group_body_site,group_fitzpatrick")


def test_predictions_csv_rejects_contradicting_malignant_column(tmp_path: Path) -> None:
    preds = binary_preds([1, 0], [0.9, 0.1])
    text = preds.to_csv_text().replace(",BCC,true,", ",BCC,false,")
    with pytest.raises(ValueError, match="malignant"):
        Predictions.from_csv_text(text)


def test_predictions_validation_and_label_strings() -> None:
    p = Predictions(
        image_ids=("a", "b"),
        patient_ids=("p", "p"),
        y_true=np.array(["MEL", "NEV"]),
        probs=np.full((2, 6), 1 / 6),
        malignancy=[0.7, 0.2],
    )
    assert p.y_true.tolist() == [2, 3] and p.y_malignant.tolist() == [True, False]
    assert p.n_patients == 1
    with pytest.raises(ValueError):
        p.probs[0, 0] = 1.0  # read-only
    with pytest.raises(ValueError):
        Predictions(("a", "a"), ("p", "p"), [0, 1], np.full((2, 6), 0.1), [0.1, 0.2])
    with pytest.raises(ValueError):
        Predictions(("a",), ("p",), [0], np.full((1, 5), 0.1), [0.1])
    with pytest.raises(ValueError):
        Predictions(("a",), ("p",), [0], np.full((1, 6), 0.1), [1.5])
    with pytest.raises(ValueError):
        Predictions(("a",), ("p",), ["XYZ"], np.full((1, 6), 0.1), [0.5])
    # float32 rounding just above 1 is clipped, not rejected
    q = Predictions(("a",), ("p",), [0], np.full((1, 6), 0.1), np.float32([1.0000001]).astype(np.float64))
    assert q.malignancy[0] == 1.0


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def test_plots_write_png_files(tmp_path: Path) -> None:
    preds = make_preds()
    thresholds = {"urgent": 0.5, "priority": 0.3}
    report = _evaluate(preds)
    paths = [
        roc_curve_plot(preds, thresholds, tmp_path / "roc.png"),
        calibration_plot(preds, tmp_path / "calibration.png"),
        confusion_matrix_plot(preds, tmp_path / "nested" / "cm.png"),
        subgroup_plot(report, "fitzpatrick", tmp_path / "fitz.png"),
        subgroup_plot(report, "body_site", tmp_path / "site.png"),
    ]
    for p in paths:
        assert isinstance(p, Path) and _is_png(p), p
    with pytest.raises(KeyError):
        subgroup_plot(report, "no_such_group", tmp_path / "x.png")


def test_plots_survive_degenerate_data(tmp_path: Path) -> None:
    preds = binary_preds([1, 1, 1], [0.9, 0.8, 0.2])  # one class only; most classes absent
    assert _is_png(roc_curve_plot(preds, {"urgent": 0.5}, tmp_path / "roc.png"))
    assert _is_png(calibration_plot(preds, tmp_path / "cal.png"))
    assert _is_png(confusion_matrix_plot(preds, tmp_path / "cm.png"))
