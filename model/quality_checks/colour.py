"""Colour: the frame's colour cast, and how much of it is skin (YCrCb skin model)."""

from __future__ import annotations

import cv2
import numpy as np

from model.quality_checks.imaging import clip01, clipped


def colour_cast_score(lab: np.ndarray) -> float:
    """How far the frame's median CIELAB chroma (a*, b*) lies outside the region of skin photos in
    daylight: a* >= 0 (not green), b* >= 0 (not blue), chroma <= 38 (not strongly orange/yellow).
    score = 1 - excess / 6 (CIELAB units), so it fails beyond 3 units outside."""
    a = float(np.median(lab[..., 1]))
    b = float(np.median(lab[..., 2]))
    excess = max(float(np.hypot(max(-a, 0.0), max(-b, 0.0))), float(np.hypot(a, b)) - 38.0, 0.0)
    return clip01(1.0 - excess / 6.0)


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Inclusive skin-colour model in YCrCb (covers Fitzpatrick I-VI): boolean HxW."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycc[..., 0], ycc[..., 1].astype(np.int16), ycc[..., 2].astype(np.int16)
    return (y >= 20) & (y <= 250) & (cr >= 129) & (cr <= 180) & (cb >= 75) & (cb <= 133) & (cr - cb >= 6)


def skin_fraction(rgb: np.ndarray, unnormalised: np.ndarray | None = None) -> float:
    """Share of skin-coloured pixels among those that are not clipped (any channel >= 250 in
    ``unnormalised``, default ``rgb``): clipped pixels have lost their colour, and overexposure is its own
    check. When fewer than 10 % of the pixels keep their colour, skin cannot be judged and 1.0 is
    returned (the photo fails overexposure instead)."""
    base = rgb if unnormalised is None else unnormalised
    valid = ~clipped(base)
    n_valid = int(np.count_nonzero(valid))
    if n_valid < 0.1 * valid.size:
        return 1.0
    return float(np.count_nonzero(skin_mask(rgb) & valid)) / n_valid


def skin_score(fraction: float) -> float:
    return clip01(fraction / 0.6)
