"""Photo intake: check, decode, strip every piece of metadata, and produce what is stored.

``ingest_photo(data, filename=..., limits=...)`` either returns an :class:`IngestedPhoto` (the
sanitized bytes to store, a thumbnail and a reduced decode for the quality checks) or raises
:class:`PhotoRejected` with an HTTP status, a machine ``code``, a ``message`` and a ``fix``. It
writes nothing anywhere: a refused photo leaves no trace, and the caller stores an accepted one
(see :mod:`serving.photos.store`).

Order of checks (cheapest first, nothing decoded before the limits are known to hold)
-------------------------------------------------------------------------------------
1. empty file                                   -> 422 ``empty_file``
2. size in bytes > ``max_bytes``                -> 413 ``photo_too_large`` (nothing parsed)
3. format from the magic bytes                  -> 415 ``unsupported_format``
   (JPEG, PNG, WebP, HEIC/HEIF accepted; GIF, AVIF, TIFF, PDF, text, ... refused)
4. pixel count from the header > ``max_pixels`` -> 413 ``too_many_pixels`` (decompression bombs,
   refused without allocating)
5. structure and decode                         -> 422 ``corrupt_image`` (truncated or damaged);
   a format variant we cannot decode (12-bit JPEG, ...) -> 415 ``unsupported_format``
6. sanitize, then verify the result (below).

Sanitizing policy
-----------------
Stored photos carry **no metadata at all**: no EXIF (so no GPS position, timestamps, camera
serial numbers or MakerNotes), no XMP, no IPTC/Photoshop blocks, no comments, no embedded
thumbnails, no MPF secondary images or gain maps, no PNG text/eXIf/tIME chunks. Only an RGB ICC
colour profile may be kept, so colours still display right. The EXIF orientation is *applied*
to the pixels (the tag that described it is gone with the rest), so every stored image is upright.

* **JPEG with orientation 1 (or none), 8-bit, Huffman-coded, grayscale or 3-component** --
  *lossless*: the marker segments are rewritten (see :class:`model.decode.JpegLayout`): keep
  SOI, a minimal JFIF APP0 (re-added if absent, never with a thumbnail), APP2 ICC_PROFILE,
  APP14 Adobe, the tables, frame and scan headers and the entropy-coded data byte for byte, and
  EOI; drop APP1-APP15 otherwise, COM, and everything after the first EOI. Fast (a few ms for a
  12 MP photo) and the pixels are bit-identical to the upload's. Stored as ``image/jpeg``.
* **Every other JPEG** (rotated/mirrored orientation 2-8, CMYK/YCCK, arithmetic-coded), **HEIF**
  and **WebP** -- full decode to 8-bit RGB (alpha composited on white), orientation applied,
  re-encoded as baseline JPEG quality 95, 4:2:0 chroma (what phone cameras use), with the RGB ICC
  profile only. Stored as ``image/jpeg``.
* **PNG** -- full decode to 8-bit RGB (alpha composited on white), orientation applied,
  re-encoded as PNG with no ancillary chunks but iCCP (only IHDR, [iCCP], IDAT, IEND).
  Stored as ``image/png``.

Afterwards the stored bytes are **verified** with cheap checks, so that a bug cannot leak
metadata: our structural parser must find nothing it would strip (JPEG: only the allowed
segments and nothing after EOI; PNG: only the allowed chunks), and Pillow must open the bytes
as the expected format and size with an empty ``getexif()`` and no EXIF/XMP/comment/IPTC keys
in ``info``. A failure raises :class:`SanitizeError` (a server bug, HTTP 500), never a stored
photo. (The pixels are not decoded again: the lossless path stores exactly the bytes that were
just decoded for analysis, and the re-encoded paths store what we encoded.)

The thumbnail (JPEG quality 85, long side <= ``thumbnail_long_side``) is made from the reduced
decode, so it costs almost nothing, and is verified the same way.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from model.decode import (
    DEFAULT_TARGET_LONG_SIDE,
    DecodedPhoto,
    PhotoDecodeError,
    PhotoSource,
    TooManyPixels,
    UnsupportedFormat,
    describe_unsupported,
    finish_reduced,
    jpeg_draft_scale,
    load_full,
    open_photo,
    orient_image,
    parse_jpeg,
    parse_png,
    reduce_photo,
    sniff_format,
)

__all__ = [
    "IngestedPhoto",
    "PhotoLimits",
    "PhotoRejected",
    "SanitizeError",
    "check_photo",
    "decode_memory",
    "ingest_photo",
]

JPEG_QUALITY = 95
THUMBNAIL_QUALITY = 85
PNG_COMPRESS_LEVEL = 6
PNG_ZLIB_STRATEGY = 3  # Z_RLE: ~1/3 faster than the default strategy, near-identical size for PNGs

#: ``Image.info`` keys through which Pillow exposes metadata; none may appear in stored bytes.
_METADATA_INFO_KEYS = (
    "exif",
    "xmp",
    "XML:com.adobe.xmp",
    "comment",
    "photoshop",
    "iptc",
    "mp",
    "mpinfo",
    "Raw profile type exif",
    "Raw profile type iptc",
    "Raw profile type xmp",
)


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    analysis_long_side: int = DEFAULT_TARGET_LONG_SIDE
    thumbnail_long_side: int = 320


class PhotoRejected(Exception):
    """A photo refused with a reason. ``status_code``: 413 (too many bytes or pixels), 415 (not
    an image / format not accepted), 422 (empty, corrupt, truncated). ``message`` already names
    the file; the caller prefixes where it came from (e.g. ``photos[2] ``)."""

    def __init__(self, status_code: int, code: str, message: str, fix: str, *, filename: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fix = fix
        self.filename = filename

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "fix": self.fix}


class SanitizeError(RuntimeError):
    """The sanitized output failed its verification: a bug. Nothing must be stored."""


@dataclass(frozen=True, eq=False)
class IngestedPhoto:
    content: bytes  # sanitized bytes to store: no metadata at all (an RGB ICC profile at most)
    media_type: str  # "image/jpeg" or "image/png"
    sha256: str  # hex sha256 of ``content``
    width: int  # of the stored (oriented) image
    height: int
    source_format: str  # jpeg / png / webp / heif
    thumbnail: bytes  # JPEG, long side <= thumbnail_long_side
    analysis: DecodedPhoto  # the reduced decode, for the quality checks
    sanitize_method: str = ""  # "jpeg-lossless" | "jpeg-reencode" | "png-reencode"

    @property
    def suffix(self) -> str:
        return "jpg" if self.media_type == "image/jpeg" else "png"


def _display_name(filename: str) -> str:
    name = filename or "(unnamed)"
    if len(name) > 80:
        name = name[:77] + "..."
    return repr(name)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


class _Rejecting:
    """Turns the decoder's typed refusals into :class:`PhotoRejected` naming the file."""

    def __init__(self, filename: str):
        self.filename = filename
        self.name = _display_name(filename)

    def __call__(self, status: int, code: str, what: str, fix: str) -> PhotoRejected:
        return PhotoRejected(status, code, f"{self.name}: {what}", fix, filename=self.filename)

    def __enter__(self) -> _Rejecting:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if isinstance(exc, PhotoDecodeError):  # corrupt (422) unless too many pixels or unsupported
            status = 422
            if isinstance(exc, TooManyPixels | UnsupportedFormat):
                status = 413 if isinstance(exc, TooManyPixels) else 415
            raise self(status, exc.code, exc.message, exc.fix) from exc


