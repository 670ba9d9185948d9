"""Lesion masks of PAD-UFES-20 photos from ``pad_ufes_20/lesion_masked/`` (student-drawn, unverified).

Each masked photo has the original's framing with everything outside the lesion black (JPEG, so
thresholded, not tested for zero)."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from data_pipelines.locations import default_data_dir

#: A channel above this counts as lesion (JPEG leaves faint noise on the black background).
MASK_THRESHOLD = 20
#: Masks covering less / more of the frame than this are treated as missing (a stray dot, a failed mask).
MASK_AREA = (0.002, 0.9)


@lru_cache(maxsize=4)
def lesion_mask_files(data_dir: Path) -> dict[str, Path]:
    """img_id -> lesion-masked file, for the photos whose full photo is in ``images/`` (empty when the
    data folder has no lesion-masked photos)."""
    root = Path(data_dir) / "pad_ufes_20"
    if not (root / "lesion_masked.csv").exists():
        return {}
    with open(root / "lesion_masked.csv", newline="") as f:
        return {
            r["img_id"]: root / r["file"] for r in csv.DictReader(f) if r["full_photo_in_images"] == "yes"
        }


def read_lesion_mask(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """The boolean lesion mask of a masked photo at ``shape`` (H, W); None if unreadable or implausible."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    m = (bgr.max(axis=2) > MASK_THRESHOLD).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    m = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    return m if MASK_AREA[0] <= m.mean() <= MASK_AREA[1] else None


def load_lesion_mask(
    img_id: str, shape: tuple[int, int], *, data_dir: Path | None = None
) -> np.ndarray | None:
    """The lesion mask (HxW bool at ``shape``) of a PAD-UFES-20 photo, e.g. ``PAT_46_881_939.png``;
    None where the photo has no usable mask (then the degradations assume a central lesion)."""
    if data_dir is None:
        data_dir = default_data_dir()
    path = lesion_mask_files(Path(data_dir)).get(img_id)
    return None if path is None else read_lesion_mask(path, shape)
