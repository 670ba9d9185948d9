"""The typed refusals of photo decoding: each carries a stable ``code``, a ``message`` and a ``fix``."""

from __future__ import annotations


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
