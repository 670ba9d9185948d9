"""The learned image-quality model at inference time: ONNX Runtime, no torch.

``QualityModel(path).read(rgb)`` -> ``ModelReading``. Serving combines it with the classical checks and
the photo's modality in ``TriageEngine.judge_quality`` (``model.quality_verdict.combine``);
``dermatriage evaluate quality`` calls the same ``combine``, so the evaluation measures what serving does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.contract import ContractError
from model.model_input import image_tensor
from model.quality_verdict import DEFECTS, ModelReading, QualityPolicy
from model.runtime import OnnxModel


class QualityModel:
    def __init__(self, onnx_path: Path, *, threads: int = 1):
        self.model = OnnxModel(Path(onnx_path), threads=threads)
        contract = self.model.contract
        if contract.name != "quality" or {"retake", "defects"} - set(contract.outputs):
            raise ContractError(f"{Path(onnx_path).name} is not a quality model (outputs retake, defects)")
        self.defects = contract.outputs["defects"].labels
        unknown = set(self.defects) - set(DEFECTS)
        if unknown:
            raise ContractError(f"{contract.version}: defects {sorted(unknown)} have no patient instruction")
        self.version = contract.version
        self.policy = QualityPolicy.from_thresholds(contract.thresholds, self.defects)

    def read_batch(self, images: np.ndarray) -> list[ModelReading]:
        """images: N x 3 x S x S float32 (``image_tensor`` of each photo)."""
        out = self.model.run(images)
        return [
            ModelReading(
                version=self.version,
                retake=float(r),
                defects={d: float(p) for d, p in zip(self.defects, row, strict=True)},
            )
            for r, row in zip(out["retake"], out["defects"], strict=True)
        ]

    def read(self, rgb: np.ndarray) -> ModelReading:
        return self.read_batch(image_tensor(rgb, self.model.contract.image)[None])[0]

    def self_check(self) -> None:
        """One tiny inference (raises when the model cannot answer): for readiness checks."""
        self.model.self_check()
