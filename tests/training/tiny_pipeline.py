"""A tiny, learnable stand-in for PAD-UFES-20 that the tests make: lesion photos whose colour and
size depend on the diagnosis, questionnaires, a manifest with patient-grouped folds and a test split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from factories import encode, skin_photo

from data_pipelines.manifest import ManifestRow, is_malignant, write_manifest
from model.networks import NetworkConfig
from training.urgency.config import AugmentConfig, TrainConfig

LABELS = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
SKIN = {
    "ACK": (214, 160, 140),
    "BCC": (205, 150, 150),
    "MEL": (200, 160, 130),
    "NEV": (220, 175, 150),
    "SCC": (190, 140, 120),
    "SEK": (210, 170, 135),
}


def make_dataset(root: Path, *, per_class: int = 6) -> Path:
    """Photos under root/pad_ufes_20/images and a manifest at root/manifest.csv; returns the manifest."""
    images = root / "pad_ufes_20" / "images"
    images.mkdir(parents=True)
    rows = []
    for c, label in enumerate(LABELS):
        for i in range(per_class):
            n = c * per_class + i
            rgb = skin_photo((160, 120), seed=n, skin=SKIN[label], lesion_scale=0.12 + 0.03 * c)
            data = encode(rgb)
            path = images / f"PAT_{n}_{n}_{n}.jpg"
            path.write_bytes(data)
            test = i >= per_class - 2
            rows.append(
                ManifestRow(
                    image_id=path.stem,
                    path=str(path.relative_to(root)),
                    sha256=hashlib.sha256(data).hexdigest(),
                    source="pad_ufes_20",
                    modality="smartphone",
                    patient_id=f"PAT_{n}",
                    lesion_id=str(n),
                    diagnosis=label,
                    malignant=is_malignant(label),
                    biopsied=True,
                    questionnaire=_answers(label, c, n),
                    split="test" if test else "train",
                    fold=-1 if test else i % 2,
                    width=160,
                    height=120,
                )
            )
    return write_manifest(rows, root / "manifest.csv")


def _answers(label: str, c: int, n: int) -> dict:
    """Every question PAD-UFES-20 asks; like its first collection phase, some benign photos leave
    sex, Fitzpatrick type, size and skin-cancer history blank."""
    answers = {
        "age": 30 + 8 * c,
        "sex": ("female", "male")[n % 2],
        "body_site": ("face", "back", "arm")[n % 3],
        "fitzpatrick": 1 + n % 3,
        "size_mm": float(4 + 2 * c),
        "skin_cancer_history": n % 4 == 0,
        "itch": n % 3 == 0,
        "pain": False,
        "bleeding": label in ("BCC", "SCC"),
        "grew": c % 2 == 0,
        "changed": n % 5 == 0,
        "elevated": label in ("BCC", "SCC", "SEK"),
    }
    if not is_malignant(label) and n % 2 == 0:
        for question in ("sex", "fitzpatrick", "size_mm", "skin_cancer_history"):
            del answers[question]
    return answers


def tiny_run_settings(root: Path) -> dict:
    """What a tiny training run of either model needs: the dataset under ``root``, two short epochs."""
    return {
        "data_dir": root,
        "manifest": root / "manifest.csv",
        "output_dir": root / "runs",
        "epochs": 2,
        "batch_size": 8,
        "warmup_epochs": 0,
        "threads": 1,
    }


def tiny_config(root: Path, **overrides) -> TrainConfig:
    cfg = TrainConfig(
        seed=0,
        validation_fold=0,
        network=NetworkConfig(
            backbone="test_efficientnet",
            pretrained=False,
            image_size=64,
            q_hidden=16,
            drop_path_rate=0.0,
            train_from_block=2,
        ),
        augment=AugmentConfig(scale_min=0.7, rotate_deg=0, blur_probability=0.0),
        views_per_photo=2,
        complete_draws=2,
        n_bootstrap=50,
        registered_model="tiny-urgency",
        **tiny_run_settings(root),
    )
    return cfg.__class__(**{**cfg.__dict__, **overrides}) if overrides else cfg


def reference_probabilities(csv_path: Path) -> dict[str, np.ndarray]:
    import csv

    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    return {r["image_id"]: np.asarray([float(r[f"p_{label}"]) for label in LABELS]) for r in rows}


def shipped_bundle(workspace: Path, store: Path, folder: Path, **overrides) -> Path:
    """A bundled model for a promotion test: a tiny run's model folder (``tiny_config(workspace,
    **overrides)``), trained in a tracking store of its own (``store``, thrown away) and copied into
    ``folder`` as ``model/artifacts/`` holds it; returns ``folder``."""
    import os
    import shutil

    from training.urgency.train import train

    store.parent.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
    try:
        run = train(tiny_config(workspace, **overrides), progress=False)
    finally:
        if before is None:
            del os.environ["MLFLOW_TRACKING_URI"]
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before
    folder.mkdir(parents=True, exist_ok=True)
    for path in run.onnx_path.parent.iterdir():
        shutil.copy2(path, folder / path.name)
    return folder


def evaluate_tiny_quality(run, workspace: Path, out_dir: Path, **options):
    """``evaluate quality`` of a tiny quality run's model on the tiny test split (fixed seed, one
    worker, no progress bars)."""
    from training.quality.evaluate import run_evaluation

    return run_evaluation(
        model_path=run.onnx_path,
        manifest=workspace / "manifest.csv",
        data_dir=workspace,
        out_dir=out_dir,
        seed=5,
        workers=1,
        progress=False,
        **options,
    )