def check_photo(data: bytes, *, filename: str, limits: PhotoLimits) -> PhotoSource:
    """Checks 1-4 of the module docs and the structure: everything before a pixel is decoded (cheap;
    nothing is allocated in proportion to the pixels). Raises :class:`PhotoRejected`."""
    reject = _Rejecting(filename)
    if not data:
        raise reject(
            422,
            "empty_file",
            "the file is empty (0 bytes)",
            "Attach the photo itself; the upload contained no data.",
        )
    if len(data) > limits.max_bytes:
        raise reject(
            413,
            "photo_too_large",
            f"the file is {_mb(len(data))} ({len(data)} bytes), over the {_mb(limits.max_bytes)} limit",
            "Send a smaller file: choose a lower photo size or quality on the phone, or crop to the "
            "affected area.",
        )
    if sniff_format(data) is None:
        raise reject(
            415,
            "unsupported_format",
            f"{describe_unsupported(data)} is not an accepted photo format",
            UnsupportedFormat.default_fix,
        )
    with reject:
        return open_photo(data, max_pixels=limits.max_pixels)


#: Peak memory of one :func:`ingest_photo` per pixel of a full decode, by format: measured with
#: ``bench/decode_cost.py`` (peak RSS over RSS before, in a fresh process warmed up by a small photo;
#: every path: rotated, CMYK, RGBA, palette, 16-bit), the slope between 4 and 16 MP photos, the
#: highest of each format, rounded up. A full decode holds Pillow's image (4 bytes a pixel: RGB is
#: stored as RGBX), the array the reduced decode is computed from (3), and a converted or rotated copy;
#: WebP and HEIF add their decoder's own buffer.
DECODE_BYTES_PER_PIXEL = {"jpeg": 8.5, "png": 8.5, "webp": 15.5, "heif": 12.5}
#: An upright, portable JPEG is decoded only reduced (libjpeg's DCT scaling): bytes per reduced pixel,
#: plus copies of the file itself (the metadata-free copy the decoder reads, the stored bytes).
REDUCED_BYTES_PER_PIXEL = 8.0
FILE_COPIES = 2
#: what an ingest holds whatever the photo's size (the same measurement's intercept, up to 31 MB:
#: encoders' and decoders' buffers, the allocator's slack, the thumbnail)
DECODE_BASE_BYTES = 32 * 1024 * 1024


