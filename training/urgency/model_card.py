"""MODEL_CARD.md for an exported urgency model: what it is, what it was trained and judged on, how well
it does in every evaluation view through the serving path (with intervals and subgroups), and what it
must not be used for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from data_pipelines.provenance import data_section
from model.contract import ModelContract
from training import promotion
from training.description import change, count, figure
from training.promotion import Champion
from training.urgency.config import TrainConfig

CARD_NAME = "MODEL_CARD.md"
#: what is bundled for serving: the model, its contract, its card (the ONNX file first)
BUNDLE_FILES = ("urgency.onnx", "urgency.json", CARD_NAME)

LICENSES = {
    "pad_ufes_20": "PAD-UFES-20 smartphone photos, CC BY 4.0 (Pacheco et al., Data in Brief 32, 2020)",
    "pad_ufes_20_masked": "PAD-UFES-20 lesion-masked photos of lesions whose full photo is not among the "
    "photos (student-drawn masks, unverified), CC BY 4.0",
    "ham10000": "HAM10000 / ISIC 2018 dermoscopic images, CC BY-NC-SA 4.0 — NON-COMMERCIAL",
}
VIEW_WORDS = {
    "as_recorded": "(a) as recorded",
    "complete": "(b) complete",
    "photo_only": "(c) photo only",
    "answered_only": "(d) answered only",
}
#: the card's views table: row label -> view name
CARD_VIEWS = {words: view for view, words in VIEW_WORDS.items()}
#: the card's views table: column -> metric
CARD_COLUMNS = {2: "malignancy_auc", 3: "sensitivity_urgent", 4: "specificity_urgent", 5: "malignancy_ece"}
#: the run page's headline columns: metric -> header
RUN_COLUMNS = {
    "malignancy_auc": "malignancy AUC",
    "sensitivity_urgent": "sensitivity at URGENT",
    "specificity_urgent": "specificity at URGENT",
    "malignancy_ece": "ECE",
}
#: the card's photo counts line, as :func:`write_model_card` writes it
_PHOTOS = re.compile(r"photos: trained on (\d+); out-of-fold (\d+); test (\d+)")


def _f(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or value != value else f"{value:.{digits}f}"


def _ci(report, name: str) -> str:
    m = report.metrics.get(name)
    if m is None:
        return "—"
    return f"{_f(m.point)} ({_f(m.low)}–{_f(m.high)})"


def views_table(served, thresholds: dict[str, float]) -> list[str]:
    """One row per view: AUC, sensitivity / specificity at URGENT, ECE, melanoma sensitivity, tiers."""
    rows = [
        "| view | photos | malignancy AUC | sensitivity at URGENT | specificity at URGENT | ECE | "
        "melanoma sensitivity | tier ≥ URGENT: malignant / benign |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in served.views.items():
        r, t = result.report, result.tiers
        rows.append(
            f"| {VIEW_WORDS.get(name, name)} | {r.counts['n_images']} | {_ci(r, 'malignancy_auc')} | "
            f"{_ci(r, 'sensitivity_urgent')} | {_ci(r, 'specificity_urgent')} | "
            f"{_ci(r, 'malignancy_ece')} | {_f(t.melanoma_sensitivity)} (n={t.n_melanoma}) | "
            f"{_f(t.sensitivity)} / {_f(1 - t.specificity)} |"
        )
    return rows


def _draws(served) -> str:
    parts = []
    for name in ("malignancy_auc", "sensitivity_urgent", "specificity_urgent"):
        values = [d.report.metrics[name].point for d in served.complete_draws]
        parts.append(f"{name.replace('_', ' ')} {_f(min(values))}–{_f(max(values))}")
    return f"{len(served.complete_draws)} draws of the imputed answers: " + ", ".join(parts)


def served_lines(served, thresholds: dict[str, float]) -> list[str]:
    """The views table, the complete view's draws, tier agreement, and the tier flips under harmless
    changes with their causes: what the model card and ``dermatriage evaluate urgency`` show."""
    metrics = served.metrics()
    lines = [*views_table(served, thresholds), ""]
    if served.complete_draws:
        lines.append(f"(b) complete: {_draws(served)}.")
    if served.agreement:
        lines.append(
            f"Tier agreement between (a) and (b): {_f(min(served.agreement))}–{_f(max(served.agreement))}."
        )
    if served.flips:
        lines.append(
            "Tier flips under harmless changes (JPEG re-save q95 / q70, rotation by 90°, brightness ±10 %): "
            + ", ".join(f"{k} {_f(v)}" for k, v in served.flips.items())
            + f"; mean {_f(metrics.get('test_tier_flip_rate'))}."
        )
    if served.flip_causes:
        lines.append(
            "Why (share of photos: quality verdict changed / model crossed URGENT / other): "
            + ", ".join(
                f"{k} {_f(c['quality_verdict'])} / {_f(c['model_crosses_urgent'])} / {_f(c['other'])}"
                for k, c in served.flip_causes.items()
            )
            + "."
        )
    return lines


def card_figures(card: str) -> dict[str, float]:
    """The test figures of an urgency model card's views table, as the training run logs them
    (``test_<view>_<metric>`` with ``_ci_low`` / ``_ci_high``, ``test_<view>_n_images``; the
    as-recorded view also unprefixed), and its photo counts (``n_train``, ``n_out_of_fold``,
    ``n_test``)."""
    metrics: dict[str, float] = {}
    for line in card.splitlines():
        counts = _PHOTOS.search(line)
        if counts:
            names = ("n_train", "n_out_of_fold", "n_test")
            metrics |= dict(zip(names, map(float, counts.groups()), strict=True))
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        view = CARD_VIEWS.get(cells[0]) if cells else None
        if view is None or len(cells) < 6:
            continue
        if cells[1].isdigit():
            metrics[f"test_{view}_n_images"] = float(cells[1])
            if view == "as_recorded":
                metrics["test_n_images"] = float(cells[1])
        for column, metric in CARD_COLUMNS.items():
            metrics |= promotion.figure_metrics(f"test_{view}_{metric}", cells[column])
            if view == "as_recorded":
                metrics |= promotion.figure_metrics(f"test_{metric}", cells[column])
    return metrics


def find_champion(name: str = TrainConfig.registered_model, **options) -> Champion | None:
    """The urgency champion of registered model ``name``: the registry's, else the bundled model
    (``training.promotion.find_champion``'s ``options``: ``bundle_dir``, ``registry``)."""
    return promotion.find_champion(
        name, files=BUNDLE_FILES, card_file=CARD_NAME, card_figures=card_figures, **options
    )


def _photos(metrics: Mapping[str, float]) -> str:
    words = (("n_train", "trained on"), ("n_out_of_fold", "out-of-fold"), ("n_test", "test"))
    return ", ".join(f"{w} {count(metrics, key)}" for key, w in words)


def _row(view: str, model: str, photos: str, figures: list[str]) -> str:
    return "| " + " | ".join([view, model, photos, *figures]) + " |"


def run_table(metrics: Mapping[str, float], champion: Champion | None) -> list[str]:
    """The run page's headline: per view, this run's test figures through the serving path
    (``test_<view>_<metric>``, 95 % intervals), the champion's, and the change of the point estimates;
    then the photo counts of both."""
    lines = [
        "| view | model | photos | " + " | ".join(RUN_COLUMNS.values()) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in RUN_COLUMNS) + " |",
    ]
    for view, words in VIEW_WORDS.items():
        keys = [f"test_{view}_{metric}" for metric in RUN_COLUMNS]
        n = f"test_{view}_n_images"
        lines.append(_row(words, "this run", count(metrics, n), [figure(metrics, k) for k in keys]))
        if champion is not None:
            theirs = champion.figures
            lines.append(_row("", "champion", count(theirs, n), [figure(theirs, k) for k in keys]))
            lines.append(_row("", "change", "", [change(metrics, theirs, k) for k in keys]))
    theirs = f"; the champion {_photos(champion.figures)}" if champion else ""
    return [*lines, "", f"Photos: {_photos(metrics)}{theirs}."]


