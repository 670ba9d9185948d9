"""Photo decoding for analysis and intake: sniff, validate, decode small and fast.

Patients' phones send JPEG, PNG, WebP and HEIC/HEIF photos. This module turns such bytes into
pixels, and refuses bad input with a typed error (:class:`PhotoDecodeError`) that carries a
machine ``code``, a ``message`` and a ``fix``. It needs only numpy, OpenCV and Pillow
(``pillow_heif`` is imported lazily, the first time a HEIF photo arrives); it never imports torch.

Entry points
------------
``sniff_format(data)``
    The format from the magic bytes alone: ``"jpeg" | "png" | "webp" | "heif"`` or ``None``.
``decode_reduced(data, target_long_side=DEFAULT_TARGET_LONG_SIDE, max_pixels=50_000_000)``
    A small RGB array for the quality checks and the models. For JPEG it uses DCT-domain scaling
    (Pillow's ``draft``: libjpeg decodes at 1/2, 1/4 or 1/8 size, choosing the largest reduction
    that keeps the long side >= ``target_long_side``), then an area resize down to the target;
    other formats are decoded in full and area-resized. Never upscales.
``decode_full(data, max_pixels=...)``
    The full-size, oriented RGB ``PIL.Image`` (for the storage sanitizer), with at most an RGB
    ICC profile left in ``image.info``.
``open_photo`` / ``reduce_photo`` / ``load_full`` / ``orient_image``
    The same steps one by one, so that a caller (the intake service) parses a file once.

Validation, in order, before any pixel is decoded
-------------------------------------------------
1. **Format** from the magic bytes; everything else is :class:`UnsupportedFormat`. HEIF means an
   ISO-BMFF ``ftyp`` with a HEVC-family brand (heic/heix/hevc/hevx/heim/heis) or the generic
   mif1/msf1 brands, but never AVIF (``avif``/``avis`` without any HEVC brand).
2. **Header and pixel count**: the dimensions come from our own parse of the header (JPEG SOF,
   PNG IHDR, WebP VP8/VP8L/VP8X) or from libheif's container parse, and ``width*height >
   max_pixels`` raises :class:`TooManyPixels` without allocating anything. (Pillow's own
   decompression-bomb guard, ``Image.MAX_IMAGE_PIXELS``, stays in force on top of this.)
3. **Structure** (:class:`CorruptImage`), cheap checks that catch truncated or damaged files even
   where the decoder would silently paint grey over the missing part:

   * JPEG: the whole marker structure is walked; every segment must fit in the file, the
     entropy-coded data of every scan may contain only stuffed bytes and restart markers in the
     right sequence, and an EOI marker must end the image. (libjpeg reports such damage only as
     warnings, which neither Pillow nor OpenCV surface; truncation is also caught by Pillow
     itself, draft mode included, as long as ``ImageFile.LOAD_TRUNCATED_IMAGES`` is False -- this
     module never sets it, and does not depend on it.) More than 500 scans are refused (a
     progressive-JPEG CPU bomb).
   * PNG: every chunk's CRC is verified, IHDR must come first and IEND must be present.
   * WebP: the RIFF size must fit the data and every chunk must fit the RIFF.
   * HEIF: libheif's own checks.

   Damage that still forms a valid bitstream (e.g. flipped bits inside Huffman-coded data that
   decode to other valid codes) cannot be detected by any decoder.
4. **Decode**, where any decoder error is :class:`CorruptImage`.

Metadata never reaches Pillow for JPEG and PNG: the decoder is fed a copy of the file with the
metadata segments/chunks removed (see :func:`parse_jpeg`, ``JpegLayout.clean``), so malformed EXIF,
MPF or text chunks can neither fail a photo nor trigger warnings. The EXIF orientation is read by
our own small TIFF parser.

Orientation
-----------
The EXIF Orientation tag (values 1-8; anything else counts as 1) is applied for JPEG, PNG (eXIf)
and WebP (EXIF chunk), both to the reduced array and to the reported width/height, exactly as
``PIL.ImageOps.exif_transpose`` would (XMP orientation is ignored, as browsers do). For HEIF the
container's own rotation/mirror properties are applied by libheif, which is authoritative per the
HEIF spec; ``orientation`` then only reports the EXIF tag that was found.

Colour
------
Every source becomes 8-bit RGB: palette, grayscale, CMYK, YCbCr are converted; 16-bit grayscale
keeps its high byte; alpha (RGBA, LA, PA, palette or colour-key transparency) is composited on
white. No colour management is done: pixel values are the file's own (e.g. Display P3 for iPhone
photos); an RGB ICC profile is carried along for storage, profiles of other colour spaces are
dropped with the conversion.
"""

from __future__ import annotations

import io
import re
import struct
import threading
import zlib
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

__all__ = [
    "CorruptImage",
    "DecodedPhoto",
    "JpegLayout",
    "PhotoDecodeError",
    "PhotoSource",
    "PngLayout",
    "TooManyPixels",
    "UnsupportedFormat",
    "decode_full",
    "decode_reduced",
    "describe_unsupported",
    "finish_reduced",
    "jpeg_draft_scale",
    "load_full",
    "open_photo",
    "orient_image",
    "parse_jpeg",
    "parse_png",
    "reduce_photo",
    "sniff_format",
]

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_TARGET_LONG_SIDE = 768

