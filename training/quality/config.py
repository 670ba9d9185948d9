"""``QualityTrainConfig``: everything a quality-model training run depends on (YAML + ``key=value``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from data_pipelines.build import default_data_dir
from data_pipelines.degrade import DEFECTS
from model.quality_network import QualityNetConfig
from training.config import REPO_ROOT, _plain, _set_dotted


def _default_network() -> QualityNetConfig:
    return QualityNetConfig(defects=tuple(d.value for d in DEFECTS))


@dataclass(frozen=True)
class QualityTrainConfig:
    name: str = "quality"
    seed: int = 0
    data_dir: Path = field(default_factory=default_data_dir)
    manifest: Path = REPO_ROOT / "var" / "data" / "manifest.csv"
    #: the PAD-UFES-20 fold of train patients held out for checkpoint selection and thresholds
    validation_fold: int = 0
    network: QualityNetConfig = field(default_factory=_default_network)
    #: degraded versions drawn per training photo (the training pool; each a random defect or clean)
    pool_per_photo: int = 12
    p_clean: float = 0.25
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3  # head
    backbone_lr: float = 3e-4  # the fine-tuned blocks
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    defect_loss_weight: float = 2.0
    #: checkpoint selection on the validation set: "val_loss" (lowest) or "val_retake_auc" (highest)
    select_on: str = "val_loss"
    #: the retake threshold keeps the combined verdict's false-retake rate on the clean validation
    #: photos at or below this
    target_false_retake: float = 0.05
    threads: int = 2
    workers: int = 2  # processes that draw the degraded photos
    device: str = "auto"
    limit: int | None = None  # at most this many photos per split (tests and smoke runs)
    registered_model: str = "dermatriage-quality"
    output_dir: Path = REPO_ROOT / "var" / "runs"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["network"] = self.network.to_dict()
        return _plain(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityTrainConfig:
        data = dict(data)
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        if "network" in data:
            data["network"] = QualityNetConfig.from_dict({**_default_network().to_dict(), **data["network"]})
        for key in ("data_dir", "manifest", "output_dir"):
            if key in data:
                data[key] = Path(data[key]).expanduser()
        return cls(**data)

    @classmethod
    def load(cls, path: Path | None, overrides: list[str] | tuple[str, ...] = ()) -> QualityTrainConfig:
        data = yaml.safe_load(Path(path).read_text()) if path else {}
        data = data or {}
        for item in overrides:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ValueError(f"override {item!r} is not key=value")
            _set_dotted(data, key.strip(), yaml.safe_load(raw))
        cfg = cls.from_dict(data)

        def absolute(p: Path) -> Path:
            return p if p.is_absolute() else (REPO_ROOT / p).resolve()

        return replace(
            cfg,
            data_dir=absolute(cfg.data_dir),
            manifest=absolute(cfg.manifest),
            output_dir=absolute(cfg.output_dir),
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
