"""PNG structure: walk and validate the chunks (CRCs included), keeping only the pixel and colour ones."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from model.decode.errors import CorruptImage, TooManyPixels, UnsupportedFormat
from model.decode.exif import tiff_orientation
from model.decode.limits import DEFAULT_MAX_PIXELS, MAX_SEGMENTS

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
                orientation = tiff_orientation(mv[pos + 8 : end - 4])
            dropped.append(ctype.decode())
        if ctype == b"IEND":
            break
        pos = end
    if not has_idat:
        raise CorruptImage("the PNG has no image data (no IDAT chunk)")
    if end < n:
        dropped.append(f"{n - end} bytes after IEND")
    return PngLayout(width, height, orientation or 1, b"".join(parts), tuple(dropped))
