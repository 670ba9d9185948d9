"""What the learned urgency model's reading means for a case: the most suspicious usable photo decides;
its malignancy probability maps onto the tiers through the model's thresholds, and onto the urgency
score so that score and tier agree (the thresholds become the band floors)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model.triage.decision import ModelUrgency
from model.triage.tiers import Tier
from model.triage.urgency import score_in_band
from model.urgency_model import UrgencyModel


def tier_and_score(malignancy: float, *, urgent: float, priority: float) -> tuple[Tier, float]:
    """Malignancy probability -> (tier, score in that tier's band), monotone in the probability."""
    if malignancy >= urgent:
        return Tier.URGENT, score_in_band(Tier.URGENT, (malignancy - urgent) / max(1e-9, 1 - urgent))
    if malignancy >= priority:
        return Tier.PRIORITY, score_in_band(
            Tier.PRIORITY, (malignancy - priority) / max(1e-9, urgent - priority)
        )
    return Tier.ROUTINE, score_in_band(Tier.ROUTINE, malignancy / max(1e-9, priority))


def model_urgency(model: UrgencyModel, photo_predictions: Sequence[dict[str, Any]]) -> ModelUrgency | None:
    """The model's reading of a case from the predictions of its usable photos (None when none of them
    was read by this model)."""
    mine = [p for p in photo_predictions if p and p.get("model") == model.version]
    if not mine:
        return None
    top = max(mine, key=lambda p: p["malignancy"])
    tier, score = tier_and_score(top["malignancy"], urgent=model.urgent, priority=model.priority)
    reason = (
        f"Photo model {model.version}: malignancy probability {top['malignancy']:.2f} "
        f"(urgent from {model.urgent:.2f}, priority from {model.priority:.2f})"
    )
    return ModelUrgency(score=score, tier=tier, version=model.version, reasons=(reason,))
