"""Opening a photo: everything up to (not including) the pixel decode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.decode.errors import CorruptImage, TooManyPixels, UnsupportedFormat
from model.decode.exif import tiff_orientation
from model.decode.heif import open_heif
from model.decode.jpeg import JpegLayout, parse_jpeg
from model.decode.limits import DEFAULT_MAX_PIXELS
from model.decode.png import parse_png
from model.decode.sniff import describe_unsupported, sniff_format
from model.decode.webp import parse_webp


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
        w, h, orientation, riff = parse_webp(data, max_pixels)
        return PhotoSource("webp", w, h, orientation, True, riff)
    heif_file, w, h, exif = open_heif(data)
    if w <= 0 or h <= 0:
        raise CorruptImage(f"the HEIF header declares an invalid size {w}x{h}")
    if w * h > max_pixels:
        raise TooManyPixels(w, h, max_pixels)
    orientation = tiff_orientation(exif) if exif else 1
    return PhotoSource("heif", w, h, orientation, False, data, heif_file=heif_file)
