"""Photo intake: every piece of metadata is stripped from what is stored (JPEG, PNG, WebP, thumbnail)."""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
from photo_samples import (
    GPS_IFD,
    SECRETS,
    assert_no_metadata,
    decoded,
    ingest,
    jpeg,
    loaded_jpeg,
    pattern,
    photo_like,
    save,
    secret_exif,
    segment,
    srgb_icc,
)
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

from model.decode import parse_jpeg


def test_jpeg_metadata_is_stripped_losslessly() -> None:
    icc = srgb_icc()
    data = loaded_jpeg(orientation=1, arr=photo_like(96, 64), icc=icc)
    for s in SECRETS + (b"Exif", b"GPS", b"http://ns.adobe.com/xap"):
        assert s in data, s  # the test input really carries it all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "malformed MPO": our fake MPF segment
        with Image.open(io.BytesIO(data)) as im:
            assert im.getexif().get_ifd(GPS_IFD)[ExifTags.GPS.GPSLatitudeRef] == "N"

    out = ingest(data, "IMG_1234.JPG")
    assert out.sanitize_method == "jpeg-lossless" and out.media_type == "image/jpeg"
    assert_no_metadata(out.content)
    with Image.open(io.BytesIO(out.content)) as im:
        assert im.info.get("icc_profile") == icc  # the colour profile is kept
    # bit-identical pixels, and the entropy-coded data is untouched
    np.testing.assert_array_equal(decoded(out.content), decoded(data))
    assert len(out.content) < len(data)


@pytest.mark.parametrize("orientation", [6, 3])
def test_jpeg_metadata_is_stripped_when_reencoding(orientation: int) -> None:
    icc = srgb_icc()
    out = ingest(loaded_jpeg(orientation=orientation, icc=icc), "r.jpg")
    assert out.sanitize_method == "jpeg-reencode"
    assert_no_metadata(out.content)
    with Image.open(io.BytesIO(out.content)) as im:
        assert im.info.get("icc_profile") == icc


def test_jfif_thumbnail_is_dropped_and_app0_rewritten() -> None:
    base = jpeg()
    assert base[2:4] == b"\xff\xe0"  # Pillow writes a JFIF APP0 first
    app0_len = struct.unpack(">H", base[4:6])[0]
    thumb = b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x02\x01" + b"THUMBXYZ!\x00\x00\x00"[:6]
    data = base[:2] + segment(0xE0, thumb) + base[4 + app0_len :]
    layout = parse_jpeg(data)
    assert "APP0 JFIF thumbnail" in layout.dropped
    out = ingest(data)
    assert b"THUMBX" not in out.content and out.content[2:6] == b"\xff\xe0\x00\x10"


def test_png_text_exif_and_time_chunks_are_stripped() -> None:
    info = PngInfo()
    info.add_text("Comment", "SECRET-COMMENT")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>SECRET-XMP http://ns.adobe.com/xap/1.0/</x:xmpmeta>")
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 1, 2, 3, 4, 5))
    data = save(pattern(), "PNG", pnginfo=info, exif=secret_exif(), icc_profile=srgb_icc())
    assert b"SECRET-COMMENT" in data and b"eXIf" in data and b"tIME" in data
    out = ingest(data, "s.png")
    assert out.media_type == "image/png" and out.sanitize_method == "png-reencode"
    assert_no_metadata(out.content, "image/png")
    chunks = []
    pos = 8
    while pos < len(out.content):
        length, ctype = struct.unpack_from(">I4s", out.content, pos)
        chunks.append(ctype)
        pos += 12 + length
    assert set(chunks) <= {b"IHDR", b"iCCP", b"IDAT", b"IEND"}
    np.testing.assert_array_equal(decoded(out.content), pattern())


def test_webp_exif_and_xmp_are_stripped() -> None:
    data = save(pattern(), "WEBP", lossless=True, exif=secret_exif(), xmp=b"<x>SECRET-XMP</x>")
    assert b"SecretMake" in data and b"SECRET-XMP" in data
    out = ingest(data, "w.webp")
    assert out.media_type == "image/jpeg"
    assert_no_metadata(out.content)


def test_thumbnail_is_small_and_clean() -> None:
    out = ingest(loaded_jpeg(arr=photo_like(900, 600)), "big.jpg")
    with Image.open(io.BytesIO(out.thumbnail)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (320, 213)
    assert_no_metadata(out.thumbnail)
