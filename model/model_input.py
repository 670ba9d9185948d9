"""Photo -> the image tensor a model's contract asks for (numpy/OpenCV; used by training's
evaluation, by export's parity check and by serving, so all three feed the model the same way)."""

from __future__ import annotations

import cv2
import numpy as np

from model.contract import ImageInput


def square_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """Shorter side resized to ``size`` (area interpolation when shrinking), centre crop."""
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    if scale != 1.0:
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        rgb = cv2.resize(
            rgb, (max(size, round(w * scale)), max(size, round(h * scale))), interpolation=interp
        )
    h, w = rgb.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return rgb[top : top + size, left : left + size]


def normalize(rgb: np.ndarray, spec: ImageInput) -> np.ndarray:
    """HxWx3 uint8 RGB (already ``spec.size`` square) -> 3xHxW float32, normalized."""
    x = rgb.astype(np.float32) * (1.0 / 255.0)
    x = (x - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def image_tensor(rgb: np.ndarray, spec: ImageInput) -> np.ndarray:
    """One photo -> 3xSxS float32 as the contract describes."""
    if spec.resize != "short_side_center_crop":
        raise ValueError(f"unknown resize {spec.resize!r}")
    return normalize(square_crop(rgb, spec.size), spec)
