"""``ModelContract``: the one place that says what a model eats and returns.

Saved as JSON beside every exported ``.onnx``; training writes it, serving refuses a model whose
contract does not match the file (hash), the ONNX graph (input/output names and shapes) or this
code (the questionnaire feature layout).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model import features

CONTRACT_SCHEMA = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ContractError(ValueError):
    """A model and its contract (or this code) disagree."""


@dataclass(frozen=True)
class ImageInput:
    """How a photo becomes the image tensor: RGB, resized to ``size`` x ``size`` (``resize``:
    "short_side_center_crop" = shorter side to ``size``, centre crop; "full_frame" = the whole photo
    squeezed to the square, nothing cropped), scaled to [0, 1], normalized, NCHW float32."""

    name: str = "image"
    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    resize: str = "short_side_center_crop"


@dataclass(frozen=True)
class QuestionnaireInput:
    name: str = "questionnaire"
    encoding: str = features.ENCODING_VERSION
    features: tuple[str, ...] = features.FEATURE_NAMES
    #: the questions the model was trained to read; any other answer is encoded as unanswered
    #: (empty: every question)
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class Calibration:
    """How the network's logits become calibrated probabilities, inside the exported graph:
    ``logits / temperature``, plus ``malignant_shift`` on each malignant class. Fitted on
    out-of-fold predictions of train patients."""

    temperature: float = 1.0
    malignant_shift: float = 0.0


@dataclass(frozen=True)
class Output:
    name: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelContract:
    name: str  # e.g. "urgency"
    version: str  # e.g. "urgency-<run id>"
    image: ImageInput
    outputs: dict[str, Output]  # role -> output, e.g. {"diagnosis": ..., "malignancy": ...}
    questionnaire: QuestionnaireInput | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    calibration: Calibration | None = None
    onnx_sha256: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)  # run id, git sha, manifest hash, metrics
    schema: int = CONTRACT_SCHEMA

    # -- (de)serialization ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelContract:
        if data.get("schema") != CONTRACT_SCHEMA:
            raise ContractError(f"contract schema {data.get('schema')!r}; this code reads {CONTRACT_SCHEMA}")
        image = data["image"]
        q = data.get("questionnaire")
        return cls(
            name=data["name"],
            version=data["version"],
            image=ImageInput(**{**image, "mean": tuple(image["mean"]), "std": tuple(image["std"])}),
            outputs={
                k: Output(name=v["name"], labels=tuple(v["labels"])) for k, v in data["outputs"].items()
            },
            questionnaire=None
            if q is None
            else QuestionnaireInput(
                **{**q, "features": tuple(q["features"]), "reads": tuple(q.get("reads", ()))}
            ),
            thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()},
            calibration=Calibration(**data["calibration"]) if data.get("calibration") else None,
            onnx_sha256=data.get("onnx_sha256", ""),
            provenance=data.get("provenance", {}),
        )

    @classmethod
    def load(cls, path: Path) -> ModelContract:
        return cls.from_dict(json.loads(Path(path).read_text()))

    # -- checks -----------------------------------------------------------------------------

    def check_code(self) -> None:
        """This code encodes the questionnaire the way the model was trained to read it."""
        q = self.questionnaire
        if q is not None and (
            q.encoding != features.ENCODING_VERSION or q.features != features.FEATURE_NAMES
        ):
            raise ContractError(
                f"model {self.version} reads questionnaire encoding {q.encoding!r}; this code writes "
                f"{features.ENCODING_VERSION!r}"
            )

    def check_file(self, onnx_path: Path) -> None:
        digest = sha256_file(onnx_path)
        if self.onnx_sha256 and digest != self.onnx_sha256:
            raise ContractError(
                f"{onnx_path} has sha256 {digest[:12]}…, its contract expects {self.onnx_sha256[:12]}…"
            )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
