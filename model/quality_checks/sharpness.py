"""How much detail a photo holds: the original's resolution, and focus and motion blur (edge sharpness)."""

from __future__ import annotations

import cv2
import numpy as np

from model.quality_checks.imaging import central, clip01


def resolution_score(original_size: tuple[int, int]) -> float:
    """log2(short side / 128 px) / 3: 0 at 128 px, 0.3 at 238 px, 0.41 at 300 px, 1 at >= 1024 px."""
    short = min(int(original_size[0]), int(original_size[1]))
    if short <= 0:
        return 0.0
    return clip01(np.log2(short / 128.0) / 3.0)


_SHARP_WINDOW = 7
_N_ORIENT = 8


def directional_sharpness(gray: np.ndarray) -> tuple[float, float]:
    """(sharpest, blurriest) edge sharpness over 8 edge orientations, on the central 70 % of ``gray``.

    At each strong edge pixel (local maximum of the gradient, local range above max(0.02, half the
    97th percentile)) the sharpness is |gradient| / (max - min in a 7x7 window): 0.5 for an ideal step,
    about 0.4 / sigma for a step blurred by a Gaussian of sigma px, and independent of contrast, so dark
    or flat photos are not called blurred. Per orientation (structure-tensor orientation, 8 bins) the
    75th percentile is taken; orientations with fewer than 10 edge pixels are skipped.
    """
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) * 0.125
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) * 0.125
    mag = cv2.magnitude(gx, gy)
    kernel = np.ones((_SHARP_WINDOW, _SHARP_WINDOW), np.uint8)
    local_range = cv2.dilate(gray, kernel) - cv2.erode(gray, kernel)
    ox = cv2.GaussianBlur(gx * gx - gy * gy, (0, 0), 1.0)
    oy = cv2.GaussianBlur(2 * gx * gy, (0, 0), 1.0)
    mag, local_range, ox, oy = (central(x) for x in (mag, local_range, ox, oy))
    rmin = max(0.02, 0.5 * float(np.percentile(local_range, 97)))
    is_peak = mag >= cv2.dilate(mag, np.ones((3, 3), np.uint8))
    # the dominant edge of its window, not flat skin next to a strong edge (e.g. beside a hair)
    dominant = mag >= 0.5 * cv2.dilate(mag, kernel)
    sel = (local_range > rmin) & is_peak & dominant & (mag > 0)
    if not sel.any():
        return 0.0, 0.0
    ratio = mag[sel] / local_range[sel]
    angle = (np.arctan2(oy[sel], ox[sel]) * 0.5) % np.pi
    bins = np.floor(angle / np.pi * _N_ORIENT + 0.5).astype(np.int64) % _N_ORIENT
    per_bin = [
        float(np.percentile(ratio[bins == b], 75)) for b in range(_N_ORIENT) if (bins == b).sum() >= 10
    ]
    if not per_bin:
        return 0.0, 0.0
    return max(per_bin), min(per_bin)


def focus_score(sharpest: float) -> float:
    return clip01(sharpest / 0.5)


def motion_score(sharpest: float, blurriest: float) -> float:
    if sharpest <= 0:
        return 0.0
    return clip01(max(blurriest / 0.5, blurriest / sharpest - 0.37))
