"""The image-quality network: a small timm backbone reading the whole photo, with one output for the
overall verdict (should the patient retake it?) and one per defect (how badly is it blurred, dark,
obstructed, ...).

Training and export only (imports torch and timm); serving runs the exported ONNX through
``model.quality_model`` and never imports torch.

Outputs (logits in torch, probabilities after export):

* ``retake``: P(a dermatologist could not judge the photo) — trained on "a moderate or severe defect
  was applied" (mild defects and untouched photos are acceptable);
* ``defects``: one sigmoid per defect of ``data_pipelines.degrade.Defect``, trained towards the
  applied severity (mild 1/3, moderate 2/3, severe 1; 0 for the defects not applied), so each reads
  as an estimated severity and the defects of one photo can be ranked by it.

The early layers (stem + the first ``frozen_blocks`` blocks) keep their ImageNet weights: they are
low-level edge, texture and colour detectors, which is what blur, noise, compression and exposure
change; the rest is fine-tuned. Training computes the frozen part once per training image
(``features``) and trains ``head_from_features``; the exported graph runs both.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from model.contract import ImageInput, ModelContract, Output, sha256_file
from model.export import write_onnx
from model.networks import IMAGENET_BACKBONES, load_imagenet_weights

RETAKE_OUTPUT = "retake_prob"
DEFECTS_OUTPUT = "defect_probs"
IMAGE_INPUT = "image"


@dataclass(frozen=True)
class QualityNetConfig:
    #: the defects (``data_pipelines.degrade.Defect`` values) with a severity output each, in output
    #: order; training draws every defect, so all must be listed
    defects: tuple[str, ...]
    #: the timm model name of the backbone (an EfficientNet-style one: ``conv_stem``, ``blocks``)
    backbone: str = "tf_efficientnet_lite0"
    pretrained: bool = True  # ImageNet weights from the package; only for IMAGENET_BACKBONES
    #: side in pixels of the square image input (the whole photo squeezed to it, nothing cropped); >= 32
    image_size: int = 224
    frozen_blocks: int = 3  # stem + this many of the backbone's blocks keep their ImageNet weights
    #: dropout probability before the output layer; in [0, 1)
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if len(set(self.defects)) != len(self.defects) or not self.defects:
            raise ValueError("defects must be distinct and non-empty")
        if self.pretrained and self.backbone not in IMAGENET_BACKBONES:
            raise ValueError(f"pretrained weights exist only for {IMAGENET_BACKBONES}")
        if self.image_size < 32 or self.frozen_blocks < 0 or not 0 <= self.dropout < 1:
            raise ValueError("image_size >= 32, frozen_blocks >= 0, 0 <= dropout < 1 required")

    def image_input(self) -> ImageInput:
        return ImageInput(size=self.image_size, resize="full_frame")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["defects"] = list(self.defects)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityNetConfig:
        extra = set(data) - {f.name for f in fields(cls)}
        if extra:
            raise ValueError(f"unknown QualityNetConfig fields {sorted(extra)}")
        return cls(**{**data, "defects": tuple(data["defects"])})


class QualityNet(nn.Module):
    def __init__(self, cfg: QualityNetConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = timm.create_model(cfg.backbone, pretrained=False, num_classes=0)
        if cfg.frozen_blocks > len(self.backbone.blocks):
            raise ValueError(f"{cfg.backbone} has {len(self.backbone.blocks)} blocks")
        self.head = nn.Sequential(
            nn.Dropout(cfg.dropout), nn.Linear(int(self.backbone.num_features), 1 + len(cfg.defects))
        )
        for p in self.frozen_parameters():
            p.requires_grad_(False)

    def _frozen_modules(self) -> list[nn.Module]:
        b = self.backbone
        return [b.conv_stem, b.bn1, *b.blocks[: self.cfg.frozen_blocks]]

    def frozen_parameters(self) -> list[nn.Parameter]:
        return [p for m in self._frozen_modules() for p in m.parameters()]

    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(the fine-tuned backbone parameters, the head) — trained with different learning rates."""
        head = list(self.head.parameters())
        ids = {id(p) for p in head}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in ids], head

    def train(self, mode: bool = True) -> QualityNet:
        super().train(mode)
        for m in self._frozen_modules():
            m.train(False)  # frozen BatchNorm keeps its ImageNet statistics
        return self

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """The frozen part's output (fixed during training, so computed once per training image)."""
        h = self.backbone.bn1(self.backbone.conv_stem(image))
        for block in self.backbone.blocks[: self.cfg.frozen_blocks]:
            h = block(h)
        return h

    def head_from_features(self, h: torch.Tensor) -> torch.Tensor:
        b = self.backbone
        for block in b.blocks[self.cfg.frozen_blocks :]:
            h = block(h)
        h = b.global_pool(b.bn2(b.conv_head(h)))
        return self.head(h)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1 + D): column 0 = retake, then one per defect."""
        return self.head_from_features(self.features(image))


def build_quality_network(cfg: QualityNetConfig, *, seed: int | None = None) -> QualityNet:
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        net = QualityNet(cfg)
    if cfg.pretrained:
        load_imagenet_weights(net.backbone)
    return net


class QualityExportWrapper(nn.Module):
    """image -> (retake probability (N,), defect probabilities (N, D)); always in eval mode."""

    def __init__(self, net: QualityNet):
        super().__init__()
        self.net = copy.deepcopy(net).float().cpu().eval()

    def train(self, mode: bool = True) -> QualityExportWrapper:  # noqa: ARG002 - always eval
        return super().train(False)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.sigmoid(self.net(image).float())
        return p[:, 0], p[:, 1:]


def export_quality_onnx(
    net: QualityNet,
    out_path: Path,
    *,
    version: str,
    thresholds: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> ModelContract:
    """Write ``out_path`` (.onnx) and its contract beside it (.json); returns the contract."""
    cfg = net.cfg
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    size = cfg.image_size
    write_onnx(
        QualityExportWrapper(net),
        (torch.zeros(2, 3, size, size),),
        out_path,
        inputs=[IMAGE_INPUT],
        outputs=[RETAKE_OUTPUT, DEFECTS_OUTPUT],
        doc=f"quality {version}",
    )
    provenance = {"network": cfg.to_dict(), **(provenance or {})}
    contract = ModelContract(
        name="quality",
        version=version,
        image=cfg.image_input(),
        outputs={"retake": Output(RETAKE_OUTPUT), "defects": Output(DEFECTS_OUTPUT, tuple(cfg.defects))},
        thresholds=dict(thresholds or {}),
        provenance=provenance,
    )
    contract = replace(contract, onnx_sha256=sha256_file(out_path))
    contract.save(out_path.with_suffix(".json"))
    return contract
