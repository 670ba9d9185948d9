"""What serving does with a photo and its answers, for evaluation: exactly the functions ``POST
/v1/cases`` runs (``model.intake.ingest_photo`` on the file's bytes, ``TriageEngine.assess_photo``:
the quality verdict and the urgency model's reading, then ``TriageEngine.decide``: the red-flag rules
and the tier).

The model's reading is kept for every photo, a usable one or not (serving reads only usable photos;
the quality gate is judged on its own), so that the model's figures cover every test photo; the tier
is the one serving gives, gate included.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance
from tqdm import tqdm

from data_pipelines.manifest import ManifestRow
from model.intake import PhotoLimits, ingest_photo
from model.questionnaire import Questionnaire
from model.triage.engine import TriageEngine
from model.triage.tiers import Tier

#: the jurisdiction the PAD-UFES-20 patients were seen in (Espírito Santo, Brazil)
JURISDICTION = "BR-ES"
#: a harmless change a patient's phone or app may make to a photo: name -> bytes -> bytes
Change = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Reading:
    """One photo with one set of answers, as served."""

    image_id: str
    malignancy: float  # the urgency model's (calibrated) malignancy probability
    diagnosis: tuple[float, ...]  # its class probabilities
    tier: Tier  # the tier serving gives (quality gate, model and red-flag rules)
    usable: bool  # the quality verdict


def read_served(
    engine: TriageEngine,
    rows: Sequence[ManifestRow],
    answers: Sequence[Mapping[str, Any]],
    data_dir: Path,
    *,
    change: Change | None = None,
    desc: str = "served path",
    progress: bool = True,
) -> list[Reading]:
    """Every photo (changed by ``change``, when given) with its answers through the serving path."""
    if engine.urgency_model is None:
        raise ValueError("the engine has no urgency model to judge")
    limits = PhotoLimits()
    out = []
    for row, given in tqdm(
        list(zip(rows, answers, strict=True)), desc=desc, unit="photo", disable=not progress, leave=False
    ):
        data = (data_dir / row.path).read_bytes()
        photo = ingest_photo(change(data) if change else data, filename=row.image_id, limits=limits)
        questionnaire = Questionnaire(jurisdiction=JURISDICTION, **given)
        assessment = engine.assess_photo(photo, questionnaire)
        decision = engine.decide(questionnaire, [assessment])
        reading = assessment.predictions or engine.urgency_model.predict_photo(
            photo.analysis.rgb, questionnaire
        )
        labels = engine.urgency_model.labels
        out.append(
            Reading(
                image_id=row.image_id,
                malignancy=float(reading["malignancy"]),
                diagnosis=tuple(float(reading["diagnosis"][label]) for label in labels),
                tier=decision.tier,
                usable=assessment.quality.usable,
            )
        )
    return out


def _jpeg(quality: int) -> Change:
    def change(data: bytes) -> bytes:
        with Image.open(io.BytesIO(data)) as im:
            out = io.BytesIO()
            im.convert("RGB").save(out, "JPEG", quality=quality)
            return out.getvalue()

    return change


def _rotate(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        out = io.BytesIO()
        im.convert("RGB").transpose(Image.Transpose.ROTATE_90).save(out, "JPEG", quality=95)
        return out.getvalue()


def _brightness(factor: float) -> Change:
    def change(data: bytes) -> bytes:
        with Image.open(io.BytesIO(data)) as im:
            out = io.BytesIO()
            ImageEnhance.Brightness(im.convert("RGB")).enhance(factor).save(out, "JPEG", quality=95)
            return out.getvalue()

    return change


#: the harmless changes the tier must not flip under
HARMLESS_CHANGES: dict[str, Change] = {
    "jpeg_q95": _jpeg(95),
    "jpeg_q70": _jpeg(70),
    "rotate_90": _rotate,
    "brighter_10pct": _brightness(1.1),
    "darker_10pct": _brightness(0.9),
}


def tier_flip_rate(before: Sequence[Reading], after: Sequence[Reading]) -> float:
    """The share of photos whose tier differs between two readings of them."""
    if not before:
        return float("nan")
    return float(np.mean([a.tier != b.tier for a, b in zip(before, after, strict=True)]))


def flip_causes(before: Sequence[Reading], after: Sequence[Reading], urgent: float) -> dict[str, float]:
    """Why tiers flipped, as shares of all photos: the quality verdict changed (a photo sent back or let
    through); with the verdict unchanged, the model's reading crossed the URGENT threshold; anything else
    (the PRIORITY threshold, or a reading the rules override). The three add up to the flip rate."""
    pairs = list(zip(before, after, strict=True))
    if not pairs:
        return {}
    flipped = [(a, b) for a, b in pairs if a.tier != b.tier]
    verdict = sum(a.usable != b.usable for a, b in flipped)
    crossed = sum(
        a.usable == b.usable and (a.malignancy >= urgent) != (b.malignancy >= urgent) for a, b in flipped
    )
    n = len(pairs)
    return {
        "quality_verdict": verdict / n,
        "model_crosses_urgent": crossed / n,
        "other": (len(flipped) - verdict - crossed) / n,
    }
