"""Photo decoding for analysis and intake: sniff, validate, decode small and fast.

Patients' phones send JPEG, PNG, WebP and HEIC/HEIF photos. This package turns such bytes into
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
    that keeps the long side >= ``target_long_side``), then a resize down to the target (area
    averaging from twice the size or more, bilinear below that); other formats are decoded in full
    and resized the same way. Never upscales.
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
     package never sets it, and does not depend on it.) More than 500 scans are refused (a
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

Modules
-------
``errors`` (the typed refusals), ``limits`` (pixel and segment limits), ``sniff`` (format from the
magic bytes), ``exif`` (EXIF orientation tag), ``jpeg`` / ``png`` / ``webp`` / ``heif`` (one
container format each), ``source`` (:func:`open_photo`: everything before the pixel decode) and
``pixels`` (the decode itself). Import from the package, ``from model.decode import ...``; the
submodules import each other one way only, in that order.
"""

from __future__ import annotations

from model.decode.errors import CorruptImage, PhotoDecodeError, TooManyPixels, UnsupportedFormat
from model.decode.jpeg import MAX_JPEG_SCANS, JpegLayout, parse_jpeg
from model.decode.limits import DEFAULT_MAX_PIXELS, DEFAULT_TARGET_LONG_SIDE, MAX_SEGMENTS
from model.decode.pixels import (
    DecodedPhoto,
    decode_full,
    decode_reduced,
    finish_reduced,
    jpeg_draft_scale,
    load_full,
    orient_image,
    reduce_photo,
)
from model.decode.png import PNG_KEEP_CHUNKS, PngLayout, parse_png
from model.decode.sniff import describe_unsupported, sniff_format
from model.decode.source import PhotoSource, open_photo

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_TARGET_LONG_SIDE",
    "MAX_JPEG_SCANS",
    "MAX_SEGMENTS",
    "PNG_KEEP_CHUNKS",
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
