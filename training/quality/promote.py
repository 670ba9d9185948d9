"""Promote a quality model: the ``champion`` alias moves to a candidate only when its test evaluation
(``dermatriage evaluate quality``, logged in ``dermatriage-quality-evaluation``) meets the targets and
is no worse than the champion's; the decision is logged either way, and the champion is bundled into
``model/artifacts/`` (quality.onnx, quality.json, QUALITY_MODEL_CARD.md with the test figures)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from model.contract import ModelContract
from training import promotion, tracking
from training.promotion import BUNDLE_DIR, PromotionResult
from training.quality.config import QualityTrainConfig
from training.quality.evaluate import TARGETS, meets
from training.quality.model_card import CARD_NAME, write_quality_card

EVALUATIONS = "dermatriage-quality-evaluation"
AUC_TOLERANCE = 0.005
FIRST_TOLERANCE = 0.01


def latest_evaluation(model_version: str, split: str = "test"):
    """The newest full (unlimited) evaluation run of a model version on ``split``, or None."""
    experiment = tracking.client().get_experiment_by_name(EVALUATIONS)
    if experiment is None:
        return None
    runs = tracking.client().search_runs(
        [experiment.experiment_id],
        filter_string=(
            f"tags.model_version = '{model_version}' and params.limit = 'None' and params.split = '{split}'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def _contract_version(run_id: str) -> str:
    return f"quality-{run_id[:8]}"


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
) -> PromotionResult:
    """``override``, a person's written reason, promotes a candidate the targets refused (never one
    without a full test evaluation); the refusal and the reason are logged with the decision."""
    if override is not None and not override.strip():
        raise ValueError("an override needs a reason: who accepts the refusal, and why")
    version, candidate = promotion.candidate(name, version)
    evaluation = latest_evaluation(_contract_version(candidate.run_id))
    if evaluation is None:
        raise ValueError(
            f"{name} version {version} has no test evaluation: run "
            f"'dermatriage evaluate quality --model models:/{name}/{version}' first"
        )
    champion = tracking.champion(name)
    champion_eval = None
    if champion is not None and champion.version != candidate.version:
        champion_eval = latest_evaluation(_contract_version(champion.run_id))
    promoted, reasons = decide(
        dict(evaluation.data.metrics), dict(champion_eval.data.metrics) if champion_eval else None
    )
    if not promoted and override:
        promoted = True
        reasons = [*reasons, f"promoted over the gate's refusal: {override.strip()}"]
    promotion.record(
        name,
        version,
        promoted=promoted,
        reasons=reasons,
        params={"evaluation_run": evaluation.info.run_id, "override": (override or "").strip() or "none"},
        text="\n".join(reasons),
        artifact="decision.md",
    )
    bundled = None
    if bundle and promoted:
        validation = latest_evaluation(_contract_version(candidate.run_id), "validation")
        bundled = bundle_quality(
            candidate.run_id,
            evaluation.info.run_id,
            bundle_dir,
            validation.info.run_id if validation else None,
        )
    return PromotionResult(name, version, promoted, tuple(reasons), bundled)


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
