"""MODEL_CARD.md for an exported model: what it is, what it was trained and judged on, how well it
did (with intervals and subgroups), and what it must not be used for."""

from __future__ import annotations

from pathlib import Path

from model.contract import ModelContract
from training.urgency.config import TrainConfig

LICENSES = {
    "pad_ufes_20": "PAD-UFES-20 smartphone photos, CC BY 4.0 (Pacheco et al., Data in Brief 32, 2020)",
    "pad_ufes_20_masked": "PAD-UFES-20 lesion-masked photos (student-drawn masks, unverified), CC BY 4.0",
    "ham10000": "HAM10000 / ISIC 2018 dermoscopic images, CC BY-NC-SA 4.0 — NON-COMMERCIAL",
}


def _validation_words(config: TrainConfig) -> str:
    if config.cv_folds:
        return (
            f"out-of-fold predictions of the train-patient photos ({len(config.cv_folds)}-fold "
            "cross-validation: each ensemble member predicts only its own held-out fold)"
        )
    return f"validation photos (train patients, fold {config.validation_fold})"


def write_model_card(
    path: Path, *, contract: ModelContract, config: TrainConfig, report, val_report, counts: dict[str, int]
) -> Path:
    net = config.network
    t = contract.thresholds
    sources = "\n".join(f"- {LICENSES.get(s, s)}" for s in config.sources)
    non_commercial = "ham10000" in config.sources
    lines = [
        f"# Model card: {contract.name} ({contract.version})",
        "",
        "## What it is",
        "An image-and-questionnaire classifier for patient smartphone photos of a skin lesion. Backbone "
        f"`{net.backbone}` ({'ImageNet-initialized' if net.pretrained else 'random init'}), "
        f"questionnaire fusion `{net.fusion}`, input {contract.image.size}x{contract.image.size} RGB "
        f"({contract.image.resize}). Outputs: probabilities of {', '.join(net.labels)} and of malignancy "
        f"({' + '.join(net.malignant)}). "
        + (
            f"The exported model averages {len(config.cv_folds)} cross-validation members"
            if config.cv_folds
            else "One network"
        )
        + (", each read also flipped (test-time augmentation). " if config.tta_flips else ". ")
        + "Served with ONNX Runtime; sha256 `{contract.onnx_sha256[:16]}…`.",
        "",
        "## How serving uses it",
        f"- malignancy probability ≥ {t.get('urgent', float('nan')):.4f} → `URGENT`; "
        f"≥ {t.get('priority', float('nan')):.4f} → `PRIORITY`; otherwise `ROUTINE`.",
        f"- thresholds chosen on {_validation_words(config)} for {config.target_sensitivity:.1%} / "
        f"{config.priority_sensitivity:.1%} malignancy sensitivity; never on test.",
        "- the red-flag rules of the questionnaire can only raise the tier the model gives, never lower it.",
        "",
        "## Intended use and limits",
        "- Intended: ordering an asynchronous teledermatology queue so that likely malignant lesions reach a "
        "dermatologist first. It is not a diagnosis and must never tell a patient that a lesion is benign.",
        "- Trained and tested on PAD-UFES-20 (Brazil, one hospital programme, mostly Fitzpatrick II-III);"
        " Fitzpatrick V-VI are nearly absent, so performance on dark skin is unknown (see the subgroups).",
        "- Six diagnoses only: inflammatory, infectious and other conditions are outside its training "
        "data; "
        "their urgency comes from the questionnaire rules.",
        "- Shortcut risk: in PAD-UFES-20, photos without questionnaire answers are mostly non-biopsied "
        "benign lesions, so the model can learn that an unanswered questionnaire means benign. Compare the "
        "`unknown` rows of the subgroup tables with the answered ones: specificity among answered "
        "questionnaires can be far lower than overall. Patients of the service leave questions blank for "
        "other reasons.",
        "- Photos of PAD-UFES-20 are lesion-centred close-ups; far-away or off-centre photos are for the "
        "quality checks to refuse.",
        "",
        "## Data",
        sources,
        f"- photos: train {counts['train']}{' per ensemble member' if config.cv_folds else ''}, "
        f"validation {counts['validation']}{' (out-of-fold)' if config.cv_folds else ''}, "
        f"test {counts['test']} (fixed patient-level test split `pad_ufes_20/split.csv`).",
        f"- manifest sha256 `{contract.provenance.get('manifest_hash', '')}`.",
        *(
            ["- **Trained with non-commercial data: not for commercial use without a license review.**"]
            if non_commercial
            else []
        ),
        "",
        "## Test results (held-out test split, 95% patient-level bootstrap intervals)",
        report.to_markdown(),
        "",
        "## Validation results (the fold used for checkpoint and threshold selection)",
        val_report.to_markdown(),
        "",
        "## Provenance",
        f"- MLflow run `{contract.provenance.get('run_id', '')}`, "
        f"git `{contract.provenance.get('git_sha', '')}`, "
        f"seed {config.seed}, best epochs {contract.provenance.get('best_epochs', '')} of {config.epochs}.",
        "",
    ]
    Path(path).write_text("\n".join(lines))
    return Path(path)
