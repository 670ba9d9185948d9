"""Train the urgency model, top to bottom: data, network, loop, export, evaluate, log.

    dermatriage train urgency --config training/configs/urgency.yaml [key=value ...]

One MLflow run per call. Validation = one patient-grouped fold of the train patients (checkpoint
selection and the operating thresholds); the fixed test split is only ever predicted once, by the
exported ONNX model through the serving path, after everything else is frozen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from data_pipelines.manifest import ManifestRow, read_manifest
from model.export import check_parity, export_onnx
from model.networks import AveragedNet, UrgencyNet, build_network
from model.runtime import OnnxModel
from training import runs, tracking
from training.config import PHOTOS
from training.evaluation.metrics import balanced_accuracy, choose_threshold_for_sensitivity, malignancy_auc
from training.evaluation.predictions import Predictions
from training.evaluation.report import EvaluationReport, evaluate
from training.loop import Best, ScheduledAdamW, end_epoch, epoch_bar, pick_device, seed_everything
from training.runs import RunResult
from training.urgency.config import TrainConfig
from training.urgency.data import (
    Samples,
    TrainSet,
    augmentation,
    cached_photos,
    class_weights,
    samples,
    serving_tensors,
)
from training.urgency.model_card import write_model_card
from training.urgency.plots import calibration_plot, confusion_matrix_plot, roc_curve_plot, subgroup_plot

REPORT_FILE = "test_report.json"  # the full test evaluation, for promotion comparisons


def split_rows(rows: list[ManifestRow], cfg: TrainConfig) -> tuple[list, list, list]:
    """(train, validation, test). Train: the configured sources, train patients outside the
    validation fold. Validation and test: smartphone photos only (what serving sees)."""
    train = [
        r for r in rows if r.split == "train" and r.source in cfg.sources and r.fold != cfg.validation_fold
    ]
    val = [r for r in rows if r.source == PHOTOS and r.split == "train" and r.fold == cfg.validation_fold]
    test = [r for r in rows if r.source == PHOTOS and r.split == "test"]
    leaked = {r.patient_id for r in train} & ({r.patient_id for r in val} | {r.patient_id for r in test})
    if leaked:
        raise RuntimeError(f"patients in train and validation/test: {sorted(leaked)[:5]}")
    if cfg.limit:
        train, val, test = train[: cfg.limit], val[: cfg.limit], test[: cfg.limit]
    return train, val, test


def malignancy_loss(
    logits: torch.Tensor, y_malignant: torch.Tensor, malignant_idx: torch.Tensor
) -> torch.Tensor:
    """BCE on p(malignant) = sum of the malignant classes' softmax probabilities, computed stably."""
    log_all = torch.logsumexp(logits, dim=1)
    mask = torch.zeros(logits.shape[1], dtype=torch.bool, device=logits.device)
    mask[malignant_idx] = True
    log_p = torch.logsumexp(logits[:, mask], dim=1) - log_all
    log_not_p = torch.logsumexp(logits[:, ~mask], dim=1) - log_all
    return -(y_malignant * log_p + (1 - y_malignant) * log_not_p).mean()


@torch.no_grad()
def torch_probabilities(net, images: np.ndarray, q: np.ndarray, device, batch: int = 64) -> np.ndarray:
    net.eval()
    out = []
    for i in range(0, len(images), batch):
        logits = net(
            torch.from_numpy(images[i : i + batch]).to(device), torch.from_numpy(q[i : i + batch]).to(device)
        )
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(net.cfg.labels)), np.float32)


def onnx_predictions(model: OnnxModel, rows, data, images: np.ndarray, labels, malignant) -> Predictions:
    outputs = model.run(images, data.questionnaire)
    return predictions(rows, data, outputs["diagnosis"], outputs["malignancy"], labels, malignant)


def predictions(rows, data, probs: np.ndarray, malignancy: np.ndarray, labels, malignant) -> Predictions:
    def group(key: str) -> np.ndarray:
        return np.asarray([str(r.questionnaire.get(key, "unknown")) for r in rows])

    return Predictions(
        image_ids=tuple(r.image_id for r in rows),
        patient_ids=tuple(r.patient_id for r in rows),
        y_true=data.y,
        probs=probs.astype(np.float64),
        malignancy=malignancy.astype(np.float64),
        labels=tuple(labels),
        malignant_labels=tuple(malignant),
        groups={"fitzpatrick": group("fitzpatrick"), "body_site": group("body_site")},
    )


def _val_metrics(probs: np.ndarray, data, malignant_idx: list[int]) -> dict[str, float]:
    p_mal = probs[:, malignant_idx].sum(axis=1)
    nll = -np.log(np.clip(probs[np.arange(len(data.y)), data.y], 1e-7, 1)).mean()
    return {
        "val_malignancy_auc": malignancy_auc(data.y_malignant.astype(int), p_mal),
        "val_balanced_accuracy": balanced_accuracy(data.y, probs.argmax(1), n_classes=probs.shape[1]),
        "val_loss": float(nll),
    }


