"""``TrainConfig``: everything an urgency training run depends on, from YAML plus ``key=value``
overrides (loading, saving and resolving: :class:`training.config.RunConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_pipelines.locations import default_data_dir
from model.networks import NetworkConfig
from training.config import REPO_ROOT, RunConfig


@dataclass(frozen=True)
class AugmentConfig:
    scale_min: float = 0.5  # RandomResizedCrop area range
    flips: bool = True  # horizontal and vertical flips, 90-degree rotations (lesions have no up)
    rotate_deg: float = 20.0
    brightness_contrast: float = 0.15
    hue_saturation: int = 8
    blur_probability: float = 0.1


@dataclass(frozen=True)
class TrainConfig(RunConfig):
    tuple_fields = ("sources", "cv_folds")

    name: str = "urgency"
    seed: int = 0
    data_dir: Path = field(default_factory=default_data_dir)
    manifest: Path = REPO_ROOT / "var" / "data" / "manifest.csv"
    #: manifest sources trained on; validation and test always use the smartphone photos only
    sources: tuple[str, ...] = ("pad_ufes_20",)
    validation_fold: int = 0
    #: cross-validation: one member per listed fold (each validated on its fold), served as their average;
    #: empty = one network, validated on ``validation_fold``
    cv_folds: tuple[int, ...] = ()
    #: read every photo also flipped (horizontal, vertical, both) and average, inside the exported model
    tta_flips: bool = False
    network: NetworkConfig = field(default_factory=NetworkConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3  # head and questionnaire branch
    backbone_lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    label_smoothing: float = 0.05
    class_weighting: str = "inverse_sqrt"  # "inverse", "inverse_sqrt" or "none"
    malignancy_loss_weight: float = 0.5  # extra BCE on the summed malignant probability
    target_sensitivity: float = 0.95  # for the URGENT threshold, on validation data
    priority_sensitivity: float = 0.99  # for the PRIORITY threshold, on validation data
    select_on: str = "val_malignancy_auc"  # checkpoint selection metric (validation fold)
    threads: int = 2
    device: str = "auto"  # "auto", "cpu" or "cuda"
    limit: int | None = None  # at most this many rows per split (tests and smoke runs)
    n_bootstrap: int = 2000
    registered_model: str = "dermatriage-urgency"
    output_dir: Path = REPO_ROOT / "var" / "runs"

    @classmethod
    def _sections(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "network" in data:
            data["network"] = NetworkConfig.from_dict(data["network"])
        if "augment" in data:
            data["augment"] = AugmentConfig(**data["augment"])
        return data
