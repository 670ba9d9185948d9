"""The photo-quality path against a full-size decode of the same 12-megapixel JPEG.

    python bench/quality_path.py [--repeats 15] [--data-dir ../shared/data] [--quality-model bundled]

Builds a phone-like 4032x3024 JPEG (a real PAD-UFES-20 photo upscaled, with sensor-like noise
and a phone EXIF block; a synthetic skin scene when the data folder is missing), then times, in
one process and interleaved round by round:
  baseline  full-size decode to RGB (Pillow, and OpenCV's imdecode)
  quality   the whole quality path as serving runs it: reduced-size decode + ``TriageEngine.judge_quality``
            (modality, every quality check, the learned quality model on one ONNX Runtime thread, the
            combined verdict)
  checks    the same without the model (the classical checks alone)
  ingest    the whole intake of the photo: validation, metadata strip, thumbnail, reduced decode,
            then the quality path
and prints the medians and the ratios to the baseline. Machines here are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from data_pipelines.locations import default_data_dir
from model.decode import decode_reduced
from model.intake import PhotoLimits, ingest_photo
from model.loading import load_quality_model
from model.quality_checks import assess_quality
from model.triage.engine import TriageEngine

SIZE = (4032, 3024)


def phone_like_jpeg(data_dir: Path, seed: int = 0, source: Path | None = None) -> bytes:
    """``source`` (default: the middle PAD-UFES-20 photo), cropped square, upscaled to 12 MP."""
    rng = np.random.default_rng(seed)
    photos = [source] if source else sorted((data_dir / "pad_ufes_20" / "images").glob("*.jpg"))
    if photos:
        base = np.asarray(Image.open(photos[len(photos) // 2]).convert("RGB"))
        w, h = SIZE
        side = min(base.shape[:2])
        crop = base[:side, :side]
        big = cv2.resize(crop, (w, w), interpolation=cv2.INTER_CUBIC)[(w - h) // 2 : (w - h) // 2 + h]
    else:
        yy, xx = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
        big = np.stack([200 - yy / 60, 150 - xx / 80, 120 - yy / 90], axis=-1).astype(np.uint8)
    noisy = np.clip(big.astype(np.int16) + rng.normal(0, 4, big.shape).astype(np.int16), 0, 255).astype(
        np.uint8
    )
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel 12"  # Model
    exif[0x0132] = "2026:11:28 09:00:00"  # DateTime
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
    )
    parser.add_argument("--quality-model", default="bundled", help="'bundled', a path, or 'none'")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    model = load_quality_model(args.quality_model, cache_dir=Path("var/models"), threads=1)
    if model is None:
        print("no quality model: timing the classical checks alone")
    engine = TriageEngine(quality_model=model)

    def judge(rgb, size):
        return engine.judge_quality(rgb, original_size=size)

    data = phone_like_jpeg(args.data_dir)
    limits = PhotoLimits()

    def full_pillow():
        with Image.open(io.BytesIO(data)) as im:
            im.convert("RGB").load()

    def full_opencv():
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def quality_path():
        decoded = decode_reduced(
            data, target_long_side=limits.analysis_long_side, max_pixels=limits.max_pixels
        )
        judge(decoded.rgb, (decoded.width, decoded.height))

    def checks_only():
        decoded = decode_reduced(
            data, target_long_side=limits.analysis_long_side, max_pixels=limits.max_pixels
        )
        assess_quality(decoded.rgb, original_size=(decoded.width, decoded.height))

    def ingest():
        photo = ingest_photo(data, filename="bench.jpg", limits=limits)
        judge(photo.analysis.rgb, (photo.width, photo.height))

    runs: dict[str, list[float]] = {
        "full decode (Pillow)": [],
        "full decode (OpenCV)": [],
        "quality path": [],
        "checks alone": [],
        "ingest + quality": [],
    }
    fns = dict(zip(runs, (full_pillow, full_opencv, quality_path, checks_only, ingest), strict=True))
    for fn in fns.values():  # warm up
        fn()
    for _ in range(args.repeats):
        for name, fn in fns.items():
            runs[name].append(_time(fn))

    medians = {name: statistics.median(values) * 1000 for name, values in runs.items()}
    baseline = medians["full decode (Pillow)"]
    print(
        f"12-megapixel JPEG {SIZE[0]}x{SIZE[1]}, {len(data) / 1e6:.1f} MB, {args.repeats} rounds, one thread"
    )
    for name, ms in medians.items():
        print(f"  {name:22s} {ms:8.1f} ms   ratio to full decode (Pillow) {ms / baseline:5.2f}")
    ratio_pil = medians["quality path"] / baseline
    ratio_cv = medians["quality path"] / medians["full decode (OpenCV)"]
    version = model.version if model is not None else "none"
    print(f"quality path (model {version}) / full decode: {ratio_pil:.2f} (Pillow), {ratio_cv:.2f} (OpenCV)")


if __name__ == "__main__":
    main()
