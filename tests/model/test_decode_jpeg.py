"""JPEG decode: DCT-domain draft scaling for the reduced decode, a 12 MP photo, restart markers."""

from __future__ import annotations

import io

import numpy as np
import pytest
from photo_samples import decoded, ingest, jpeg, photo_like, rejected, save
from PIL import Image, JpegImagePlugin

from model.decode import decode_reduced


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return jpeg(photo_like(4032, 3024), quality=90)


def test_decode_reduced_uses_jpeg_draft_scaling(big_jpeg: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original_draft(self, mode, size)
        calls.append((mode, size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    d = decode_reduced(big_jpeg)
    assert d.rgb.shape == (576, 768, 3) and (d.width, d.height) == (4032, 3024)
    assert d.source_format == "jpeg" and d.orientation == 1
    # 1/8 would give 504 < 768, so libjpeg decodes at 1/4 (1008x756) and we downscale
    assert calls == [("RGB", (1008, 756), (1008, 756))]

    calls.clear()
    small = decode_reduced(big_jpeg, target_long_side=500)
    assert small.rgb.shape == (375, 500, 3)
    assert calls[0][2] == (504, 378)  # 1/8


def test_ingest_big_jpeg(big_jpeg: bytes) -> None:
    out = ingest(big_jpeg, "IMG_4032.jpg")
    assert out.sanitize_method == "jpeg-lossless" and (out.width, out.height) == (4032, 3024)
    assert out.analysis.rgb.shape == (576, 768, 3)
    with Image.open(io.BytesIO(out.thumbnail)) as thumb:
        assert thumb.size == (320, 240)


def test_restart_markers_are_validated() -> None:
    data = save(photo_like(128, 96), "JPEG", quality=90, restart_marker_rows=1)
    positions = [i for i in range(len(data) - 1) if data[i] == 0xFF and 0xD0 <= data[i + 1] <= 0xD7]
    assert len(positions) >= 3
    out = ingest(data)
    assert out.sanitize_method == "jpeg-lossless"
    np.testing.assert_array_equal(decoded(out.content), decoded(data))

    swapped = bytearray(data)
    a, b = positions[0] + 1, positions[1] + 1
    swapped[a], swapped[b] = swapped[b], swapped[a]
    exc = rejected(bytes(swapped), "rst.jpg")
    assert exc.code == "corrupt_image" and "restart markers" in exc.message
