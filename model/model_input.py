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


def full_frame(rgb: np.ndarray, size: int) -> np.ndarray:
    """The whole photo resized to ``size`` x ``size`` (area interpolation when shrinking): nothing is
    cropped, so what lies at the frame's edges (a lesion cut off, a finger) stays in view."""
    h, w = rgb.shape[:2]
    if (h, w) == (size, size):
        return rgb
    interp = cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
    return cv2.resize(rgb, (size, size), interpolation=interp)


RESIZERS = {"short_side_center_crop": square_crop, "full_frame": full_frame}


def image_tensor(rgb: np.ndarray, spec: ImageInput) -> np.ndarray:
    """One photo -> 3xSxS float32 as the contract describes."""
    resize = RESIZERS.get(spec.resize)
    if resize is None:
        raise ValueError(f"unknown resize {spec.resize!r}; known: {sorted(RESIZERS)}")
    return normalize(resize(rgb, spec.size), spec)
