"""Promote a quality model: the ``champion`` alias moves to a candidate only when its test evaluation
(``dermatriage evaluate quality``, logged in ``dermatriage-quality-evaluation``) meets the targets and
is no worse than the champion's; the decision is logged either way, and the champion is bundled into
``model/artifacts/`` (quality.onnx, quality.json, QUALITY_MODEL_CARD.md with the test figures).

With no champion in the registry the bundled model is imported first (:func:`import_bundled`, its
card's test figures logged with it) and is the one to beat. A smoke run (a training run or test
evaluation with ``limit``, fewer epochs or bootstrap resamples than
``training.promotion.PROMOTION_FLOORS``) is refused and the message says why; ``model/artifacts/``
changes only when a candidate is promoted; a dry run changes nothing."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from model.contract import ModelContract
from training import promotion, tracking
from training.promotion import BUNDLE_DIR, PROMOTION_FLOORS, PromotionResult
from training.quality.config import QualityTrainConfig
from training.quality.evaluate import TARGETS, meets
from training.quality.model_card import CARD_NAME, write_quality_card

EVALUATIONS = "dermatriage-quality-evaluation"
AUC_TOLERANCE = 0.005
FIRST_TOLERANCE = 0.01
ONNX_FILE = "quality.onnx"
BUNDLE_FILES = (ONNX_FILE, "quality.json", CARD_NAME)
#: the test table of the card (``QualityEvaluation.to_markdown``): row label -> metric
CARD_ROWS = {
    "retake ROC AUC, moderate/severe vs untouched (service)": "retake_auc",
    "false-retake rate on untouched photos (service)": "false_retake",
    "first instruction names the applied defect (moderate/severe)": "first_instruction",
    "moderate/severe photos sent back": "detection_moderate_severe",
    "mild photos sent back": "detection_mild",
}


def latest_evaluation(model_version: str, split: str = "test", *, full_only: bool = True):
    """The newest evaluation run of a model version on ``split`` (only unlimited ones when
    ``full_only``), or None."""
    experiment = tracking.client().get_experiment_by_name(EVALUATIONS)
    if experiment is None:
        return None
    limited = " and params.limit = 'None'" if full_only else ""
    runs = tracking.client().search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.model_version = '{model_version}' and params.split = '{split}'{limited}",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def _contract_version(run_id: str) -> str:
    return f"quality-{run_id[:8]}"


def card_figures(card: str) -> dict[str, float]:
    """The test figures of a quality card (its ``## Test`` table) as an evaluation logs them
    (``test_<metric>``, with ``_ci_low`` / ``_ci_high``)."""
    metrics: dict[str, float] = {}
    in_test = False
    for line in card.splitlines():
        if line.startswith("## "):
            in_test = line.startswith("## Test") or (in_test and not line.startswith("## Limits"))
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if in_test and len(cells) >= 2 and cells[0] in CARD_ROWS:
            metrics |= promotion.figure_metrics(f"test_{CARD_ROWS[cells[0]]}", cells[1])
    return metrics


def import_bundled(name: str, bundle_dir: Path = BUNDLE_DIR) -> str | None:
    """Register the bundled quality model (ONNX, contract, card) as ``name``'s champion with its card's
    test figures; returns the version (None when nothing is bundled)."""
    return promotion.import_bundled(
        name, bundle_dir, files=BUNDLE_FILES, card_file=CARD_NAME, card_figures=card_figures
    )


def _training_settings(run_id: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = QualityTrainConfig.load(tracking.download(run_id, "config.yaml", Path(tmp)))
    return {"limit": cfg.limit, "epochs": cfg.epochs}


def _champion_figures(champion) -> dict[str, float] | None:
    """The champion's test figures: its import run's (a bundled model) or its newest full evaluation's."""
    if promotion.bundled_name(champion):
        return tracking.run_metrics(champion.run_id)
    evaluation = latest_evaluation(_contract_version(champion.run_id))
    return dict(evaluation.data.metrics) if evaluation else None


def decide(candidate: dict[str, float], champion: dict[str, float] | None) -> tuple[bool, list[str]]:
    reasons, ok = [], True
    for key, (op, target) in TARGETS.items():
        value = candidate.get(f"test_{key}", float("nan"))
        met = meets(value, op, target)
        ok &= met
        reasons.append(f"{key} {value:.3f} {'meets' if met else 'misses'} {op} {target}")
    if champion is not None:
        for key, tol in (("retake_auc", AUC_TOLERANCE), ("first_instruction", FIRST_TOLERANCE)):
            c, b = candidate[f"test_{key}"], champion.get(f"test_{key}", float("-inf"))
            no_worse = c >= b - tol
            ok &= no_worse
            reasons.append(f"{key} {c:.3f} vs champion {b:.3f}: {'no worse' if no_worse else 'worse'}")
    return ok, reasons


def promote_quality(
    name: str,
    version: str | None = None,
    *,
    bundle: bool = True,
    bundle_dir: Path = BUNDLE_DIR,
    override: str | None = None,
    dry_run: bool = False,
    floors: Mapping[str, int] = PROMOTION_FLOORS["quality"],
) -> PromotionResult:
    """``override``, a person's written reason, promotes a candidate the targets refused (never a smoke
    run, never one without a test evaluation); the refusal and the reason are logged with the decision.
    ``dry_run`` decides only: nothing imported, logged, tagged, aliased or bundled. ``floors``: the
    least training ``epochs`` and evaluation ``n_bootstrap`` of a candidate that may be promoted."""
    if override is not None and not override.strip():
        raise ValueError("an override needs a reason: who accepts the refusal, and why")
    version, candidate = promotion.candidate(name, version)
    contract_version = _contract_version(candidate.run_id)
    evaluation = latest_evaluation(contract_version) or latest_evaluation(contract_version, full_only=False)
    if evaluation is None:
        raise ValueError(
            f"{name} version {version} has no test evaluation: run "
            f"'dermatriage evaluate quality --model models:/{name}/{version}' first"
        )
    trained = _training_settings(candidate.run_id)
    evaluated = evaluation.data.params
    smoke = promotion.smoke_reasons(
        {"limit": trained["limit"], "epochs": trained["epochs"]}, {"epochs": floors["epochs"]}
    )
    smoke += [
        f"{reason} (its test evaluation {evaluation.info.run_id[:8]})"
        for reason in promotion.smoke_reasons(
            {"limit": evaluated.get("limit"), "n_bootstrap": evaluated.get("n_boot")},
            {"n_bootstrap": floors["n_bootstrap"]},
        )
    ]
    champion = tracking.champion(name)
    if champion is None and not smoke and not dry_run:
        import_bundled(name, bundle_dir)  # the bundled model is the baseline
        champion = tracking.champion(name)
    if smoke:
        promoted, reasons = False, smoke
    else:
        champion_figures = None
        if champion is not None and champion.version != candidate.version:
            champion_figures = _champion_figures(champion)
        elif champion is None and (bundle_dir / CARD_NAME).exists():  # a dry run: the bundled card's
            champion_figures = card_figures((bundle_dir / CARD_NAME).read_text()) or None
        promoted, reasons = decide(dict(evaluation.data.metrics), champion_figures)
        if not promoted and override:
            promoted = True
            reasons = [*reasons, f"promoted over the gate's refusal: {override.strip()}"]
    bundled = None
    if not dry_run:
        promotion.record(
            name,
            version,
            promoted=promoted,
            reasons=reasons,
            params={
                "evaluation_run": evaluation.info.run_id,
                "champion": (promotion.bundled_name(champion) or f"version {champion.version}")
                if champion
                else "none",
                "override": (override or "").strip() or "none",
            },
            text="\n".join(reasons),
            artifact="decision.md",
        )
        if bundle and promoted:  # model/artifacts/ changes only by an accepted promotion
            validation = latest_evaluation(contract_version, "validation")
            bundled = bundle_quality(
                candidate.run_id,
                evaluation.info.run_id,
                bundle_dir,
                validation.info.run_id if validation else None,
            )
    return PromotionResult(name, version, promoted, tuple(reasons), bundled, dry_run=dry_run)


def bundle_quality(
    run_id: str, evaluation_run_id: str, bundle_dir: Path, validation_run_id: str | None = None
) -> Path:
    """Copy the model folder into ``bundle_dir`` and write its card with validation and test figures
    (validation: the newest ``--split validation`` evaluation when there is one, else the training run's)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if validation_run_id:
            path = tracking.download(validation_run_id, "quality_evaluation.md", work / "val")
        else:
            path = tracking.download(run_id, "validation.md", work / "val")
        validation = path.read_text()
        config = QualityTrainConfig.load(tracking.download(run_id, "config.yaml", work / "cfg"))
        test = tracking.download(evaluation_run_id, "quality_evaluation.md", work / "test").read_text()
        promotion.copy_model_folder(run_id, work / "model", bundle_dir, suffixes=(".onnx", ".json"))
        contract = ModelContract.load(bundle_dir / "quality.json")
        write_quality_card(
            bundle_dir / CARD_NAME, contract=contract, config=config, validation=validation, test=test
        )
    return bundle_dir
