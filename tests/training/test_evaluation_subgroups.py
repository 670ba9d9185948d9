"""Subgroup tables (training.evaluation.subgroups)."""

from __future__ import annotations

import math

from evaluation_data import binary_preds

from training.evaluation.predictions import MISSING_GROUP, Predictions
from training.evaluation.subgroups import subgroups


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
