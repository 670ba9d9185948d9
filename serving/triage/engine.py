"""The triage engine: the components that judge photos and urgency, behind one interface.

Today: the pure OpenCV quality checks and the red-flag rules. The learned models plug in here
(a ``ModelUrgency`` for ``decide``, a learned quality score beside the checks) without the
case service changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from model.quality_checks import CHECKS_VERSION, QualityReport, assess_quality
from model.questionnaire import Questionnaire
from serving.photos.ingest import IngestedPhoto
from serving.triage.decision import TriageDecision, decide
from serving.triage.red_flags import RULES_VERSION
from serving.triage.urgency import assess_urgency


def quality_json(report: QualityReport) -> dict:
    """The stored (and returned) form of a photo's quality verdict."""
    return {
        "verdict": report.verdict,
        "score": report.score,
        "checks": {
            name: {"score": c.score, "passed": c.passed, "threshold": c.threshold}
            for name, c in report.checks.items()
        },
        "instructions": list(report.instructions),
    }


@dataclass(frozen=True)
class TriageEngine:
    def assess_photo(self, photo: IngestedPhoto) -> QualityReport:
        return assess_quality(photo.analysis.rgb, original_size=(photo.width, photo.height))

    def decide(self, questionnaire: Questionnaire, photo_verdicts: Sequence[str]) -> TriageDecision:
        return decide(rules=assess_urgency(questionnaire), model=None, photo_verdicts=photo_verdicts)

    @property
    def model_versions(self) -> dict[str, str]:
        return {"quality": CHECKS_VERSION, "urgency": RULES_VERSION}

    def ready(self) -> bool:
        return True
