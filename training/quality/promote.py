"""Promote a quality model: the ``champion`` alias moves to a candidate only when its test evaluation
(``dermatriage evaluate quality``, logged in ``dermatriage-quality-evaluation``) meets the targets and
is no worse than the champion's; the decision is logged either way, and the champion is bundled into
``model/artifacts/`` (quality.onnx, quality.json, QUALITY_MODEL_CARD.md with the test figures).

With no champion in the registry the bundled model is imported first (:func:`import_bundled`, its
card's test figures logged with it) and is the one to beat. A candidate trained with smoke settings
(``limit``, fewer epochs than ``training.promotion.PROMOTION_FLOORS``) is refused, the message leading
with that. Only a test evaluation without ``limit`` and with at least the floor's bootstrap resamples
counts: a version whose only test evaluations were limited or rough is refused with those evaluations
named and the command that makes one that counts. ``model/artifacts/`` changes only when a candidate is
promoted; a dry run changes nothing."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from model.contract import ModelContract
from training import promotion, tracking
from training.promotion import BUNDLE_DIR, PROMOTION_FLOORS, PromotionResult
from training.quality.config import QualityTrainConfig
from training.quality.evaluate import TARGETS, meets
from training.quality.model_card import BUNDLE_FILES, CARD_NAME, card_figures, write_quality_card

EVALUATIONS = "dermatriage-quality-evaluation"
AUC_TOLERANCE = 0.005
FIRST_TOLERANCE = 0.01
ONNX_FILE = BUNDLE_FILES[0]


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


def test_evaluations(model_version: str, split: str = "test") -> list:
    """Every evaluation run of a model version on ``split``, newest first."""
    experiment = tracking.client().get_experiment_by_name(EVALUATIONS)
    if experiment is None:
        return []
    return tracking.client().search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.model_version = '{model_version}' and params.split = '{split}'",
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )


def _limited(evaluation, floors: Mapping[str, int]) -> list[str]:
    """Why an evaluation run does not count for promotion (``limit`` set: part of the test photos;
    fewer bootstrap resamples than the floor); empty when it counts."""
    params, metrics = evaluation.data.params, evaluation.data.metrics
    why = []
    if params.get("limit") not in (None, "None", "", "0"):
        photos = metrics.get(f"{params.get('split', 'test')}_n_photos")
        why.append(f"limit={params['limit']}" + (f", {int(photos)} photos" if photos is not None else ""))
    n_boot = params.get("n_boot")
    if n_boot not in (None, "None") and int(n_boot) < floors["n_bootstrap"]:
        why.append(f"n_bootstrap={n_boot} < the floor {floors['n_bootstrap']}")
    return why


def no_counted_evaluation(name: str, version: str, evaluations: list, floors: Mapping[str, int]) -> str:
    """Why version ``version`` of ``name`` has no test evaluation that counts (none, or only limited
    or rough ones: each named with its cause), and what to run instead."""
    run = (
        f"'dermatriage evaluate quality --model models:/{name}/{version}' (without --limit, --bootstrap "
        f"{floors['n_bootstrap']} or more)"
    )
    if not evaluations:
        return f"{name} version {version} has no test evaluation: run {run} first"
    found = [(e.info.run_id[:8], _limited(e, floors)) for e in evaluations]
    one = len(found) == 1
    causes = []
    if any(w.startswith("limit=") for _, why in found for w in why):
        causes.append(f"{'was' if one else 'were'} limited to part of the test photos")
    if any(w.startswith("n_bootstrap=") for _, why in found for w in why):
        causes.append("had fewer bootstrap resamples than the promotion floor")
    listed = "; ".join(f"{run_id}: {', '.join(why)}" for run_id, why in found[:5])
    listed += f"; and {len(found) - 5} older" if len(found) > 5 else ""
    only = "its only test evaluation" if one else f"its only {len(found)} test evaluations"
    return (
        f"{name} version {version} has no test evaluation that counts: {only} {' or '.join(causes)} "
        f"({listed}), so {'it does' if one else 'they do'} not count; run {run} instead"
    )


def _contract_version(run_id: str) -> str:
    return f"quality-{run_id[:8]}"


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


def champion_figures(champion) -> dict[str, float]:
    """Every figure of a champion: its run's (a bundled model's: its card's validation and test
    figures; a trained one's: validation) and its newest full test evaluation's (``test_*``)."""
    return {**tracking.run_metrics(champion.run_id), **(_champion_figures(champion) or {})}


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
    trained = _training_settings(candidate.run_id)
    smoke = [  # the candidate itself: nothing else matters
        f"{reason} (version {version}, training run {candidate.run_id[:8]})"
        for reason in promotion.smoke_reasons(
            {"limit": trained["limit"], "epochs": trained["epochs"]}, {"epochs": floors["epochs"]}
        )
    ]
    evaluations = test_evaluations(contract_version)
    evaluation = next((e for e in evaluations if not _limited(e, floors)), None)
    if evaluation is None:
        if not smoke:
            raise ValueError(no_counted_evaluation(name, version, evaluations, floors))
        smoke.append("besides, " + no_counted_evaluation(name, version, evaluations, floors))
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
                "evaluation_run": evaluation.info.run_id if evaluation else "none",
                "champion": promotion.champion_label(champion) if champion else "none",
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
