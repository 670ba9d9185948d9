"""The questionnaire as model input: a fixed-length float vector in which every unanswered
question is representable (a value of 0 plus a "missing" flag).

The layout is named by ``FEATURE_NAMES`` and versioned by ``ENCODING_VERSION``; a model's
contract stores both, and serving refuses a model whose layout differs from this module's.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from model.questionnaire import BOOLEAN_FIELDS, BodySite, Questionnaire, Sex

ENCODING_VERSION = "questionnaire-features-1"

_SEXES = (Sex.female, Sex.male, Sex.other)
_SITES = tuple(BodySite)


def _names() -> tuple[str, ...]:
    names = ["age", "age_missing"]
    names += [f"sex_{s.value}" for s in _SEXES] + ["sex_missing"]
    names += [f"site_{s.value}" for s in _SITES] + ["site_missing"]
    names += ["fitzpatrick", "fitzpatrick_missing"]
    names += ["size_mm_log", "size_mm_missing", "duration_log", "duration_missing"]
    for field in BOOLEAN_FIELDS:
        names += [field, f"{field}_missing"]
    return tuple(names)


FEATURE_NAMES: tuple[str, ...] = _names()
N_FEATURES = len(FEATURE_NAMES)


def _scaled(value: float | None, fn) -> tuple[float, float]:
    return (0.0, 1.0) if value is None else (float(fn(value)), 0.0)


def encode(answers: Questionnaire | Mapping[str, Any], *, reads: Collection[str] = ()) -> np.ndarray:
    """One questionnaire -> float32 vector of length ``N_FEATURES``.

    Accepts a ``Questionnaire`` or a mapping of its fields (jurisdiction not needed). ``reads``: the
    questions a model was trained on; any other answer is encoded as unanswered (empty: all)."""
    raw = answers.get if isinstance(answers, Mapping) else lambda k: getattr(answers, k, None)
    get = (lambda k: raw(k) if k in reads else None) if reads else raw
    values: list[float] = []
    values += _scaled(get("age"), lambda a: a / 100.0)
    sex = get("sex")
    sex = Sex(sex) if sex is not None else None
    values += [float(sex == s) for s in _SEXES] + [float(sex is None or sex is Sex.unknown)]
    site = get("body_site")
    site = BodySite(site) if site is not None else None
    values += [float(site == s) for s in _SITES] + [float(site is None)]
    values += _scaled(get("fitzpatrick"), lambda f: (f - 1) / 5.0)
    values += _scaled(get("size_mm"), lambda s: math.log1p(s) / math.log1p(100.0))
    values += _scaled(get("duration_days"), lambda d: math.log1p(d) / math.log1p(3650.0))
    for field in BOOLEAN_FIELDS:
        answer = get(field)
        values += [1.0 if answer is True else 0.0, 1.0 if answer is None else 0.0]
    vector = np.asarray(values, dtype=np.float32)
    assert vector.shape == (N_FEATURES,)
    return vector


def encode_many(rows: list[Questionnaire | Mapping[str, Any]], *, reads: Collection[str] = ()) -> np.ndarray:
    if not rows:
        return np.zeros((0, N_FEATURES), np.float32)
    return np.stack([encode(r, reads=reads) for r in rows])
