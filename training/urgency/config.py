"""``TrainConfig``: everything an urgency training run depends on, from YAML plus ``key=value``
overrides (loading, saving and resolving: :class:`training.config.RunConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from data_pipelines.locations import default_data_dir
from data_pipelines.manifest import ImageRoots
from model.networks import NetworkConfig
from training.config import REPO_ROOT, RunConfig


@dataclass(frozen=True)
class AugmentConfig:
    scale_min: float = 0.5  # RandomResizedCrop area range
    flips: bool = True  # horizontal and vertical flips, 90-degree rotations (lesions have no up)
    #: largest rotation in degrees (either way), applied to half of the photos; 0: none
    rotate_deg: float = 20.0
    #: largest relative change of brightness and of contrast (either way), applied to half of the
    #: photos; 0: none
    brightness_contrast: float = 0.15
    #: largest hue and value shift (either way; saturation: twice this), in albumentations
    #: HueSaturationValue units on 8-bit HSV, applied to 30% of the photos; 0: none
    hue_saturation: int = 8
    #: probability of a Gaussian blur (kernel 3 or 5 pixels); 0: none
    blur_probability: float = 0.1
    jpeg_probability: float = 0.3  # re-compressed as a phone or an app may do
    #: lowest quality of the JPEG re-compression (its quality is drawn from this to 100)
    jpeg_quality_min: int = 60


@dataclass(frozen=True)
class TrainConfig(RunConfig):
    tuple_fields = ("sources", "cv_folds", "external_sources")
    path_fields = RunConfig.path_fields + ("label_export",)
    #: what ``train urgency --smoke`` sets (before the command's own overrides): the whole pipeline on
    #: a few photos, one epoch, no cross-validation members, rough intervals
    smoke_overrides: ClassVar[tuple[str, ...]] = (
        "smoke=true",
        "limit=48",
        "epochs=1",
        "warmup_epochs=0",
        "n_bootstrap=100",
        "cv_folds=[]",
        "views_per_photo=1",
        "complete_draws=1",
        "harmless_changes=false",
        "external_sources=[]",
    )

    name: str = "urgency"  # the model kind: names the experiment and the exported files
    seed: int = 0  # every random draw of the run (augmentation, answers, bootstrap)
    #: the raw data (default: $DERMATRIAGE_DATA_DIR or ../shared/data)
    data_dir: Path = field(default_factory=default_data_dir)
    #: the manifest of the images (built by ``dermatriage data build`` when missing)
    manifest: Path = REPO_ROOT / "var" / "data" / "manifest.csv"
    #: a folder written by ``dermatriage data export-labels``: its rows (source ``dermatriage_service``)
    #: join the manifest's; train on them by listing that source in ``sources``
    label_export: Path | None = None
    #: manifest sources trained on (a lesion-masked photo whose full photo is a training photo is left
    #: out); out-of-fold predictions and the test always use the smartphone photos only
    sources: tuple[str, ...] = ("pad_ufes_20",)
    #: one member per listed fold, fitted without it: its predictions on that fold are out-of-fold
    #: (calibration and thresholds are chosen on them); empty = ``validation_fold`` alone
    cv_folds: tuple[int, ...] = ()
    validation_fold: int = 0  # the fold of train patients held out when ``cv_folds`` is empty
    #: evaluated as out-of-domain images (never trained on), e.g. HAM10000 (non-commercial)
    external_sources: tuple[str, ...] = ()
    network: NetworkConfig = field(default_factory=NetworkConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    #: augmented copies of every training photo put through the frozen trunk once
    views_per_photo: int = 4
    #: a training photo's answers: each question blanked with this probability, or all of them
    blank_question: float = 0.15
    blank_all: float = 0.2  # the whole questionnaire blanked with this probability
    #: the complete view of the test photos: this many seeded draws of the blank answers
    complete_draws: int = 3
    #: judge the tier under harmless changes (JPEG re-saves, a rotation, brightness)
    harmless_changes: bool = True
    epochs: int = 5  # epochs of every network of the run (promotion floor: PROMOTION_FLOORS)
    batch_size: int = 32  # photos per optimizer step
    lr: float = 1e-3  # head and questionnaire branch
    backbone_lr: float = 3e-4  # the trained blocks of the backbone
    weight_decay: float = 1e-4  # AdamW weight decay
    warmup_epochs: int = 1  # epochs of linear learning-rate warm-up before the cosine decay
    label_smoothing: float = 0.05  # of the 6-class cross-entropy
    class_weighting: str = "inverse_sqrt"  # "inverse", "inverse_sqrt" or "none"
    malignancy_loss_weight: float = 0.5  # extra BCE on the summed malignant probability
    #: weight of the symmetric KL between the readings of two augmented copies of a photo (0: one copy
    #: per photo and step, as before)
    consistency: float = 0.0
    target_sensitivity: float = 0.95  # for the URGENT threshold, on out-of-fold predictions
    priority_sensitivity: float = 0.99  # for the PRIORITY threshold, on out-of-fold predictions
    threads: int = 2  # CPU threads of torch and ONNX Runtime
    limit: int | None = None  # at most this many rows per split (tests and smoke runs)
    #: patient-level bootstrap resamples of every test interval (fewer: a smoke run, never promoted)
    n_bootstrap: int = 2000
    #: a smoke run: logged to the experiment ``dermatriage-<name>-smoke``, never registered
    smoke: bool = False
    registered_model: str = "dermatriage-urgency"  # the MLflow registered model of the run
    output_dir: Path = REPO_ROOT / "var" / "runs"  # the run's folder: <output_dir>/<run id>

    def image_roots(self) -> ImageRoots:
        """Where each row's file is (the data dir, or the label export for the service's rows)."""
        return ImageRoots(self.data_dir, self.label_export)

    @classmethod
    def _sections(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "network" in data:
            data["network"] = NetworkConfig.from_dict(data["network"])
        if "augment" in data:
            data["augment"] = AugmentConfig(**data["augment"])
        return data
