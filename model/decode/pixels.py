"""Decoding pixels: full size or reduced (JPEG DCT-domain scaling), 8-bit RGB, EXIF orientation applied."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from model.decode.errors import CorruptImage, TooManyPixels
from model.decode.heif import heif_to_pillow
from model.decode.limits import DEFAULT_MAX_PIXELS, DEFAULT_TARGET_LONG_SIDE
from model.decode.source import PhotoSource, open_photo


@dataclass(frozen=True, eq=False)
class DecodedPhoto:
    """A reduced decode for analysis."""

    rgb: np.ndarray  # HxWx3 uint8 RGB, orientation applied, long side <= target (never upscaled)
    width: int  # full-size width after orientation
    height: int  # full-size height after orientation
    source_format: str  # "jpeg" | "png" | "webp" | "heif"
    orientation: int  # EXIF orientation tag found (1 when none)


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
        elif arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # 16-bit: the high byte, without the
            arr8 = (arr >> 8).astype(np.uint8)  # 8-byte-a-pixel detour below (same values)
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
        im = heif_to_pillow(src.heif_file)
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


def _downscale(a: np.ndarray, target_long_side: int) -> np.ndarray:
    """Shrink to ``target_long_side``: area averaging from twice the size or more; below that (what
    is left after a JPEG's DCT scaling, e.g. 1008 -> 768 px) bilinear, whose 2x2 support still covers
    every source pixel, at a tenth of the cost of OpenCV's area resize at a fractional ratio."""
    h, w = a.shape[:2]
    long_side = max(h, w)
    if long_side <= target_long_side:
        return a
    scale = target_long_side / long_side
    if w >= h:
        size = (target_long_side, max(1, round(h * scale)))
    else:
        size = (max(1, round(w * scale)), target_long_side)
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA if scale <= 0.5 else cv2.INTER_LINEAR)


#: rows copied at a time by :func:`_as_rgb_array` (about 6 MB of a 7,000-pixel-wide photo)
_BAND_BYTES = 8 * 1024 * 1024


def _as_rgb_array(im: Image.Image) -> np.ndarray:
    """The pixels of an RGB image as an HxWx3 array, copied a band of rows at a time: ``np.asarray``
    goes through ``tobytes()``, which holds the image twice more (its chunks, then their join) -- for a
    49-megapixel photo 300 MB on top of the array itself. The values are the same."""
    if im.mode != "RGB":
        raise CorruptImage(f"unexpected decoded pixel layout (mode {im.mode})")
    w, h = im.size
    out = np.empty((h, w, 3), np.uint8)
    rows = max(1, _BAND_BYTES // max(1, w * 3))
    for top in range(0, h, rows):
        bottom = min(h, top + rows)
        out[top:bottom] = np.asarray(im.crop((0, top, w, bottom)))
    return out


def finish_reduced(full_rgb: Image.Image, src: PhotoSource, target_long_side: int) -> DecodedPhoto:
    """A :class:`DecodedPhoto` from an unoriented RGB image (full-size or draft-reduced)."""
    a = _downscale(_as_rgb_array(full_rgb), target_long_side)
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
    """Decode ``src`` small: JPEG with DCT-domain scaling, other formats in full; then downscale
    (``_downscale``)."""
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
    """Validate and decode ``data`` to a small oriented RGB array (see :mod:`model.decode`)."""
    return reduce_photo(open_photo(data, max_pixels=max_pixels), target_long_side=target_long_side)


def decode_full(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Image.Image, str]:
    """(full-size oriented 8-bit RGB image, source format). ``image.info`` holds at most an RGB
    ``icc_profile``; nothing else from the file's metadata."""
    src = open_photo(data, max_pixels=max_pixels)
    im, icc = load_full(src)
    im = orient_image(im, src)
    im.info = {"icc_profile": icc} if icc else {}
    return im, src.format
