"""The whole per-photo triage path serving runs, against its floor and against a naive pipeline, on
one 12-megapixel phone-like JPEG, interleaved round by round in one process (one thread each).

    python bench/triage_path.py [--repeats 20] [--data-dir ../shared/data]
                                [--urgency-model bundled] [--quality-model bundled]

  served  what ``POST /v1/cases`` does with a photo: ``ingest_photo`` (validation, metadata strip,
          thumbnail, reduced-size decode), ``TriageEngine.assess_photo`` (every quality check, the
          learned quality model, and the urgency model reading the photo meanwhile on a second
          thread) and ``TriageEngine.decide`` (red-flag rules, tier)
  floor   the least any such path must do: the reduced-size decode and the two networks run bare
          by ONNX Runtime on ready tensors (one run each)
  naive   Pillow decodes the photo at full size, then two eager torch EfficientNet-Lite0 passes
          (what a service built straight from the training code would do); needs torch, so the
          training install (skipped with a note when torch is missing)

Prints the medians of wall time and of CPU time (both threads counted) and the ratios served / floor
(target <= 1.5) and naive / served (target >= 3). Machines here are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_path import phone_like_jpeg  # noqa: E402

from data_pipelines.locations import default_data_dir  # noqa: E402
from model.decode import decode_reduced  # noqa: E402
from model.intake import PhotoLimits, ingest_photo  # noqa: E402
from model.loading import load_quality_model, load_urgency_model  # noqa: E402
from model.model_input import image_tensor  # noqa: E402
from model.questionnaire import Questionnaire  # noqa: E402
from model.triage.engine import TriageEngine  # noqa: E402

#: a fully answered questionnaire (red flags raise it to URGENT whatever the model says; the model is
#: run all the same)
QUESTIONNAIRE = Questionnaire(
    **{
        **dict(jurisdiction="BR-ES", age=67, sex="male", body_site="face", fitzpatrick=2, size_mm=9.0),
        **dict.fromkeys(("skin_cancer_history", "bleeding", "grew", "changed", "elevated"), True),
        **dict.fromkeys(("itch", "pain"), False),
    }
)


def naive_pipeline():
    """Pillow full decode + two eager torch EfficientNet-Lite0 passes, or None without torch."""
    try:
        import timm
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    nets = [timm.create_model("tf_efficientnet_lite0", pretrained=False).eval() for _ in range(2)]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)

    def run(data: bytes) -> None:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
        x = (torch.from_numpy(np.asarray(rgb)).permute(2, 0, 1).float() / 255 - mean) / std
        with torch.no_grad():
            for net in nets:
                net(x[None])

    return run


def bundled_engine(urgency: str = "bundled", quality: str = "bundled") -> TriageEngine:
    cache = Path("var/models")
    engine = TriageEngine(
        urgency_model=load_urgency_model(urgency, cache_dir=cache, threads=1),
        quality_model=load_quality_model(quality, cache_dir=cache, threads=1),
    )
    if engine.urgency_model is None or engine.quality_model is None:
        raise SystemExit("both models are needed")
    return engine


def usable_source(engine: TriageEngine, data_dir: Path) -> Path:
    """The first PAD-UFES-20 photo, in name order, whose 12 MP phone-like copy the quality gate
    accepts (so that the urgency model runs on it)."""
    limits = PhotoLimits()
    for source in sorted((data_dir / "pad_ufes_20" / "images").glob("*.jpg"))[:200]:
        photo = ingest_photo(phone_like_jpeg(data_dir, source=source), filename="bench.jpg", limits=limits)
        if engine.assess_photo(photo, QUESTIONNAIRE).predictions is not None:
            return source
    raise SystemExit(f"no photo under {data_dir} makes a usable 12 MP copy")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--urgency-model", default="bundled")
    parser.add_argument("--quality-model", default="bundled")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    engine = bundled_engine(args.urgency_model, args.quality_model)
    urgency, quality = engine.urgency_model, engine.quality_model
    limits = PhotoLimits()
    data = phone_like_jpeg(args.data_dir, source=usable_source(engine, args.data_dir))

    def served() -> None:
        photo = ingest_photo(data, filename="bench.jpg", limits=limits)
        assessment = engine.assess_photo(photo, QUESTIONNAIRE)
        engine.decide(QUESTIONNAIRE, [assessment])

    # the floor's tensors: made once, outside the timing
    rgb = decode_reduced(data, target_long_side=limits.analysis_long_side, max_pixels=limits.max_pixels).rgb
    urgency_input = image_tensor(rgb, urgency.model.contract.image)[None]
    q = np.zeros((1, len(urgency.model.contract.questionnaire.features)), np.float32)
    quality_input = image_tensor(rgb, quality.model.contract.image)[None]

    def floor() -> None:
        decode_reduced(data, target_long_side=limits.analysis_long_side, max_pixels=limits.max_pixels)
        urgency.model.run(urgency_input, q)
        quality.model.run(quality_input)

    paths = {"served": served, "floor": floor}
    naive = naive_pipeline()
    if naive is not None:
        paths["naive"] = lambda: naive(data)
    else:
        print("torch is not installed: the naive pipeline is skipped (install the training extra)")
    times: dict[str, list[float]] = {name: [] for name in paths}
    cpu: dict[str, list[float]] = {name: [] for name in paths}
    for fn in paths.values():
        fn()  # warm-up
    for _ in range(args.repeats):
        for name, fn in paths.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
            cpu[name].append((time.process_time() - start_cpu) * 1000)
    median = {name: statistics.median(values) for name, values in times.items()}
    median_cpu = {name: statistics.median(values) for name, values in cpu.items()}
    w, h = Image.open(io.BytesIO(data)).size
    print(f"{urgency.version} + {quality.version}; a {w}x{h} JPEG ({len(data) / 1e6:.1f} MB), one thread,")
    print(f"{args.repeats} interleaved rounds; medians:")
    for name, value in median.items():
        print(f"  {name:7s} {value:7.1f} ms wall   {median_cpu[name]:7.1f} ms CPU")

    def ratio(a: str, b: str) -> str:
        return f"{median[a] / median[b]:.2f} wall, {median_cpu[a] / median_cpu[b]:.2f} CPU"

    print(f"served / floor = {ratio('served', 'floor')}   (target <= 1.5)")
    if "naive" in median:
        print(f"naive / served = {ratio('naive', 'served')}   (target >= 3)")


if __name__ == "__main__":
    main()
