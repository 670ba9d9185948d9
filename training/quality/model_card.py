"""QUALITY_MODEL_CARD.md for an exported quality model: what it is, what it learned from, how it was
judged, its thresholds, and its limits. ``test`` (the evaluation's markdown) is added at promotion."""

from __future__ import annotations

from pathlib import Path

from model.contract import ModelContract
from model.quality_verdict import GATE_CHECKS
from training.quality.config import QualityTrainConfig

CARD_NAME = "QUALITY_MODEL_CARD.md"


def write_quality_card(
    path: Path,
    *,
    contract: ModelContract,
    config: QualityTrainConfig,
    validation: str,
    test: str | None = None,
) -> Path:
    net = config.network
    t = contract.thresholds
    retake_choice = contract.provenance.get("retake_threshold") or (
        "the retake threshold keeps the false-retake rate on the untouched validation photos "
        f"≤ {config.target_false_retake:.0%}; chosen on train patients, never on test."
    )
    defect_thresholds = ", ".join(f"{d} {t[f'defect.{d}']:.2f}" for d in net.defects)
    lines = [
        f"# Model card: quality ({contract.version})",
        "",
        "## What it is",
        f"An image-quality classifier for patient phone photos of skin. Backbone `{net.backbone}` "
        f"({'ImageNet-initialized' if net.pretrained else 'random init'}; stem and the first "
        f"{net.frozen_blocks} blocks frozen), input: the whole photo squeezed to {net.image_size}x"
        f"{net.image_size} (nothing cropped). Outputs: P(retake) and, per defect, an estimated severity "
        f"(0 none, 1/3 mild, 2/3 moderate, 1 severe) for: {', '.join(net.defects)}. ONNX Runtime, sha256 "
        f"`{contract.onnx_sha256[:16]}…`.",
        "",
        "## What it learned from",
        "No public dataset of human-graded teledermatology photo quality could be brought here (see "
        "`../shared/data/README.md`), so it learned from realistic synthetic defects "
        "(`data_pipelines/degrade`) applied to real PAD-UFES-20 phone photos (CC BY 4.0) of train "
        f"patients outside validation fold {config.validation_fold}: {config.pool_per_photo} random draws "
        f"per photo, {config.p_clean:.0%} of them left clean, the others one defect at a uniformly drawn "
        "severity. Ground truth: moderate and severe defects need a retake, mild ones and untouched "
        "photos do not.",
        "",
        "## How serving uses it (`model/quality_verdict.py`)",
        "- a photo that cannot be read at all (fewer than 64 px on its short side, nearly black, fully "
        "smeared, no skin colour, or `not_skin` by `model/modality.py`) is `readable: false`: only such a "
        "photo can hold a case back, and only below PRIORITY.",
        f"- a better photo is requested (verdict retake) when P(retake) ≥ {t['retake']:.4f} and a defect "
        f"reaches its threshold, or when a gate check fails ({', '.join(GATE_CHECKS)}); at most two "
        "defects named, one exposure at most; a dermoscopic image only on sharpness and exposure.",
        f"- {retake_choice}",
        "- defects named (most severe first) from thresholds chosen on validation (Youden): "
        f"{defect_thresholds}.",
        "",
        "## Validation (train patients, held-out fold)",
        validation,
    ]
    if test:
        lines += ["## Test (test patients: `dermatriage evaluate quality`)", test]
    lines += [
        "## Limits",
        "- Trained and judged on synthetic defects: real phone defects (mixed problems, unusual lighting, "
        "other cameras) may look different; real graded photos from the service should replace them.",
        "- PAD-UFES-20 photos are small (mostly 300x300) and mostly light skin (Fitzpatrick I-III); darker "
        "skin and 12-megapixel photos are under-represented in training.",
        "- It judges whether a photo can be read, not what it shows; it never influences the urgency tier.",
        "",
    ]
    path.write_text("\n".join(lines))
    return path