#: More scans than this in one JPEG is refused: a legitimate progressive JPEG has about 10, while a
#: crafted one with thousands of tiny scans costs a full-image pass each (libjpeg-turbo suggests 500).
MAX_JPEG_SCANS = 500
#: Marker segments (outside entropy-coded data) / PNG chunks / RIFF chunks allowed in one file,
#: so a file made of millions of empty segments cannot keep the parser busy.
MAX_SEGMENTS = 20_000

# --------------------------------------------------------------------------------------------
# Errors and results
# --------------------------------------------------------------------------------------------


class PhotoDecodeError(Exception):
    """Base class: a photo that cannot be used. ``code`` is stable, ``message`` says what is
    wrong (for a developer), ``fix`` says what to do about it."""

    code: str = "photo_error"
    default_fix: str = "Send the photo again as a JPEG, PNG, WebP or HEIC file."

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix if fix is not None else self.default_fix


class UnsupportedFormat(PhotoDecodeError):
    """Not an image, or an image format (or format variant) that is not accepted."""

    code = "unsupported_format"
    default_fix = "Send the photo as a JPEG, PNG, WebP or HEIC/HEIF file (what phone cameras produce)."


class CorruptImage(PhotoDecodeError):
    """Truncated, damaged or otherwise undecodable."""

    code = "corrupt_image"
    default_fix = (
        "The file is damaged or was cut off during upload: send the photo again from the original "
        "on the device."
    )


class TooManyPixels(PhotoDecodeError):
    """Decompression-bomb guard: ``width * height > max_pixels`` (refused from the header)."""

    code = "too_many_pixels"

    def __init__(self, width: int, height: int, max_pixels: int) -> None:
        self.width = width
        self.height = height
        self.max_pixels = max_pixels
        super().__init__(
            f"the image is {width}x{height} = {width * height / 1e6:.1f} megapixels, over the "
            f"{max_pixels / 1e6:g}-megapixel limit",
            fix=f"Resize the photo to at most {max_pixels / 1e6:g} megapixels and send it again (a phone "
            "camera's usual 12-megapixel photo, e.g. 4032x3024, is fine).",
        )


@dataclass(frozen=True, eq=False)
class DecodedPhoto:
    """A reduced decode for analysis."""

    rgb: np.ndarray  # HxWx3 uint8 RGB, orientation applied, long side <= target (never upscaled)
    width: int  # full-size width after orientation
    height: int  # full-size height after orientation
    source_format: str  # "jpeg" | "png" | "webp" | "heif"
    orientation: int  # EXIF orientation tag found (1 when none)


# --------------------------------------------------------------------------------------------
# Format sniffing
# --------------------------------------------------------------------------------------------

_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def _ftyp_brands(data: bytes) -> tuple[bytes, list[bytes]] | None:
    """(major brand, compatible brands) of an ISO-BMFF ``ftyp`` box at the start, else None."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return None
    size = int.from_bytes(data[0:4], "big")
    if size < 16 or size > 4096:
        size = min(len(data), 16)  # malformed size: look at the major brand only
    box = data[: min(size, len(data))]
    compatible = [box[i : i + 4] for i in range(16, len(box) - 3, 4)]
    return box[8:12], compatible


def sniff_format(data: bytes) -> str | None:
    """``"jpeg" | "png" | "webp" | "heif"`` from the magic bytes alone; ``None`` for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    brands = _ftyp_brands(data)
    if brands is not None:
        major, compatible = brands
        if major in _HEIF_BRANDS:
            return "heif"
        if major in _GENERIC_HEIF_BRANDS:
            # mif1/msf1 are shared by HEIC and AVIF: AVIF unless a HEVC brand is listed too.
            if any(b in _HEIF_BRANDS for b in compatible):
                return "heif"
            if any(b in _AVIF_BRANDS for b in compatible):
                return None
            return "heif"
    return None


def describe_unsupported(data: bytes) -> str:
    """A short human description of what some refused bytes look like (for error messages)."""
    head = data[:64]
    known = [
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"BM", "a BMP image"),
        (b"II*\x00", "a TIFF image"),
        (b"MM\x00*", "a TIFF image"),
        (b"%PDF", "a PDF document"),
        (b"\x00\x00\x01\x00", "an ICO image"),
        (b"8BPS", "a Photoshop document"),
        (b"\xff\x0a", "a JPEG XL image"),
        (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"<?xml", "an XML/SVG document"),
        (b"<svg", "an SVG document"),
    ]
    for magic, what in known:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF":
        return "a RIFF file that is not WebP"
    brands = _ftyp_brands(head)
    if brands is not None:
        major, compatible = brands
        if major in _AVIF_BRANDS or any(b in _AVIF_BRANDS for b in compatible):
            return "an AVIF image"
        return f"an ISO media file (brand {major.decode('latin-1')!r}, e.g. a video)"
    if not data:
        return "an empty file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return f"not an image (unknown data starting {bytes(head[:8])!r})"
    return "text, not an image"


