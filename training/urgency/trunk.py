"""Training on a frozen trunk: what a CPU can afford.

The network's stem and first blocks keep their ImageNet weights (``NetworkConfig.train_from_block``),
so their output for a photo does not change during training. It is computed once, by ONNX Runtime,
for a few augmented copies of every training photo (``FrozenTrunk.views``) and for the serving-path
tensor of every photo that is predicted (``FrozenTrunk.of``); an epoch then runs only the trained
blocks and the head (``TopSet`` picks one of a photo's copies at random and answers its questionnaire
the way training must,
``training.urgency.answers``). A photo's copies are made from a generator seeded by the run's seed, so
the same seed gives the same copies, batches and metrics.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import albumentations as A
import numpy as np
import onnxruntime as ort
import torch
from tqdm import tqdm

from model import features
from model.contract import ImageInput
from model.export import write_onnx
from model.model_input import normalize
from model.networks import UrgencyNet
from training.urgency.answers import MODEL_QUESTIONS, AnswerDistribution, blank


class _Trunk(torch.nn.Module):
    def __init__(self, net: UrgencyNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net.trunk(image)


class FrozenTrunk:
    """The frozen trunk, run by ONNX Runtime (several times faster than eager torch on a CPU for the
    early, high-resolution blocks; its outputs equal torch's to float precision)."""

    def __init__(self, net: UrgencyNet, *, threads: int) -> None:
        size = net.cfg.image_size
        module = _Trunk(copy.deepcopy(net).eval())
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "frozen_trunk.onnx"
            example = (torch.zeros(2, 3, size, size),)
            write_onnx(module, example, path, inputs=["image"], outputs=["fmap"], doc="trunk")
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, images: np.ndarray) -> torch.Tensor:
        """(N, C, H, W) float16 for N x 3 x S x S float32 image tensors."""
        (fmaps,) = self.session.run(["fmap"], {"image": images.astype(np.float32, copy=False)})
        return torch.from_numpy(fmaps.astype(np.float16))

    def views(
        self,
        photos: Sequence[np.ndarray],
        spec: ImageInput,
        augment: A.Compose,
        *,
        views: int,
        batch: int = 64,
        progress: bool = True,
    ) -> torch.Tensor:
        """(len(photos), views, C, H, W) float16: the trunk's output for ``views`` augmented copies
        of each photo (the first copy of every photo first, then the second, ...; one seeded augmenter)."""
        out: torch.Tensor | None = None
        jobs = [(v, i) for v in range(views) for i in range(len(photos))]
        starts = range(0, len(jobs), batch)
        for start in tqdm(starts, desc="frozen trunk", unit="batch", disable=not progress, leave=False):
            chunk = jobs[start : start + batch]
            fmaps = self(np.stack([normalize(augment(image=photos[i])["image"], spec) for _, i in chunk]))
            if out is None:
                out = torch.empty((len(photos), views, *fmaps.shape[1:]), dtype=torch.float16)
            for (v, i), fmap in zip(chunk, fmaps, strict=True):
                out[i, v] = fmap
        assert out is not None, "no photos"
        return out

    def of(self, images: np.ndarray, *, batch: int = 64) -> torch.Tensor:
        """(N, C, H, W) float16 for serving-path image tensors (N x 3 x S x S)."""
        return torch.cat([self(images[i : i + batch]) for i in range(0, len(images), batch)])


@torch.no_grad()
def top_log_probs(net: UrgencyNet, fmaps: torch.Tensor, q: np.ndarray, *, batch: int = 128) -> np.ndarray:
    """(N, L) log class probabilities of the trained part on trunk outputs and questionnaire features."""
    net.eval()
    out = []
    for i in range(0, len(fmaps), batch):
        logits = net.top(fmaps[i : i + batch].float(), torch.from_numpy(q[i : i + batch]))
        out.append(torch.log_softmax(logits.float(), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(net.cfg.labels)), np.float32)


class TopSet(torch.utils.data.Dataset):
    """The training photos as the trained part sees them: one of each photo's trunk copies (two different
    ones when ``paired``), and its questionnaire with every blank the data left answered from the
    train distribution and answers blanked at random (``answers.blank``); all drawn from ``(seed,
    epoch, photo)``."""

    def __init__(
        self,
        fmaps: torch.Tensor,
        questionnaires: Sequence[Mapping[str, Any]],
        y: np.ndarray,
        distribution: AnswerDistribution,
        *,
        blank_question: float,
        blank_all: float,
        seed: int,
        paired: bool = False,
    ) -> None:
        self.fmaps, self.questionnaires, self.y = fmaps, list(questionnaires), y
        self.distribution = distribution
        self.blank_question, self.blank_all, self.seed = blank_question, blank_all, seed
        #: each item carries two different copies of its photo (stacked), for the consistency loss
        self.paired = paired and fmaps.shape[1] > 1
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        rng = np.random.default_rng((self.seed, self.epoch, i))
        view = int(rng.integers(self.fmaps.shape[1]))
        answers = self.distribution.impute(self.questionnaires[i], rng)
        answers = blank(answers, rng, per_question=self.blank_question, whole=self.blank_all)
        q = features.encode(answers, reads=MODEL_QUESTIONS)
        if self.paired:  # drawn last, so an unpaired set draws exactly as before
            other = (view + 1 + int(rng.integers(self.fmaps.shape[1] - 1))) % self.fmaps.shape[1]
            return self.fmaps[i, [view, other]].float(), torch.from_numpy(q), int(self.y[i])
        return self.fmaps[i, view].float(), torch.from_numpy(q), int(self.y[i])
