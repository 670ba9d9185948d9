"""Light: under- and overexposure from the luma histogram, and specular glare."""

from __future__ import annotations

import cv2
import numpy as np

from model.quality_checks.imaging import clip01, clipped


def _percentiles_u8(gray_u8: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Percentiles (0-100) of a uint8 image, as fractions of 255, from its histogram (fast)."""
    cdf = np.cumsum(cv2.calcHist([gray_u8], [0], None, [256], [0, 256]).ravel())
    cdf /= cdf[-1]
    return [float(np.searchsorted(cdf, q / 100.0)) / 255.0 for q in qs]


def underexposure_score(gray_u8: np.ndarray) -> float:
    """Brightness 0.5 x median + 0.5 x 99th percentile of luma; score = brightness / 0.4."""
    p50, p99 = _percentiles_u8(gray_u8, (50, 99))
    return clip01((0.5 * p50 + 0.5 * p99) / 0.4)


def overexposure_score(rgb: np.ndarray, gray_u8: np.ndarray) -> float:
    """1 - max(clipped share / 0.5, (5th-percentile luma - 0.6) / 0.35)."""
    lost = clipped(rgb)
    share = float(np.count_nonzero(lost)) / lost.size
    (p5,) = _percentiles_u8(gray_u8, (5,))
    return clip01(1.0 - max(share / 0.5, (p5 - 0.6) / 0.35))


def glare_fraction(rgb: np.ndarray) -> float:
    """Area share of specular highlights: nearly clipped (V >= 245), nearly white (S <= 70, every
    channel >= 215) blobs standing >= 25 levels above their surroundings (white top-hat with a disc of
    15 % of the long side), each at most 5 % of the frame (larger ones are overexposure)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    v = hsv[..., 2]
    k = max(3, round(max(v.shape) * 0.15)) | 1
    tophat = cv2.morphologyEx(v, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    near_white = np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]) >= 215
    cand = ((v >= 245) & (hsv[..., 1] <= 70) & (tophat >= 25) & near_white).astype(np.uint8)
    if not cand.any():
        return 0.0
    _, _, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return float(areas[areas <= 0.05 * cand.size].sum()) / cand.size


def glare_score(fraction: float) -> float:
    return clip01(1.0 - fraction / 0.014)