# --------------------------------------------------------------------------------------------
# EXIF orientation (our own minimal TIFF reader: one tag, no warnings, no allocation)
# --------------------------------------------------------------------------------------------


def _tiff_orientation(tiff: bytes | memoryview) -> int:
    """The Orientation tag (0x0112) of IFD0 of a TIFF/EXIF blob; 1 when absent or invalid."""
    tiff = bytes(tiff[:65536]) if not isinstance(tiff, bytes) else tiff
    if tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    if len(tiff) < 8:
        return 1
    if tiff[:2] == b"II":
        end = "<"
    elif tiff[:2] == b"MM":
        end = ">"
    else:
        return 1
    if struct.unpack_from(end + "H", tiff, 2)[0] != 42:
        return 1
    ifd = struct.unpack_from(end + "I", tiff, 4)[0]
    if ifd + 2 > len(tiff):
        return 1
    count = struct.unpack_from(end + "H", tiff, ifd)[0]
    for i in range(min(count, 1000)):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(tiff):
            break
        tag, typ = struct.unpack_from(end + "HH", tiff, entry)
        if tag != 0x0112:
            continue
        if typ == 3:  # SHORT
            value = struct.unpack_from(end + "H", tiff, entry + 8)[0]
        elif typ == 4:  # LONG
            value = struct.unpack_from(end + "I", tiff, entry + 8)[0]
        elif typ == 1:  # BYTE
            value = tiff[entry + 8]
        else:
            return 1
        return value if 1 <= value <= 8 else 1
    return 1


# --------------------------------------------------------------------------------------------
# JPEG structure
# --------------------------------------------------------------------------------------------

_SOF_ALL = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
#: Frame types our decoder (libjpeg-turbo via Pillow) handles: baseline, extended, progressive
#: (Huffman) and extended/progressive arithmetic.
_SOF_DECODABLE = frozenset({0xC0, 0xC1, 0xC2, 0xC9, 0xCA})
#: Frame types browsers and every viewer display: Huffman-coded only.
_SOF_PORTABLE = frozenset({0xC0, 0xC1, 0xC2})
#: What may follow a scan's entropy-coded data: EOI, another scan, tables, DNL, metadata. Any other
#: marker there is a damaged byte sequence inside the scan.
_AFTER_SCAN = frozenset({0xD9, 0xDA, 0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)})
# DHT, DAC, DQT, DNL, DRI, DHP, EXP: tables and frame parameters, kept as they are.
_TABLE_MARKERS = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF})

_APP_NAMES = {
    b"Exif\x00": "EXIF",
    b"http://ns.adobe.com/xap/1.0/\x00": "XMP",
    b"http://ns.adobe.com/xmp/extension/\x00": "extended XMP",
    b"Photoshop 3.0\x00": "Photoshop/IPTC",
    b"MPF\x00": "MPF",
    b"FPXR\x00": "FlashPix",
    b"JFXX\x00": "JFIF extension (thumbnail)",
}


def _segment_name(marker: int, payload: bytes | memoryview) -> str:
    head = bytes(payload[:40])
    for prefix, name in _APP_NAMES.items():
        if head.startswith(prefix):
            return f"APP{marker - 0xE0} {name}"
    if marker == 0xFE:
        return "COM comment"
    if 0xE0 <= marker <= 0xEF:
        ident = head.split(b"\x00", 1)[0][:20].decode("latin-1", "replace")
        return f"APP{marker - 0xE0} {ident!r}"
    return f"marker 0x{marker:02X}"


@dataclass(frozen=True, eq=False)
class JpegLayout:
    """What :func:`parse_jpeg` found, and the file rebuilt without metadata (``clean``).

    ``clean`` keeps SOI, a JFIF APP0 (rewritten minimal: no embedded thumbnail; added when the
    file had none and adding it cannot change how the colours are read), APP2 ICC_PROFILE,
    APP14 Adobe (rewritten canonical: it tells decoders the colour transform), every table,
    frame and scan segment and the entropy-coded data byte for byte, and EOI. It drops every
    other APPn (EXIF incl. GPS and MakerNotes, XMP, IPTC/Photoshop, MPF, FlashPix, ...), COM
    comments, JPGn extensions and everything after the first EOI (MPF secondary images, gain
    maps, trailers). The pixels decode bit-identically.
    """

    width: int
    height: int
    components: int
    component_ids: tuple[int, ...]
    sof_marker: int
    precision: int
    orientation: int  # EXIF orientation found (1 when none)
    scans: int
    adobe_transform: int | None
    clean: bytes
    dropped: tuple[str, ...]  # names of what ``clean`` left out (empty for an already-clean file)

    @property
    def portable(self) -> bool:
        """True when the (clean) file can be stored as it is and displayed anywhere: a Huffman-coded
        8-bit grayscale or 3-component JPEG."""
        return self.sof_marker in _SOF_PORTABLE and self.precision == 8 and self.components in (1, 3)


