"""The questionnaire as the urgency model learns it and is judged on it: a blank in PAD-UFES-20 is not
a diagnosis.

In PAD-UFES-20, whole groups of questions are blank for the photos of its first collection phase
(sex, Fitzpatrick type, skin-cancer history and lesion size for 402 train photos, every one of them
benign), so "these questions unanswered" predicts "benign" in the data and means nothing at intake,
where every question is asked. The model must not learn it:

* **training**: each time a photo is used, every question the data left blank is answered by a draw
  from the train patients' answers to it (``AnswerDistribution.impute``), and then answers are blanked
  at random, each question on its own and, sometimes, the whole questionnaire (``blank``). A blank
  the model sees is then independent of the diagnosis, so it learns to read it as "unknown";
* **evaluation views**: as recorded; *complete* (every blank answered by a seeded draw from the same
  distributions, several draws); photo only (every answer blank); the answered-only subset.

``MODEL_QUESTIONS`` are the questions the data answers; the model reads only those (the contract's
``reads``), so a question it never saw answered (fever, duration, ...) cannot move it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the questions PAD-UFES-20 answers (mapped onto the intake's fields by data_pipelines)
MODEL_QUESTIONS: tuple[str, ...] = (
    *("age", "sex", "body_site", "fitzpatrick", "size_mm", "skin_cancer_history"),  # who, where, how big
    *("itch", "pain", "bleeding", "grew", "changed", "elevated"),  # what the lesion does
)
#: the questions the first collection phase left blank together (the shortcut)
PHASE_BLANKS: tuple[str, ...] = ("sex", "fitzpatrick", "size_mm", "skin_cancer_history")


@dataclass(frozen=True)
class AnswerDistribution:
    """Each question's answers among the train patients' photos that answered it (empirical)."""

    answers: Mapping[str, tuple[Any, ...]]

    @classmethod
    def fit(cls, questionnaires: Iterable[Mapping[str, Any]]) -> AnswerDistribution:
        seen: dict[str, list[Any]] = {q: [] for q in MODEL_QUESTIONS}
        for answers in questionnaires:
            for question in MODEL_QUESTIONS:
                if answers.get(question) is not None:
                    seen[question].append(answers[question])
        empty = [q for q, values in seen.items() if not values]
        if empty:
            raise ValueError(f"no train photo answers {empty}: nothing to impute from")
        return cls({q: tuple(values) for q, values in seen.items()})

    def impute(self, answers: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """``answers`` with every blank model question answered by a draw from its distribution."""
        out = dict(answers)
        for question, values in self.answers.items():
            if out.get(question) is None:
                out[question] = values[int(rng.integers(len(values)))]
        return out

    def rates(self) -> dict[str, dict[str, float]]:
        """Each question's answer shares (numbers: quartiles), for the model card."""
        out = {}
        for question, values in self.answers.items():
            if isinstance(values[0], bool | str):
                kinds, counts = np.unique(np.asarray([str(v) for v in values]), return_counts=True)
                out[question] = {
                    k: round(float(c) / len(values), 3) for k, c in zip(kinds, counts, strict=True)
                }
            else:
                q1, q2, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
                out[question] = {"p25": float(q1), "median": float(q2), "p75": float(q3)}
        return out


def blank(
    answers: Mapping[str, Any], rng: np.random.Generator, *, per_question: float, whole: float
) -> dict[str, Any]:
    """``answers`` with the whole questionnaire blanked with probability ``whole``, else each model
    question blanked with probability ``per_question``."""
    if rng.random() < whole:
        return {}
    return {q: v for q, v in answers.items() if not (q in MODEL_QUESTIONS and rng.random() < per_question)}


def answered(answers: Mapping[str, Any]) -> bool:
    """The first phase's blanks are not there: the answered-only view keeps these photos."""
    return all(answers.get(q) is not None for q in PHASE_BLANKS)