def fit(
    cfg: TrainConfig, net, train_set: TrainSet, val_images, val_data, device, progress: bool, *, tag: str = ""
) -> Best:
    """The training loop; returns the best checkpoint (by ``cfg.select_on``) and its epoch.
    Per-epoch metrics are logged with ``tag`` before their names (a fold of a cross-validation)."""
    labels = cfg.network.labels
    malignant_idx = [labels.index(m) for m in cfg.network.malignant]
    weights = torch.from_numpy(class_weights(train_set.data.y, len(labels), cfg.class_weighting)).to(device)
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=generator,
        num_workers=0,
        drop_last=len(train_set) > cfg.batch_size,
    )
    optimizer = ScheduledAdamW(
        net, cfg, total=cfg.epochs * len(loader), warmup=cfg.warmup_epochs * len(loader)
    )
    mal_idx = torch.tensor(malignant_idx, device=device)
    best = Best(cfg.select_on)
    for epoch in range(cfg.epochs):
        net.train()
        losses = []
        bar = epoch_bar(loader, epoch=epoch, epochs=cfg.epochs, progress=progress, tag=tag, unit="batch")
        for images, q, y in bar:
            images, q, y = images.to(device), q.to(device), y.to(device)
            logits = net(images, q)
            loss = F.cross_entropy(logits, y, weight=weights, label_smoothing=cfg.label_smoothing)
            if cfg.malignancy_loss_weight:
                y_mal = torch.isin(y, mal_idx).float()
                loss = loss + cfg.malignancy_loss_weight * malignancy_loss(logits, y_mal, mal_idx)
            losses.append(optimizer.step(loss))
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
        val_probs = torch_probabilities(net, val_images, val_data.questionnaire, device)
        metrics = {"train_loss": float(np.mean(losses)), **_val_metrics(val_probs, val_data, malignant_idx)}
        end_epoch(metrics, epoch=epoch, progress=progress, tag=tag)
        best.update(metrics, net, epoch)
    return best


@dataclass(frozen=True)
class Member:
    """One trained network and its validation fold (predicted by the network alone)."""

    net: UrgencyNet
    fold: int
    best_epoch: int
    val: Samples
    val_images: np.ndarray
    n_train: int


def train_member(cfg: TrainConfig, rows: list[ManifestRow], fold: int, *, tag: str, progress: bool) -> Member:
    fold_cfg = replace(cfg, validation_fold=fold)
    train_rows, val_rows, _ = split_rows(rows, fold_cfg)
    labels = cfg.network.labels
    train_data, val_data = samples(train_rows, labels), samples(val_rows, labels)
    spec = cfg.network.image_input()
    device = pick_device(cfg.device)
    photos = cached_photos(
        train_data.rows, cfg.data_dir, long_side=round(spec.size * 1.15), desc=f"{tag}train photos"
    )
    train_set = TrainSet(train_data, photos, spec, augmentation(cfg.augment, spec.size, cfg.seed + fold))
    val_images = serving_tensors(val_data.rows, cfg.data_dir, spec, desc=f"{tag}validation photos")
    net = build_network(cfg.network, seed=cfg.seed + fold).to(device)
    best = fit(cfg, net, train_set, val_images, val_data, device, progress, tag=tag)
    net.load_state_dict(best.state)
    return Member(
        net=net.cpu().eval(),
        fold=fold,
        best_epoch=best.epoch,
        val=val_data,
        val_images=val_images,
        n_train=len(train_data.y),
    )


def served_network(cfg: TrainConfig, members: list[Member]):
    nets = [m.net for m in members]
    if len(nets) == 1 and not cfg.tta_flips:
        return nets[0]
    return AveragedNet(nets, flips=cfg.tta_flips).eval()


def validation_predictions(cfg: TrainConfig, members: list[Member], model: OnnxModel) -> Predictions:
    """Predictions for choosing the operating points. One member: its fold, through the exported model
    (the serving path). Cross-validation: every member on its own held-out fold (out-of-fold), read the
    way the served model reads (flips when configured) — the ensemble itself saw those photos."""
    labels, malignant = cfg.network.labels, cfg.network.malignant
    if len(members) == 1:
        m = members[0]
        return onnx_predictions(model, m.val.rows, m.val, m.val_images, labels, malignant)
    parts = []
    malignant_idx = list(cfg.network.malignant_indices)
    for m in members:
        probs = torch_probabilities(
            served_network(cfg, [m]), m.val_images, m.val.questionnaire, torch.device("cpu")
        )
        parts.append(
            predictions(m.val.rows, m.val, probs, probs[:, malignant_idx].sum(axis=1), labels, malignant)
        )
    rows = [r for p in parts for r in p.image_ids]
    return Predictions(
        image_ids=tuple(rows),
        patient_ids=tuple(x for p in parts for x in p.patient_ids),
        y_true=np.concatenate([p.y_true for p in parts]),
        probs=np.concatenate([p.probs for p in parts]),
        malignancy=np.concatenate([p.malignancy for p in parts]),
        labels=tuple(labels),
        malignant_labels=tuple(malignant),
        groups={k: np.concatenate([p.groups[k] for p in parts]) for k in parts[0].groups},
    )