class _MarkerIndex:
    """Positions of every 0xFF byte followed by a marker code (not 0x00 stuffing, not 0xFF fill),
    found with numpy in one pass: lets us walk multi-megabyte entropy-coded data at C speed."""

    def __init__(self, data: bytes) -> None:
        a = np.frombuffer(data, dtype=np.uint8)
        if a.size < 2:
            self.pos = np.zeros(0, dtype=np.intp)
        else:
            nxt = a[1:]
            self.pos = np.flatnonzero((a[:-1] == 0xFF) & (nxt != 0x00) & (nxt != 0xFF))
        self.codes = a[self.pos + 1] if self.pos.size else np.zeros(0, dtype=np.uint8)
        is_rst = (self.codes >= 0xD0) & (self.codes <= 0xD7)
        self.other = self.pos[~is_rst]

    def end_of_scan(self, start: int) -> tuple[int, np.ndarray] | None:
        """(position of the first non-RST marker at or after ``start``, RST codes before it)."""
        j = int(np.searchsorted(self.other, start))
        if j >= self.other.size:
            return None
        end = int(self.other[j])
        i0 = int(np.searchsorted(self.pos, start))
        i1 = int(np.searchsorted(self.pos, end))
        return end, self.codes[i0:i1]


_ZEROS = re.compile(rb"\x00*")
_FILL = re.compile(rb"\xff+")


def _jfif_segment(version: bytes = b"\x01\x01", units: int = 0, xd: int = 1, yd: int = 1) -> bytes:
    payload = b"JFIF\x00" + version + bytes([units]) + struct.pack(">HH", max(1, xd), max(1, yd)) + b"\0\0"
    return b"\xff\xe0" + struct.pack(">H", len(payload) + 2) + payload


