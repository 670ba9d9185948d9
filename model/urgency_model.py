"""The learned urgency model at inference time: ONNX Runtime, no torch.

``UrgencyModel(path).predict_photo(rgb, questionnaire)`` gives one photo's diagnosis and malignancy
probabilities (stored with the photo, so a case can be re-triaged without decoding its earlier
photos). What they mean for the case's tier is the triage's business: ``model.triage.learned``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model import features
from model.model_input import image_tensor
from model.questionnaire import Questionnaire
from model.runtime import OnnxModel


class UrgencyModel:
    def __init__(self, onnx_path: Path, *, threads: int = 1):
        self.model = OnnxModel(onnx_path, threads=threads)
        contract = self.model.contract
        missing = {"urgent", "priority"} - set(contract.thresholds)
        if missing:
            raise ValueError(f"{Path(onnx_path).name}: contract has no {sorted(missing)} threshold")
        self.version = contract.version
        self.labels = contract.outputs["diagnosis"].labels
        #: the malignancy probabilities from which a photo makes its case URGENT / PRIORITY
        self.urgent = contract.thresholds["urgent"]
        self.priority = contract.thresholds["priority"]

    def predict_photo(self, rgb: np.ndarray, questionnaire: Questionnaire) -> dict[str, Any]:
        image = image_tensor(rgb, self.model.contract.image)[None]
        q = features.encode(questionnaire, reads=self.model.contract.questionnaire.reads)[None]
        out = self.model.run(image, q)
        return {
            "model": self.version,
            "malignancy": round(float(out["malignancy"][0]), 6),
            "diagnosis": {
                label: round(float(p), 6) for label, p in zip(self.labels, out["diagnosis"][0], strict=True)
            },
        }

    def self_check(self) -> None:
        """One tiny inference (raises when the model cannot answer): for readiness checks."""
        self.model.self_check()
