"""Served cost of the urgency model on one CPU thread, in ms per photo.

    python bench/urgency_inference.py [--model model/artifacts/urgency.onnx] [--repeats 30]

Times, interleaved in one process, for real PAD-UFES-20 photos (or a synthetic photo when the data
folder is missing): the model alone (resize + normalize + ONNX Runtime, one thread) and the whole
per-photo triage path serving runs (reduced decode, quality checks, model). Prints medians and p95.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from data_pipelines.locations import default_data_dir
from model.decode import decode_reduced
from model.loading import BUNDLED
from model.quality_checks import assess_quality
from model.questionnaire import Questionnaire
from model.urgency_model import UrgencyModel


def photos(data_dir: Path, n: int = 8) -> list[bytes]:
    files = sorted((data_dir / "pad_ufes_20" / "images").glob("*.jpg"))[:n]
    if files:
        return [f.read_bytes() for f in files]
    rgb = (np.random.default_rng(0).random((512, 512, 3)) * 255).astype(np.uint8)
    return [cv2.imencode(".jpg", rgb)[1].tobytes()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=BUNDLED)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    model = UrgencyModel(args.model, threads=1)
    q = Questionnaire(jurisdiction="US-CA", age=60, bleeding=True)
    images = photos(args.data_dir)
    decoded = [decode_reduced(b).rgb for b in images]

    def model_only(i: int) -> None:
        model.predict_photo(decoded[i], q)

    def whole_photo(i: int) -> None:
        d = decode_reduced(images[i])
        assess_quality(d.rgb, original_size=(d.width, d.height))
        model.predict_photo(d.rgb, q)

    timings: dict[str, list[float]] = {
        "model (preprocess + ONNX Runtime)": [],
        "decode + quality + model": [],
    }
    for fn in (model_only, whole_photo):
        fn(0)
    for r in range(args.repeats):
        i = r % len(images)
        for name, fn in zip(timings, (model_only, whole_photo), strict=True):
            start = time.perf_counter()
            fn(i)
            timings[name].append((time.perf_counter() - start) * 1000)
    print(f"{model.version} on one thread, {len(images)} photos x {args.repeats} rounds")
    for name, values in timings.items():
        p95 = float(np.percentile(values, 95))
        print(f"  {name:34s} median {statistics.median(values):6.1f} ms   p95 {p95:6.1f} ms per photo")


if __name__ == "__main__":
    main()