def train(cfg: TrainConfig, *, progress: bool = True) -> RunResult:
    seed_everything(cfg.seed, cfg.threads)
    data_hash = runs.prepared_manifest(cfg, progress=progress)
    rows = read_manifest(cfg.manifest)
    labels, malignant = cfg.network.labels, cfg.network.malignant
    test_data = samples(split_rows(rows, cfg)[2], labels)
    spec = cfg.network.image_input()
    folds = cfg.cv_folds or (cfg.validation_fold,)

    with runs.start(cfg, data_hash) as run:
        started = time.perf_counter()
        members = [
            train_member(cfg, rows, fold, tag=f"fold{fold}_" if len(folds) > 1 else "", progress=progress)
            for fold in folds
        ]
        net = served_network(cfg, members)
        tracking.log_metrics(
            {
                "n_train": members[0].n_train,
                "n_val": sum(len(m.val.y) for m in members),
                "n_test": len(test_data.y),
                "best_epoch": members[0].best_epoch,
                "train_seconds": time.perf_counter() - started,
            }
        )

        onnx_path = run.export_path()
        provenance = run.provenance(best_epochs=[m.best_epoch for m in members], folds=list(folds))
        contract = export_onnx(net, cfg.network, onnx_path, version=run.version, provenance=provenance)
        parity = check_parity(net, onnx_path)
        model = OnnxModel(onnx_path, contract)

        # operating points: on validation photos of train patients, never on test
        val_preds = validation_predictions(cfg, members, model)
        thresholds = {
            "urgent": choose_threshold_for_sensitivity(
                val_preds.y_malignant, val_preds.malignancy, cfg.target_sensitivity
            ),
            "priority": choose_threshold_for_sensitivity(
                val_preds.y_malignant, val_preds.malignancy, cfg.priority_sensitivity
            ),
        }
        thresholds["priority"] = min(thresholds["priority"], thresholds["urgent"])
        contract = run.save_thresholds(contract, thresholds)

        # the held-out test split, once, through the same path serving uses
        test_images = serving_tensors(test_data.rows, cfg.data_dir, spec, desc="test photos")
        test_preds = onnx_predictions(model, test_data.rows, test_data, test_images, labels, malignant)
        torch_test = torch_probabilities(net, test_images, test_data.questionnaire, torch.device("cpu"))
        served_vs_torch = float(np.abs(torch_test - test_preds.probs).max()) if len(torch_test) else 0.0

        report = evaluate(test_preds, thresholds, n_boot=cfg.n_bootstrap, seed=cfg.seed, prefix="test_")
        val_report = evaluate(
            val_preds, thresholds, n_boot=min(cfg.n_bootstrap, 500), seed=cfg.seed, prefix="validation_"
        )
        metrics = {
            **report.metrics_dict(),
            **val_report.metrics_dict(),
            "parity_max_abs_diff": max(parity.max_abs_diff_diagnosis, parity.max_abs_diff_malignancy),
            "test_torch_vs_onnx_max_abs_diff": served_vs_torch,
            "threshold_urgent": thresholds["urgent"],
            "threshold_priority": thresholds["priority"],
        }
        tracking.log_metrics(metrics)
        log_evaluation(run.out_dir, thresholds, test_preds, val_preds, report, val_report)
        run.log_config()
        write_model_card(
            run.model_dir / "MODEL_CARD.md",
            contract=contract,
            config=cfg,
            report=report,
            val_report=val_report,
            counts={
                "train": members[0].n_train,
                "validation": len(val_preds.image_ids),
                "test": len(test_data.y),
            },
        )
        return run.register(metrics)


def log_evaluation(
    out_dir: Path,
    thresholds: dict[str, float],
    test_preds: Predictions,
    val_preds: Predictions,
    report: EvaluationReport,
    val_report: EvaluationReport,
) -> None:
    """Plots, predictions and reports of the test split and the validation fold, logged to the run."""
    plots = out_dir / "plots"
    plots.mkdir(exist_ok=True)
    for path in (
        roc_curve_plot(test_preds, thresholds, plots / "test_roc.png"),
        calibration_plot(test_preds, plots / "test_calibration.png"),
        confusion_matrix_plot(test_preds, plots / "test_confusion_matrix.png"),
        subgroup_plot(report, "fitzpatrick", plots / "test_by_fitzpatrick.png"),
        subgroup_plot(report, "body_site", plots / "test_by_body_site.png"),
        roc_curve_plot(val_preds, thresholds, plots / "val_roc.png"),
    ):
        tracking.log_artifact(path, "plots")
    test_preds.to_csv(out_dir / "test_predictions.csv")
    val_preds.to_csv(out_dir / "val_predictions.csv")
    for name in ("test_predictions.csv", "val_predictions.csv"):
        tracking.log_artifact(out_dir / name, "predictions")
    (out_dir / "evaluation.md").write_text(
        report.to_markdown("Test split") + "\n\n" + val_report.to_markdown("Validation fold")
    )
    (out_dir / REPORT_FILE).write_text(report.to_json())
    for name in ("evaluation.md", REPORT_FILE):
        tracking.log_artifact(out_dir / name)
