"""Train the image-quality model, top to bottom: photos, degraded pool, network, loop, export,
thresholds, log.

    dermatriage train quality --config training/configs/quality.yaml [key=value ...]

One MLflow run. Training photos: PAD-UFES-20 photos of train patients outside the validation fold,
each drawn ``pool_per_photo`` times with a random defect (or clean). Validation: the held-out fold's
photos, untouched and with every defect at every severity (checkpoint selection and every threshold).
``limit`` bounds both: at most ``limit`` training photos and at most ``limit`` validation images (a
deterministic subset that still holds untouched photos and every defect:
``training.quality.data.evaluation_set``). Every long step shows a progress bar when ``progress``.
Test patients are never read here: ``dermatriage evaluate quality`` judges the exported model.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from data_pipelines.manifest import read_manifest
from model.export import ParityError
from model.quality_model import QualityModel
from model.quality_network import QualityNet, build_quality_network, export_quality_onnx
from model.quality_verdict import ModelReading, QualityPolicy, combine
from model.runtime import OnnxModel
from training import description, runs, tracking
from training.config import PHOTOS
from training.evaluation.metrics import malignancy_auc as roc_auc
from training.loop import Best, ScheduledAdamW, end_epoch, epoch_bar, pick_device, seed_everything
from training.quality.config import QualityTrainConfig
from training.quality.data import Sample, evaluation_set, load_photos, targets, training_pool
from training.quality.evaluate import evaluate_scored
from training.quality.model_card import CARD_NAME, find_champion, run_table, write_quality_card
from training.quality.promote import champion_figures
from training.quality.scored import model_inputs, read_samples, score
from training.runs import RunResult

#: the run page's headline table: its title, and where the champion's figures come from
STORY = description.Story(
    title="Quality: validation fold (train patients; the thresholds are chosen on it)",
    champion_note=(
        "Its test figures come from `dermatriage evaluate quality` on the test patients; this run gets its "
        "own from that command, which its promotion needs."
    ),
)


def split_photos(cfg: QualityTrainConfig):
    """(training rows, validation rows): with ``limit``, the first ``limit`` of each (the validation
    images are bounded by ``evaluation_set(limit=...)``: one image per photo up to ``limit``)."""
    rows = [r for r in read_manifest(cfg.manifest) if r.source == PHOTOS and r.split == "train"]
    train = [r for r in rows if r.fold != cfg.validation_fold]
    val = [r for r in rows if r.fold == cfg.validation_fold]
    if {r.patient_id for r in train} & {r.patient_id for r in val}:
        raise RuntimeError("a patient is in both the training and the validation photos")
    if cfg.limit:
        train, val = train[: cfg.limit], val[: cfg.limit]
    return train, val


def images_tensor(samples: list[Sample], spec) -> torch.Tensor:
    return torch.from_numpy(model_inputs(samples, spec))


@torch.no_grad()
def frozen_features(
    net: QualityNet,
    samples: list[Sample],
    spec,
    device,
    *,
    batch: int = 64,
    desc: str,
    progress: bool = True,
) -> torch.Tensor:
    """The frozen layers' output for every sample, once (float16 to halve the memory)."""
    net.eval()
    parts = [
        net.features(images_tensor(samples[i : i + batch], spec).to(device)).half().cpu()
        for i in tqdm(
            range(0, len(samples), batch), desc=desc, unit="batch", leave=False, disable=not progress
        )
    ]
    return torch.cat(parts)


