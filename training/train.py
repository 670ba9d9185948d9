"""Train the urgency model, top to bottom: data, network, loop, export, evaluate, log.

    dermatriage train urgency --config training/configs/urgency.yaml [key=value ...]

One MLflow run per call. Validation = one patient-grouped fold of the train patients (checkpoint
selection and the operating thresholds); the fixed test split is only ever predicted once, by the
exported ONNX model through the serving path, after everything else is frozen.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from data_pipelines.build import build_manifest
from data_pipelines.manifest import ManifestRow, manifest_hash, read_manifest
from model.export import check_parity, export_onnx
from model.networks import build_network
from model.runtime import OnnxModel
from training import tracking
from training.config import TrainConfig
from training.data import TrainSet, augmentation, cached_photos, class_weights, samples, serving_tensors
from training.evaluate import Predictions, choose_threshold_for_sensitivity, evaluate
from training.model_card import write_model_card
from training.plots import calibration_plot, confusion_matrix_plot, roc_curve_plot, subgroup_plot

PHOTOS = "pad_ufes_20"
MODEL_FOLDER = "model"
REPORT_FILE = "test_report.json"  # the full test evaluation, for promotion comparisons


@dataclass(frozen=True)
class RunResult:
    run_id: str
    model_version: str
    out_dir: Path
    onnx_path: Path
    metrics: dict[str, float]


def seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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


def lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress))


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
    from training.evaluate import balanced_accuracy, malignancy_auc

    p_mal = probs[:, malignant_idx].sum(axis=1)
    nll = -np.log(np.clip(probs[np.arange(len(data.y)), data.y], 1e-7, 1)).mean()
    return {
        "val_malignancy_auc": malignancy_auc(data.y_malignant.astype(int), p_mal),
        "val_balanced_accuracy": balanced_accuracy(data.y, probs.argmax(1), n_classes=probs.shape[1]),
        "val_loss": float(nll),
    }


def fit(cfg: TrainConfig, net, train_set: TrainSet, val_images, val_data, device, progress: bool) -> dict:
    """The training loop; returns the best state dict (by ``cfg.select_on``) and its epoch."""
    labels = cfg.network.labels
    malignant_idx = [labels.index(m) for m in cfg.network.malignant]
    weights = torch.from_numpy(class_weights(train_set.data.y, len(labels), cfg.class_weighting)).to(device)
    backbone, head = net.parameter_groups()
    optimizer = torch.optim.AdamW(
        [{"params": backbone, "lr": cfg.backbone_lr}, {"params": head, "lr": cfg.lr}],
        weight_decay=cfg.weight_decay,
    )
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=generator,
        num_workers=0,
        drop_last=len(train_set) > cfg.batch_size,
    )
    total, warmup = cfg.epochs * len(loader), cfg.warmup_epochs * len(loader)
    mal_idx = torch.tensor(malignant_idx, device=device)
    higher_is_better = not cfg.select_on.endswith("loss")
    best = {"score": -math.inf, "state": None, "epoch": -1}
    step = 0
    for epoch in range(cfg.epochs):
        net.train()
        losses = []
        bar = tqdm(
            loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False, disable=not progress
        )
        for images, q, y in bar:
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * lr_factor(step, total, warmup)
            images, q, y = images.to(device), q.to(device), y.to(device)
            logits = net(images, q)
            loss = F.cross_entropy(logits, y, weight=weights, label_smoothing=cfg.label_smoothing)
            if cfg.malignancy_loss_weight:
                y_mal = torch.isin(y, mal_idx).float()
                loss = loss + cfg.malignancy_loss_weight * malignancy_loss(logits, y_mal, mal_idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
            step += 1
        metrics = {
            "train_loss": float(np.mean(losses)),
            **_val_metrics(
                torch_probabilities(net, val_images, val_data.questionnaire, device), val_data, malignant_idx
            ),
        }
        tracking.log_metrics(metrics, step=epoch)
        score = metrics[cfg.select_on] * (1 if higher_is_better else -1)
        if progress:
            tqdm.write(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if score > best["score"]:
            best = {
                "score": score,
                "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
                "epoch": epoch,
            }
    return best


def train(cfg: TrainConfig, *, progress: bool = True) -> RunResult:
    seed_everything(cfg.seed, cfg.threads)
    if not cfg.manifest.exists():
        build_manifest(cfg.data_dir, cfg.manifest, progress=progress)
    rows = read_manifest(cfg.manifest)
    data_hash = manifest_hash(cfg.manifest)
    train_rows, val_rows, test_rows = split_rows(rows, cfg)
    labels, malignant = cfg.network.labels, cfg.network.malignant
    train_data, val_data, test_data = (samples(r, labels) for r in (train_rows, val_rows, test_rows))
    spec = cfg.network.image_input()
    device = pick_device(cfg.device)

    photos = cached_photos(
        train_data.rows, cfg.data_dir, long_side=round(spec.size * 1.15), desc="train photos"
    )
    train_set = TrainSet(train_data, photos, spec, augmentation(cfg.augment, spec.size, cfg.seed))
    val_images = serving_tensors(val_data.rows, cfg.data_dir, spec, desc="validation photos")
    net = build_network(cfg.network, seed=cfg.seed).to(device)

    tags = {
        "git_sha": tracking.git_sha(),
        "manifest_hash": data_hash,
        "seed": str(cfg.seed),
        "task": cfg.name,
    }
    with tracking.run(
        f"dermatriage-{cfg.name}", run_name=f"{cfg.name}-seed{cfg.seed}", config=cfg.to_dict(), tags=tags
    ) as run_id:
        tracking.log_metrics(
            {"n_train": len(train_data.y), "n_val": len(val_data.y), "n_test": len(test_data.y)}
        )
        started = time.perf_counter()
        best = fit(cfg, net, train_set, val_images, val_data, device, progress)
        net.load_state_dict(best["state"])
        net = net.cpu().eval()
        tracking.log_metrics({"best_epoch": best["epoch"], "train_seconds": time.perf_counter() - started})

        out_dir = cfg.output_dir / run_id
        model_dir = out_dir / MODEL_FOLDER
        model_dir.mkdir(parents=True, exist_ok=True)
        onnx_path = model_dir / f"{cfg.name}.onnx"
        version = f"{cfg.name}-{run_id[:8]}"
        provenance = {
            "run_id": run_id,
            "git_sha": tags["git_sha"],
            "manifest_hash": data_hash,
            "seed": cfg.seed,
            "best_epoch": best["epoch"],
            "config": cfg.to_dict(),
        }
        contract = export_onnx(net, cfg.network, onnx_path, version=version, provenance=provenance)
        parity = check_parity(net, onnx_path)
        model = OnnxModel(onnx_path, contract)

        # operating points: on validation photos, through the exported model and the serving path
        val_preds = onnx_predictions(model, val_data.rows, val_data, val_images, labels, malignant)
        thresholds = {
            "urgent": choose_threshold_for_sensitivity(
                val_preds.y_malignant, val_preds.malignancy, cfg.target_sensitivity
            ),
            "priority": choose_threshold_for_sensitivity(
                val_preds.y_malignant, val_preds.malignancy, cfg.priority_sensitivity
            ),
        }
        thresholds["priority"] = min(thresholds["priority"], thresholds["urgent"])
        contract = replace(contract, thresholds=thresholds)
        contract.save(onnx_path.with_suffix(".json"))

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
        cfg.save(out_dir / "config.yaml")
        tracking.log_artifact(out_dir / "config.yaml")
        write_model_card(
            model_dir / "MODEL_CARD.md",
            contract=contract,
            config=cfg,
            report=report,
            val_report=val_report,
            counts={"train": len(train_data.y), "validation": len(val_data.y), "test": len(test_data.y)},
        )
        for path in sorted(model_dir.iterdir()):
            tracking.log_artifact(path, MODEL_FOLDER)
        model_version = tracking.register(
            run_id,
            name=cfg.registered_model,
            artifact_folder=MODEL_FOLDER,
            tags={"manifest_hash": data_hash, "git_sha": tags["git_sha"]},
        )
        summary = {"run_id": run_id, "model_version": model_version, "metrics": metrics}
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    return RunResult(
        run_id=run_id, model_version=model_version, out_dir=out_dir, onnx_path=onnx_path, metrics=metrics
    )
