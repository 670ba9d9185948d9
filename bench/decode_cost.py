"""What one photo's intake (``model.intake.ingest_photo``) holds in memory at its peak, per decode
path, in bytes per pixel: the measurement behind ``model.intake.DECODE_BYTES_PER_PIXEL``, which the
service's decode-memory budget reserves before each decode.

    python bench/decode_cost.py [--megapixels 16] [--paths "png, RGBA" ...] [--json]

Each photo is ingested in a fresh process (so that earlier allocations cannot hide a peak), after a
small photo of the same kind (the decoders' first-use costs, which a running service has paid): the
process's peak RSS (VmHWM) minus its RSS just before the call, divided by the photo's pixels. Prints,
per path, the measured bytes per pixel and what ``decode_memory`` estimates for the same photo
(which must not be lower).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

#: name -> (Pillow mode, format, save options, EXIF orientation or None)
PATHS = {
    "jpeg, upright (lossless)": ("RGB", "JPEG", {"quality": 90}, None),
    "jpeg, rotated (re-encoded)": ("RGB", "JPEG", {"quality": 90}, 6),
    "jpeg, CMYK": ("CMYK", "JPEG", {"quality": 90}, None),
    "png, RGB": ("RGB", "PNG", {}, None),
    "png, RGBA": ("RGBA", "PNG", {}, None),
    "png, RGBA rotated": ("RGBA", "PNG", {}, 6),
    "png, palette": ("P", "PNG", {}, None),
    "png, 16-bit grey": ("I;16", "PNG", {}, None),
    "webp, RGB": ("RGB", "WEBP", {"quality": 80}, None),
    "heif, RGB": ("RGB", "HEIF", {"quality": 60}, None),
}

_CHILD = """
import sys
from pathlib import Path
from model.intake import PhotoLimits, check_photo, decode_memory, ingest_photo

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
data = Path(sys.argv[1]).read_bytes()
limits = PhotoLimits(max_bytes=len(data) + 1, max_pixels=10**9)
ingest_photo(Path(sys.argv[2]).read_bytes(), filename="warm-up", limits=limits)  # first-use costs
src = check_photo(data, filename="probe", limits=limits)
estimate = decode_memory(src, limits)
Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
before = rss("VmRSS")
ingest_photo(data, filename="probe", limits=limits, source=src)
print(src.width * src.height, rss("VmHWM") - before, estimate)
"""


def make_photo(mode: str, fmt: str, options: dict, orientation: int | None, side: int) -> bytes:
    rng = np.random.default_rng(0)
    # smooth gradients and a little noise: compresses like a photo, decodes like any other
    yy, xx = np.mgrid[0:side, 0:side]
    base = np.stack([xx * 255 // side, yy * 255 // side, (xx + yy) * 127 // side], axis=-1).astype(np.uint8)
    base = base ^ rng.integers(0, 4, base.shape, dtype=np.uint8)
    image = Image.fromarray(base)
    if mode == "I;16":
        image = Image.fromarray(base[..., 0].astype(np.uint16) * 257)  # mode I;16
    elif mode != "RGB":
        image = image.convert(mode)
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options = {**options, "exif": exif.tobytes()}
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def measure(data: bytes, warm_up: bytes, scratch: Path) -> tuple[int, int, int]:
    """(pixels, peak bytes over the RSS before, the estimate) of ingesting ``data`` in a fresh process
    that has ingested ``warm_up`` (a small photo of the same kind) first, as a running service has."""
    scratch.write_bytes(data)
    small = scratch.with_suffix(".warm")
    small.write_bytes(warm_up)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(scratch), str(small)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    small.unlink()
    pixels, peak, estimate = (int(v) for v in done.stdout.split())
    return pixels, peak, estimate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megapixels", type=float, default=16.0, help="size of each test photo")
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS), help="only these")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args()
    side = int((args.megapixels * 1e6) ** 0.5)
    scratch = Path(f"/tmp/decode_cost_{side}.bin")
    rows = {}
    try:
        for name in args.paths:
            mode, fmt, options, orientation = PATHS[name]
            photo, warm_up = (make_photo(mode, fmt, options, orientation, n) for n in (side, 64))
            pixels, peak, estimate = measure(photo, warm_up, scratch)
            rows[name] = {"measured": peak / pixels, "estimated": estimate / pixels}
    finally:
        scratch.unlink(missing_ok=True)
    if args.json:
        print(json.dumps({"side": side, "paths": rows}, indent=2))
        return
    print(f"{side}x{side} photos ({side * side / 1e6:.1f} MP): peak bytes per pixel of one ingest_photo")
    print(f"{'path':<30} {'measured':>9} {'estimated':>10}")
    for name, row in rows.items():
        flag = "" if row["estimated"] >= row["measured"] else "  UNDER"
        print(f"{name:<30} {row['measured']:>9.2f} {row['estimated']:>10.2f}{flag}")


if __name__ == "__main__":
    main()
