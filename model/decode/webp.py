"""WebP structure: the RIFF container, the frame size from VP8/VP8L/VP8X, and the EXIF orientation."""

from __future__ import annotations

from model.decode.errors import CorruptImage, TooManyPixels
from model.decode.exif import tiff_orientation
from model.decode.limits import MAX_SEGMENTS


def parse_webp(data: bytes, max_pixels: int) -> tuple[int, int, int, bytes]:
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
            orientation = tiff_orientation(data[body : body + size])
        pos = body + size + (size & 1)
    if chunks == 0:
        raise CorruptImage("the WebP has no image data")
    return width, height, orientation or 1, data[:riff_end] if riff_end < n else data
