"""Photos made in memory for the intake and decode tests (nothing is read from disk), and helpers
that ingest them and check the result carries no metadata."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

from model.decode import parse_jpeg
from model.intake import IngestedPhoto, PhotoLimits, PhotoRejected, ingest_photo

LIMITS = PhotoLimits()
GPS_IFD = ExifTags.IFD.GPSInfo
EXIF_IFD = ExifTags.IFD.Exif
SECRETS = (
    b"SecretMake",
    b"SecretModel",
    b"2024:01:02 03:04:05",
    b"GPS-SECRET",
    b"SECRET-MAKERNOTE",
    b"SECRET-COMMENT",
    b"SECRET-XMP",
    b"SECRET-IPTC",
    b"SECRET-SECONDARY",
)


def pattern(w: int = 64, h: int = 48) -> np.ndarray:
    """Gray, with a red block in the top-left corner and a blue one in the top-right."""
    a = np.full((h, w, 3), 128, np.uint8)
    a[: h // 4, : w // 4] = (230, 20, 20)
    a[: h // 4, -w // 4 :] = (20, 20, 230)
    return a


def photo_like(w: int, h: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus sensor-like noise (made cheaply: a tiled noise block)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    base = np.empty((h, w, 3), np.int16)
    base[..., 0] = 120 + 80 * np.sin(6 * x) * np.ones_like(y)
    base[..., 1] = 100 + 60 * np.cos(5 * y) * np.ones_like(x)
    base[..., 2] = 90 + 50 * np.sin(4 * (x + y))
    tile = rng.integers(-24, 25, (min(h, 509), min(w, 511), 3), dtype=np.int16)
    noise = np.tile(tile, (-(-h // tile.shape[0]), -(-w // tile.shape[1]), 1))[:h, :w]
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def save(arr_or_im, fmt: str, **params) -> bytes:
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def jpeg(arr=None, *, orientation: int | None = None, quality: int = 95, **params) -> bytes:
    arr = pattern() if arr is None else arr
    if orientation is not None:
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        params["exif"] = exif
    return save(arr, "JPEG", quality=quality, **params)


def secret_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretMake"
    exif[ExifTags.Base.Model] = "SecretModel"
    exif[ExifTags.Base.DateTime] = "2024:01:02 03:04:05"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 0.5)
    gps[ExifTags.GPS.GPSProcessingMethod] = b"ASCII\x00\x00\x00GPS-SECRET"
    exif.get_ifd(EXIF_IFD)[ExifTags.Base.MakerNote] = b"SECRET-MAKERNOTE"
    return exif


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def insert_after_soi(data: bytes, *segments: bytes) -> bytes:
    return data[:2] + b"".join(segments) + data[2:]


def loaded_jpeg(orientation: int | None = 1, arr=None, icc: bytes | None = None) -> bytes:
    """A JPEG carrying EXIF (Make, Model, DateTime, GPS IFD, MakerNote), XMP, a COM comment, an
    IPTC/APP13 block, an MPF APP2 and a secondary image after EOI."""
    params: dict = {"xmp": b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>SECRET-XMP</x:xmpmeta>"}
    if icc:
        params["icc_profile"] = icc
    data = save(
        pattern() if arr is None else arr,
        "JPEG",
        quality=95,
        exif=secret_exif(orientation),
        comment=b"SECRET-COMMENT",
        **params,
    )
    iptc_record = b"\x1c\x02\x5a\x00\x0bSECRET-IPTC"  # IPTC 2:90 City
    iptc = b"Photoshop 3.0\x00" + b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc_record)) + iptc_record
    mpf = b"MPF\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00" * 16
    secondary = save(pattern(16, 16), "JPEG", comment=b"SECRET-SECONDARY")
    return insert_after_soi(data, segment(0xED, iptc), segment(0xE2, mpf)) + secondary


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def heif_encoder():
    pillow_heif = pytest.importorskip("pillow_heif")
    try:
        pillow_heif.register_heif_opener()
        save(Image.new("RGB", (16, 16), "gray"), "HEIF", quality=90)
    except Exception as exc:  # pragma: no cover - depends on the wheel's encoders
        pytest.skip(f"pillow_heif cannot encode HEIC here: {exc}")
    return pillow_heif


def corner_colour(a: np.ndarray, corner: str) -> str:
    h, w = a.shape[:2]
    ys = slice(0, h // 8) if corner[0] == "t" else slice(h - h // 8, h)
    xs = slice(0, w // 8) if corner[1] == "l" else slice(w - w // 8, w)
    r, g, b = a[ys, xs].reshape(-1, 3).mean(0)
    if r > 180 and g < 80 and b < 80:
        return "red"
    if b > 180 and r < 80 and g < 80:
        return "blue"
    return "gray"


def assert_no_metadata(content: bytes, media_type: str = "image/jpeg") -> None:
    for s in SECRETS + (b"Exif", b"GPS", b"http://ns.adobe.com/xap", b"8BIM", b"MPF"):
        assert s not in content, s
    with Image.open(io.BytesIO(content)) as im:
        assert len(im.getexif()) == 0
        for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "mp", "mpinfo"):
            assert key not in im.info, key
        if media_type == "image/png":
            assert im.text == {}
    if media_type == "image/jpeg":
        assert content.endswith(b"\xff\xd9") and content.count(b"\xff\xd8") == 1
        assert parse_jpeg(content).dropped == ()


def decoded(content: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        # Pillow warns about our deliberately fake MPF segment when it opens an original.
        warnings.simplefilter("ignore", UserWarning)
        with Image.open(io.BytesIO(content)) as im:
            return np.asarray(im.convert("RGB"))


def ingest(data: bytes, name: str = "photo", limits: PhotoLimits = LIMITS) -> IngestedPhoto:
    return ingest_photo(data, filename=name, limits=limits)


def rejected(data: bytes, name: str = "x.bin", limits: PhotoLimits = LIMITS) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as info:
        ingest(data, name, limits)
    exc = info.value
    assert exc.message.startswith(f"{name!r}: ") and exc.fix and exc.code
    return exc


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def black_png(width: int, height: int) -> bytes:
    """A real, valid, all-black grayscale PNG, compressed to almost nothing, built row by row."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )
