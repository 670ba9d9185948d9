"""What the checks share: the analysis scales, resizing, brightness normalisation, score clipping."""

from __future__ import annotations

import cv2
import numpy as np

ANALYSIS_LONG_SIDE = 384
SEGMENT_LONG_SIDE = 128
GLARE_LONG_SIDE = 192


def clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def resize_long_side(img: np.ndarray, long_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    if scale == 1.0:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(img, size, interpolation=interp)


def normalise_brightness(rgb: np.ndarray) -> np.ndarray:
    """A dark image brightened (gain up to 4, so its median luma reaches 0.5), so that the colour-based
    checks (skin, lesion, colour cast) judge colours rather than exposure, which has its own check."""
    median = float(np.median(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))) / 255.0
    gain = min(4.0, 0.5 / max(median, 1e-3))
    if gain <= 1.0:
        return rgb
    return cv2.convertScaleAbs(rgb, alpha=gain)


def clipped(rgb: np.ndarray) -> np.ndarray:
    """Pixels that have lost their colour to clipping: any channel >= 250 (boolean HxW)."""
    return np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]) >= 250


def central(a: np.ndarray, keep: float = 0.7) -> np.ndarray:
    h, w = a.shape[:2]
    dy, dx = int(h * (1 - keep) / 2), int(w * (1 - keep) / 2)
    return a[dy : h - dy, dx : w - dx]
