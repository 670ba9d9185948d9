"""The learned urgency model in serving: ONNX Runtime, no torch.

Per photo: diagnosis and malignancy probabilities (stored with the photo, so a case can be
re-triaged without decoding its earlier photos). Per case: the most suspicious usable photo decides;
its malignancy probability maps onto the tiers through the contract's thresholds, and onto the
urgency score so that score and tier agree (the thresholds become the band floors).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model import features
from model.model_input import image_tensor
from model.questionnaire import Questionnaire
from model.runtime import OnnxModel
from serving.triage.decision import ModelUrgency
from serving.triage.tiers import Tier
from serving.triage.urgency import score_in_band


def tier_and_score(malignancy: float, *, urgent: float, priority: float) -> tuple[Tier, float]:
    """Malignancy probability -> (tier, score in that tier's band), monotone in the probability."""
    if malignancy >= urgent:
        return Tier.URGENT, score_in_band(Tier.URGENT, (malignancy - urgent) / max(1e-9, 1 - urgent))
    if malignancy >= priority:
        return Tier.PRIORITY, score_in_band(
            Tier.PRIORITY, (malignancy - priority) / max(1e-9, urgent - priority)
        )
    return Tier.ROUTINE, score_in_band(Tier.ROUTINE, malignancy / max(1e-9, priority))


class UrgencyModel:
    def __init__(self, onnx_path: Path, *, threads: int = 1):
        self.model = OnnxModel(onnx_path, threads=threads)
        contract = self.model.contract
        missing = {"urgent", "priority"} - set(contract.thresholds)
        if missing:
            raise ValueError(f"{onnx_path.name}: contract has no {sorted(missing)} threshold")
        self.version = contract.version
        self.labels = contract.outputs["diagnosis"].labels
        self.urgent = contract.thresholds["urgent"]
        self.priority = contract.thresholds["priority"]

    def predict_photo(self, rgb: np.ndarray, questionnaire: Questionnaire) -> dict[str, Any]:
        image = image_tensor(rgb, self.model.contract.image)[None]
        q = features.encode(questionnaire)[None]
        out = self.model.run(image, q)
        return {
            "model": self.version,
            "malignancy": round(float(out["malignancy"][0]), 6),
            "diagnosis": {
                label: round(float(p), 6) for label, p in zip(self.labels, out["diagnosis"][0], strict=True)
            },
        }

    def case_urgency(self, photo_predictions: Sequence[dict[str, Any]]) -> ModelUrgency | None:
        """From the predictions of the case's usable photos (None when there is none from this model)."""
        mine = [p for p in photo_predictions if p and p.get("model") == self.version]
        if not mine:
            return None
        top = max(mine, key=lambda p: p["malignancy"])
        tier, score = tier_and_score(top["malignancy"], urgent=self.urgent, priority=self.priority)
        reason = (
            f"Photo model {self.version}: malignancy probability {top['malignancy']:.2f} "
            f"(urgent from {self.urgent:.2f}, priority from {self.priority:.2f})"
        )
        return ModelUrgency(score=score, tier=tier, version=self.version, reasons=(reason,))
