"""The promotion gate cannot ship a worse model: in a fresh tracking store the bundled model is imported
as the champion and is the baseline; smoke runs are refused (non-zero exit, the cause named); a dry run
changes nothing; ``model/artifacts/`` (here a bundle folder under tmp_path) changes only when a
candidate is accepted. Also: no generated model card leaves a ``{…}`` placeholder unformatted."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_pipeline import make_dataset, shipped_bundle, tiny_config

from model.contract import ModelContract
from training import promotion, tracking
from training.cli import import_bundled, promote
from training.promotion import PROMOTION_FLOORS, smoke_reasons
from training.quality.config import QualityTrainConfig
from training.quality.model_card import write_quality_card
from training.urgency.config import TrainConfig
from training.urgency.train import train

NAME = "tiny-urgency"
#: an unformatted f-string placeholder: {name}, {a.b[:16]}, {x:.3f}, …
PLACEHOLDER = re.compile(r"\{[a-z_.\[\]:0-9]+\}")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` by name, with the sha256 of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def placeholders(text: str) -> list[str]:
    """Unformatted placeholders outside code blocks (``` fenced samples may hold braces)."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return PLACEHOLDER.findall(prose)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    make_dataset(root)
    return root


@pytest.fixture(scope="module")
def shipped(workspace, tmp_path_factory):
    """The bundled model: a tiny run's model folder (trained in a store of its own and thrown away)."""
    return shipped_bundle(workspace, workspace / "elsewhere.db", tmp_path_factory.mktemp("shipped"))


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh tracking store (no registered model, no champion)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'fresh.db'}")
    return tmp_path


@pytest.fixture
def bundle(shipped, tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(shipped, folder)
    return folder


@pytest.fixture
def tiny_floors(monkeypatch):
    """The promotion floors the tiny runs meet (2 epochs, 50 resamples); the real ones are untouched."""
    monkeypatch.setitem(PROMOTION_FLOORS["urgency"], "epochs", 2)
    monkeypatch.setitem(PROMOTION_FLOORS["urgency"], "n_bootstrap", 50)


def run_promote(*args: str):
    return CliRunner().invoke(promote, ["--name", NAME, *args])


def promotion_runs() -> int:
    experiment = tracking.client().get_experiment_by_name(promotion.PROMOTIONS)
    return len(tracking.client().search_runs([experiment.experiment_id])) if experiment else 0


def test_real_floors_are_the_configs_and_name_the_cause():
    assert PROMOTION_FLOORS["urgency"]["n_bootstrap"] == TrainConfig().n_bootstrap
    assert PROMOTION_FLOORS["urgency"]["epochs"] <= TrainConfig().epochs
    assert PROMOTION_FLOORS["quality"]["epochs"] <= QualityTrainConfig().epochs
    floors = PROMOTION_FLOORS["urgency"]
    full = {"limit": None, "epochs": 8, "n_bootstrap": 2000}
    assert smoke_reasons(full, floors) == []
    assert smoke_reasons({**full, "limit": "None"}, floors) == []  # as MLflow logs a missing limit
    (reason,) = smoke_reasons({**full, "limit": 64}, floors)
    assert "limit=64" in reason and "smoke run" in reason
    (reason,) = smoke_reasons({**full, "n_bootstrap": 200}, floors)
    assert "n_bootstrap=200" in reason and ">= 2000" in reason
    (reason,) = smoke_reasons({**full, "epochs": 1}, floors)
    assert "epochs=1" in reason


def test_a_smoke_run_is_refused_and_the_bundle_is_untouched(workspace, store, bundle):
    before, shipped = snapshot(bundle), snapshot(promotion.BUNDLE_DIR)  # and the real model/artifacts/
    smoke = train(tiny_config(workspace, limit=12, epochs=1), progress=False)

    result = run_promote("--version", smoke.model_version, "--bundle-dir", str(bundle))
    assert result.exit_code != 0, result.output
    assert "smoke run" in result.output and "limit=12" in result.output
    assert "epochs=1" in result.output and "n_bootstrap=50" in result.output  # the real floors
    assert snapshot(bundle) == before and snapshot(promotion.BUNDLE_DIR) == shipped
    assert tracking.champion(NAME) is None  # nothing imported or aliased for a refused smoke run
    tag = tracking.client().get_model_version(NAME, smoke.model_version).tags["promotion"]
    assert tag.startswith("rejected: a smoke run")


def test_a_dry_run_changes_nothing(workspace, store, bundle, tiny_floors):
    before = snapshot(bundle)
    candidate = train(tiny_config(workspace), progress=False)  # the bundled model's own seed and config

    result = run_promote("--version", candidate.model_version, "--bundle-dir", str(bundle), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "DRY RUN, would be PROMOTED" in result.output
    bundled = ModelContract.load(bundle / "urgency.json").version
    assert f"champion was bundled {bundled}" in result.output  # compared with the bundled model
    assert snapshot(bundle) == before
    assert tracking.champion(NAME) is None
    versions = tracking.client().search_model_versions(f"name='{NAME}'")
    assert [str(v.version) for v in versions] == [candidate.model_version]  # nothing imported
    assert "promotion" not in versions[0].tags
    assert promotion_runs() == 0


def test_the_bundled_model_is_imported_and_a_run_no_worse_is_accepted(workspace, store, bundle, tiny_floors):
    shipped = ModelContract.load(bundle / "urgency.json")
    candidate = train(tiny_config(workspace), progress=False)
    before = snapshot(bundle)

    result = run_promote("--version", candidate.model_version, "--bundle-dir", str(bundle))
    assert result.exit_code == 0, result.output
    assert f"PROMOTED to champion (champion was bundled {shipped.version})" in result.output
    assert "| as_recorded | sensitivity at URGENT |" in result.output  # the gate compared both
    assert str(tracking.champion(NAME).version) == candidate.model_version
    imported = [v for v in tracking.client().search_model_versions(f"name='{NAME}'") if v.tags.get("bundled")]
    assert [v.tags["bundled"] for v in imported] == [shipped.version]
    # the candidate is now what is bundled
    assert snapshot(bundle) != before
    contract = json.loads((bundle / "urgency.json").read_text())
    assert contract["provenance"]["run_id"] == candidate.run_id
    assert sorted(p.name for p in bundle.iterdir()) == ["MODEL_CARD.md", "urgency.json", "urgency.onnx"]


#: a tiny run long enough to learn the tiny data (test AUC ≈ 0.83, where two epochs stay at chance)
LEARNED = {"epochs": 20, "lr": 0.01}


@pytest.fixture(scope="module")
def learned(workspace, tmp_path_factory):
    """A bundled model that learned the tiny data (its own store, thrown away)."""
    root = tmp_path_factory.mktemp("learned")
    return shipped_bundle(workspace, root / "store" / "mlflow.db", root / "bundle", **LEARNED)


def test_a_worse_full_run_is_refused_by_the_real_comparison(workspace, store, tiny_floors, learned, tmp_path):
    """The bundled model is a tiny run that learned; the candidate is the same full run (no limit, at
    the floors) with its URGENT threshold chosen for a far lower sensitivity: a genuinely less safe
    model. The gate reads both through the serving path and refuses it (nothing faked): exit 1, the
    cause named, the bundle byte-identical, the bundled model still champion."""
    bundle = Path(shutil.copytree(learned, tmp_path / "bundle"))
    shipped = ModelContract.load(bundle / "urgency.json")
    before = snapshot(bundle)
    worse = train(
        tiny_config(workspace, **LEARNED, target_sensitivity=0.2, priority_sensitivity=0.3), progress=False
    )
    assert worse.metrics["threshold_urgent"] > shipped.thresholds["urgent"]

    result = run_promote("--version", worse.model_version, "--bundle-dir", str(bundle))
    assert result.exit_code == 1, result.output
    assert "was refused: as_recorded: sensitivity at URGENT" in result.output
    assert "| as_recorded | sensitivity at URGENT |" in result.output  # the real table, both models
    assert snapshot(bundle) == before
    champion = tracking.champion(NAME)  # the bundled model, imported, stays champion
    assert champion is not None
    assert champion.tags.get("bundled") == shipped.version
    tag = tracking.client().get_model_version(NAME, worse.model_version).tags["promotion"]
    assert tag.startswith("rejected: ") and "sensitivity at URGENT" in tag


def test_a_better_full_run_is_accepted_and_bundled(workspace, store, tiny_floors, learned, tmp_path):
    """A candidate trained twice as long finds the same malignant photos and sends fewer benign ones
    to URGENT on every view: the gate accepts it over the bundled model (imported as the baseline),
    makes it champion and bundles it."""
    bundle = Path(shutil.copytree(learned, tmp_path / "bundle"))
    before, shipped = snapshot(bundle), ModelContract.load(bundle / "urgency.json")
    better = train(tiny_config(workspace, epochs=40, lr=0.01), progress=False)

    result = run_promote("--version", better.model_version, "--bundle-dir", str(bundle))
    assert result.exit_code == 0, result.output
    assert f"PROMOTED to champion (champion was bundled {shipped.version})" in result.output
    rows = [line.split(" | ") for line in result.output.splitlines() if "| specificity at URGENT |" in line]
    assert rows and all(float(cells[2]) >= float(cells[3]) for cells in rows)  # candidate >= champion
    assert any(float(cells[2]) > float(cells[3]) for cells in rows)  # and better somewhere
    assert str(tracking.champion(NAME).version) == better.model_version
    assert snapshot(bundle) != before
    assert json.loads((bundle / "urgency.json").read_text())["provenance"]["run_id"] == better.run_id


def test_import_bundled_registers_the_card_figures_as_champion(store, bundle):
    before = snapshot(bundle)
    result = CliRunner().invoke(import_bundled, ["--name", NAME, "--bundle-dir", str(bundle)])
    assert result.exit_code == 0, result.output
    champion = tracking.champion(NAME)
    assert champion is not None and f"version {champion.version}, alias champion" in result.output
    metrics = tracking.run_metrics(champion.run_id)
    card = (bundle / "MODEL_CARD.md").read_text()
    (row,) = [line for line in card.splitlines() if line.startswith("| (a) as recorded |")]
    auc = row.split(" | ")[2]
    assert auc.startswith(f"{metrics['test_malignancy_auc']:.3f} (")
    assert f"{metrics['test_as_recorded_sensitivity_urgent_ci_low']:.3f}–" in row
    files = {a.path for a in tracking.client().list_artifacts(champion.run_id, "model")}
    assert files == {"model/urgency.onnx", "model/urgency.json", "model/MODEL_CARD.md"}
    assert snapshot(bundle) == before  # only read

    # the imported model is the baseline, never a candidate
    for args in ((), ("--version", str(champion.version))):
        refused = run_promote(*args, "--bundle-dir", str(bundle))
        assert refused.exit_code != 0 and "bundled model" in refused.output, refused.output

    again = CliRunner().invoke(import_bundled, ["--name", NAME, "--bundle-dir", str(bundle)])
    assert again.exit_code == 0 and "already" in again.output
    empty = CliRunner().invoke(import_bundled, ["--name", "other", "--bundle-dir", str(store / "none")])
    assert empty.exit_code != 0 and "nothing bundled" in empty.output


def test_the_bundled_quality_card_figures_are_read():
    from training.promotion import BUNDLE_DIR
    from training.quality.model_card import CARD_NAME
    from training.quality.promote import card_figures

    figures = card_figures((BUNDLE_DIR / CARD_NAME).read_text())
    assert {"test_retake_auc", "test_false_retake", "test_first_instruction"} <= set(figures)
    assert 0 < figures["test_retake_auc_ci_low"] <= figures["test_retake_auc"] <= 1


def test_generated_model_cards_have_no_unformatted_placeholders(shipped, tmp_path):
    urgency = (shipped / "MODEL_CARD.md").read_text()  # written by a tiny training run
    assert "sha256 `" in urgency and placeholders(urgency) == [], placeholders(urgency)

    from training.promotion import BUNDLE_DIR

    contract = ModelContract.load(BUNDLE_DIR / "quality.json")
    card = write_quality_card(
        tmp_path / "QUALITY_MODEL_CARD.md",
        contract=contract,
        config=QualityTrainConfig(),
        validation="| figure | value |\n| --- | --- |\n| retake ROC AUC | 0.9 |",
        test="## Quality path, test photos",
    ).read_text()
    assert f"`{contract.onnx_sha256[:16]}…`" in card
    assert placeholders(card) == [], placeholders(card)
    # the scan itself finds what a missing f leaves
    assert placeholders("sha256 `{contract.onnx_sha256[:16]}…`") == ["{contract.onnx_sha256[:16]}"]
    assert placeholders("```\n{json_sample}\n```") == []
