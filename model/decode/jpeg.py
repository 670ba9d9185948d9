"""JPEG structure: walk and validate the marker segments, and rebuild the file without metadata."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

import numpy as np

from model.decode.errors import CorruptImage, TooManyPixels, UnsupportedFormat
from model.decode.exif import tiff_orientation
from model.decode.limits import DEFAULT_MAX_PIXELS, MAX_SEGMENTS

#: More scans than this in one JPEG is refused: a legitimate progressive JPEG has about 10, while a
#: crafted one with thousands of tiny scans costs a full-image pass each (libjpeg-turbo suggests 500).
MAX_JPEG_SCANS = 500

_SOF_ALL = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
#: Frame types our decoder (libjpeg-turbo via Pillow) handles: baseline, extended, progressive
#: (Huffman) and extended/progressive arithmetic.
_SOF_DECODABLE = frozenset({0xC0, 0xC1, 0xC2, 0xC9, 0xCA})
#: Frame types browsers and every viewer display: Huffman-coded only.
_SOF_PORTABLE = frozenset({0xC0, 0xC1, 0xC2})
#: What may follow a scan's entropy-coded data: EOI, another scan, tables, DNL, metadata. Any other
#: marker there is a damaged byte sequence inside the scan.
_AFTER_SCAN = frozenset({0xD9, 0xDA, 0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)})
# DHT, DAC, DQT, DNL, DRI, DHP, EXP: tables and frame parameters, kept as they are.
_TABLE_MARKERS = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF})

_APP_NAMES = {
    b"Exif\x00": "EXIF",
    b"http://ns.adobe.com/xap/1.0/\x00": "XMP",
    b"http://ns.adobe.com/xmp/extension/\x00": "extended XMP",
    b"Photoshop 3.0\x00": "Photoshop/IPTC",
    b"MPF\x00": "MPF",
    b"FPXR\x00": "FlashPix",
    b"JFXX\x00": "JFIF extension (thumbnail)",
}


def _segment_name(marker: int, payload: bytes | memoryview) -> str:
    head = bytes(payload[:40])
    for prefix, name in _APP_NAMES.items():
        if head.startswith(prefix):
            return f"APP{marker - 0xE0} {name}"
    if marker == 0xFE:
        return "COM comment"
    if 0xE0 <= marker <= 0xEF:
        ident = head.split(b"\x00", 1)[0][:20].decode("latin-1", "replace")
        return f"APP{marker - 0xE0} {ident!r}"
    return f"marker 0x{marker:02X}"


@dataclass(frozen=True, eq=False)
class JpegLayout:
    """What :func:`parse_jpeg` found, and the file rebuilt without metadata (``clean``).

    ``clean`` keeps SOI, a JFIF APP0 (rewritten minimal: no embedded thumbnail; added when the
    file had none and adding it cannot change how the colours are read), APP2 ICC_PROFILE,
    APP14 Adobe (rewritten canonical: it tells decoders the colour transform), every table,
    frame and scan segment and the entropy-coded data byte for byte, and EOI. It drops every
    other APPn (EXIF incl. GPS and MakerNotes, XMP, IPTC/Photoshop, MPF, FlashPix, ...), COM
    comments, JPGn extensions and everything after the first EOI (MPF secondary images, gain
    maps, trailers). The pixels decode bit-identically.
    """

    width: int
    height: int
    components: int
    component_ids: tuple[int, ...]
    sof_marker: int
    precision: int
    orientation: int  # EXIF orientation found (1 when none)
    scans: int
    adobe_transform: int | None
    clean: bytes
    dropped: tuple[str, ...]  # names of what ``clean`` left out (empty for an already-clean file)

    @property
    def portable(self) -> bool:
        """True when the (clean) file can be stored as it is and displayed anywhere: a Huffman-coded
        8-bit grayscale or 3-component JPEG."""
        return self.sof_marker in _SOF_PORTABLE and self.precision == 8 and self.components in (1, 3)


class _MarkerIndex:
    """Positions of every 0xFF byte followed by a marker code (not 0x00 stuffing, not 0xFF fill),
    found with numpy in one pass: lets us walk multi-megabyte entropy-coded data at C speed."""

    def __init__(self, data: bytes) -> None:
        a = np.frombuffer(data, dtype=np.uint8)
        if a.size < 2:
            self.pos = np.zeros(0, dtype=np.intp)
        else:
            nxt = a[1:]
            self.pos = np.flatnonzero((a[:-1] == 0xFF) & (nxt != 0x00) & (nxt != 0xFF))
        self.codes = a[self.pos + 1] if self.pos.size else np.zeros(0, dtype=np.uint8)
        is_rst = (self.codes >= 0xD0) & (self.codes <= 0xD7)
        self.other = self.pos[~is_rst]

    def end_of_scan(self, start: int) -> tuple[int, np.ndarray] | None:
        """(position of the first non-RST marker at or after ``start``, RST codes before it)."""
        j = int(np.searchsorted(self.other, start))
        if j >= self.other.size:
            return None
        end = int(self.other[j])
        i0 = int(np.searchsorted(self.pos, start))
        i1 = int(np.searchsorted(self.pos, end))
        return end, self.codes[i0:i1]


_ZEROS = re.compile(rb"\x00*")
_FILL = re.compile(rb"\xff+")


def _jfif_segment(version: bytes = b"\x01\x01", units: int = 0, xd: int = 1, yd: int = 1) -> bytes:
    payload = b"JFIF\x00" + version + bytes([units]) + struct.pack(">HH", max(1, xd), max(1, yd)) + b"\0\0"
    return b"\xff\xe0" + struct.pack(">H", len(payload) + 2) + payload


def parse_jpeg(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> JpegLayout:
    """Walk a JPEG's marker structure, validate it, and rebuild it without metadata.

    Raises :class:`TooManyPixels` as soon as the frame header is read, :class:`UnsupportedFormat`
    for JPEG variants we cannot decode (12-bit, lossless, hierarchical, DNL-defined height, not 1/3/4
    components) and :class:`CorruptImage` for anything structurally wrong (see :mod:`model.decode`).
    """
    n = len(data)
    if n < 4 or data[:3] != b"\xff\xd8\xff":
        raise CorruptImage("not a JPEG stream (no SOI marker)")
    mv = memoryview(data)
    index: _MarkerIndex | None = None
    parts: list[bytes | memoryview] = []
    dropped: list[str] = []
    jfif: bytes | None = None
    adobe: bytes | None = None
    adobe_transform: int | None = None
    orientation: int | None = None
    sof: tuple[int, int, int, int, tuple[int, ...]] | None = None  # marker, precision, w, h, ids
    restart_interval = 0
    after_scan = False
    scans = 0
    segments = 0
    pos = 2
    while True:
        # Expect a marker; tolerate 0x00 padding between segments, as Pillow does.
        start = pos
        pos = _ZEROS.match(data, pos).end()  # type: ignore[union-attr]  # (always matches)
        if pos > start:
            dropped.append("padding between segments")
        if pos + 1 >= n:
            raise CorruptImage("the JPEG is truncated (it ends before its EOI marker)")
        if data[pos] != 0xFF:
            raise CorruptImage(f"the JPEG structure is damaged (expected a marker at byte {pos})")
        pos = _FILL.match(data, pos).end() - 1  # type: ignore[union-attr]  # last of the 0xFF bytes
        if pos + 1 >= n:
            raise CorruptImage("the JPEG is truncated (it ends before its EOI marker)")
        marker = data[pos + 1]
        seg_start = pos
        pos += 2
        if marker == 0xD9:  # EOI
            break
        follows_scan, after_scan = after_scan, False
        if follows_scan and marker not in _AFTER_SCAN:
            raise CorruptImage(
                f"the JPEG image data is damaged (stray marker 0x{marker:02X} in the entropy-coded data "
                f"at byte {pos - 2})"
            )
        if marker == 0x00 or marker == 0x01 or 0xD0 <= marker <= 0xD8 or 0x02 <= marker <= 0xBF:
            raise CorruptImage(
                f"the JPEG structure is damaged (unexpected marker 0x{marker:02X} at byte {pos - 2})"
            )
        if pos + 2 > n:
            raise CorruptImage("the JPEG is truncated (it ends inside a marker segment)")
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2:
            raise CorruptImage(f"the JPEG structure is damaged (bad segment length at byte {pos})")
        seg_end = pos + length
        if seg_end > n:
            where = "image data is damaged" if follows_scan else "is damaged or truncated"
            raise CorruptImage(
                f"the JPEG {where} (the marker segment at byte {pos - 2} runs past the end of the file)"
            )
        segments += 1
        if segments > MAX_SEGMENTS:
            raise CorruptImage(f"the JPEG has more than {MAX_SEGMENTS} marker segments")
        payload = mv[pos + 2 : seg_end]

        if marker in _SOF_ALL:
            if sof is not None:
                raise CorruptImage("the JPEG has more than one frame header (SOF)")
            if len(payload) < 6:
                raise CorruptImage("the JPEG frame header (SOF) is too short")
            precision = payload[0]
            height = (payload[1] << 8) | payload[2]
            width = (payload[3] << 8) | payload[4]
            ncomp = payload[5]
            if len(payload) != 6 + 3 * ncomp:
                raise CorruptImage("the JPEG frame header (SOF) has an inconsistent length")
            if width == 0:
                raise CorruptImage("the JPEG frame header says the width is 0")
            if height == 0:
                raise UnsupportedFormat("JPEG with the height defined later by a DNL marker is not supported")
            if width * height > max_pixels:
                raise TooManyPixels(width, height, max_pixels)
            if marker not in _SOF_DECODABLE:
                kind = "lossless" if marker in (0xC3, 0xCB) else "hierarchical"
                raise UnsupportedFormat(f"{kind} JPEG (SOF 0x{marker:02X}) is not supported")
            if precision != 8:
                raise UnsupportedFormat(f"{precision}-bit JPEG is not supported (only 8-bit)")
            if ncomp not in (1, 3, 4):
                raise UnsupportedFormat(f"JPEG with {ncomp} colour components is not supported")
            ids = tuple(payload[6 + 3 * i] for i in range(ncomp))
            sof = (marker, precision, width, height, ids)
            parts.append(mv[seg_start:seg_end])
        elif marker == 0xDA:  # SOS, then entropy-coded data up to the next non-RST marker
            if sof is None:
                raise CorruptImage("the JPEG has a scan before its frame header")
            ns = payload[0] if len(payload) else 0
            if not 1 <= ns <= 4 or len(payload) != 4 + 2 * ns:
                raise CorruptImage("the JPEG scan header (SOS) is malformed")
            if any(payload[1 + 2 * i] not in sof[4] for i in range(ns)):
                raise CorruptImage("the JPEG scan refers to a component the frame does not have")
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise CorruptImage(f"the JPEG has more than {MAX_JPEG_SCANS} scans")
            if index is None:
                index = _MarkerIndex(data)
            found = index.end_of_scan(seg_end)
            if found is None:
                raise CorruptImage("the JPEG is truncated (its image data ends without an EOI marker)")
            end, rst_codes = found
            if end == seg_end:
                raise CorruptImage("the JPEG has a scan without image data")
            if rst_codes.size:
                if restart_interval == 0:
                    raise CorruptImage("the JPEG image data is damaged (restart marker without DRI)")
                expected = (np.arange(rst_codes.size) % 8 + 0xD0).astype(np.uint8)
                if not np.array_equal(rst_codes, expected):
                    raise CorruptImage("the JPEG image data is damaged (restart markers out of sequence)")
            parts.append(mv[seg_start:end])
            pos = end
            after_scan = True
            continue
        elif marker in _TABLE_MARKERS:
            if marker == 0xDD:
                if len(payload) != 2:
                    raise CorruptImage("the JPEG restart interval (DRI) segment is malformed")
                restart_interval = (payload[0] << 8) | payload[1]
            parts.append(mv[seg_start:seg_end])
        elif marker == 0xE0 and bytes(payload[:5]) == b"JFIF\x00" and len(payload) >= 14:
            if jfif is None:
                xd = (payload[8] << 8) | payload[9]
                yd = (payload[10] << 8) | payload[11]
                jfif = _jfif_segment(bytes(payload[5:7]), payload[7], xd, yd)
                if len(payload) > 14 or payload[12] or payload[13]:
                    dropped.append("APP0 JFIF thumbnail")
            else:
                dropped.append("APP0 JFIF (duplicate)")
        elif marker == 0xE2 and bytes(payload[:12]) == b"ICC_PROFILE\x00":
            parts.append(mv[seg_start:seg_end])
        elif marker == 0xEE and bytes(payload[:5]) == b"Adobe" and len(payload) >= 12:
            if adobe is None:
                adobe = b"\xff\xee\x00\x0e" + bytes(payload[:12])
                adobe_transform = payload[11]
                parts.append(adobe)
                if len(payload) > 12:
                    dropped.append("APP14 Adobe (extra bytes)")
            else:
                dropped.append("APP14 Adobe (duplicate)")
        else:
            # APP0..APP15 other than the above, COM, JPGn: metadata or extensions, dropped.
            if marker == 0xE1 and orientation is None and bytes(payload[:6]) == b"Exif\x00\x00":
                orientation = tiff_orientation(payload[6:])
            dropped.append(_segment_name(marker, payload))
        pos = seg_end

    if sof is None or scans == 0:
        raise CorruptImage("the JPEG has no image data (no frame header or no scan)")
    eoi_end = pos
    if eoi_end < n:
        dropped.append(f"{n - eoi_end} bytes after the EOI marker (e.g. MPF images)")

    marker, precision, width, height, ids = sof
    ncomp = len(ids)
    # Adding JFIF tells decoders "YCbCr" (or grayscale); do it only where they assume that anyway.
    if jfif is None and adobe is None and (ncomp == 1 or (ncomp == 3 and ids != (82, 71, 66))):
        jfif = _jfif_segment()
    head = [b"\xff\xd8"] + ([jfif] if jfif is not None else [])
    clean = b"".join([*head, *parts, b"\xff\xd9"])
    return JpegLayout(
        width=width,
        height=height,
        components=ncomp,
        component_ids=ids,
        sof_marker=marker,
        precision=precision,
        orientation=orientation or 1,
        scans=scans,
        adobe_transform=adobe_transform,
        clean=clean,
        dropped=tuple(dropped),
    )
