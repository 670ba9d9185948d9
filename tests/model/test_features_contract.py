"""Questionnaire features (every unanswered question representable) and the model contract."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from model import features
from model.contract import ContractError, ImageInput, ModelContract, Output, QuestionnaireInput
from model.questionnaire import BOOLEAN_FIELDS, Questionnaire

NAMES = features.FEATURE_NAMES


def test_unanswered_questions_are_flagged_not_guessed():
    blank = features.encode({})
    assert blank.shape == (features.N_FEATURES,) and blank.dtype == np.float32
    for name, value in zip(NAMES, blank, strict=True):
        assert value == (1.0 if name.endswith("_missing") else 0.0), name


def test_yes_no_and_unknown_differ_for_every_question():
    for field in BOOLEAN_FIELDS:
        yes, no, unknown = (features.encode({field: v}) for v in (True, False, None))
        i, m = NAMES.index(field), NAMES.index(f"{field}_missing")
        assert (yes[i], yes[m]) == (1.0, 0.0)
        assert (no[i], no[m]) == (0.0, 0.0)
        assert (unknown[i], unknown[m]) == (0.0, 1.0)


def test_questionnaire_object_and_mapping_encode_alike():
    q = Questionnaire(
        jurisdiction="US-CA",
        age=64,
        sex="male",
        body_site="nose",
        size_mm=7,
        fitzpatrick=2,
        bleeding=True,
        grew=None,
    )
    as_map = {
        "age": 64,
        "sex": "male",
        "body_site": "nose",
        "size_mm": 7.0,
        "fitzpatrick": 2,
        "bleeding": True,
    }
    assert np.array_equal(features.encode(q), features.encode(as_map))
    v = features.encode(q)
    assert v[NAMES.index("site_nose")] == 1 and v[NAMES.index("sex_male")] == 1
    assert 0 < v[NAMES.index("age")] < 1 and v[NAMES.index("age_missing")] == 0


def _contract() -> ModelContract:
    return ModelContract(
        name="urgency",
        version="urgency-test",
        image=ImageInput(size=224),
        outputs={
            "diagnosis": Output("diagnosis_probs", ("ACK", "BCC")),
            "malignancy": Output("malignancy_prob"),
        },
        questionnaire=QuestionnaireInput(),
        thresholds={"urgent": 0.3, "priority": 0.1},
    )


def test_contract_round_trips_through_json(tmp_path):
    contract = _contract()
    contract.save(tmp_path / "m.json")
    assert ModelContract.load(tmp_path / "m.json") == contract
    contract.check_code()


def test_contract_refuses_another_feature_layout_and_a_changed_file(tmp_path):
    stale = replace(_contract(), questionnaire=QuestionnaireInput(features=NAMES[:-2]))
    with pytest.raises(ContractError):
        stale.check_code()
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model bytes")
    with pytest.raises(ContractError, match="sha256"):
        replace(_contract(), onnx_sha256="0" * 64).check_file(model)
