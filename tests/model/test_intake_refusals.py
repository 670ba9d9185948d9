"""Photo intake and decode: what is refused (not an image, empty, truncated, damaged), with which status."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from photo_samples import heif_encoder, ingest, jpeg, pattern, photo_like, rejected, save
from PIL import Image

from model.decode import CorruptImage, UnsupportedFormat, decode_reduced, sniff_format
from model.intake import PhotoLimits, PhotoRejected


def test_sniff_format() -> None:
    assert sniff_format(jpeg()) == "jpeg"
    assert sniff_format(save(pattern(), "PNG")) == "png"
    assert sniff_format(save(pattern(), "WEBP")) == "webp"
    for brand, compatible, expected in [
        (b"heic", b"mif1heic", "heif"),
        (b"heix", b"", "heif"),
        (b"hevc", b"msf1", "heif"),
        (b"mif1", b"heic", "heif"),
        (b"msf1", b"", "heif"),
        (b"avif", b"mif1miaf", None),
        (b"mif1", b"avifmiaf", None),
        (b"isom", b"mp41", None),
    ]:
        box = b"ftyp" + brand + b"\x00\x00\x00\x00" + compatible
        assert sniff_format(struct.pack(">I", len(box) + 4) + box + b"\x00" * 16) == expected, brand
    assert sniff_format(b"") is None and sniff_format(b"GIF89a") is None


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"hello, this is a text file\n", "text"),
        (save(Image.new("P", (8, 8)), "GIF"), "GIF"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64, "AVIF"),
        (b"%PDF-1.7\n" + b"\x00" * 32, "PDF"),
        (b"\x00\x01\x02\x03" * 16, "not an image"),
    ],
    ids=["text", "gif", "avif", "pdf", "binary"],
)
def test_not_an_image_is_415(data: bytes, what: str) -> None:
    exc = rejected(data, "x.gif")
    assert (exc.status_code, exc.code) == (415, "unsupported_format")
    assert what in exc.message
    with pytest.raises(UnsupportedFormat):
        decode_reduced(data)


def test_empty_file_is_422() -> None:
    exc = rejected(b"", "empty.jpg")
    assert (exc.status_code, exc.code) == (422, "empty_file")


def test_truncated_jpeg_is_422() -> None:
    data = jpeg(photo_like(320, 240), quality=90)
    cut = data[: int(len(data) * 0.6)]
    exc = rejected(cut, "cut.jpg")
    assert (exc.status_code, exc.code) == (422, "corrupt_image")
    assert "truncated" in exc.message
    with pytest.raises(CorruptImage):
        decode_reduced(cut)


def test_truncation_is_detected_by_pillow_even_in_draft_mode() -> None:
    # Our EOI/structure check comes first; this shows the decoder alone would also refuse it.
    data = jpeg(photo_like(640, 480), quality=90)
    with Image.open(io.BytesIO(data[: int(len(data) * 0.6)])) as im:
        im.draft("RGB", (160, 120))
        with pytest.raises(OSError, match="truncated"):
            im.load()


def test_corrupt_bytes_in_the_middle_are_422() -> None:
    data = bytearray(jpeg(photo_like(320, 240), quality=90))
    mid = len(data) // 2
    data[mid : mid + 512] = np.random.default_rng(7).integers(0, 256, 512, dtype=np.uint8).tobytes()
    exc = rejected(bytes(data), "bad.jpg")
    assert (exc.status_code, exc.code) == (422, "corrupt_image")


@pytest.mark.parametrize("damage", ["png_crc", "png_truncated", "webp_truncated", "jpeg_header", "heif"])
def test_other_damage_is_422(damage: str) -> None:
    if damage.startswith("png"):
        data = bytearray(save(photo_like(64, 48), "PNG"))
        if damage == "png_crc":
            data[len(data) // 2] ^= 0x55
        else:
            data = data[: len(data) - 30]
    elif damage == "webp_truncated":
        data = bytearray(save(photo_like(64, 48), "WEBP", quality=90))[:-40]
    elif damage == "jpeg_header":
        data = bytearray(jpeg())
        data[2:4] = b"\xff\x02"  # a reserved marker where APP0 was
    else:
        heif_encoder()
        data = bytearray(save(photo_like(64, 48), "HEIF", quality=90))
        data = data[: len(data) // 2]
    exc = rejected(bytes(data), "d.img")
    assert (exc.status_code, exc.code) == (422, "corrupt_image"), exc.message


def test_unsupported_jpeg_variant_is_415() -> None:
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12  # precision: 12-bit
    exc = rejected(bytes(data), "twelve.jpg")
    assert (exc.status_code, exc.code) == (415, "unsupported_format")


def test_too_many_bytes_is_413_before_any_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    import model.intake as ingest_module

    def boom(*args, **kwargs):
        raise AssertionError("decoded an over-size upload")

    monkeypatch.setattr(ingest_module, "open_photo", boom)
    monkeypatch.setattr(ingest_module, "sniff_format", boom)
    limits = PhotoLimits(max_bytes=1000)
    for data in (jpeg(photo_like(200, 200)), b"\x00" * 1001):
        assert len(data) > 1000
        exc = rejected(data, "huge.jpg", limits)
        assert (exc.status_code, exc.code) == (413, "photo_too_large")


def test_rejection_names_the_file_safely() -> None:
    exc = rejected(b"GIF89a" + b"\x00" * 20, "x.gif")
    assert exc.message.startswith("'x.gif': a GIF image")
    assert exc.to_dict() == {"code": exc.code, "message": exc.message, "fix": exc.fix}
    long_name = "a\nb" + "z" * 500
    with pytest.raises(PhotoRejected) as info:
        ingest(b"text", long_name)
    assert "\n" not in info.value.message and len(info.value.message) < 200
