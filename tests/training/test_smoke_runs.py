"""Smoke runs by name: ``train urgency --smoke`` / ``train quality --smoke`` run the whole pipeline,
log to ``dermatriage-<name>-smoke`` and never register a version; ``--help`` lists every config key
with its default and meaning, generated from the config class."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner
from tiny_pipeline import make_dataset, tiny_config, tiny_run_settings

from model.quality_network import QualityNetConfig
from model.quality_verdict import DEFECTS
from training import tracking
from training.cli import train
from training.config_help import config_keys
from training.quality.config import QualityTrainConfig
from training.urgency.config import TrainConfig


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    make_dataset(tmp_path, per_class=4)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def smoke_runs(experiment: str) -> list:
    found = tracking.client().get_experiment_by_name(experiment)
    return tracking.client().search_runs([found.experiment_id]) if found else []


def test_an_urgency_smoke_run_is_logged_apart_and_never_registered(workspace):
    config = workspace / "urgency.yaml"
    tiny_config(workspace).save(config)
    result = CliRunner().invoke(train, ["urgency", "--smoke", "--config", str(config), "threads=1"])
    assert result.exit_code == 0, result.output
    assert "smoke run" in result.output and "not registered" in result.output
    (run,) = smoke_runs("dermatriage-urgency-smoke")
    assert run.data.params["smoke"] == "True" and run.data.params["epochs"] == "1"
    assert run.data.params["limit"] == "48" and run.data.params["threads"] == "1"  # overrides win
    assert smoke_runs("dermatriage-urgency") == []
    assert tracking.client().search_model_versions("name='tiny-urgency'") == []
    assert "test_malignancy_auc" in run.data.metrics  # the whole pipeline ran


def test_a_quality_smoke_run_is_logged_apart_and_never_registered(workspace):
    config = workspace / "quality.yaml"
    QualityTrainConfig(
        network=QualityNetConfig(
            defects=DEFECTS, backbone="test_efficientnet", pretrained=False, image_size=64, frozen_blocks=1
        ),
        workers=1,
        registered_model="tiny-quality",
        **tiny_run_settings(workspace),
    ).save(config)
    result = CliRunner().invoke(train, ["quality", "--smoke", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "not registered" in result.output and "next: dermatriage evaluate" not in result.output
    (run,) = smoke_runs("dermatriage-quality-smoke")
    assert run.data.params["smoke"] == "True" and run.data.params["pool_per_photo"] == "2"
    assert tracking.client().search_model_versions("name='tiny-quality'") == []


@pytest.mark.parametrize(("command", "cls"), [("urgency", TrainConfig), ("quality", QualityTrainConfig)])
def test_help_lists_every_config_key_with_its_default_and_meaning(command, cls):
    result = CliRunner().invoke(train, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    keys = config_keys(cls)
    top = {f.name for f in dataclasses.fields(cls)}
    assert {key.split(".")[0] for key, _, _ in keys} == top  # every field, sections key by key
    for key, default, meaning in keys:
        assert f"{key} = {default}" in text, key
        assert " ".join(meaning.split()[:4]) in text, key
    assert "n_bootstrap = 2000" in text or cls is QualityTrainConfig
    assert "--smoke sets" in text and "limit=48" in text


@pytest.mark.parametrize("cls", [TrainConfig, QualityTrainConfig])
def test_every_config_key_has_a_meaning(cls):
    """Every key, the network and augmentation sections' included, has a ``#:`` or inline comment:
    a new undocumented field fails here."""
    keys = config_keys(cls)
    assert len(keys) > len(dataclasses.fields(cls))  # the sections are listed key by key
    assert any(key.startswith("network.") for key, _, _ in keys)
    undocumented = [key for key, _, meaning in keys if not meaning.strip()]
    assert undocumented == [], f"{cls.__name__}: keys without a meaning comment: {undocumented}"
