"""Predictions and their CSV (training.evaluation.predictions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from evaluation_data import binary_preds, make_preds

from training.evaluation.predictions import MISSING_GROUP, Predictions


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
