"""A blank answer must not be a diagnosis: how training fills and blanks the questionnaire, and the
evaluation views built from the same distributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model import features
from training.urgency.answers import MODEL_QUESTIONS, PHASE_BLANKS, AnswerDistribution, answered, blank
from training.urgency.trunk import TopSet

ANSWERED = {
    "age": 64,
    "sex": "female",
    "body_site": "face",
    "fitzpatrick": 2,
    "size_mm": 8.0,
    "skin_cancer_history": True,
    "itch": False,
    "pain": False,
    "bleeding": True,
    "grew": True,
    "changed": False,
    "elevated": True,
}
FIRST_PHASE = {k: v for k, v in ANSWERED.items() if k not in PHASE_BLANKS}


def test_distribution_draws_only_answers_train_patients_gave():
    other = {**ANSWERED, "sex": "male", "fitzpatrick": 3, "size_mm": 20.0}
    dist = AnswerDistribution.fit([ANSWERED, other, FIRST_PHASE])
    assert set(dist.answers["sex"]) == {"female", "male"} and len(dist.answers["sex"]) == 2
    rng = np.random.default_rng(0)
    for _ in range(50):
        filled = dist.impute(FIRST_PHASE, rng)
        assert filled["sex"] in ("female", "male") and filled["fitzpatrick"] in (2, 3)
        assert {k: filled[k] for k in FIRST_PHASE} == FIRST_PHASE  # given answers are kept
    assert dist.impute(ANSWERED, rng) == ANSWERED
    rates = dist.rates()
    assert rates["sex"] == {"female": 0.5, "male": 0.5} and rates["size_mm"]["median"] == 14.0
    with pytest.raises(ValueError, match="nothing to impute"):
        AnswerDistribution.fit([FIRST_PHASE])


def test_blanking_per_question_and_whole_questionnaire():
    rng = np.random.default_rng(1)
    outs = [blank(ANSWERED, rng, per_question=0.25, whole=0.2) for _ in range(4000)]
    whole = np.mean([o == {} for o in outs])
    assert 0.17 < whole < 0.23
    kept = [o for o in outs if o]
    for question in MODEL_QUESTIONS:
        rate = np.mean([question not in o for o in kept])
        assert 0.21 < rate < 0.29, question
    assert blank({"fever": True}, rng, per_question=1.0, whole=0.0) == {"fever": True}  # not a model question


def test_answered_means_the_first_phase_blanks_are_filled():
    assert answered(ANSWERED) and not answered(FIRST_PHASE)


def test_training_blanks_say_nothing_about_the_diagnosis():
    """The PAD-UFES-20 shortcut in miniature: every benign photo left the phase questions blank, every
    malignant one answered them. What the network is fed must have the same blank rates for both."""
    n = 40
    questionnaires = [FIRST_PHASE] * n + [ANSWERED] * n
    y = np.array([0] * n + [1] * n)
    dist = AnswerDistribution.fit([ANSWERED, {**ANSWERED, "sex": "male", "fitzpatrick": 4}])
    data = TopSet(
        torch.zeros(2 * n, 2, 1, 1, 1), questionnaires, y, dist, blank_question=0.15, blank_all=0.2, seed=0
    )
    missing_flag = features.FEATURE_NAMES.index("fitzpatrick_missing")
    blank_rates = {0: [], 1: []}
    for epoch in range(30):
        data.epoch = epoch
        for i in range(2 * n):
            _, q, label = data[i]
            blank_rates[label].append(float(q[missing_flag]))
    benign, malignant = np.mean(blank_rates[0]), np.mean(blank_rates[1])
    assert abs(benign - malignant) < 0.04, (benign, malignant)
    assert 0.25 < benign < 0.40  # 0.2 + 0.8 * 0.15 = 0.32
    data.epoch = 3
    first = [data[i][1] for i in range(5)]
    assert all(torch.equal(a, data[i][1]) for i, a in enumerate(first))  # seeded by (seed, epoch, photo)


def test_the_model_reads_only_the_questions_it_was_trained_on():
    with_fever = {**ANSWERED, "fever": True, "duration_days": 3}
    assert np.array_equal(
        features.encode(with_fever, reads=MODEL_QUESTIONS), features.encode(ANSWERED, reads=MODEL_QUESTIONS)
    )
