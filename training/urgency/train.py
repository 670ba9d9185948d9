"""Train the urgency model, top to bottom: data, frozen trunk, cross-validation members, calibration and
thresholds, the served network, export, evaluation through the serving path, log.

    dermatriage train urgency --config training/configs/urgency.yaml [key=value ...]

One MLflow run per call. The trunk (stem and first blocks) keeps its ImageNet weights and is computed
once per augmented training photo; every network of the run fits the blocks after it and the head for
the same number of epochs (``training.urgency.fit``). The cross-validation members exist for their
out-of-fold predictions (train patients only), on which the calibration and the URGENT / PRIORITY
thresholds are chosen; the served network is fitted on every train photo and is one forward pass per
photo. The fixed test split is read only after everything is frozen, through the functions
``POST /v1/cases`` runs, in every view (``training.urgency.views``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from data_pipelines.build import training_rows
from data_pipelines.manifest import ManifestRow
from model import features
from model.export import check_parity, export_onnx
from model.networks import UrgencyNet, build_network
from training import description, runs, tracking
from training.config import PHOTOS
from training.evaluation.metrics import malignancy_auc
from training.loop import seed_everything
from training.runs import RunResult
from training.urgency.answers import MODEL_QUESTIONS, AnswerDistribution
from training.urgency.calibration import calibrated, fit_calibration, operating_thresholds
from training.urgency.config import TrainConfig
from training.urgency.data import augmentation, cached_photos, serving_tensors
from training.urgency.evaluation import evaluate_served, log_evaluation
from training.urgency.fit import fit_top, training_set
from training.urgency.model_card import find_champion, run_table, write_model_card
from training.urgency.trunk import FrozenTrunk, top_log_probs
from training.urgency.views import view_answers

REPORT_FILE = "test_report.json"  # the as-recorded test evaluation (the notebook reads it)
#: the run page's headline table: its title, and where the champion's figures come from
STORY = description.Story(
    title="Urgency: test split, through the serving path (95 % patient-level bootstrap intervals)",
    champion_note=(
        "Its figures are its own test evaluation: like for like only where its test split is this run's "
        "(see Data); `dermatriage promote --dry-run` reads both models on the same photos."
    ),
)
MASKED_SUFFIX = "_masked"


@dataclass(frozen=True)
class Split:
    train: list[ManifestRow]  # what the networks are fitted on
    photos: list[ManifestRow]  # the train patients' smartphone photos (out-of-fold predictions)
    test: list[ManifestRow]  # the fixed test split's smartphone photos
    external: list[ManifestRow]  # out-of-domain images (evaluated, never trained on)


def split_rows(rows: list[ManifestRow], cfg: TrainConfig) -> Split:
    """Train: the configured sources' train patients (a lesion-masked copy of a photo that is itself
    a training photo is left out). Out-of-fold and test: smartphone photos only (what serving sees)."""
    photo_ids = {r.image_id for r in rows if r.source == PHOTOS}

    def copy_of_a_photo(r: ManifestRow) -> bool:
        return r.source != PHOTOS and r.image_id.removesuffix(MASKED_SUFFIX) in photo_ids

    train = [r for r in rows if r.split == "train" and r.source in cfg.sources and not copy_of_a_photo(r)]
    photos = [r for r in rows if r.source == PHOTOS and r.split == "train"]
    test = [r for r in rows if r.source == PHOTOS and r.split == "test"]
    external = [r for r in rows if r.source in cfg.external_sources]
    if {r.patient_id for r in train + photos} & {r.patient_id for r in test}:
        raise RuntimeError("a test patient's photo among the training photos")
    if cfg.limit:
        train, photos, test, external = (x[: cfg.limit] for x in (train, photos, test, external))
    return Split(train, photos, test, external)


def _labels_index(rows: list[ManifestRow], labels: tuple[str, ...]) -> np.ndarray:
    return np.asarray([labels.index(r.diagnosis) for r in rows])


def out_of_fold(cfg, split, fmaps, photo_fmaps, distribution, *, progress):
    """Fit one member per fold; returns (members, log-probabilities of every held-out photo as recorded
    and complete, pooled, and their malignancy labels)."""
    labels = cfg.network.labels
    y = _labels_index(split.train, labels)
    folds = cfg.cv_folds or (cfg.validation_fold,)
    members, log_probs, y_mal = [], [], []
    for fold in folds:
        held = [j for j, r in enumerate(split.photos) if r.fold == fold]
        rows = [split.photos[j] for j in held]
        recorded = features.encode_many([r.questionnaire for r in rows], reads=MODEL_QUESTIONS)
        photo_only = features.encode_many([{} for _ in rows], reads=MODEL_QUESTIONS)
        complete = features.encode_many(
            view_answers(rows, "complete", distribution, seed=cfg.seed + fold), reads=MODEL_QUESTIONS
        )
        y_held = np.asarray([r.malignant for r in rows], dtype=int)

        def validate(net, held=held, recorded=recorded, photo_only=photo_only, y_held=y_held):
            out = {}
            for name, q in (("val_malignancy_auc", recorded), ("val_photo_only_malignancy_auc", photo_only)):
                p = np.exp(top_log_probs(net, photo_fmaps[held], q))[:, list(cfg.network.malignant_indices)]
                out[name] = malignancy_auc(y_held, p.sum(axis=1))
            return out

        train_index = [i for i, r in enumerate(split.train) if r.fold != fold]
        data = training_set(cfg, fmaps, split.train, train_index, y, distribution)
        tag = f"fold{fold}_" if len(folds) > 1 else ""
        net = fit_top(cfg, data, seed=cfg.seed + 1 + fold, tag=tag, validate=validate, progress=progress)
        members.append(net)
        for q in (recorded, complete):
            log_probs.append(top_log_probs(net, photo_fmaps[held], q))
            y_mal.append(y_held)
    return members, np.concatenate(log_probs), np.concatenate(y_mal)


def train(cfg: TrainConfig, *, progress: bool = True) -> RunResult:
    seed_everything(cfg.seed, cfg.threads)
    data = runs.prepared_manifest(cfg, progress=progress)
    split = split_rows(training_rows(cfg.manifest, label_export=cfg.label_export), cfg)
    labels, malignant_idx = cfg.network.labels, cfg.network.malignant_indices
    distribution = AnswerDistribution.fit([r.questionnaire for r in split.photos])
    spec = cfg.network.image_input()

    with runs.start(cfg, data) as run:
        started = time.perf_counter()
        champion = find_champion(cfg.registered_model)
        run.out_dir.mkdir(parents=True, exist_ok=True)
        trunk = FrozenTrunk(_reference_net(cfg), threads=cfg.threads)
        photos = cached_photos(
            split.train, cfg.image_roots(), long_side=round(spec.size * 1.15), desc="train photos"
        )
        fmaps = trunk.views(
            photos,
            spec,
            augmentation(cfg.augment, spec.size, cfg.seed),
            views=cfg.views_per_photo,
            progress=progress,
        )
        del photos
        photo_fmaps = trunk.of(
            serving_tensors(split.photos, cfg.image_roots(), spec, desc="out-of-fold photos")
        )
        members, oof_log_probs, oof_y = out_of_fold(
            cfg, split, fmaps, photo_fmaps, distribution, progress=progress
        )

        # calibration and operating points: out-of-fold, train patients only
        calibration = fit_calibration(oof_log_probs, oof_y, malignant_idx)
        _, oof_malignancy = calibrated(oof_log_probs, malignant_idx, calibration)
        thresholds = operating_thresholds(
            oof_y,
            oof_malignancy,
            urgent_sensitivity=cfg.target_sensitivity,
            priority_sensitivity=cfg.priority_sensitivity,
        )

        everything = range(len(split.train))
        data = training_set(
            cfg, fmaps, split.train, everything, _labels_index(split.train, labels), distribution
        )
        net = fit_top(cfg, data, seed=cfg.seed, tag="served_", progress=progress)
        train_seconds = time.perf_counter() - started

        onnx_path = run.export_path()
        rows_by_source = dict(sorted(Counter(r.source for r in split.train).items()))
        tracking.log_metrics({f"train_rows_{source}": n for source, n in rows_by_source.items()})
        provenance = run.provenance(
            folds=list(cfg.cv_folds or (cfg.validation_fold,)),
            answers=distribution.rates(),
            train_rows_by_source=rows_by_source,
            data_vs_champion=description.data_vs_champion(run.data.provenance(), champion),
        )
        contract = export_onnx(
            net,
            cfg.network,
            onnx_path,
            version=run.version,
            provenance=provenance,
            calibration=calibration,
            reads=MODEL_QUESTIONS,
        )
        parity = check_parity(net, onnx_path)
        contract = run.save_thresholds(contract, thresholds)

        # the held-out test split, once, through the functions serving runs
        served = evaluate_served(
            cfg,
            run.onnx_path,
            split,
            distribution,
            thresholds,
            net=net,
            members=members,
            calibration=calibration,
            trunk=trunk,
        )
        metrics = {
            **served.metrics(),
            "n_train": len(split.train),
            "n_out_of_fold": len(oof_y) // 2,
            "n_test": len(split.test),
            "train_seconds": train_seconds,
            "parity_max_abs_diff": max(parity.max_abs_diff_diagnosis, parity.max_abs_diff_malignancy),
            "threshold_urgent": thresholds["urgent"],
            "threshold_priority": thresholds["priority"],
            "calibration_temperature": calibration.temperature,
            "calibration_malignant_shift": calibration.malignant_shift,
        }
        tracking.log_metrics(metrics)
        log_evaluation(run.out_dir, served, thresholds, REPORT_FILE)
        run.log_config()
        write_model_card(
            run.model_dir / "MODEL_CARD.md",
            contract=contract,
            config=cfg,
            served=served,
            distribution=distribution,
            counts={"train": len(split.train), "out_of_fold": len(oof_y) // 2, "test": len(split.test)},
        )
        return STORY.register_and_publish(run, metrics, run_table(metrics, champion), champion, contract)


def _reference_net(cfg: TrainConfig) -> UrgencyNet:
    """A network whose trunk every network of the run shares (ImageNet weights, frozen)."""
    net = build_network(cfg.network, seed=cfg.seed)
    net.freeze_trunk()
    return net
