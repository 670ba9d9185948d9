"""What one photo may cost before it is refused: pixels, and segments/chunks to parse."""

from __future__ import annotations

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_TARGET_LONG_SIDE = 768

#: Marker segments (outside entropy-coded data) / PNG chunks / RIFF chunks allowed in one file,
#: so a file made of millions of empty segments cannot keep the parser busy.
MAX_SEGMENTS = 20_000
