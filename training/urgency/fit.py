"""Fitting the trained part of the urgency network (the blocks from ``train_from_block`` on, the
questionnaire branch and the head) on the frozen trunk's cached outputs (``training.urgency.trunk``).

Every network of a run is fitted the same way, for the same number of epochs (no checkpoint is picked
on any photo): one member per cross-validation fold, whose predictions on its own held-out fold are
the out-of-fold predictions the calibration and the thresholds are chosen on, and the served network
on every train photo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from model.networks import UrgencyNet, build_network
from training.loop import ScheduledAdamW, end_epoch, epoch_bar
from training.urgency.config import TrainConfig
from training.urgency.data import class_weights
from training.urgency.trunk import TopSet

#: per-epoch figures of a member on its held-out fold: net -> {name: value}
Validate = Callable[[UrgencyNet], dict[str, float]]


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


def consistency_loss(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric KL divergence between the class distributions of two copies of each photo (``logits``:
    photos x 2 x classes): a harmless change (crop, rotation, light, JPEG) should not move the reading."""
    log_p = F.log_softmax(logits, dim=-1)
    a, b = log_p[:, 0], log_p[:, 1]
    kl = F.kl_div(a, b, log_target=True, reduction="batchmean") + F.kl_div(
        b, a, log_target=True, reduction="batchmean"
    )
    return kl / 2


def fit_top(
    cfg: TrainConfig,
    data: TopSet,
    *,
    seed: int,
    tag: str = "",
    validate: Validate | None = None,
    progress: bool = True,
) -> UrgencyNet:
    """A new network (ImageNet trunk, trained part initialised from ``seed``) fitted on ``data`` for
    ``cfg.epochs`` epochs; ``validate``'s figures are logged after each epoch with ``tag``."""
    net = build_network(cfg.network, seed=seed)
    net.freeze_trunk()
    labels = cfg.network.labels
    malignant_idx = torch.tensor(cfg.network.malignant_indices)
    weights = torch.from_numpy(class_weights(data.y, len(labels), cfg.class_weighting))
    loader = torch.utils.data.DataLoader(
        data,
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        num_workers=0,
        drop_last=len(data) > cfg.batch_size,
    )
    optimizer = ScheduledAdamW(
        net, cfg, total=cfg.epochs * len(loader), warmup=cfg.warmup_epochs * len(loader)
    )
    for epoch in range(cfg.epochs):
        data.epoch = epoch
        net.train()
        losses = []
        bar = epoch_bar(loader, epoch=epoch, epochs=cfg.epochs, progress=progress, tag=tag, unit="batch")
        for fmaps, q, y in bar:
            pairs = fmaps.shape[1] if data.paired else 1
            if data.paired:  # both copies of every photo, with the same answers
                fmaps, q, y = fmaps.flatten(0, 1), q.repeat_interleave(pairs, 0), y.repeat_interleave(pairs)
            logits = net.top(fmaps, q)
            loss = F.cross_entropy(logits, y, weight=weights, label_smoothing=cfg.label_smoothing)
            if cfg.malignancy_loss_weight:
                y_mal = torch.isin(y, malignant_idx).float()
                loss = loss + cfg.malignancy_loss_weight * malignancy_loss(logits, y_mal, malignant_idx)
            if data.paired:
                loss = loss + cfg.consistency * consistency_loss(logits.view(-1, pairs, logits.shape[1]))
            losses.append(optimizer.step(loss))
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
        metrics = {"train_loss": float(np.mean(losses))}
        if validate is not None:
            metrics.update(validate(net))
        end_epoch(metrics, epoch=epoch, progress=progress, tag=tag)
    return net.eval()


def training_set(
    cfg: TrainConfig, fmaps: torch.Tensor, rows: Sequence, index: Sequence[int], y, distribution
) -> TopSet:
    """The photos ``index`` of ``rows`` (their cached trunk copies and answers) for ``fit_top``."""
    index = list(index)
    return TopSet(
        fmaps[index],
        [rows[i].questionnaire for i in index],
        np.asarray(y)[index],
        distribution,
        blank_question=cfg.blank_question,
        blank_all=cfg.blank_all,
        seed=cfg.seed,
        paired=cfg.consistency > 0,
    )
