"""``TrainConfig``: everything a training run depends on, from YAML plus ``key=value`` overrides.

Built once at the entry point, frozen, saved with the run (resolved: paths absolute, defaults
filled), so a run can be repeated from its logged config alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from data_pipelines.build import default_data_dir
from model.networks import NetworkConfig

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class AugmentConfig:
    scale_min: float = 0.5  # RandomResizedCrop area range
    flips: bool = True  # horizontal and vertical flips, 90-degree rotations (lesions have no up)
    rotate_deg: float = 20.0
    brightness_contrast: float = 0.15
    hue_saturation: int = 8
    blur_probability: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["network"] = self.network.to_dict()
        return _plain(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        if "network" in data:
            data["network"] = NetworkConfig.from_dict(data["network"])
        if "augment" in data:
            data["augment"] = AugmentConfig(**data["augment"])
        for key in ("data_dir", "manifest", "output_dir"):
            if key in data:
                data[key] = Path(data[key]).expanduser()
        for key in ("sources", "cv_folds"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    @classmethod
    def load(cls, path: Path | None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
        data = yaml.safe_load(Path(path).read_text()) if path else {}
        for item in overrides:
            key, _, raw = item.partition("=")
            if not _:
                raise ValueError(f"override {item!r} is not key=value")
            _set_dotted(data, key.strip(), yaml.safe_load(raw))
        return cls.from_dict(data or {}).resolved()

    def resolved(self) -> TrainConfig:
        def absolute(p: Path) -> Path:
            return p if p.is_absolute() else (REPO_ROOT / p).resolve()

        return replace(
            self,
            data_dir=absolute(self.data_dir),
            manifest=absolute(self.manifest),
            output_dir=absolute(self.output_dir),
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
