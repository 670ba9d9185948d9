"""``QualityTrainConfig``: everything a quality-model training run depends on (YAML + ``key=value``;
loading, saving and resolving: :class:`training.config.RunConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from data_pipelines.degrade import DEFECTS
from data_pipelines.locations import default_data_dir
from model.quality_network import QualityNetConfig
from training.config import REPO_ROOT, RunConfig


def _default_network() -> QualityNetConfig:
    return QualityNetConfig(defects=tuple(d.value for d in DEFECTS))


@dataclass(frozen=True)
class QualityTrainConfig(RunConfig):
    #: what ``train quality --smoke`` sets (before the command's own overrides): the whole pipeline on
    #: a few photos, one epoch, a small pool
    smoke_overrides: ClassVar[tuple[str, ...]] = (
        "smoke=true",
        "limit=48",
        "epochs=1",
        "warmup_epochs=0",
        "pool_per_photo=2",
    )

    name: str = "quality"  # the model kind: names the experiment and the exported files
    seed: int = 0  # every random draw of the run (defects, augmentation)
    #: the raw data (default: $DERMATRIAGE_DATA_DIR or ../shared/data)
    data_dir: Path = field(default_factory=default_data_dir)
    #: the manifest of the images (built by ``dermatriage data build`` when missing)
    manifest: Path = REPO_ROOT / "var" / "data" / "manifest.csv"
    #: the PAD-UFES-20 fold of train patients held out for checkpoint selection and thresholds
    validation_fold: int = 0
    network: QualityNetConfig = field(default_factory=_default_network)
    #: degraded versions drawn per training photo (the training pool; each a random defect or clean)
    pool_per_photo: int = 12
    p_clean: float = 0.25  # share of the pool left untouched
    epochs: int = 8  # training epochs (promotion floor: PROMOTION_FLOORS)
    batch_size: int = 64  # photos per optimizer step
    lr: float = 1e-3  # head
    backbone_lr: float = 3e-4  # the fine-tuned blocks
    weight_decay: float = 1e-4  # AdamW weight decay
    warmup_epochs: int = 1  # epochs of linear learning-rate warm-up
    defect_loss_weight: float = 2.0  # weight of the per-defect severity loss beside the retake loss
    #: checkpoint selection on the validation set: "val_loss" (lowest) or "val_retake_auc" (highest)
    select_on: str = "val_loss"
    #: the retake threshold keeps the combined verdict's false-retake rate on the clean validation
    #: photos at or below this
    target_false_retake: float = 0.05
    threads: int = 2  # CPU threads of torch and ONNX Runtime
    workers: int = 2  # processes that draw the degraded photos
    device: str = "auto"  # "auto" (CUDA when there is one), "cpu" or "cuda"
    #: tests and smoke runs: at most this many training photos (the first of the split, each drawn
    #: pool_per_photo times) and at most this many validation images (a deterministic subset of the
    #: validation photos untouched and with every defect at every severity, taken in turn so that
    #: untouched photos and every defect appear: at least 1 + the number of defects, 12); null: all
    limit: int | None = None
    #: a smoke run: logged to the experiment ``dermatriage-<name>-smoke``, never registered
    smoke: bool = False
    registered_model: str = "dermatriage-quality"  # the MLflow registered model of the run
    output_dir: Path = REPO_ROOT / "var" / "runs"  # the run's folder: <output_dir>/<run id>

    def __post_init__(self) -> None:
        # the one rule (training.quality.data.min_limit), imported here: a config never exists with
        # a limit too small for validation images with an untouched photo and every defect
        from training.quality.data import min_limit

        if self.limit and self.limit < min_limit():
            raise ValueError(
                f"limit={self.limit} is too small for a quality run: its validation images must hold an "
                f"untouched photo and every defect, so limit >= {min_limit()}"
            )

    @classmethod
    def _sections(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "network" in data:
            data["network"] = QualityNetConfig.from_dict({**_default_network().to_dict(), **data["network"]})
        return data
