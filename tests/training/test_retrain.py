"""``dermatriage retrain``: data build -> train -> test evaluation -> the promotion decision (a dry run
unless --promote) -> the summary. The tiny dataset stands in for the raw data: its manifest is what
the data-build step returns (``data build`` itself is tested in tests/data_pipelines)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_pipeline import make_dataset, shipped_bundle, tiny_config

from data_pipelines.build import BuildResult
from data_pipelines.manifest import manifest_hash, read_manifest
from model.contract import ModelContract
from training import retrain as retrain_module
from training import tracking
from training.cli import retrain
from training.promotion import PROMOTION_FLOORS

#: a tiny run long enough to learn the tiny data
LEARNED = ("epochs=20", "lr=0.01")


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("retrain")
    make_dataset(root)
    config = root / "tiny.yaml"
    tiny_config(root).save(config)
    return root


@pytest.fixture(scope="module")
def shipped(workspace, tmp_path_factory):
    """The bundled model: a tiny run of the same config that learned (another store, thrown away)."""
    folder = tmp_path_factory.mktemp("shipped")
    return shipped_bundle(workspace, workspace / "shipped.db", folder, epochs=20, lr=0.01)


@pytest.fixture
def env(workspace, shipped, tmp_path, monkeypatch):
    """A fresh tracking store, a bundle folder to protect, and the data-build step reading the tiny
    manifest (the step is called with the config's data folder and manifest)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    monkeypatch.setitem(PROMOTION_FLOORS["urgency"], "epochs", 2)
    monkeypatch.setitem(PROMOTION_FLOORS["urgency"], "n_bootstrap", 50)
    calls = []

    def build(data_dir, out, *, progress):
        calls.append((Path(data_dir), Path(out)))
        rows = read_manifest(out)
        return BuildResult(path=Path(out), hash=manifest_hash(rows), counts={})

    monkeypatch.setattr(retrain_module, "build_manifest", build)
    bundle = tmp_path / "bundle"
    shutil.copytree(shipped, bundle)
    return {"bundle": bundle, "calls": calls, "config": workspace / "tiny.yaml"}


def run_retrain(env, *args: str):
    return CliRunner().invoke(
        retrain, ["urgency", "--config", str(env["config"]), "--bundle-dir", str(env["bundle"]), *args]
    )


def test_a_smoke_retrain_runs_every_step_and_is_never_registered(env, workspace):
    before = snapshot(env["bundle"])
    result = run_retrain(env, "--smoke")
    assert result.exit_code == 0, result.output
    for step in ("[1/4] data build", "[2/4] train urgency (smoke settings)", "[3/4] evaluation", "[4/4]"):
        assert step in result.output
    assert env["calls"] == [(workspace, workspace / "manifest.csv")]
    shipped = ModelContract.load(env["bundle"] / "urgency.json").version
    assert f"urgency champion bundled {shipped}" in result.output  # the data compared with its data
    summary = result.output[result.output.index("retrain urgency (smoke): summary") :]
    run_id = summary.split("MLflow run")[1].split()[0]
    assert f"{run_id} in experiment dermatriage-urgency-smoke" in summary
    assert f"run folder  {workspace / 'runs' / run_id}" in summary
    assert "registered  no (a smoke run is never registered)" in summary
    assert f"report      dermatriage report {run_id}" in summary
    assert "not promoted: the run is not registered (a smoke run)" in summary
    assert "limit=48" in summary and "epochs=1" in summary  # the causes, named
    assert (workspace / "runs" / run_id / "views.json").exists()
    assert tracking.client().search_model_versions("name='tiny-urgency'") == []
    assert snapshot(env["bundle"]) == before


def test_a_full_retrain_is_a_dry_run_unless_promote_is_given(env):
    before = snapshot(env["bundle"])
    dry = run_retrain(env, *LEARNED)
    assert dry.exit_code == 0, dry.output
    assert "tiny-urgency version 1: DRY RUN, would be PROMOTED" in dry.output
    assert "| as_recorded | sensitivity at URGENT |" in dry.output  # compared with the bundled model
    assert "to promote it: dermatriage promote --name tiny-urgency --version 1" in dry.output
    assert "registered  tiny-urgency version 1" in dry.output
    assert snapshot(env["bundle"]) == before
    assert tracking.champion("tiny-urgency") is None  # a dry run imports nothing, aliases nothing

    promoted = run_retrain(env, "--promote", *LEARNED)
    assert promoted.exit_code == 0, promoted.output
    assert "tiny-urgency version 2: PROMOTED to champion" in promoted.output
    assert str(tracking.champion("tiny-urgency").version) == "2"  # the bundled model was imported as 3
    assert snapshot(env["bundle"]) != before


def test_a_refused_retrain_with_promote_exits_1(env):
    before = snapshot(env["bundle"])
    result = run_retrain(env, "--promote", *LEARNED, "target_sensitivity=0.2", "priority_sensitivity=0.3")
    assert result.exit_code == 1, result.output
    assert "not promoted" in result.output and "sensitivity at URGENT" in result.output
    assert "the new run was refused" in result.output
    assert snapshot(env["bundle"]) == before
