"""Shared helpers: linear light, JPEG round trips, per-severity draws, the lesion region, skin colour."""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from data_pipelines.degrade.spec import Severity

#: Range of a parameter per severity: (low, high), drawn uniformly.
Ranges = Mapping[Severity, tuple[float, float]]

#: JPEG quality of the final "upload" round trip every defect except jpeg_compression ends with.
UPLOAD_QUALITY = (85, 95)
#: Radius (fraction of the long side) of the lesion assumed at the centre when there is no mask.
DEFAULT_LESION_RADIUS = 0.16


def draw(rng: np.random.Generator, ranges: Ranges, severity: Severity) -> float:
    lo, hi = ranges[severity]
    return float(rng.uniform(lo, hi))


def _srgb_decode(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _srgb_encode(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)


_DECODE = _srgb_decode(np.arange(256) / 255.0).astype(np.float32)
_ENCODE_STEPS = 1 << 16  # linear light quantized to 16 bits before the table look-up: < 0.1 level error
_ENCODE = np.clip(
    np.round(_srgb_encode(np.arange(_ENCODE_STEPS) / (_ENCODE_STEPS - 1)) * 255), 0, 255
).astype(np.uint8)


def to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 linear light in [0, 1]."""
    return _DECODE[rgb]


def to_srgb(lin: np.ndarray) -> np.ndarray:
    """float linear light -> uint8 sRGB (clipped)."""
    idx = np.clip(lin * (_ENCODE_STEPS - 1) + 0.5, 0, _ENCODE_STEPS - 1).astype(np.int32)
    return _ENCODE[idx]


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def jpeg_roundtrip(rgb: np.ndarray, quality: int, *, subsampling: str = "420") -> np.ndarray:
    """Encode as JPEG with OpenCV and decode again (RGB in, RGB out)."""
    factor = (
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444 if subsampling == "444" else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420
    )
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 array
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def upload(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The phone's own JPEG (quality 85-95): every photo, clean or not, has been through one."""
    quality = int(rng.integers(UPLOAD_QUALITY[0], UPLOAD_QUALITY[1] + 1))
    return jpeg_roundtrip(rgb, quality), quality


def lesion_region(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """The lesion as a boolean HxW mask: the given mask (resized to ``shape``) or, without one, a disc
    of radius DEFAULT_LESION_RADIUS * long side at the centre."""
    h, w = shape
    if mask is not None and mask.any():
        m = mask.astype(np.uint8)
        if m.shape != (h, w):
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
        if m.any():
            return m > 0
    yy, xx = np.mgrid[0:h, 0:w]
    r = DEFAULT_LESION_RADIUS * max(h, w)
    return (xx - (w - 1) / 2) ** 2 + (yy - (h - 1) / 2) ** 2 <= r * r


def lesion_box(lesion: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """(cx, cy, x0, y0, x1, y1) of a boolean lesion mask."""
    ys, xs = np.nonzero(lesion)
    return (
        float(xs.mean()),
        float(ys.mean()),
        float(xs.min()),
        float(ys.min()),
        float(xs.max()),
        float(ys.max()),
    )


def skin_colour(rgb: np.ndarray, lesion: np.ndarray) -> np.ndarray:
    """The median colour (float RGB) of the photo outside the lesion, grown a little."""
    grow = max(3, int(0.03 * max(lesion.shape)))
    around = cv2.dilate(lesion.astype(np.uint8), np.ones((grow, grow), np.uint8)) > 0
    pixels = rgb[~around] if (~around).sum() > 16 else rgb.reshape(-1, 3)
    return np.median(pixels.reshape(-1, 3), axis=0).astype(np.float32)


def smooth_field(rng: np.random.Generator, h: int, w: int, cells: float) -> np.ndarray:
    """Smooth random field in [0, 1] with about ``cells`` blobs along the long side."""
    n = max(2, int(round(cells)))
    gh, gw = max(2, int(round(n * h / max(h, w)))), max(2, int(round(n * w / max(h, w))))
    small = rng.normal(0.0, 1.0, (gh, gw)).astype(np.float32)
    f = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return (f - f.min()) / (float(np.ptp(f)) + 1e-6)


def soft_disc_kernel(radius: float) -> np.ndarray:
    """A normalized disc (lens aperture) kernel with an anti-aliased rim."""
    n = int(np.ceil(radius)) + 1
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1].astype(np.float32)
    k = np.clip(radius + 0.5 - np.hypot(xx, yy), 0.0, 1.0)
    return (k / k.sum()).astype(np.float32)
