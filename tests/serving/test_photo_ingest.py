"""Photo intake (model.decode + model.intake): formats, orientation, metadata, refusals.

Every image is made in memory; nothing is read from disk.
"""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, ImageOps, JpegImagePlugin
from PIL.PngImagePlugin import PngInfo

from model import decode as preprocess
from model.decode import (
    CorruptImage,
    TooManyPixels,
    UnsupportedFormat,
    decode_full,
    decode_reduced,
    parse_jpeg,
    sniff_format,
)
from model.intake import IngestedPhoto, PhotoLimits, PhotoRejected, ingest_photo

REPO = Path(__file__).resolve().parents[2]
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


# ---------------------------------------------------------------------------------------------
# image factories
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# accepted formats
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# orientation
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# metadata stripping
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# colour modes
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------------------------


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
    monkeypatch.setattr(preprocess, "MAX_JPEG_SCANS", 2)
    with pytest.raises(CorruptImage, match="scans"):
        parse_jpeg(data)


def test_rejection_names_the_file_safely() -> None:
    exc = rejected(b"GIF89a" + b"\x00" * 20, "x.gif")
    assert exc.message.startswith("'x.gif': a GIF image")
    assert exc.to_dict() == {"code": exc.code, "message": exc.message, "fix": exc.fix}
    long_name = "a\nb" + "z" * 500
    with pytest.raises(PhotoRejected) as info:
        ingest(b"text", long_name)
    assert "\n" not in info.value.message and len(info.value.message) < 200


# ---------------------------------------------------------------------------------------------
# decode_reduced speed path
# ---------------------------------------------------------------------------------------------


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
    # 1/8 would give 504 < 768, so libjpeg decodes at 1/4 (1008x756) and we area-resize
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
