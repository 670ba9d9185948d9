"""evaluate() and EvaluationReport: contents, JSON, markdown (training.evaluation.report)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from evaluation_data import evaluated, make_preds

from training.evaluation.metrics import malignancy_auc, sensitivity_specificity
from training.evaluation.predictions import LABELS
from training.evaluation.report import EvaluationReport, evaluate


def test_evaluate_report_contents() -> None:
    preds = make_preds()
    report = evaluated(preds)
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
    report = evaluated(make_preds())
    d = json.loads(report.to_json())
    again = EvaluationReport.from_dict(d, prefix="test_")
    assert again.to_dict() == report.to_dict()
    assert again.data_fingerprint == report.data_fingerprint
    # the flat metrics (as an MLflow run stores them) rebuild the report's figures
    flat = EvaluationReport.from_dict(report.metrics_dict(), prefix="test_")
    assert flat.value("malignancy_auc") == report.value("malignancy_auc")
    assert flat.metrics["sensitivity_urgent"].low == report.metrics["sensitivity_urgent"].low
    assert flat.counts["n_images"] == 190 and flat.thresholds == report.thresholds


def test_report_markdown_has_tables_and_small_subgroups() -> None:
    report = evaluated(make_preds())
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
    preds = make_preds(n=30, n_patients=20)
    with pytest.raises(ValueError):
        evaluate(preds, {"priority": 0.3}, n_boot=10)
    with pytest.raises(ValueError):
        evaluate(preds, {"urgent": 0.3, "priority": 0.5}, n_boot=10)
