"""``lesion_label`` and ``consent_research`` are kept with the case, never read by a rule or a model:
they change no feature (their idempotency fingerprint: tests/serving/test_patients.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from model import features
from model.questionnaire import Questionnaire

ANSWERS = {"jurisdiction": "US-CA", "age": 61, "bleeding": True, "body_site": "back", "concern": "grew"}


def test_the_lesion_label_and_research_consent_are_not_model_features() -> None:
    plain = features.encode(Questionnaire.model_validate(ANSWERS))
    for extra in ({"lesion_label": "mole left shoulder"}, {"consent_research": True}):
        assert np.array_equal(features.encode(Questionnaire.model_validate({**ANSWERS, **extra})), plain)
    assert not any("lesion" in name or "consent" in name for name in features.FEATURE_NAMES)


def test_the_fields_are_validated() -> None:
    assert Questionnaire.model_validate(ANSWERS).consent_research is False
    for bad in (
        {"lesion_label": ""},
        {"lesion_label": "   "},
        {"lesion_label": "x" * 121},
        {"consent_research": "yes"},
    ):
        with pytest.raises(ValidationError):
            Questionnaire.model_validate({**ANSWERS, **bad})
