"""The triage engine: the components that judge photos and urgency, behind one interface.

Photos: the pure OpenCV quality checks combined with the learned quality model when one is loaded
(``model.quality_verdict.combine``; the checks alone otherwise); for each usable photo, the learned
urgency model's probabilities when a model is loaded. Case: the red-flag rules, raised (never lowered) by the
model's reading of the most suspicious usable photo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model.quality_checks import CHECKS_VERSION, QualityReport, assess_quality
from model.quality_model import QualityModel
from model.quality_verdict import ModelReading, QualityVerdict, classical_verdict
from model.questionnaire import Questionnaire
from serving.photos.ingest import IngestedPhoto
from serving.triage.decision import ACCEPT_VERDICT, TriageDecision, decide
from serving.triage.red_flags import RULES_VERSION
from serving.triage.urgency import assess_urgency
from serving.triage.urgency_model import UrgencyModel


def quality_json(report: QualityReport, verdict: QualityVerdict, reading: ModelReading | None = None) -> dict:
    """The stored (and returned) form of a photo's quality verdict: the verdict, what is wrong (most
    important first) with one instruction each, the classical checks and the model's reading."""
    return {
        "verdict": verdict.verdict,
        "score": verdict.score,
        "defects": list(verdict.defects),
        "instructions": list(verdict.instructions),
        "checks": {
            name: {"score": c.score, "passed": c.passed, "threshold": c.threshold}
            for name, c in report.checks.items()
        },
        "model": None
        if reading is None
        else {
            "version": reading.version,
            "retake": round(reading.retake, 4),
            "defects": {d: round(p, 4) for d, p in reading.defects.items()},
        },
    }


@dataclass(frozen=True)
class PhotoAssessment:
    quality: dict
    predictions: dict[str, Any] | None  # the urgency model's output; None for an unusable photo or no model


@dataclass(frozen=True)
class TriageEngine:
    urgency_model: UrgencyModel | None = None
    quality_model: QualityModel | None = None

    def judge_quality(self, rgb, *, original_size: tuple[int, int]) -> dict:
        if self.quality_model is None:
            report = assess_quality(rgb, original_size=original_size)
            return quality_json(report, classical_verdict(report))
        a = self.quality_model.assess(rgb, original_size=original_size)
        return quality_json(a.report, a.verdict, a.reading)

    def assess_photo(self, photo: IngestedPhoto, questionnaire: Questionnaire) -> PhotoAssessment:
        quality = self.judge_quality(photo.analysis.rgb, original_size=(photo.width, photo.height))
        predictions = None
        if self.urgency_model is not None and quality["verdict"] == ACCEPT_VERDICT:
            predictions = self.urgency_model.predict_photo(photo.analysis.rgb, questionnaire)
        return PhotoAssessment(quality=quality, predictions=predictions)

    def decide(self, questionnaire: Questionnaire, photos: Sequence[PhotoAssessment]) -> TriageDecision:
        model = None
        if self.urgency_model is not None:
            usable = [
                p.predictions for p in photos if p.quality["verdict"] == ACCEPT_VERDICT and p.predictions
            ]
            model = self.urgency_model.case_urgency(usable)
        return decide(
            rules=assess_urgency(questionnaire),
            model=model,
            photo_verdicts=[p.quality["verdict"] for p in photos],
        )

    @property
    def model_versions(self) -> dict[str, str]:
        versions = {"quality": CHECKS_VERSION, "urgency_rules": RULES_VERSION}
        if self.quality_model is not None:
            versions["quality_model"] = self.quality_model.version
        if self.urgency_model is not None:
            versions["urgency_model"] = self.urgency_model.version
        return versions

    def ready(self) -> bool:
        return True