def decode_memory(src: PhotoSource, limits: PhotoLimits) -> int:
    """The most memory, in bytes, that :func:`ingest_photo` of ``src`` is expected to hold at once, from
    the header alone (see :data:`DECODE_BYTES_PER_PIXEL`): what a caller that bounds the memory of
    concurrent decodes reserves before decoding."""
    reduced_only = src.jpeg is not None and src.orientation == 1 and src.jpeg.portable  # see _sanitize
    if reduced_only:
        k = jpeg_draft_scale(max(src.raw_width, src.raw_height), limits.analysis_long_side)
        pixels = -(-src.raw_width // k) * -(-src.raw_height // k)
        size = pixels * REDUCED_BYTES_PER_PIXEL + FILE_COPIES * len(src.decode_bytes)
    else:
        size = src.raw_width * src.raw_height * DECODE_BYTES_PER_PIXEL[src.format]
    return DECODE_BASE_BYTES + int(size)


def ingest_photo(
    data: bytes, *, filename: str, limits: PhotoLimits, source: PhotoSource | None = None
) -> IngestedPhoto:
    """Check, decode and sanitize one uploaded photo (see the module docs). Stores nothing.
    ``source``: what :func:`check_photo` returned for the same ``data`` (it is not checked twice)."""
    src = source if source is not None else check_photo(data, filename=filename, limits=limits)
    with _Rejecting(filename):
        content, media_type, method, analysis = _sanitize(src, limits)
    _verify_clean(content, media_type, src.width, src.height, what="photo")
    thumbnail = _thumbnail(analysis.rgb, limits.thumbnail_long_side)
    return IngestedPhoto(
        content=content,
        media_type=media_type,
        sha256=hashlib.sha256(content).hexdigest(),
        width=src.width,
        height=src.height,
        source_format=src.format,
        thumbnail=thumbnail,
        analysis=analysis,
        sanitize_method=method,
    )


def _sanitize(src: PhotoSource, limits: PhotoLimits) -> tuple[bytes, str, str, DecodedPhoto]:
    """(content, media type, method, reduced decode)."""
    target = limits.analysis_long_side
    if src.format == "jpeg":
        assert src.jpeg is not None
        analysis = reduce_photo(src, target_long_side=target)  # also proves the clean bytes decode
        if src.orientation == 1 and src.jpeg.portable:
            return src.jpeg.clean, "image/jpeg", "jpeg-lossless", analysis
        full, icc = load_full(src)
    else:
        # One full decode serves both: for non-JPEG formats the reduced decode *is* full + resize.
        full, icc = load_full(src)
        analysis = finish_reduced(full, src, target)
    image = orient_image(full, src)
    if (image.width, image.height) != (src.width, src.height):  # pragma: no cover - defensive
        raise SanitizeError(f"oriented size {image.size} != expected {(src.width, src.height)}")
    if src.format == "png":
        return _encode(image, "PNG", icc), "image/png", "png-reencode", analysis
    return _encode(image, "JPEG", icc), "image/jpeg", "jpeg-reencode", analysis


def _encode(image: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    image.info = {}  # Pillow falls back on info for some keys (e.g. a JPEG comment): keep it empty
    params: dict[str, object] = {}
    if icc:
        params["icc_profile"] = icc
    if fmt == "JPEG":
        params.update(quality=JPEG_QUALITY, subsampling="4:2:0", optimize=False, progressive=False)
    else:
        params.update(compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_ZLIB_STRATEGY)
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _thumbnail(rgb: np.ndarray, long_side: int) -> bytes:
    h, w = rgb.shape[:2]
    if max(h, w) > long_side:
        scale = long_side / max(h, w)
        size = (long_side, max(1, round(h * scale))) if w >= h else (max(1, round(w * scale)), long_side)
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    content = _encode_thumbnail(rgb)
    _verify_clean(content, "image/jpeg", rgb.shape[1], rgb.shape[0], what="thumbnail")
    return content


def _encode_thumbnail(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def _verify_clean(content: bytes, media_type: str, width: int, height: int, *, what: str) -> None:
    """Raise :class:`SanitizeError` unless ``content`` is a clean image of the expected size."""
    problems: list[str] = []
    try:
        if media_type == "image/jpeg":
            dropped = parse_jpeg(content, max_pixels=max(1, width * height)).dropped
            pil_format = "JPEG"
        elif media_type == "image/png":
            dropped = parse_png(content, max_pixels=max(1, width * height)).dropped
            pil_format = "PNG"
        else:
            raise SanitizeError(f"unexpected media type {media_type!r}")
        if dropped:
            problems.append(f"metadata left in the {what}: {', '.join(dropped)}")
        with Image.open(io.BytesIO(content), formats=[pil_format]) as im:
            if im.size != (width, height):
                problems.append(f"{what} is {im.size[0]}x{im.size[1]}, expected {width}x{height}")
            leaked = [key for key in _METADATA_INFO_KEYS if key in im.info]
            if leaked:
                problems.append(f"Pillow finds metadata in the {what}: {leaked}")
            # PNG's getexif() would decode the whole image; the chunk allow-list above covers it.
            if pil_format == "JPEG" and len(im.getexif()):
                problems.append(f"Pillow finds EXIF in the {what}")
    except PhotoDecodeError as exc:
        problems.append(f"the {what} does not parse: {exc.message}")
    except OSError as exc:
        problems.append(f"Pillow cannot open the {what}: {exc}")
    if problems:
        raise SanitizeError("; ".join(problems))
