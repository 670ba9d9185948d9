"""The decode-memory budget: the bytes that the photos being decoded at once may hold, in this process.

A full decode of a 50-megapixel photo holds about half a gigabyte (``model.intake.decode_memory``),
whatever its size on disk (a flat 49-megapixel PNG is 50 KB): ten of them at once would take the
process past several gigabytes. :class:`MemoryBudget` is a weighted semaphore in bytes: each decode
reserves what its header says it will hold, waits (in line, first come first served) until that much
is free, and gives it back when done. A photo that needs more than the whole budget still decodes,
alone. :func:`ingest_within` is ``model.intake.ingest_photo`` under the budget; the pure decoding
functions know nothing of it. :func:`give_back_freed_memory` makes the memory of a finished decode
leave the process, so that the budget bounds its resident memory, not only what is live.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

from model.intake import IngestedPhoto, PhotoLimits, check_photo, decode_memory, ingest_photo


class MemoryBudget:
    """A weighted semaphore of ``capacity`` bytes, fair (first in, first served), for threads."""

    def __init__(self, capacity: int):
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._free = capacity
        self._line: deque[object] = deque()
        self._changed = threading.Condition()
        #: the most bytes reserved at once so far (for tests and figures)
        self.peak = 0

    @classmethod
    def unlimited(cls) -> MemoryBudget:
        """No bound in practice (every reservation fits)."""
        return cls(sys.maxsize)

    @property
    def reserved(self) -> int:
        with self._changed:
            return self.capacity - self._free

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[int]:
        """Hold ``nbytes`` (at most the whole budget) while the block runs; waits its turn."""
        amount = min(max(0, int(nbytes)), self.capacity)
        ticket = object()
        with self._changed:
            self._line.append(ticket)
            try:
                while self._line[0] is not ticket or self._free < amount:
                    self._changed.wait()
            finally:
                self._line.remove(ticket)
                self._changed.notify_all()  # the next in line may fit as well
            self._free -= amount
            self.peak = max(self.peak, self.capacity - self._free)
        try:
            yield amount
        finally:
            with self._changed:
                self._free += amount
                self._changed.notify_all()


#: Pillow's image memory comes in blocks of at most this (default 16 MiB); a block this large is always
#: its own mapping, given back to the system when the image is freed
PILLOW_BLOCK_BYTES = 64 * 1024 * 1024
#: glibc: every allocation from this size up is its own mapping (given back when freed)
MMAP_THRESHOLD_BYTES = 1024 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def give_back_freed_memory() -> None:
    """Make a finished decode's memory go back to the system. Otherwise glibc keeps what each decoding
    thread freed in that thread's own malloc arena (the dynamic mmap threshold grows to 32 MB after the
    first large free), and the process's memory grows to one full decode per threadpool thread however
    few decode at once: 6 decodes of a 49 MP PNG one after another in 6 threads left 1.3 GB resident,
    81 MB with this (bench/decode_memory.py measures the service). For the whole process, once."""
    Image.core.set_block_size(PILLOW_BLOCK_BYTES)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): Pillow's blocks are mapped already
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def ingest_within(budget: MemoryBudget, data: bytes, *, filename: str, limits: PhotoLimits) -> IngestedPhoto:
    """Check the photo (cheap, nothing decoded), then decode and sanitize it under ``budget``."""
    source = check_photo(data, filename=filename, limits=limits)
    with budget.reserve(decode_memory(source, limits)):
        return ingest_photo(data, filename=filename, limits=limits, source=source)
