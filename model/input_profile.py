"""The profile of the models' inputs: how often each question is answered, the Fitzpatrick mix, the
photos' size and modality. One definition for both sides of a comparison: ``data_pipelines.profile``
profiles the training data (written to ``artifacts/reference_profile.json``, the *reference*) and
``serving.monitoring`` profiles the service's own cases, so that a drift figure compares like with like.

Units: a questionnaire is counted once per lesion (a training lesion, a service case), a photo once
per image. A question is *answered* when its value is present, not null, not an empty text and, for
``sex``, not ``"unknown"`` (``model.features`` encodes that as missing too).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from model.modality import Modality
from model.questionnaire import Questionnaire

#: fields of the questionnaire that are not answers about the lesion or the patient (routing, language,
#: the device, the lesion's name, consent): no model reads them, they are not profiled
NOT_ANSWERS = frozenset({"jurisdiction", "language", "capture_device", "lesion_label", "consent_research"})
#: the questions profiled, in the questionnaire's order
QUESTIONS: tuple[str, ...] = tuple(f for f in Questionnaire.model_fields if f not in NOT_ANSWERS)
FITZPATRICK_TYPES: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
MODALITIES: tuple[str, ...] = tuple(m.value for m in Modality)
#: the quantiles of the photos' long side (pixels) the profile keeps
SIZE_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
SCHEMA = 1
#: the training data's profile, written by ``dermatriage data profile``
REFERENCE_PATH = Path(__file__).resolve().parent / "artifacts" / "reference_profile.json"


class ProfileError(ValueError):
    """A profile file that is missing or not of this schema."""


def answered(answers: Mapping[str, Any], question: str) -> bool:
    value = answers.get(question)
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    return not (question == "sex" and value == "unknown")


def answer_rates(questionnaires: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Per question, the share of questionnaires that answer it (None when there are none)."""
    n = len(questionnaires)
    return {q: (sum(answered(a, q) for a in questionnaires) / n if n else None) for q in QUESTIONS}


def fitzpatrick_mix(questionnaires: Sequence[Mapping[str, Any]]) -> tuple[dict[str, float | None], int]:
    """The share of each skin type among the questionnaires that give one, and how many give one."""
    types = [a["fitzpatrick"] for a in questionnaires if answered(a, "fitzpatrick")]
    counts = Counter(int(t) for t in types)
    n = len(types)
    return {str(t): (counts[t] / n if n else None) for t in FITZPATRICK_TYPES}, n


def long_side(width: int, height: int) -> int:
    return max(int(width), int(height))


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile with linear interpolation between order statistics (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def size_quantiles(long_sides: Sequence[int]) -> dict[str, float | None]:
    """``{"p05": ..., "p50": ..., "p95": ...}``: quantiles of the photos' long side in pixels."""
    return {quantile_key(q): quantile(long_sides, q) for q in SIZE_QUANTILES}


def quantile_key(q: float) -> str:
    return f"p{round(q * 100):02d}"


def modality_mix(modalities: Iterable[str | None]) -> tuple[dict[str, float | None], int]:
    """The share of each modality (``model.modality``) among the photos whose modality is known."""
    known = [m for m in modalities if m is not None]
    counts = Counter(known)
    n = len(known)
    return {m: (counts[m] / n if n else None) for m in MODALITIES}, n


def profile(
    questionnaires: Sequence[Mapping[str, Any]],
    *,
    long_sides: Sequence[int],
    modalities: Sequence[str | None],
) -> dict[str, Any]:
    """The profile of one set of inputs: ``questionnaires`` one per lesion, ``long_sides`` and
    ``modalities`` one per photo."""
    fitzpatrick, n_typed = fitzpatrick_mix(questionnaires)
    modality, n_known = modality_mix(modalities)
    return {
        "n_lesions": len(questionnaires),
        "n_photos": len(long_sides),
        "answer_rates": answer_rates(questionnaires),
        "fitzpatrick": {"n": n_typed, "shares": fitzpatrick},
        "long_side": {"n": len(long_sides), **size_quantiles(long_sides)},
        "modality": {"n": n_known, "shares": modality},
    }


def load_reference(path: Path = REFERENCE_PATH) -> dict[str, Any]:
    """The training data's profile (``artifacts/reference_profile.json``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProfileError(f"no readable reference profile at {path}: {exc}") from exc
    if data.get("schema") != SCHEMA:
        raise ProfileError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA}")
    missing = {"answer_rates", "fitzpatrick", "long_side", "modality", "n_lesions"} - set(data)
    if missing:
        raise ProfileError(f"{path}: missing {sorted(missing)}")
    return data
