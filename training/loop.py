"""What the training loops of both pipelines share (torch): seeding, the device, AdamW over the
backbone and the head with a warm-up + cosine schedule, the best checkpoint, the end of an epoch."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from training import tracking


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


def lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress))


class ScheduledAdamW:
    """AdamW over ``net.parameter_groups()``: the backbone at ``cfg.backbone_lr``, the head at
    ``cfg.lr``, both scaled per step by :func:`lr_factor` (``warmup`` steps up, cosine down)."""

    def __init__(self, net: torch.nn.Module, cfg: Any, *, total: int, warmup: int) -> None:
        backbone, head = net.parameter_groups()
        self.optimizer = torch.optim.AdamW(
            [{"params": backbone, "lr": cfg.backbone_lr}, {"params": head, "lr": cfg.lr}],
            weight_decay=cfg.weight_decay,
        )
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.total, self.warmup, self.steps = total, warmup, 0

    def step(self, loss: torch.Tensor) -> float:
        """One optimization step on ``loss`` at this step's learning rates; returns the loss."""
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * lr_factor(self.steps, self.total, self.warmup)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps += 1
        return loss.item()


class Best:
    """The best checkpoint so far by the validation metric ``select_on`` (lower is better for a
    loss, higher for anything else)."""

    def __init__(self, select_on: str) -> None:
        self.select_on = select_on
        self.sign = -1 if select_on.endswith("loss") else 1
        self.score, self.state, self.epoch = -math.inf, None, -1

    def update(self, metrics: dict[str, float], net: torch.nn.Module, epoch: int) -> None:
        score = metrics[self.select_on] * self.sign
        if score > self.score:
            self.score, self.epoch = score, epoch
            self.state = {k: v.detach().clone() for k, v in net.state_dict().items()}


def epoch_bar(items: Iterable, *, epoch: int, epochs: int, progress: bool, tag: str = "", **kwargs) -> tqdm:
    return tqdm(items, desc=f"{tag}epoch {epoch + 1}/{epochs}", leave=False, disable=not progress, **kwargs)


def end_epoch(metrics: dict[str, float], *, epoch: int, progress: bool, tag: str = "") -> None:
    """Log the epoch's metrics (with ``tag`` before their names: a fold of a cross-validation)."""
    tracking.log_metrics({tag + k: v for k, v in metrics.items()}, step=epoch)
    if progress:
        tqdm.write(f"{tag}epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