def loss_fn(logits: torch.Tensor, y_retake: torch.Tensor, y_defects: torch.Tensor, w: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(
        logits[:, 0], y_retake
    ) + w * F.binary_cross_entropy_with_logits(logits[:, 1:], y_defects)


@torch.no_grad()
def head_logits(net: QualityNet, feats: torch.Tensor, batch: int = 128) -> torch.Tensor:
    net.eval()
    return torch.cat(
        [net.head_from_features(feats[i : i + batch].float()) for i in range(0, len(feats), batch)]
    )


def fit(
    cfg: QualityTrainConfig, net: QualityNet, train_feats, y_train, val_feats, y_val, device, progress: bool
) -> Best:
    generator = torch.Generator().manual_seed(cfg.seed)
    n = len(train_feats)
    steps_per_epoch = max(1, n // cfg.batch_size)
    optimizer = ScheduledAdamW(
        net, cfg, total=cfg.epochs * steps_per_epoch, warmup=cfg.warmup_epochs * steps_per_epoch
    )
    if cfg.select_on not in ("val_loss", "val_retake_auc"):
        raise ValueError(f"select_on {cfg.select_on!r}: expected val_loss or val_retake_auc")
    best = Best(cfg.select_on)
    for epoch in range(cfg.epochs):
        net.train()
        order = torch.randperm(n, generator=generator)
        losses = []
        bar = epoch_bar(range(steps_per_epoch), epoch=epoch, epochs=cfg.epochs, progress=progress)
        for b in bar:
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            logits = net.head_from_features(train_feats[idx].float().to(device))
            loss = loss_fn(
                logits, y_train[0][idx].to(device), y_train[1][idx].to(device), cfg.defect_loss_weight
            )
            losses.append(optimizer.step(loss))
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
        logits = head_logits(net, val_feats.to(device)).cpu()
        val_loss = float(loss_fn(logits, y_val[0], y_val[1], cfg.defect_loss_weight))
        p = torch.sigmoid(logits[:, 0]).numpy()
        metrics = {
            "train_loss": float(np.mean(losses)),
            "val_loss": val_loss,
            "val_retake_auc": roc_auc(y_val[0].numpy().astype(int), p),
        }
        end_epoch(metrics, epoch=epoch, progress=progress)
        best.update(metrics, net, epoch)
    return best


def choose_thresholds(
    samples: list[Sample],
    p_retake: np.ndarray,
    p_defects: np.ndarray,
    defects: tuple[str, ...],
    target: float,
) -> dict[str, float]:
    """On validation photos only. Each defect: the threshold that best separates that defect at
    moderate/severe from every other photo (Youden's J). Retake: the lowest threshold at which the
    service's verdict (``model.quality_verdict.combine``, with those defect thresholds) sends at most
    ``target`` of the untouched photos back."""
    thresholds: dict[str, float] = {}
    grid = np.linspace(0.05, 0.95, 91)
    for j, d in enumerate(defects):
        pos = np.asarray([s.defect == d and s.retake for s in samples])
        if not pos.any():
            thresholds[f"defect.{d}"] = 0.5
            continue
        scores = p_defects[:, j]
        j_stat = [np.mean(scores[pos] >= t) - np.mean(scores[~pos] >= t) for t in grid]
        thresholds[f"defect.{d}"] = float(grid[int(np.argmax(j_stat))])
    clean = [i for i, s in enumerate(samples) if s.defect == "clean"]
    readings = {
        i: ModelReading(
            version="", retake=float(p_retake[i]), defects=dict(zip(defects, p_defects[i], strict=True))
        )
        for i in clean
    }
    defect_policy = {d: thresholds[f"defect.{d}"] for d in defects}
    thresholds["retake"] = 1.0
    for t in np.unique(np.concatenate([p_retake[clean], [1.0]])):  # ascending
        policy = QualityPolicy(retake=float(min(1.0, t + 1e-6)), defects=defect_policy)
        sent_back = [
            combine(
                samples[i].report,
                readings[i],
                policy,
                original_size=samples[i].size,
                modality=samples[i].modality,
            ).verdict
            == "retake"
            for i in clean
        ]
        if np.mean(sent_back) <= target:
            thresholds["retake"] = policy.retake
            break
    return thresholds


def train(cfg: QualityTrainConfig, *, progress: bool = True) -> RunResult:
    seed_everything(cfg.seed, cfg.threads)
    data = runs.prepared_manifest(cfg, progress=progress)
    train_rows, val_rows = split_photos(cfg)
    spec = cfg.network.image_input()
    defects = cfg.network.defects
    device = pick_device(cfg.device)
    with runs.start(cfg, data) as run:
        started = time.perf_counter()
        champion = find_champion(cfg.registered_model, figures=champion_figures)
        train_photos = load_photos(train_rows, cfg.data_dir, desc="training photos", progress=progress)
        val_photos = load_photos(val_rows, cfg.data_dir, desc="validation photos", progress=progress)
        pool = training_pool(
            train_photos,
            seed=cfg.seed,
            per_photo=cfg.pool_per_photo,
            p_clean=cfg.p_clean,
            size=spec.size,
            resize=spec.resize,
            workers=cfg.workers,
            progress=progress,
        )
        val_set = evaluation_set(
            val_photos,
            seed=cfg.seed + 1,
            size=spec.size,
            resize=spec.resize,
            workers=cfg.workers,
            desc="validation set (defects drawn)",
            limit=cfg.limit,
            progress=progress,
        )
        net = build_quality_network(cfg.network, seed=cfg.seed).to(device)
        train_feats = frozen_features(
            net, pool, spec, device, desc="frozen layers (training)", progress=progress
        )
        val_feats = frozen_features(
            net, val_set, spec, device, desc="frozen layers (validation)", progress=progress
        )
        y_train = tuple(torch.from_numpy(a) for a in targets(pool, defects))
        y_val = tuple(torch.from_numpy(a) for a in targets(val_set, defects))
        best = fit(cfg, net, train_feats, y_train, val_feats, y_val, device, progress)
        net.load_state_dict(best.state)
        net = net.cpu().eval()

        onnx_path = run.export_path()
        placeholder = {"retake": 0.5, **{f"defect.{d}": 0.5 for d in defects}}  # replaced below
        contract = export_quality_onnx(
            net,
            onnx_path,
            version=run.version,
            thresholds=placeholder,
            provenance=run.provenance(
                best_epoch=best.epoch,
                data_vs_champion=description.data_vs_champion(run.data.provenance(), champion),
            ),
        )
        parity = check_quality_parity(net, onnx_path, images_tensor(val_set[:16], spec))

        # operating points from the exported model on validation photos (never test)
        exported = QualityModel(onnx_path)
        readings = read_samples(val_set, exported, desc="validation scoring", progress=progress)
        p_retake = np.asarray([r.retake for r in readings])
        p_defects = np.asarray([[r.defects[d] for d in defects] for r in readings])
        thresholds = choose_thresholds(val_set, p_retake, p_defects, defects, cfg.target_false_retake)
        contract = run.save_thresholds(contract, thresholds)

        # the verdicts at the chosen thresholds (the readings do not depend on them)
        scored = score(val_set, QualityModel(onnx_path), readings=readings, progress=progress)
        val_report = evaluate_scored(scored, n_boot=0, seed=cfg.seed)
        metrics = {
            **{f"validation_{k}": v for k, v in val_report.metrics.items()},
            "parity_max_abs_diff": parity,
            "best_epoch": best.epoch,
            "n_train_photos": len(train_photos),
            "n_train_pool": len(pool),
            "n_val_photos": len(val_photos),
            "n_val_images": len(val_set),
            "train_seconds": time.perf_counter() - started,
            **{f"threshold_{k}": v for k, v in thresholds.items()},
        }
        tracking.log_metrics(metrics)
        run.log_config()
        validation_md = val_report.to_markdown("Validation fold (train patients)")
        (run.out_dir / "validation.md").write_text(validation_md)
        tracking.log_artifact(run.out_dir / "validation.md")
        write_quality_card(run.model_dir / CARD_NAME, contract=contract, config=cfg, validation=validation_md)
        return STORY.register_and_publish(run, metrics, run_table(metrics, champion), champion, contract)


def check_quality_parity(net: QualityNet, onnx_path: Path, images: torch.Tensor, atol: float = 1e-4) -> float:
    """torch (eval) vs onnxruntime on real validation images; raises beyond ``atol``."""
    with torch.no_grad():
        p = torch.sigmoid(net.eval()(images).float()).numpy()
    out = OnnxModel(onnx_path).run(images.numpy())
    diff = float(max(np.abs(out["retake"] - p[:, 0]).max(), np.abs(out["defects"] - p[:, 1:]).max()))
    if diff > atol:
        raise ParityError(f"{onnx_path.name}: onnxruntime differs from torch by {diff:.2e} > {atol:.0e}")
    return diff
