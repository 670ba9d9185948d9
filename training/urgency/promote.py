"""Promotion of an urgency model: move the ``champion`` alias to a candidate only when the gate
(``training.urgency.gate``) finds it at least as safe as the champion in what serving does with the
test photos, log the decision either way, and bundle the champion (ONNX, contract, model card) for
serving.

Both models are read through the same functions ``POST /v1/cases`` runs, on the candidate run's
data (its logged config; ``data_dir`` / ``manifest`` may be overridden for this machine). The
champion is the registry's; with none yet, the bundled model (``model/artifacts/urgency.onnx``) is
imported as champion first (:func:`import_bundled`), so a fresh registry cannot replace what serving
ships with something worse. A smoke run (``limit`` set, fewer epochs or bootstrap resamples than
``training.promotion.PROMOTION_FLOORS``) is never promoted. ``model/artifacts/`` changes only when a
candidate is promoted; a dry run changes nothing at all.

A refusal can be overridden only by a person who writes down why (``override``, e.g. the clinical
safety officer accepting one more missed photo on one view for a model that no longer flags most
cases URGENT): the gate's refusal, its table and the reason are all logged with the promotion.

Every decision is an MLflow run of its own in the experiment ``dermatriage-promotions`` (the
comparison table and the decision), and is tagged on the candidate's model version
(:mod:`training.promotion`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from data_pipelines.build import training_rows
from training import promotion, tracking
from training.promotion import BUNDLE_DIR, PROMOTION_FLOORS, PromotionResult
from training.runs import MODEL_FOLDER
from training.urgency.answers import AnswerDistribution
from training.urgency.config import TrainConfig
from training.urgency.evaluation import ServedEvaluation, serving_figures
from training.urgency.gate import judge
from training.urgency.model_card import BUNDLE_FILES, CARD_NAME, card_figures, find_champion
from training.urgency.train import split_rows

ONNX_FILE = BUNDLE_FILES[0]
CARD_FILE = CARD_NAME


@dataclass(frozen=True)
class Promotion(PromotionResult):
    champion_before: str | None = None
    table: str = ""

    def headline(self) -> str:
        before = self.champion_before
        return super().headline() + (f" (champion was {before})" if before else " (no champion yet)")

    def details(self) -> list[str]:
        return ["", self.table] if self.table else []


def candidate_config(run_id: str, workdir: Path, overrides: tuple[str, ...] = ()) -> TrainConfig:
    """The candidate run's logged config, with ``key=value`` overrides (e.g. ``data_dir=...``)."""
    path = tracking.download(run_id, "config.yaml", workdir / "config")
    return TrainConfig.load(path, overrides)


def import_bundled(name: str, bundle_dir: Path = BUNDLE_DIR) -> str | None:
    """Register the bundled urgency model (ONNX, contract, card) as ``name``'s champion with its card's
    test figures; returns the version (None when nothing is bundled)."""
    return promotion.import_bundled(
        name, bundle_dir, files=BUNDLE_FILES, card_file=CARD_FILE, card_figures=card_figures
    )


def _model_file(run_id: str, workdir: Path) -> Path:
    return tracking.download(run_id, MODEL_FOLDER, workdir / run_id) / ONNX_FILE


def _champion_model(name: str, workdir: Path, bundle_dir: Path) -> tuple[str | None, Path | None]:
    """(how the champion is named in the decision, its ONNX file), or (None, None): the champion
    :func:`find_champion` finds (the registry's, else the bundled model)."""
    champion = find_champion(name, bundle_dir=bundle_dir)
    if champion is None:
        return None, None
    path = _model_file(champion.run_id, workdir) if champion.run_id else bundle_dir / ONNX_FILE
    return champion.label, path


def figures_of(
    cfg: TrainConfig, onnx_paths: Sequence[Path], *, progress: bool = True
) -> list[ServedEvaluation]:
    """Each model file's test photos read through the serving path (``serving_figures``), on ``cfg``'s
    data, with the blank answers of view (b) drawn from its train patients' answers."""
    split = split_rows(training_rows(cfg.manifest, label_export=cfg.label_export), cfg)
    distribution = AnswerDistribution.fit([r.questionnaire for r in split.photos])
    return [serving_figures(cfg, path, split, distribution, progress=progress) for path in onnx_paths]


def promote(
    name: str,
    version: str | None = None,
    *,
    bundle: bool = True,
    bundle_dir: Path = BUNDLE_DIR,
    overrides: tuple[str, ...] = (),
    override: str | None = None,
    progress: bool = True,
    dry_run: bool = False,
    floors: Mapping[str, int] = PROMOTION_FLOORS["urgency"],
) -> Promotion:
    """Judge candidate ``version`` (the latest when None) against the champion (the bundled model,
    imported first, when the registry has none) and bundle it into ``bundle_dir`` when promoted.
    ``override``, a person's written reason, promotes a candidate the gate refused (never a smoke
    run); ``dry_run`` decides only: nothing imported, logged, tagged, aliased or bundled; ``floors``:
    the least ``epochs`` / ``n_bootstrap`` of a run that may be promoted."""
    if override is not None and not override.strip():
        raise ValueError("an override needs a reason: who accepts the refusal, and why")
    version, candidate = promotion.candidate(name, version)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cfg = candidate_config(candidate.run_id, workdir, overrides)
        settings = {"limit": cfg.limit, "epochs": cfg.epochs, "n_bootstrap": cfg.n_bootstrap}
        smoke = promotion.smoke_reasons(settings, floors)
        champion = tracking.champion(name)
        if champion is None and not smoke and not dry_run:
            import_bundled(name, bundle_dir)  # the bundled model is the baseline
            champion = tracking.champion(name)
        before, champion_file = _champion_model(name, workdir, bundle_dir)
        table = ""
        if smoke:
            promoted, reasons = False, tuple(smoke)
        elif champion is not None and champion.version == candidate.version:
            promoted, reasons = True, ("the candidate is the champion already",)
        elif champion_file is None:
            promoted, reasons = True, ("no champion yet: the first candidate becomes champion",)
        else:
            # the gate's views only: no harmless changes, no out-of-domain images
            gate_cfg = replace(cfg, harmless_changes=False, external_sources=())
            paths = (_model_file(candidate.run_id, workdir), champion_file)
            figures = figures_of(gate_cfg, paths, progress=progress)
            decision = judge(figures[0].by_view(), figures[1].by_view())
            promoted, reasons, table = decision.promoted, decision.reasons, decision.to_markdown()
            if not promoted and override:
                promoted = True
                reasons = (*reasons, f"promoted over the gate's refusal: {override.strip()}")

        bundled = None
        if not dry_run:
            promotion.record(
                name,
                version,
                promoted=promoted,
                reasons=reasons,
                params={"champion": before or "none", "override": (override or "").strip() or "none"},
                text="\n".join([*reasons, "", table]),
                artifact="comparison.md",
            )
            if bundle and promoted:  # model/artifacts/ changes only by an accepted promotion
                bundled = promotion.copy_model_folder(candidate.run_id, workdir / "bundle", bundle_dir)
    return Promotion(
        name=name,
        candidate=version,
        champion_before=before,
        promoted=promoted,
        reasons=tuple(reasons),
        table=table,
        bundled_to=bundled,
        dry_run=dry_run,
    )
