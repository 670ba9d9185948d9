"""``OnnxModel.self_check``: one inference on a blank input, refused when an output is not finite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.contract import ContractError
from model.runtime import OnnxModel

ARTIFACTS = Path(__file__).resolve().parents[2] / "model" / "artifacts"


@pytest.fixture(scope="module")
def quality_model() -> OnnxModel:
    return OnnxModel(ARTIFACTS / "quality.onnx")


def test_self_check_passes_on_the_bundled_quality_model(quality_model: OnnxModel) -> None:
    quality_model.self_check()


def test_self_check_refuses_an_output_that_is_not_finite(
    quality_model: OnnxModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = quality_model.session.run
    fed: list[dict[str, np.ndarray]] = []

    def answers_nan(output_names, feeds):
        fed.append(feeds)
        outputs = real_run(output_names, feeds)
        return [np.full_like(value, np.nan) for value in outputs]

    monkeypatch.setattr(quality_model.session, "run", answers_nan)
    with pytest.raises(ContractError, match="not finite on a blank input"):
        quality_model.self_check()
    (feeds,) = fed
    (images,) = feeds.values()
    size = quality_model.contract.image.size
    assert images.shape == (1, 3, size, size) and images.dtype == np.float32 and not images.any()


def test_self_check_refuses_a_single_infinite_value(
    quality_model: OnnxModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = quality_model.session.run

    def one_inf(output_names, feeds):
        outputs = [np.array(value, copy=True) for value in real_run(output_names, feeds)]
        outputs[-1].flat[0] = np.inf
        return outputs

    monkeypatch.setattr(quality_model.session, "run", one_inf)
    with pytest.raises(ContractError, match="not finite"):
        quality_model.self_check()