def write_model_card(
    path: Path, *, contract: ModelContract, config: TrainConfig, served, distribution, counts: dict[str, int]
) -> Path:
    net = config.network
    t = contract.thresholds
    cal = contract.calibration
    sources = "\n".join(f"- {LICENSES.get(s, s)}" for s in config.sources)
    external = served.external
    metrics = served.metrics()
    lines = [
        f"# Model card: {contract.name} ({contract.version})",
        "",
        "## What it is",
        "An image-and-questionnaire classifier for patient smartphone photos of a skin lesion: one "
        f"`{net.backbone}` network (ImageNet weights; the stem and the blocks before block "
        f"{net.train_from_block} kept frozen, the rest fine-tuned), questionnaire fusion "
        f"`{net.fusion}`, input "
        f"{contract.image.size}x{contract.image.size} RGB ({contract.image.resize}); one forward pass per "
        f"photo. Outputs: calibrated probabilities of {', '.join(net.labels)} and of malignancy "
        f"({' + '.join(net.malignant)}). It reads only the questions its data answers: "
        f"{', '.join(contract.questionnaire.reads) if contract.questionnaire else '—'}. "
        f"Served with ONNX Runtime; sha256 `{contract.onnx_sha256[:16]}…`.",
        "",
        "## How serving uses it",
        f"- calibrated malignancy probability ≥ {t.get('urgent', float('nan')):.4f} → `URGENT`; "
        f"≥ {t.get('priority', float('nan')):.4f} → `PRIORITY`; otherwise `ROUTINE`.",
        f"- calibration (inside the graph): logits / {cal.temperature:.3f}, malignant classes "
        f"{cal.malignant_shift:+.3f}; fitted on out-of-fold predictions of train patients."
        if cal
        else "- no calibration.",
        f"- thresholds chosen on out-of-fold predictions of the train patients' photos "
        f"({len(config.cv_folds) or 1}-fold cross-validation; each member predicts only its held-out fold, "
        f"as recorded and complete) for {config.target_sensitivity:.1%} / {config.priority_sensitivity:.1%} "
        "malignancy sensitivity; never on test.",
        "- the red-flag rules of the questionnaire can only raise the tier the model gives, never lower it.",
        "",
        "## A blank answer is not a diagnosis",
        "In PAD-UFES-20 the first collection phase left sex, Fitzpatrick type, skin-cancer history and size "
        "blank together, and every such train photo is benign. In training, every blank the data left is "
        "answered by a draw from the train patients' answers, then answers are blanked at random "
        f"({config.blank_question:.0%} per question, the whole questionnaire {config.blank_all:.0%} of the "
        "time): a blank the model sees says nothing about the diagnosis. The tier agrees between views "
        f"(a) and (b) for {_f(metrics.get('test_tier_agreement_recorded_complete'))} of the test photos "
        "(the lowest over the draws).",
        "",
        "## Intended use and limits",
        "- Intended: ordering an asynchronous teledermatology queue so that likely malignant lesions reach a "
        "dermatologist first. It is not a diagnosis and must never tell a patient that a lesion is benign.",
        "- Trained and tested on PAD-UFES-20 (Brazil, one hospital programme, mostly Fitzpatrick II-III); "
        "Fitzpatrick V-VI are nearly absent, so performance on dark skin is unknown (see the subgroups).",
        "- Six diagnoses only: inflammatory, infectious and other conditions are outside its training data; "
        "their urgency comes from the questionnaire rules.",
        f"- Out of domain: dermoscopic images (HAM10000, {int(external.get('n', 0))} images, never trained "
        f"on): malignancy AUC {_f(external.get('malignancy_auc'))}, {_f(external.get('flagged_urgent'))} "
        "flagged URGENT or above. It is not for dermoscopy."
        if external
        else "- Out of domain: dermoscopic images were not evaluated.",
        "",
        "## Data",
        sources,
        f"- photos: trained on {counts['train']}; out-of-fold {counts['out_of_fold']}; test {counts['test']} "
        "(fixed patient-level test split `pad_ufes_20/split.csv`).",
        *data_section(contract.provenance),
        "",
        "## Test results through the serving path (95 % patient-level bootstrap intervals)",
        "Each photo goes through photo intake, the quality verdict, the urgency model and the red-flag rules "
        "(`TriageEngine`, as `POST /v1/cases`). The model's figures are its reading of every photo; the "
        "tier columns are what serving gives (quality gate and rules included).",
        "",
        *served_lines(served, t),
        f"The {len(config.cv_folds)} cross-validation members averaged (not served): malignancy AUC "
        f"{_f(served.teacher_auc)} as recorded.",
        "",
        *(
            f"{result.report.to_markdown(f'{VIEW_WORDS.get(name, name).capitalize()}, in full')}\n"
            for name, result in served.views.items()
        ),
        "## Provenance",
        f"- MLflow run `{contract.provenance.get('run_id', '')}`, "
        f"git `{contract.provenance.get('git_sha', '')}`, "
        f"seed {config.seed}, {config.epochs} epochs for every network.",
        "",
    ]
    Path(path).write_text("\n".join(lines))
    return Path(path)
