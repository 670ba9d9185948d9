"""What a photo's decode holds in memory: the estimate a caller reserves before decoding (checked
against a measured peak in a fresh process), the split of ingest into a cheap check and the decode,
and the lean paths that keep the same pixels (the array copied a band at a time, 16-bit without an
8-byte-a-pixel detour)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.decode.pixels import _as_rgb_array, _to_rgb
from model.intake import (
    DECODE_BASE_BYTES,
    PhotoLimits,
    PhotoRejected,
    check_photo,
    decode_memory,
    ingest_photo,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (7000, 2), (1201, 1777)])
def test_the_array_is_the_image_copied_band_by_band(size):
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    array = _as_rgb_array(Image.fromarray(pixels))
    assert array.shape == pixels.shape and (array == pixels).all()
    assert array.flags.c_contiguous and array.flags.writeable


def test_sixteen_bit_grey_keeps_its_high_byte():
    values = np.random.default_rng(1).integers(0, 65536, (31, 17)).astype(np.uint16)
    for image in (
        Image.fromarray(values),
        Image.frombytes("I;16B", (17, 31), values.astype(">u2").tobytes()),
    ):
        rgb = np.asarray(_to_rgb(image))
        assert (rgb == (values >> 8).astype(np.uint8)[..., None]).all()


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_a_checked_photo_is_ingested_as_the_bytes_would_be():
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    for data in (encoded(image, "PNG"), encoded(image, "JPEG", quality=90)):
        source = check_photo(data, filename="a", limits=PhotoLimits())
        once = ingest_photo(data, filename="a", limits=PhotoLimits(), source=source)
        twice = ingest_photo(data, filename="a", limits=PhotoLimits())
        assert once.sha256 == twice.sha256 and (once.analysis.rgb == twice.analysis.rgb).all()


def test_the_check_refuses_before_decoding():
    with pytest.raises(PhotoRejected) as refused:
        check_photo(b"GIF89a" + bytes(100), filename="a.gif", limits=PhotoLimits())
    assert refused.value.status_code == 415
    big = encoded(Image.new("RGB", (3000, 3000)), "PNG")
    with pytest.raises(PhotoRejected) as refused:
        check_photo(big, filename="big.png", limits=PhotoLimits(max_pixels=1_000_000))
    assert (refused.value.status_code, refused.value.code) == (413, "too_many_pixels")


def test_the_estimate_follows_the_decode_path():
    image = Image.new("RGB", (4000, 3000), (120, 90, 80))
    limits = PhotoLimits()
    upright = decode_memory(check_photo(encoded(image, "JPEG"), filename="a", limits=limits), limits)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = decode_memory(
        check_photo(encoded(image, "JPEG", exif=exif.tobytes()), filename="a", limits=limits), limits
    )
    png = decode_memory(check_photo(encoded(image, "PNG"), filename="a", limits=limits), limits)
    assert upright < DECODE_BASE_BYTES + 12_000_000  # DCT-scaled: a reduced image only
    assert rotated > DECODE_BASE_BYTES + 8 * 12_000_000  # the full image, twice
    assert png > DECODE_BASE_BYTES + 8 * 12_000_000


def test_the_estimate_covers_the_measured_peak():
    """bench/decode_cost.py, small: a fresh process's peak while ingesting 4 MP photos of the paths
    that hold the most per pixel stays under what decode_memory reserves for them."""
    paths = ["png, RGBA rotated", "webp, RGB", "jpeg, rotated (re-encoded)"]
    done = subprocess.run(
        [sys.executable, "bench/decode_cost.py", "--megapixels", "4", "--json", "--paths", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    for name, row in json.loads(done.stdout)["paths"].items():
        assert row["measured"] <= row["estimated"], (name, row)
