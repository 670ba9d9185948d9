"""Photo intake and decode: the EXIF orientation is applied to stored and analysed pixels alike."""

from __future__ import annotations

import io

import numpy as np
import pytest
from photo_samples import assert_no_metadata, corner_colour, decoded, ingest, jpeg, pattern, photo_like, save
from PIL import ExifTags, Image, ImageOps

from model.decode import decode_full, decode_reduced


@pytest.mark.parametrize(
    ("orientation", "size", "red", "blue"),
    [
        (1, (64, 48), "tl", "tr"),
        (3, (64, 48), "br", "bl"),  # rotated 180
        (6, (48, 64), "tr", "br"),  # rotated 90 clockwise
        (8, (48, 64), "bl", "tl"),  # rotated 90 counter-clockwise
    ],
)
def test_exif_orientation_is_applied(orientation: int, size: tuple[int, int], red: str, blue: str) -> None:
    data = jpeg(orientation=orientation)
    out = ingest(data, "o.jpg")
    assert (out.width, out.height) == size
    assert (out.analysis.width, out.analysis.height) == size
    assert out.analysis.orientation == orientation
    for arr in (decoded(out.content), out.analysis.rgb):
        assert arr.shape[:2] == (size[1], size[0])
        assert corner_colour(arr, red) == "red" and corner_colour(arr, blue) == "blue"
    expected = "jpeg-lossless" if orientation == 1 else "jpeg-reencode"
    assert out.sanitize_method == expected
    assert_no_metadata(out.content)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_orientations_match_pillow_exif_transpose(orientation: int) -> None:
    data = jpeg(photo_like(40, 30, seed=orientation), orientation=orientation)
    with Image.open(io.BytesIO(data)) as im:
        reference = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    reduced = decode_reduced(data)  # small image: no scaling, so the pixels must be identical
    full, fmt = decode_full(data)
    assert fmt == "jpeg" and reduced.orientation == orientation
    np.testing.assert_array_equal(reduced.rgb, reference)
    np.testing.assert_array_equal(np.asarray(full), reference)
    assert (reduced.width, reduced.height) == (reference.shape[1], reference.shape[0])
    stored = decoded(ingest(data).content)
    assert stored.shape == reference.shape
    assert np.abs(stored.astype(int) - reference).mean() < 3  # re-encoded at quality 95


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_orientation_in_png_and_webp(fmt: str) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    params = {"lossless": True} if fmt == "WEBP" else {}
    out = ingest(save(pattern(), fmt, exif=exif, **params))
    assert (out.width, out.height) == (48, 64)
    assert corner_colour(decoded(out.content), "tr") == "red"
    assert corner_colour(out.analysis.rgb, "tr") == "red"


def test_reduced_and_full_agree_on_orientation_for_large_images() -> None:
    data = jpeg(np.asarray(Image.fromarray(pattern()).resize((2400, 1800))), orientation=6, quality=80)
    reduced = decode_reduced(data, target_long_side=512)
    assert reduced.rgb.shape == (512, 384, 3) and (reduced.width, reduced.height) == (1800, 2400)
    assert corner_colour(reduced.rgb, "tr") == "red" and corner_colour(reduced.rgb, "br") == "blue"