def parse_jpeg(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> JpegLayout:
    """Walk a JPEG's marker structure, validate it, and rebuild it without metadata.

    Raises :class:`TooManyPixels` as soon as the frame header is read, :class:`UnsupportedFormat`
    for JPEG variants we cannot decode (12-bit, lossless, hierarchical, DNL-defined height, not 1/3/4
    components) and :class:`CorruptImage` for anything structurally wrong (see the module docs).
    """
    n = len(data)
    if n < 4 or data[:3] != b"\xff\xd8\xff":
        raise CorruptImage("not a JPEG stream (no SOI marker)")
    mv = memoryview(data)
    index: _MarkerIndex | None = None
    parts: list[bytes | memoryview] = []
    dropped: list[str] = []
    jfif: bytes | None = None
    adobe: bytes | None = None
    adobe_transform: int | None = None
    orientation: int | None = None
    sof: tuple[int, int, int, int, tuple[int, ...]] | None = None  # marker, precision, w, h, ids
    restart_interval = 0
    after_scan = False
    scans = 0
    segments = 0
    pos = 2
    while True:
        # Expect a marker; tolerate 0x00 padding between segments, as Pillow does.
        start = pos
        pos = _ZEROS.match(data, pos).end()  # type: ignore[union-attr]  # (always matches)
        if pos > start:
            dropped.append("padding between segments")
        if pos + 1 >= n:
            raise CorruptImage("the JPEG is truncated (it ends before its EOI marker)")
        if data[pos] != 0xFF:
            raise CorruptImage(f"the JPEG structure is damaged (expected a marker at byte {pos})")
        pos = _FILL.match(data, pos).end() - 1  # type: ignore[union-attr]  # last of the 0xFF bytes
        if pos + 1 >= n:
            raise CorruptImage("the JPEG is truncated (it ends before its EOI marker)")
        marker = data[pos + 1]
        seg_start = pos
        pos += 2
        if marker == 0xD9:  # EOI
            break
        follows_scan, after_scan = after_scan, False
        if follows_scan and marker not in _AFTER_SCAN:
            raise CorruptImage(
                f"the JPEG image data is damaged (stray marker 0x{marker:02X} in the entropy-coded data "
                f"at byte {pos - 2})"
            )
        if marker == 0x00 or marker == 0x01 or 0xD0 <= marker <= 0xD8 or 0x02 <= marker <= 0xBF:
            raise CorruptImage(
                f"the JPEG structure is damaged (unexpected marker 0x{marker:02X} at byte {pos - 2})"
            )
        if pos + 2 > n:
            raise CorruptImage("the JPEG is truncated (it ends inside a marker segment)")
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2:
            raise CorruptImage(f"the JPEG structure is damaged (bad segment length at byte {pos})")
        seg_end = pos + length
        if seg_end > n:
            where = "image data is damaged" if follows_scan else "is damaged or truncated"
            raise CorruptImage(
                f"the JPEG {where} (the marker segment at byte {pos - 2} runs past the end of the file)"
            )
        segments += 1
        if segments > MAX_SEGMENTS:
            raise CorruptImage(f"the JPEG has more than {MAX_SEGMENTS} marker segments")
        payload = mv[pos + 2 : seg_end]

        if marker in _SOF_ALL:
            if sof is not None:
                raise CorruptImage("the JPEG has more than one frame header (SOF)")
            if len(payload) < 6:
                raise CorruptImage("the JPEG frame header (SOF) is too short")
            precision = payload[0]
            height = (payload[1] << 8) | payload[2]
            width = (payload[3] << 8) | payload[4]
            ncomp = payload[5]
            if len(payload) != 6 + 3 * ncomp:
                raise CorruptImage("the JPEG frame header (SOF) has an inconsistent length")
            if width == 0:
                raise CorruptImage("the JPEG frame header says the width is 0")
            if height == 0:
                raise UnsupportedFormat("JPEG with the height defined later by a DNL marker is not supported")
            if width * height > max_pixels:
                raise TooManyPixels(width, height, max_pixels)
            if marker not in _SOF_DECODABLE:
                kind = "lossless" if marker in (0xC3, 0xCB) else "hierarchical"
                raise UnsupportedFormat(f"{kind} JPEG (SOF 0x{marker:02X}) is not supported")
            if precision != 8:
                raise UnsupportedFormat(f"{precision}-bit JPEG is not supported (only 8-bit)")
            if ncomp not in (1, 3, 4):
                raise UnsupportedFormat(f"JPEG with {ncomp} colour components is not supported")
            ids = tuple(payload[6 + 3 * i] for i in range(ncomp))
            sof = (marker, precision, width, height, ids)
            parts.append(mv[seg_start:seg_end])
        elif marker == 0xDA:  # SOS, then entropy-coded data up to the next non-RST marker
            if sof is None:
                raise CorruptImage("the JPEG has a scan before its frame header")
            ns = payload[0] if len(payload) else 0
            if not 1 <= ns <= 4 or len(payload) != 4 + 2 * ns:
                raise CorruptImage("the JPEG scan header (SOS) is malformed")
            if any(payload[1 + 2 * i] not in sof[4] for i in range(ns)):
                raise CorruptImage("the JPEG scan refers to a component the frame does not have")
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise CorruptImage(f"the JPEG has more than {MAX_JPEG_SCANS} scans")
            if index is None:
                index = _MarkerIndex(data)
            found = index.end_of_scan(seg_end)
            if found is None:
                raise CorruptImage("the JPEG is truncated (its image data ends without an EOI marker)")
            end, rst_codes = found
            if end == seg_end:
                raise CorruptImage("the JPEG has a scan without image data")
            if rst_codes.size:
                if restart_interval == 0:
                    raise CorruptImage("the JPEG image data is damaged (restart marker without DRI)")
                expected = (np.arange(rst_codes.size) % 8 + 0xD0).astype(np.uint8)
                if not np.array_equal(rst_codes, expected):
                    raise CorruptImage("the JPEG image data is damaged (restart markers out of sequence)")
            parts.append(mv[seg_start:end])
            pos = end
            after_scan = True
            continue
        elif marker in _TABLE_MARKERS:
            if marker == 0xDD:
                if len(payload) != 2:
                    raise CorruptImage("the JPEG restart interval (DRI) segment is malformed")
                restart_interval = (payload[0] << 8) | payload[1]
            parts.append(mv[seg_start:seg_end])
        elif marker == 0xE0 and bytes(payload[:5]) == b"JFIF\x00" and len(payload) >= 14:
            if jfif is None:
                xd = (payload[8] << 8) | payload[9]
                yd = (payload[10] << 8) | payload[11]
                jfif = _jfif_segment(bytes(payload[5:7]), payload[7], xd, yd)
                if len(payload) > 14 or payload[12] or payload[13]:
                    dropped.append("APP0 JFIF thumbnail")
            else:
                dropped.append("APP0 JFIF (duplicate)")
        elif marker == 0xE2 and bytes(payload[:12]) == b"ICC_PROFILE\x00":
            parts.append(mv[seg_start:seg_end])
        elif marker == 0xEE and bytes(payload[:5]) == b"Adobe" and len(payload) >= 12:
            if adobe is None:
                adobe = b"\xff\xee\x00\x0e" + bytes(payload[:12])
                adobe_transform = payload[11]
                parts.append(adobe)
                if len(payload) > 12:
                    dropped.append("APP14 Adobe (extra bytes)")
            else:
                dropped.append("APP14 Adobe (duplicate)")
        else:
            # APP0..APP15 other than the above, COM, JPGn: metadata or extensions, dropped.
            if marker == 0xE1 and orientation is None and bytes(payload[:6]) == b"Exif\x00\x00":
                orientation = _tiff_orientation(payload[6:])
            dropped.append(_segment_name(marker, payload))
        pos = seg_end

    if sof is None or scans == 0:
        raise CorruptImage("the JPEG has no image data (no frame header or no scan)")
    eoi_end = pos
    if eoi_end < n:
        dropped.append(f"{n - eoi_end} bytes after the EOI marker (e.g. MPF images)")

    marker, precision, width, height, ids = sof
    ncomp = len(ids)
    # Adding JFIF tells decoders "YCbCr" (or grayscale); do it only where they assume that anyway.
    if jfif is None and adobe is None and (ncomp == 1 or (ncomp == 3 and ids != (82, 71, 66))):
        jfif = _jfif_segment()
    head = [b"\xff\xd8"] + ([jfif] if jfif is not None else [])
    clean = b"".join([*head, *parts, b"\xff\xd9"])
    return JpegLayout(
        width=width,
        height=height,
        components=ncomp,
        component_ids=ids,
        sof_marker=marker,
        precision=precision,
        orientation=orientation or 1,
        scans=scans,
        adobe_transform=adobe_transform,
        clean=clean,
        dropped=tuple(dropped),
    )


# --------------------------------------------------------------------------------------------
# PNG and WebP structure
# --------------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Chunks handed to the decoder (and allowed in stored PNGs): pixels, palette, transparency and
#: colour description. Text, eXIf, tIME, iTXt/zTXt (XMP), animation and private chunks are not.
PNG_KEEP_CHUNKS = frozenset(
    {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"sBIT"}
)


@dataclass(frozen=True, eq=False)
class PngLayout:
    """What :func:`parse_png` found; ``clean`` is the file with only :data:`PNG_KEEP_CHUNKS`."""

    width: int
    height: int
    orientation: int  # from an eXIf chunk (1 when none)
    clean: bytes
    dropped: tuple[str, ...]  # chunk types (and trailing data) that ``clean`` left out


def parse_png(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> PngLayout:
    """Walk and validate a PNG's chunks (CRCs included), checking the pixel count from IHDR first."""
    n = len(data)
    if n < 8 + 25 or data[:8] != _PNG_SIGNATURE:
        raise CorruptImage("the PNG is truncated (no complete IHDR chunk)")
    mv = memoryview(data)
    parts: list[bytes | memoryview] = [_PNG_SIGNATURE]
    dropped: list[str] = []
    width = height = 0
    orientation: int | None = None
    has_idat = False
    pos = 8
    chunks = 0
    while True:
        if pos + 12 > n:
            raise CorruptImage("the PNG is truncated (it ends before its IEND chunk)")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            raise CorruptImage("the PNG is truncated (inside a chunk)")
        if not ctype.isalpha() or not ctype.isascii():
            raise CorruptImage(f"the PNG structure is damaged (invalid chunk type at byte {pos})")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(mv[pos + 4 : end - 4]) != crc:
            raise CorruptImage(f"the PNG is damaged (CRC mismatch in a {ctype.decode()} chunk at byte {pos})")
        chunks += 1
        if chunks > MAX_SEGMENTS:
            raise CorruptImage(f"the PNG has more than {MAX_SEGMENTS} chunks")
        if chunks == 1:
            if ctype != b"IHDR" or length != 13:
                raise CorruptImage("the PNG does not start with an IHDR chunk")
            width, height = struct.unpack_from(">II", data, pos + 8)
            if width == 0 or height == 0 or width > 0x7FFFFFFF or height > 0x7FFFFFFF:
                raise CorruptImage(f"the PNG header declares an invalid size {width}x{height}")
            if width * height > max_pixels:
                raise TooManyPixels(width, height, max_pixels)
        if ctype in PNG_KEEP_CHUNKS:
            parts.append(mv[pos:end])
            has_idat = has_idat or ctype == b"IDAT"
        elif ctype[0:1].isupper():  # an unknown critical chunk: decoders must refuse the file
            raise UnsupportedFormat(
                f"PNG with a non-standard critical chunk {ctype.decode()!r} (e.g. Apple CgBI)"
            )
        else:
            if ctype == b"eXIf" and orientation is None:
                orientation = _tiff_orientation(mv[pos + 8 : end - 4])
            dropped.append(ctype.decode())
        if ctype == b"IEND":
            break
        pos = end
    if not has_idat:
        raise CorruptImage("the PNG has no image data (no IDAT chunk)")
    if end < n:
        dropped.append(f"{n - end} bytes after IEND")
    return PngLayout(width, height, orientation or 1, b"".join(parts), tuple(dropped))


def _parse_webp(data: bytes, max_pixels: int) -> tuple[int, int, int, bytes]:
    """(width, height, orientation, the RIFF bytes for the decoder)."""
    n = len(data)
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > n:
        raise CorruptImage("the WebP is truncated (shorter than its RIFF header says)")
    pos = 12
    width = height = 0
    orientation: int | None = None
    chunks = 0
    while pos + 8 <= riff_end:
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if body + size > riff_end:
            raise CorruptImage(f"the WebP is truncated (inside a {fourcc.decode('latin-1')!r} chunk)")
        chunks += 1
        if chunks > MAX_SEGMENTS:
            raise CorruptImage(f"the WebP has more than {MAX_SEGMENTS} chunks")
        payload = data[body : body + min(size, 16)]
        if chunks == 1:
            if fourcc == b"VP8X" and size >= 10:
                width = 1 + int.from_bytes(payload[4:7], "little")
                height = 1 + int.from_bytes(payload[7:10], "little")
            elif fourcc == b"VP8 " and size >= 10 and payload[3:6] == b"\x9d\x01\x2a":
                width = int.from_bytes(payload[6:8], "little") & 0x3FFF
                height = int.from_bytes(payload[8:10], "little") & 0x3FFF
            elif fourcc == b"VP8L" and size >= 5 and payload[0] == 0x2F:
                bits = int.from_bytes(payload[1:5], "little")
                width = (bits & 0x3FFF) + 1
                height = ((bits >> 14) & 0x3FFF) + 1
            else:
                raise CorruptImage("the WebP header is damaged (no VP8/VP8L/VP8X chunk first)")
            if width == 0 or height == 0:
                raise CorruptImage(f"the WebP header declares an invalid size {width}x{height}")
            if width * height > max_pixels:
                raise TooManyPixels(width, height, max_pixels)
        elif fourcc == b"EXIF" and orientation is None:
            orientation = _tiff_orientation(data[body : body + size])
        pos = body + size + (size & 1)
    if chunks == 0:
        raise CorruptImage("the WebP has no image data")
    return width, height, orientation or 1, data[:riff_end] if riff_end < n else data


# --------------------------------------------------------------------------------------------
# HEIF (lazy pillow_heif)
# --------------------------------------------------------------------------------------------

_heif_lock = threading.Lock()
_heif_module: Any = None


def _heif() -> Any:
    """Import pillow_heif and register its Pillow opener, once, on first use."""
    global _heif_module
    if _heif_module is None:
        with _heif_lock:
            if _heif_module is None:
                import pillow_heif

                pillow_heif.register_heif_opener()
                _heif_module = pillow_heif
    return _heif_module


def _heif_error(exc: BaseException) -> PhotoDecodeError:
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    if isinstance(exc, SyntaxError) or "nsupported" in text:
        return UnsupportedFormat(f"this HEIF variant is not supported ({text})")
    return CorruptImage(f"the HEIF file is damaged or incomplete ({text})")


# --------------------------------------------------------------------------------------------
# Opening: everything up to (not including) the pixel decode
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PhotoSource:
    """A validated photo whose header has been read and whose pixel count is within the limit."""

    format: str  # "jpeg" | "png" | "webp" | "heif"
    raw_width: int  # as stored in the file, before EXIF orientation
    raw_height: int
    orientation: int  # EXIF orientation found (1 when none)
    apply_orientation: bool  # False for HEIF (libheif applies the container's transforms)
    decode_bytes: bytes  # what the decoder gets: metadata-stripped for JPEG/PNG
    jpeg: JpegLayout | None = None
    heif_file: Any = None  # pillow_heif.HeifFile (opened, not decoded)

    @property
    def swaps_axes(self) -> bool:
        return self.apply_orientation and self.orientation in (5, 6, 7, 8)

    @property
    def width(self) -> int:
        """Full-size width after orientation."""
        return self.raw_height if self.swaps_axes else self.raw_width

    @property
    def height(self) -> int:
        """Full-size height after orientation."""
        return self.raw_width if self.swaps_axes else self.raw_height


def open_photo(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoSource:
    """Sniff, read the header, check the pixel count and validate the structure; decode nothing."""
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedFormat(f"{describe_unsupported(data)} is not an accepted photo format")
    if fmt == "jpeg":
        layout = parse_jpeg(data, max_pixels=max_pixels)
        return PhotoSource(
            "jpeg", layout.width, layout.height, layout.orientation, True, layout.clean, jpeg=layout
        )
    if fmt == "png":
        png = parse_png(data, max_pixels=max_pixels)
        return PhotoSource("png", png.width, png.height, png.orientation, True, png.clean)
    if fmt == "webp":
        w, h, orientation, riff = _parse_webp(data, max_pixels)
        return PhotoSource("webp", w, h, orientation, True, riff)
    heif = _heif()
    try:
        heif_file = heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        w, h = heif_file.size
        exif = heif_file.info.get("exif")
    except (ValueError, EOFError, SyntaxError, RuntimeError, OSError, IndexError, KeyError) as exc:
        raise _heif_error(exc) from exc
    if w <= 0 or h <= 0:
        raise CorruptImage(f"the HEIF header declares an invalid size {w}x{h}")
    if w * h > max_pixels:
        raise TooManyPixels(w, h, max_pixels)
    orientation = _tiff_orientation(exif) if exif else 1
    return PhotoSource("heif", w, h, orientation, False, data, heif_file=heif_file)


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)
_WHITE = (255, 255, 255)


def _open_pil(src: PhotoSource) -> Image.Image:
    try:
        im = Image.open(io.BytesIO(src.decode_bytes), formats=[_PIL_FORMAT[src.format]])
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(src.raw_width, src.raw_height, Image.MAX_IMAGE_PIXELS or 0) from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImage(f"the {src.format.upper()} header cannot be read ({exc})") from exc
    if im.size != (src.raw_width, src.raw_height):
        raise CorruptImage(
            f"the {src.format.upper()} header is inconsistent (size {im.size[0]}x{im.size[1]} vs "
            f"{src.raw_width}x{src.raw_height})"
        )
    return im


def _load(im: Image.Image, fmt: str) -> None:
    try:
        im.load()
    except _DECODE_ERRORS as exc:
        raise CorruptImage(f"the {fmt.upper()} image data is damaged or incomplete ({exc})") from exc


def _rgb_icc(icc: Any) -> bytes | None:
    """The ICC profile if it describes an RGB colour space (the only kind that fits our output)."""
    if isinstance(icc, bytes) and len(icc) >= 128 and icc[16:20] == b"RGB ":
        return icc
    return None


def _to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB from any mode; alpha composited on white."""
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im)
        if mode == "F":
            arr8 = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
        else:
            arr8 = (np.clip(arr.astype(np.int64), 0, 65535) >> 8).astype(np.uint8)
        return Image.fromarray(np.ascontiguousarray(arr8)).convert("RGB")
    has_key = mode in ("P", "L", "RGB", "1") and "transparency" in im.info
    if has_key or mode in ("PA", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        out = Image.new("RGB", im.size, _WHITE)
        out.paste(im, mask=im.getchannel("A"))
        return out
    return im.convert("RGB")


def load_full(src: PhotoSource) -> tuple[Image.Image, bytes | None]:
    """Decode at full size: (8-bit RGB image, NOT yet oriented; its RGB ICC profile or None).
    The image's ``info`` is emptied, so no metadata can travel further with it."""
    if src.format == "heif":
        try:
            im = src.heif_file.to_pillow()
        except (ValueError, EOFError, SyntaxError, RuntimeError, OSError) as exc:
            raise _heif_error(exc) from exc
        icc = im.info.get("icc_profile")
    else:
        im = _open_pil(src)
        icc = im.info.get("icc_profile")
        _load(im, src.format)
    rgb = _to_rgb(im)
    rgb.info = {}
    return rgb, _rgb_icc(icc)


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def orient_image(im: Image.Image, src: PhotoSource) -> Image.Image:
    """Apply the EXIF orientation of ``src`` to a full-size image (as ``ImageOps.exif_transpose``)."""
    if not src.apply_orientation or src.orientation not in _TRANSPOSE:
        return im
    out = im.transpose(_TRANSPOSE[src.orientation])
    out.info = dict(im.info)
    return out


def _orient_array(a: np.ndarray, orientation: int) -> np.ndarray:
    """The numpy twin of :func:`orient_image` (same results as Pillow's transposes)."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.transpose(1, 0, 2)
    elif orientation == 6:
        a = a.transpose(1, 0, 2)[:, ::-1]
    elif orientation == 7:
        a = a[::-1, ::-1].transpose(1, 0, 2)
    elif orientation == 8:
        a = a.transpose(1, 0, 2)[::-1]
    return np.ascontiguousarray(a)


def _area_resize(a: np.ndarray, target_long_side: int) -> np.ndarray:
    h, w = a.shape[:2]
    long_side = max(h, w)
    if long_side <= target_long_side:
        return a
    scale = target_long_side / long_side
    if w >= h:
        size = (target_long_side, max(1, round(h * scale)))
    else:
        size = (max(1, round(w * scale)), target_long_side)
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA)


def _as_rgb_array(im: Image.Image) -> np.ndarray:
    a = np.asarray(im)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise CorruptImage(f"unexpected decoded pixel layout {a.shape} {a.dtype}")
    return a


def finish_reduced(full_rgb: Image.Image, src: PhotoSource, target_long_side: int) -> DecodedPhoto:
    """A :class:`DecodedPhoto` from an unoriented RGB image (full-size or draft-reduced)."""
    a = _area_resize(_as_rgb_array(full_rgb), target_long_side)
    if src.apply_orientation:
        a = _orient_array(a, src.orientation)
    a = np.ascontiguousarray(a)
    if not a.flags.writeable:
        a = a.copy()
    return DecodedPhoto(
        rgb=a,
        width=src.width,
        height=src.height,
        source_format=src.format,
        orientation=src.orientation,
    )


def jpeg_draft_scale(long_side: int, target_long_side: int) -> int:
    """The largest libjpeg reduction (8, 4, 2 or 1) that keeps the long side >= the target."""
    for k in (8, 4, 2):
        if -(-long_side // k) >= target_long_side:
            return k
    return 1


def reduce_photo(src: PhotoSource, *, target_long_side: int = DEFAULT_TARGET_LONG_SIDE) -> DecodedPhoto:
    """Decode ``src`` small: JPEG with DCT-domain scaling, other formats in full; then area-resize."""
    if target_long_side < 1:
        raise ValueError("target_long_side must be >= 1")
    if src.format != "jpeg":
        full, _ = load_full(src)
        return finish_reduced(full, src, target_long_side)
    im = _open_pil(src)
    w, h = im.size
    k = jpeg_draft_scale(max(w, h), target_long_side)
    if k > 1:
        im.draft("RGB", (max(1, w // k), max(1, h // k)))
    _load(im, "jpeg")
    rgb = _to_rgb(im)
    return finish_reduced(rgb, src, target_long_side)


def decode_reduced(
    data: bytes, *, target_long_side: int = DEFAULT_TARGET_LONG_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS
) -> DecodedPhoto:
    """Validate and decode ``data`` to a small oriented RGB array (see the module docs)."""
    return reduce_photo(open_photo(data, max_pixels=max_pixels), target_long_side=target_long_side)


def decode_full(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Image.Image, str]:
    """(full-size oriented 8-bit RGB image, source format). ``image.info`` holds at most an RGB
    ``icc_profile``; nothing else from the file's metadata."""
    src = open_photo(data, max_pixels=max_pixels)
    im, icc = load_full(src)
    im = orient_image(im, src)
    im.info = {"icc_profile": icc} if icc else {}
    return im, src.format
