"""Defects of the optics and the file: defocus, motion blur, heavy JPEG, low resolution.

Sizes are fractions of the photo's long side L, so a 300 px and a 3000 px photo look alike."""

from __future__ import annotations

import cv2
import numpy as np

from data_pipelines.degrade._common import draw, jpeg_roundtrip, soft_disc_kernel
from data_pipelines.degrade.spec import Severity

S = Severity
#: Disc (aperture) radius, fraction of L (300 px photo: mild ~2 px, moderate ~5 px, severe ~11 px).
DEFOCUS_RADIUS = {S.mild: (0.005, 0.008), S.moderate: (0.014, 0.020), S.severe: (0.030, 0.045)}
#: Length of the shake path, fraction of L.
MOTION_LENGTH = {S.mild: (0.010, 0.015), S.moderate: (0.035, 0.045), S.severe: (0.065, 0.09)}
#: JPEG quality of the re-encoding.
JPEG_QUALITY = {S.mild: (35, 50), S.moderate: (10, 16), S.severe: (3, 7)}
#: Downscale factor of the long side.
LOW_RES_FACTOR = {S.mild: (0.75, 0.85), S.moderate: (0.40, 0.50), S.severe: (0.20, 0.30)}


def defocus_blur(rgb, rng, severity, lesion):
    """Out of focus: a lens (disc) blur plus a slight Gaussian for the lens' softness."""
    long_side = max(rgb.shape[:2])
    radius_frac = draw(rng, DEFOCUS_RADIUS, severity)
    radius = radius_frac * long_side
    out = cv2.filter2D(rgb.astype(np.float32), -1, soft_disc_kernel(radius), borderType=cv2.BORDER_REFLECT)
    sigma = float(rng.uniform(0.15, 0.3)) * radius
    out = cv2.GaussianBlur(out, (0, 0), sigma)
    return out, {"radius_frac": round(radius_frac, 5), "gauss_sigma_frac": round(sigma / long_side, 5)}


def motion_kernel(length: float, angle: float, bend: float) -> np.ndarray:
    """A shake path of ``length`` px at ``angle`` (radians), bent sideways by ``bend`` x length."""
    n = int(np.ceil(length / 2 + abs(bend) * length)) + 2
    t = np.linspace(-0.5, 0.5, max(8, int(6 * length)))
    d, p = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    pts = length * (t[:, None] * d + bend * (t[:, None] ** 2 - 1 / 12) * 4 * p) + n
    k = np.zeros((2 * n + 1, 2 * n + 1), np.float32)
    x0, y0 = np.floor(pts[:, 0]).astype(int), np.floor(pts[:, 1]).astype(int)
    fx, fy = pts[:, 0] - x0, pts[:, 1] - y0
    for dx, dy, wgt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(k, (y0 + dy, x0 + dx), wgt.astype(np.float32))
    return k / k.sum()


def motion_blur(rgb, rng, severity, lesion):
    """Camera shake during the exposure: a linear, slightly curved path at a random angle."""
    long_side = max(rgb.shape[:2])
    length_frac = draw(rng, MOTION_LENGTH, severity)
    angle = float(rng.uniform(0.0, np.pi))
    bend = float(rng.uniform(-0.15, 0.15))
    kernel = motion_kernel(max(1.0, length_frac * long_side), angle, bend)
    out = cv2.filter2D(rgb.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    return out, {
        "length_frac": round(length_frac, 5),
        "angle_deg": round(np.degrees(angle), 1),
        "bend": round(bend, 3),
    }


def jpeg_compression(rgb, rng, severity, lesion):
    """Re-encoded at a low quality (a messaging app, a "save space" setting): blocks and ringing."""
    lo, hi = JPEG_QUALITY[severity]
    quality = int(rng.integers(lo, hi + 1))
    subsampling = "420" if severity != S.mild or rng.random() < 0.7 else "444"
    return jpeg_roundtrip(rgb, quality, subsampling=subsampling), {
        "quality": quality,
        "subsampling": subsampling,
    }


def low_resolution(rgb, rng, severity, lesion, variant=None):
    """Too few pixels: sent as a small thumbnail ("sent_small", returned small) or a digital zoom /
    upscaled thumbnail ("upscaled", downscaled then enlarged back to the original size)."""
    h, w = rgb.shape[:2]
    factor = draw(rng, LOW_RES_FACTOR, severity)
    drawn = "sent_small" if rng.random() < 0.5 else "upscaled"
    variant = variant or drawn
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    params = {"variant": variant, "factor": round(factor, 4), "width": size[0], "height": size[1]}
    if variant == "sent_small":
        return small, params
    interp = ("linear", "cubic")[int(rng.integers(2))]
    flag = cv2.INTER_LINEAR if interp == "linear" else cv2.INTER_CUBIC
    params.update(upscale=interp, width=w, height=h)
    return cv2.resize(small, (w, h), interpolation=flag), params
