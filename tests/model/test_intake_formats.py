"""Photo intake: the accepted formats (JPEG, PNG, WebP, HEIC) and colour modes, all made in memory."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from photo_samples import (
    LIMITS,
    assert_no_metadata,
    corner_colour,
    decoded,
    heif_encoder,
    ingest,
    pattern,
    save,
    secret_exif,
)
from PIL import Image

from model.decode import decode_reduced, sniff_format

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_common_formats_are_accepted(fmt: str) -> None:
    params = {"quality": 95} if fmt != "PNG" else {}
    if fmt == "WEBP":
        params = {"lossless": True}
    data = save(pattern(), fmt, **params)
    out = ingest(data, f"p.{fmt.lower()}")
    assert out.source_format == fmt.lower()
    assert (out.width, out.height) == (64, 48)
    assert out.media_type == ("image/png" if fmt == "PNG" else "image/jpeg")
    assert out.sha256 == hashlib.sha256(out.content).hexdigest()
    assert out.analysis.rgb.shape == (48, 64, 3) and out.analysis.rgb.dtype == np.uint8
    assert corner_colour(decoded(out.content), "tl") == "red"
    assert corner_colour(out.analysis.rgb, "tr") == "blue"
    with Image.open(io.BytesIO(out.thumbnail)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= LIMITS.thumbnail_long_side
    assert_no_metadata(out.content, out.media_type)


def test_heic_is_accepted_rotated_and_stripped() -> None:
    heif_encoder()
    data = save(pattern(), "HEIF", quality=95, exif=secret_exif(orientation=6).tobytes())
    assert sniff_format(data) == "heif"
    out = ingest(data, "IMG_0001.HEIC")
    assert out.source_format == "heif" and out.media_type == "image/jpeg"
    assert out.sanitize_method == "jpeg-reencode"
    # libheif applies the rotation (pillow_heif turns the EXIF orientation into irot on save)
    assert (out.width, out.height) == (48, 64) and out.analysis.orientation == 6
    stored = decoded(out.content)
    assert stored.shape == (64, 48, 3)
    assert corner_colour(stored, "tr") == "red" and corner_colour(out.analysis.rgb, "tr") == "red"
    assert_no_metadata(out.content)


def test_heif_support_is_lazy_and_no_torch_on_the_jpeg_path() -> None:
    code = (
        "import sys, io\n"
        "from PIL import Image\n"
        "from model.intake import ingest_photo, PhotoLimits\n"
        "b = io.BytesIO(); Image.new('RGB', (40, 30), 'red').save(b, 'JPEG')\n"
        "ingest_photo(b.getvalue(), filename='a.jpg', limits=PhotoLimits())\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'pillow_heif' not in sys.modules, 'pillow_heif imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_alpha_is_composited_on_white() -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 15:, 3] = 255  # left half fully transparent, right half opaque red-ish
    out = ingest(save(Image.fromarray(rgba, "RGBA"), "PNG"))
    a = decoded(out.content)
    assert (a[:, :15] == 255).all() and (a[:, 15:] == (200, 0, 0)).all()
    np.testing.assert_array_equal(out.analysis.rgb, a)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("L", (8, 8), 77), (77, 77, 77)),
        (Image.new("LA", (8, 8), (77, 0)), (255, 255, 255)),
        (Image.new("P", (8, 8), 0), (0, 0, 0)),
        (Image.new("I;16", (8, 8), 0x8A00), (0x8A, 0x8A, 0x8A)),
        (Image.new("RGBA", (8, 8), (10, 20, 30, 255)), (10, 20, 30)),
    ],
    ids=["L", "LA", "P", "I;16", "RGBA"],
)
def test_png_modes_become_rgb(image: Image.Image, expected: tuple[int, int, int]) -> None:
    reduced = decode_reduced(save(image, "PNG"))
    assert reduced.rgb.shape == (8, 8, 3)
    assert tuple(reduced.rgb[4, 4]) == expected


def test_palette_transparency_and_cmyk_and_grayscale_jpeg() -> None:
    p = Image.new("P", (8, 8), 1)
    p.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    data = save(p, "PNG", transparency=1)
    assert tuple(decode_reduced(data).rgb[0, 0]) == (255, 255, 255)

    cmyk = save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    out = ingest(cmyk)
    assert out.sanitize_method == "jpeg-reencode"  # CMYK is not stored as it is
    r, g, b = decoded(out.content)[8, 8]
    assert r > 200 and g < 40 and b < 40

    gray = ingest(save(Image.new("L", (16, 16), 99), "JPEG", quality=95))
    assert gray.sanitize_method == "jpeg-lossless"
    assert tuple(gray.analysis.rgb[8, 8]) == (99, 99, 99)
