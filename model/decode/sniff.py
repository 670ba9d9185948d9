"""The format of a photo from its magic bytes, and a description of what refused bytes look like."""

from __future__ import annotations

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
