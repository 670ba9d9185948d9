"""The consistency loss: two augmented copies of a photo should get the same reading. The loss is zero
for equal readings and grows as they part; a paired training set hands out two different copies of each
photo with one set of answers, and leaves the unpaired draws exactly as they were."""

from __future__ import annotations

import numpy as np
import torch
from tiny_pipeline import tiny_config

from training.urgency.answers import MODEL_QUESTIONS, AnswerDistribution
from training.urgency.fit import consistency_loss, fit_top
from training.urgency.trunk import TopSet

ANSWERS = dict(
    zip(
        MODEL_QUESTIONS,
        (60, "male", "back", 2, 5.0, False, True, False, False, True, False, True),
        strict=True,
    )
)


def test_consistency_loss_is_zero_for_equal_readings_and_symmetric():
    same = torch.tensor([[[2.0, 0.0, -1.0], [2.0, 0.0, -1.0]]])
    assert consistency_loss(same).item() == 0.0
    apart = torch.tensor([[[2.0, 0.0, -1.0], [-1.0, 0.0, 2.0]]])
    swapped = apart.flip(1)
    assert consistency_loss(apart).item() > 1.0
    assert torch.isclose(consistency_loss(apart), consistency_loss(swapped))
    closer = torch.tensor([[[2.0, 0.0, -1.0], [1.0, 0.0, 0.0]]])
    assert 0 < consistency_loss(closer).item() < consistency_loss(apart).item()


def topset(paired: bool, copies: int = 4) -> TopSet:
    n = 6
    fmaps = torch.arange(n * copies, dtype=torch.float32).view(n, copies, 1, 1, 1)  # copy id as value
    dist = AnswerDistribution.fit([ANSWERS])
    return TopSet(
        fmaps,
        [ANSWERS] * n,
        np.zeros(n, int),
        dist,
        blank_question=0.15,
        blank_all=0.2,
        seed=0,
        paired=paired,
    )


def test_paired_items_carry_two_different_copies_and_the_same_draws_otherwise():
    single, paired = topset(False), topset(True)
    for epoch in range(5):
        single.epoch = paired.epoch = epoch
        for i in range(len(single)):
            f1, q1, y1 = single[i]
            f2, q2, y2 = paired[i]
            assert f2.shape == (2, 1, 1, 1) and f2[0, 0, 0, 0] != f2[1, 0, 0, 0]
            assert torch.equal(f2[0], f1) and torch.equal(q1, q2) and y1 == y2
    assert not topset(True, copies=1).paired  # one copy: nothing to pair


def test_a_network_fits_with_the_consistency_loss(tmp_path):
    cfg = tiny_config(tmp_path, consistency=1.0, epochs=1, batch_size=4)
    n = 8
    fmaps = torch.randn(n, 2, *trunk_shape(cfg))
    y = np.arange(n) % len(cfg.network.labels)
    data = TopSet(
        fmaps,
        [ANSWERS] * n,
        y,
        AnswerDistribution.fit([ANSWERS]),
        blank_question=0.1,
        blank_all=0.1,
        seed=0,
        paired=True,
    )
    net = fit_top(cfg, data, seed=0, progress=False)
    assert not net.training


def trunk_shape(cfg) -> tuple[int, ...]:
    from model.networks import build_network

    net = build_network(cfg.network, seed=0)
    with torch.no_grad():
        return tuple(net.trunk(torch.zeros(1, 3, cfg.network.image_size, cfg.network.image_size)).shape[1:])
