"""Photo intake and decode: decompression and scan bombs are refused from the header, before decoding."""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import pytest
from photo_samples import black_png, jpeg, photo_like, png_chunk, rejected, save
from PIL import Image

from model.decode import CorruptImage, TooManyPixels, decode_reduced, parse_jpeg
from model.decode import jpeg as jpeg_parser
from model.intake import PhotoLimits


def test_decompression_bomb_png_is_413() -> None:
    data = black_png(8000, 8000)  # 64 MP of black in ~64 KB
    assert len(data) < 100_000
    exc = rejected(data, "bomb.png", PhotoLimits(max_pixels=1_000_000))
    assert (exc.status_code, exc.code) == (413, "too_many_pixels")
    assert "8000x8000" in exc.message


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_bomb_header_is_refused_at_the_default_limit_without_decoding(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fmt == "png":  # a tiny PNG whose IHDR declares 10000x10000
        ihdr = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 2, 0, 0, 0)
        data = (
            b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 100))
            + png_chunk(b"IEND", b"")
        )
    else:  # a tiny JPEG whose frame header declares 10000x10000
        data = bytearray(jpeg())
        sof = data.index(b"\xff\xc0")
        data[sof + 5 : sof + 9] = struct.pack(">HH", 10_000, 10_000)
        data = bytes(data)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the decoder was reached")

    monkeypatch.setattr(Image, "open", no_decoding)
    tracemalloc.start()
    try:
        exc = rejected(data, "bomb.img")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (exc.status_code, exc.code) == (413, "too_many_pixels")
    assert "10000x10000" in exc.message and "50-megapixel" in exc.message
    assert peak < 5_000_000
    with pytest.raises(TooManyPixels):
        decode_reduced(data)


def test_bomb_check_comes_before_structure_check() -> None:
    data = black_png(4000, 4000)
    exc = rejected(data[: len(data) // 2], "b.png", PhotoLimits(max_pixels=1_000_000))
    assert exc.code == "too_many_pixels"


def test_progressive_jpeg_scan_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = save(photo_like(64, 48), "JPEG", quality=90, progressive=True)
    assert parse_jpeg(data).scans > 1
    monkeypatch.setattr(jpeg_parser, "MAX_JPEG_SCANS", 2)
    with pytest.raises(CorruptImage, match="scans"):
        parse_jpeg(data)
