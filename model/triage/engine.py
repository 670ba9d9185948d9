"""The triage engine: the components that judge photos and urgency, behind one interface.

Photos: the pure OpenCV quality checks combined with the learned quality model when one is loaded
(``model.quality_verdict.combine``; the checks alone otherwise); for each usable photo, the learned
urgency model's probabilities when a model is loaded. Case: the red-flag rules, raised (never lowered) by the
model's reading of the most suspicious usable photo.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model.intake import IngestedPhoto
from model.photo_quality import PhotoQuality
from model.quality_checks import CHECKS_VERSION, assess_quality
from model.quality_model import QualityModel
from model.quality_verdict import classical_verdict
from model.questionnaire import Questionnaire
from model.triage.decision import TriageDecision, decide
from model.triage.learned import model_urgency
from model.triage.red_flags import RULES_VERSION
from model.triage.urgency import assess_urgency
from model.urgency_model import UrgencyModel

log = logging.getLogger("dermatriage")


@dataclass(frozen=True)
class PhotoAssessment:
    quality: PhotoQuality
    predictions: dict[str, Any] | None  # the urgency model's output; None for an unusable photo or no model


@dataclass(frozen=True)
class TriageEngine:
    urgency_model: UrgencyModel | None = None
    quality_model: QualityModel | None = None

    def judge_quality(self, rgb, *, original_size: tuple[int, int]) -> PhotoQuality:
        if self.quality_model is None:
            report = assess_quality(rgb, original_size=original_size)
            return PhotoQuality.judged(report, classical_verdict(report))
        a = self.quality_model.assess(rgb, original_size=original_size)
        return PhotoQuality.judged(a.report, a.verdict, a.reading)

    def assess_photo(self, photo: IngestedPhoto, questionnaire: Questionnaire) -> PhotoAssessment:
        quality = self.judge_quality(photo.analysis.rgb, original_size=(photo.width, photo.height))
        predictions = None
        if self.urgency_model is not None and quality.usable:
            predictions = self.urgency_model.predict_photo(photo.analysis.rgb, questionnaire)
        return PhotoAssessment(quality=quality, predictions=predictions)

    def decide(self, questionnaire: Questionnaire, photos: Sequence[PhotoAssessment]) -> TriageDecision:
        model = None
        if self.urgency_model is not None:
            usable = [p.predictions for p in photos if p.quality.usable and p.predictions]
            model = model_urgency(self.urgency_model, usable)
        return decide(
            rules=assess_urgency(questionnaire),
            model=model,
            photo_verdicts=[p.quality.verdict for p in photos],
        )

    @property
    def model_versions(self) -> dict[str, str]:
        versions = {"quality": CHECKS_VERSION, "urgency_rules": RULES_VERSION}
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
