"""The triage engine: the components that judge photos and urgency, behind one interface.

Photos: what kind of image it is (``model.modality``), then the pure OpenCV quality checks combined
with the learned quality model when one is loaded (``model.quality_verdict.combine``; the checks alone
otherwise), instructions in the patient's language; the learned urgency model's probabilities when a
model is loaded. Case: the red-flag rules, raised (never lowered) by the model's reading of the most
suspicious readable photo. A photo that cannot be read at all (a few pixels, nearly black, smeared,
no skin: floors no real clinical photo comes near) is not read: the model is not validated on such
input, and a reading of a blank frame would say nothing. A dermoscopic photo lies outside the urgency
model's validated domain (phone photos): its reading is marked so, and the case is at least PRIORITY.

The urgency model reads a photo while its quality is being judged (ONNX Runtime and OpenCV release
the GIL, so the two run on two cores); the reading of a photo judged unreadable is dropped, as if it
had never been made. A patient waits for the slower of the two, not for their sum.

Each assessment carries how long its stages took (``StageTiming``: ``quality``, and ``urgency`` when
the model read the photo); serving turns them into metrics and trace spans (this package knows of
neither).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from model.intake import IngestedPhoto
from model.messages import translate
from model.modality import Modality, classify_modality
from model.photo_quality import PhotoQuality
from model.quality_checks import CHECKS_VERSION, assess_quality
from model.quality_model import QualityModel
from model.quality_verdict import classical_verdict, combine
from model.questionnaire import Questionnaire
from model.triage.care_setting import CARE_RULES_VERSION, TriageReading, assess_care_setting
from model.triage.decision import TriageDecision, decide
from model.triage.learned import model_urgency
from model.triage.red_flags import RULES_VERSION
from model.triage.tiers import Tier
from model.triage.urgency import assess_urgency
from model.urgency_model import UrgencyModel

log = logging.getLogger("dermatriage")

#: reads photos with the urgency model alongside the quality judgement (shared by every request)
_READER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="urgency-read")


#: the least tier of a case with a dermoscopic photo, and why
DERMOSCOPIC_FLOOR = (
    Tier.PRIORITY,
    "Dermoscopic photo: outside the urgency model's validated domain (phone photos); at least PRIORITY",
)
#: marks a reading of a photo outside the urgency model's validated domain
OUTSIDE_DOMAIN = "outside_validated_domain"


def _modality_of(rgb) -> str:
    return classify_modality(rgb).kind.value


@dataclass(frozen=True)
class StageTiming:
    """When one stage of a photo's triage ran, on the wall clock (``time.time_ns()``), so that a tracer
    can place it in a request and a histogram can count it."""

    stage: str  # "decode" (serving's intake), "quality", "urgency"
    started_ns: int
    ended_ns: int

    @classmethod
    def since(cls, stage: str, started_ns: int) -> StageTiming:
        return cls(stage, started_ns, time.time_ns())

    @property
    def seconds(self) -> float:
        return (self.ended_ns - self.started_ns) / 1e9


def _timed(stage: str, read, *args) -> tuple[Any, StageTiming]:
    started = time.time_ns()
    result = read(*args)
    return result, StageTiming.since(stage, started)


@dataclass(frozen=True)
class PhotoAssessment:
    quality: PhotoQuality
    predictions: dict[str, Any] | None  # the urgency model's output; None for an unreadable photo or no model
    timings: tuple[StageTiming, ...] = ()  # this assessment's stages (none for a stored photo's)


@dataclass(frozen=True)
class TriageEngine:
    urgency_model: UrgencyModel | None = None
    quality_model: QualityModel | None = None

    def judge_quality(
        self,
        rgb,
        *,
        original_size: tuple[int, int],
        locale: str | None = None,
        capture_device: str | None = None,
        modality: Future[str] | None = None,
    ) -> PhotoQuality:
        """``modality``: the modality being classified on another thread (classified here without)."""
        report = assess_quality(rgb, original_size=original_size)
        reading = None if self.quality_model is None else self.quality_model.read(rgb)
        kind = modality.result() if modality is not None else _modality_of(rgb)
        if capture_device == "dermatoscope" and kind != Modality.not_skin:
            kind = Modality.dermoscopic.value  # the sending system knows its device
        if reading is None:
            verdict = classical_verdict(report, original_size=original_size, modality=kind, locale=locale)
            return PhotoQuality.judged(report, verdict, modality=verdict.modality)
        policy = self.quality_model.policy
        verdict = combine(report, reading, policy, original_size=original_size, modality=kind, locale=locale)
        return PhotoQuality.judged(report, verdict, reading, modality=verdict.modality)

    def assess_photo(self, photo: IngestedPhoto, questionnaire: Questionnaire) -> PhotoAssessment:
        rgb = photo.analysis.rgb
        # the modality and the urgency reading run on other threads while the checks and the quality
        # model run here
        modality = _READER.submit(_modality_of, rgb)
        reading = None
        if self.urgency_model is not None:
            reading = _READER.submit(_timed, "urgency", self.urgency_model.predict_photo, rgb, questionnaire)
        started = time.time_ns()
        quality = self.judge_quality(
            rgb,
            original_size=(photo.width, photo.height),
            locale=questionnaire.language,
            capture_device=questionnaire.capture_device,
            modality=modality,
        )
        timings = (StageTiming.since("quality", started),)
        if reading is None:
            return PhotoAssessment(quality=quality, predictions=None, timings=timings)
        if not quality.usable:
            reading.cancel()  # an unreadable photo is never read (a reading under way is dropped)
            return PhotoAssessment(quality=quality, predictions=None, timings=timings)
        predictions, read_timing = reading.result()
        if quality.modality == Modality.dermoscopic:
            predictions = {**predictions, "domain": OUTSIDE_DOMAIN}
        return PhotoAssessment(quality=quality, predictions=predictions, timings=(*timings, read_timing))

    def decide(self, questionnaire: Questionnaire, photos: Sequence[PhotoAssessment]) -> TriageDecision:
        model = None
        if self.urgency_model is not None:
            readable = [p.predictions for p in photos if p.quality.usable and p.predictions]
            model = model_urgency(self.urgency_model, readable)
        dermoscopic = any(p.quality.modality == Modality.dermoscopic for p in photos)
        decision = decide(
            rules=assess_urgency(questionnaire),
            model=model,
            photo_verdicts=[p.quality.verdict for p in photos],
            photo_readable=[p.quality.usable for p in photos],
            floors=[DERMOSCOPIC_FLOOR] if dermoscopic else [],
        )
        care = assess_care_setting(questionnaire, self.reading(decision.tier, photos))
        decision = decision.with_care_setting(care)
        # the advice reaches the patient: in their language (the rules keep the reviewed English)
        advice = tuple(translate(text, questionnaire.language) for text in decision.patient_advice)
        return dataclasses.replace(decision, patient_advice=advice)

    def reading(self, tier: Tier, photos: Sequence[PhotoAssessment]) -> TriageReading:
        """What the care-setting rules read besides the questionnaire: the final tier and this urgency
        model's highest malignancy reading of the usable photos (and of the dermoscopic ones)."""
        if self.urgency_model is None:
            return TriageReading(tier=tier)
        version = self.urgency_model.version
        read = [
            p for p in photos if p.quality.usable and p.predictions and p.predictions.get("model") == version
        ]
        dermoscopic = [p for p in read if p.quality.modality == Modality.dermoscopic]
        return TriageReading(
            tier=tier,
            malignancy=max((p.predictions["malignancy"] for p in read), default=None),
            dermoscopic_malignancy=max((p.predictions["malignancy"] for p in dermoscopic), default=None),
            urgent=self.urgency_model.urgent,
            priority=self.urgency_model.priority,
        )

    @property
    def model_versions(self) -> dict[str, str]:
        versions = {
            "quality": CHECKS_VERSION,
            "urgency_rules": RULES_VERSION,
            "care_rules": CARE_RULES_VERSION,
        }
        if self.quality_model is not None:
            versions["quality_model"] = self.quality_model.version
        if self.urgency_model is not None:
            versions["urgency_model"] = self.urgency_model.version
        return versions

    def problems(self) -> dict[str, str]:
        """Each loaded model answers one tiny inference; what failed, by model (empty when all answer)."""
        found = {}
        for name, loaded in (("urgency_model", self.urgency_model), ("quality_model", self.quality_model)):
            if loaded is None:
                continue
            try:
                loaded.self_check()
            except Exception as exc:  # noqa: BLE001 - readiness reports any failure
                log.error("%s %s failed its self-check: %s", name, loaded.version, exc)
                found[name] = f"{loaded.version} failed its self-check: {type(exc).__name__}"
        return found

    def ready(self) -> bool:
        return not self.problems()
