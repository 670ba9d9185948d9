"""Photos the tests make: phone-like skin photos with a lesion, their defects, and broken files."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

SKIN_LIGHT = (214, 168, 142)
SKIN_DARK = (96, 64, 48)


def skin_photo(
    size: tuple[int, int] = (800, 600), *, seed: int = 0, skin=SKIN_LIGHT, lesion_scale: float = 0.22
) -> np.ndarray:
    """An RGB skin close-up: shaded, textured skin with a dark, irregular, textured lesion in the middle."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 1.0 - 0.12 * ((xx / w - 0.4) ** 2 + (yy / h - 0.45) ** 2)
    img = np.array(skin, np.float32)[None, None, :] * shade[..., None]
    pores = cv2.GaussianBlur(rng.normal(0, 9, (h, w)).astype(np.float32), (0, 0), 1.2)
    img += pores[..., None]
    # blotchy redness (vessels, erythema): real skin's colours do not lie on one line
    red = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), min(w, h) / 25)
    red *= 14 / max(1e-6, float(red.std()))
    img += red[..., None] * np.array([1.0, -0.45, -0.2], np.float32)
    # the lesion: an irregular ellipse, darker and browner, with a mottled inside and a crisp border
    angle = np.arctan2(yy - h / 2, xx - w / 2)
    radius = np.hypot((xx - w / 2) / 1.3, yy - h / 2)
    edge = min(w, h) * lesion_scale * (1 + 0.12 * np.sin(5 * angle) + 0.06 * np.cos(3 * angle + 1))
    inside = radius < edge
    mottle = cv2.GaussianBlur(rng.normal(0, 25, (h, w)).astype(np.float32), (0, 0), 3)
    lesion = np.array([95, 60, 45], np.float32)[None, None, :] + mottle[..., None]
    img[inside] = lesion[inside] * (skin[0] / 214) + img[inside] * 0.15
    # a few hairs: thin dark lines give the photo real edges
    for _ in range(12):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(-w // 4, w // 4), y0 + rng.integers(-h // 4, h // 4)
        cv2.line(img, (int(x0), int(y0)), (int(x1), int(y1)), (60, 40, 30), 1, cv2.LINE_AA)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(rgb: np.ndarray, fmt: str = "JPEG", **params) -> bytes:
    buf = io.BytesIO()
    image = Image.fromarray(rgb)
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    image.save(buf, fmt, **({"quality": 92} if fmt == "JPEG" else {}) | params)
    return buf.getvalue()


def good_jpeg(seed: int = 0, **kwargs) -> bytes:
    return encode(skin_photo(seed=seed, **kwargs))


def blurred_jpeg(seed: int = 0) -> bytes:
    return encode(cv2.GaussianBlur(skin_photo(seed=seed), (0, 0), 9))


def dark_jpeg(seed: int = 0) -> bytes:
    return encode((skin_photo(seed=seed).astype(np.float32) * 0.12).astype(np.uint8))


def unreadable_jpeg(seed: int = 0) -> bytes:
    """A photo that cannot be read at all (nearly black): it holds a ROUTINE case back for a retake."""
    return encode((skin_photo(seed=seed).astype(np.float32) * 0.03).astype(np.uint8))


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "SecretPhone 15"  # Model
    exif[0x0132] = "2026:11:28 09:30:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (37.0, 46.0, 29.7)
    gps[3] = "W"
    gps[4] = (122.0, 25.0, 9.8)
    return exif.tobytes()


def jpeg_with_gps(seed: int = 0) -> bytes:
    return encode(skin_photo(seed=seed), exif=gps_exif())


def truncated_jpeg() -> bytes:
    data = good_jpeg()
    return data[: int(len(data) * 0.6)]


def bomb_png(width: int = 10_000, height: int = 10_000) -> bytes:
    """A tiny PNG file that declares a huge image (highly compressible black pixels)."""
    import zlib

    row = b"\x00" + b"\x00" * width  # filter byte + one grey byte per pixel
    raw = zlib.compress(row * height, 9)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + tag + body + zlib.crc32(tag + body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
