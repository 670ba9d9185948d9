"""HEIF/HEIC through pillow_heif, imported lazily (the first time a HEIF photo arrives)."""

from __future__ import annotations

import io
import threading
from typing import Any

from PIL import Image

from model.decode.errors import CorruptImage, PhotoDecodeError, UnsupportedFormat

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


def open_heif(data: bytes) -> tuple[Any, int, int, bytes | None]:
    """Parse the HEIF container, decode no pixels: (pillow_heif ``HeifFile``, width, height, EXIF or None)."""
    heif = _heif()
    try:
        heif_file = heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        w, h = heif_file.size
        exif = heif_file.info.get("exif")
    except (ValueError, EOFError, SyntaxError, RuntimeError, OSError, IndexError, KeyError) as exc:
        raise _heif_error(exc) from exc
    return heif_file, w, h, exif


def heif_to_pillow(heif_file: Any) -> Image.Image:
    """Decode an opened HEIF file at full size (libheif applies the container's rotation/mirror)."""
    try:
        return heif_file.to_pillow()
    except (ValueError, EOFError, SyntaxError, RuntimeError, OSError) as exc:
        raise _heif_error(exc) from exc
