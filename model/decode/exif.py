"""EXIF orientation: our own minimal TIFF reader (one tag, no warnings, no allocation)."""

from __future__ import annotations

import struct


def tiff_orientation(tiff: bytes | memoryview) -> int:
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
