"""Training data: manifest rows -> cached photos -> augmented copies; evaluation tensors.

Evaluation images go through exactly the serving path (``decode_reduced`` of the file's bytes,
then ``image_tensor``), so the probabilities tracked for a run are the ones serving computes.
Training images are decoded once, cached in memory at a little above the network's input size,
and augmented with albumentations from a seeded generator (same seed -> same copies).
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import numpy as np
from tqdm import tqdm

from data_pipelines.manifest import ImageRoots, ManifestRow
from model.contract import ImageInput
from model.decode import DEFAULT_TARGET_LONG_SIDE, decode_reduced
from model.model_input import image_tensor
from training.urgency.config import AugmentConfig


def _read(roots: ImageRoots, row: ManifestRow) -> bytes:
    return roots.file(row).read_bytes()


def serving_tensors(
    rows: Sequence[ManifestRow], roots: ImageRoots, spec: ImageInput, *, desc: str
) -> np.ndarray:
    """N x 3 x S x S float32 through the serving path."""
    out = np.empty((len(rows), 3, spec.size, spec.size), np.float32)
    for i, row in enumerate(tqdm(rows, desc=desc, unit="photo", leave=False)):
        decoded = decode_reduced(_read(roots, row), target_long_side=DEFAULT_TARGET_LONG_SIDE)
        out[i] = image_tensor(decoded.rgb, spec)
    return out


def cached_photos(
    rows: Sequence[ManifestRow], roots: ImageRoots, *, long_side: int, desc: str
) -> list[np.ndarray]:
    return [
        decode_reduced(_read(roots, row), target_long_side=long_side).rgb
        for row in tqdm(rows, desc=desc, unit="photo", leave=False)
    ]


def augmentation(cfg: AugmentConfig, size: int, seed: int) -> A.Compose:
    steps: list = [A.RandomResizedCrop(size=(size, size), scale=(cfg.scale_min, 1.0), ratio=(0.8, 1.25))]
    if cfg.flips:
        steps += [A.HorizontalFlip(), A.VerticalFlip(), A.RandomRotate90()]
    if cfg.rotate_deg:
        steps.append(A.Affine(rotate=(-cfg.rotate_deg, cfg.rotate_deg), p=0.5))
    if cfg.brightness_contrast:
        steps.append(A.RandomBrightnessContrast(cfg.brightness_contrast, cfg.brightness_contrast, p=0.5))
    if cfg.hue_saturation:
        steps.append(
            A.HueSaturationValue(cfg.hue_saturation, cfg.hue_saturation * 2, cfg.hue_saturation, p=0.3)
        )
    if cfg.blur_probability:
        steps.append(A.GaussianBlur(blur_limit=(3, 5), p=cfg.blur_probability))
    if cfg.jpeg_probability:
        steps.append(A.ImageCompression(quality_range=(cfg.jpeg_quality_min, 100), p=cfg.jpeg_probability))
    return A.Compose(steps, seed=seed)


def class_weights(y: np.ndarray, n_classes: int, scheme: str) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if scheme == "none":
        w = np.ones(n_classes)
    elif scheme in ("inverse", "inverse_sqrt"):
        inv = 1.0 / np.maximum(counts, 1.0)
        w = inv if scheme == "inverse" else np.sqrt(inv)
    else:
        raise ValueError(f"unknown class_weighting {scheme!r}")
    w = w * n_classes / w[counts > 0].sum()
    return w.astype(np.float32)
