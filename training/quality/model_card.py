"""QUALITY_MODEL_CARD.md for an exported quality model: what it is, what it learned from, how it was
judged, its thresholds, and its limits. ``test`` (the evaluation's markdown) is added at promotion."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from data_pipelines.provenance import data_section
from model.contract import ModelContract
from model.quality_verdict import GATE_CHECKS
from training import promotion
from training.description import count, figure
from training.promotion import Champion
from training.quality.config import QualityTrainConfig
from training.quality.evaluate import TARGETS

CARD_NAME = "QUALITY_MODEL_CARD.md"
#: what is bundled for serving: the model, its contract, its card (the ONNX file first)
BUNDLE_FILES = ("quality.onnx", "quality.json", CARD_NAME)
#: the figures tables of the card (``QualityEvaluation.to_markdown``): row label -> metric
CARD_ROWS = {
    "retake ROC AUC, moderate/severe vs untouched (service)": "retake_auc",
    "false-retake rate on untouched photos (service)": "false_retake",
    "first instruction names the applied defect (moderate/severe)": "first_instruction",
    "moderate/severe photos sent back": "detection_moderate_severe",
    "mild photos sent back": "detection_mild",
}
#: the card's sections holding figures: heading start -> the split they are of
CARD_SECTIONS = {"## Validation": "validation", "## Test": "test"}
_COUNTS = re.compile(r"^(\d+) photos, (\d+) samples")


def card_figures(card: str) -> dict[str, float]:
    """The figures of a quality card as a run or an evaluation logs them: its ``## Test`` table as
    ``test_<metric>`` (with ``_ci_low`` / ``_ci_high``), its ``## Validation`` table as
    ``validation_<metric>``, and each one's ``<split>_n_photos`` / ``<split>_n_samples``."""
    metrics: dict[str, float] = {}
    split = None
    for line in card.splitlines():
        if line.startswith("## "):  # a section's own tables keep its split (their titles are ## too)
            found = [s for heading, s in CARD_SECTIONS.items() if line.startswith(heading)]
            split = found[0] if found else (None if line.startswith("## Limits") else split)
        if split is None:
            continue
        counts = _COUNTS.match(line)
        if counts:
            metrics[f"{split}_n_photos"], metrics[f"{split}_n_samples"] = map(float, counts.groups())
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] in CARD_ROWS:
            metrics |= promotion.figure_metrics(f"{split}_{CARD_ROWS[cells[0]]}", cells[1])
    return metrics


def find_champion(name: str = QualityTrainConfig.registered_model, **options) -> Champion | None:
    """The quality champion of registered model ``name``: the registry's, else the bundled model
    (``training.promotion.find_champion``'s ``options``: ``bundle_dir``, ``registry``, ``figures``)."""
    return promotion.find_champion(
        name, files=BUNDLE_FILES, card_file=CARD_NAME, card_figures=card_figures, **options
    )


def run_table(metrics: Mapping[str, float], champion: Champion | None) -> list[str]:
    """The run page's headline: this run's validation figures (``validation_<metric>``) of the figures
    with a target, the champion's validation and test figures (each column names its split), the
    targets, and the photos each was judged on."""
    header = ["figure", "this run: validation"]
    if champion is not None:
        header += ["champion: validation", "champion: test"]
    header.append("target")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for words, key in CARD_ROWS.items():
        if key not in TARGETS:
            continue
        cells = [words, figure(metrics, f"validation_{key}")]
        if champion is not None:
            cells += [figure(champion.figures, f"validation_{key}"), figure(champion.figures, f"test_{key}")]
        lines.append("| " + " | ".join([*cells, " ".join(map(str, TARGETS[key]))]) + " |")
    photos = [count(metrics, "validation_n_photos")]
    if champion is not None:
        photos += [count(champion.figures, "validation_n_photos"), count(champion.figures, "test_n_photos")]
    lines.append("| photos (untouched; each also with every defect) | " + " | ".join(photos) + " |  |")
    return lines


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
        "## Data",
        *data_section(contract.provenance),
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
