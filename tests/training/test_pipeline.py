"""The whole urgency pipeline on a handful of test-made photos, in seconds: manifest, training of a
tiny network (tracked in MLflow), ONNX export, parity, contract, registry, promotion, and the
served prediction equal to the tracked one."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from factories import encode, skin_photo
from tiny_pipeline import LABELS, make_dataset, tiny_config

from data_pipelines.manifest import read_manifest
from model.contract import ModelContract
from model.intake import PhotoLimits, ingest_photo
from model.questionnaire import Questionnaire
from model.triage.learned import tier_and_score
from model.triage.tiers import Tier
from model.urgency_model import UrgencyModel
from training import tracking
from training.evaluation.predictions import Predictions
from training.urgency.promote import promote
from training.urgency.train import train


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    make_dataset(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def first_run(workspace):
    return train(tiny_config(workspace), progress=False)


def test_run_is_tracked_with_everything_needed_to_repeat_it(first_run, workspace):
    run = tracking.client().get_run(first_run.run_id)
    assert run.data.tags["manifest_hash"] and run.data.tags["git_sha"]
    assert run.data.params["network.backbone"] == "test_efficientnet"
    assert run.data.params["seed"] == "0"
    history = tracking.client().get_metric_history(first_run.run_id, "val_malignancy_auc")
    assert len(history) == 2  # one per epoch
    for key in (
        "test_malignancy_auc",
        "test_malignancy_auc_ci_low",
        "test_malignancy_auc_ci_high",
        "test_sensitivity_urgent",
        "test_balanced_accuracy",
        "threshold_urgent",
    ):
        assert key in run.data.metrics, key
    artifacts = {a.path for a in tracking.client().list_artifacts(first_run.run_id)}
    assert {"model", "plots", "predictions", "config.yaml", "evaluation.md", "test_report.json"} <= artifacts
    model_files = {a.path for a in tracking.client().list_artifacts(first_run.run_id, "model")}
    assert model_files == {"model/urgency.onnx", "model/urgency.json", "model/MODEL_CARD.md"}
    plots = {a.path for a in tracking.client().list_artifacts(first_run.run_id, "plots")}
    assert {"plots/test_roc.png", "plots/test_calibration.png", "plots/test_confusion_matrix.png"} <= plots
    assert first_run.model_version == "1"


def test_contract_carries_thresholds_and_matches_the_file(first_run):
    contract = ModelContract.load(first_run.onnx_path.with_suffix(".json"))
    assert 0 <= contract.thresholds["priority"] <= contract.thresholds["urgent"] <= 1
    assert contract.outputs["diagnosis"].labels == LABELS
    contract.check_file(first_run.onnx_path)
    assert first_run.metrics["parity_max_abs_diff"] < 1e-4
    assert first_run.metrics["test_torch_vs_onnx_max_abs_diff"] < 1e-4
    card = (first_run.onnx_path.parent / "MODEL_CARD.md").read_text()
    assert "Intended use" in card and "malignancy" in card


def test_served_probabilities_equal_the_tracked_ones(first_run, workspace):
    tracked = Predictions.from_csv(first_run.out_dir / "test_predictions.csv")
    rows = {r.image_id: r for r in read_manifest(workspace / "manifest.csv")}
    model = UrgencyModel(first_run.onnx_path)
    for image_id, probs, malignancy in zip(tracked.image_ids, tracked.probs, tracked.malignancy, strict=True):
        row = rows[image_id]
        photo = ingest_photo((workspace / row.path).read_bytes(), filename=row.path, limits=PhotoLimits())
        served = model.predict_photo(
            photo.analysis.rgb, Questionnaire(**row.questionnaire, jurisdiction="BR-ES")
        )
        assert np.allclose([served["diagnosis"][label] for label in LABELS], probs, atol=1e-4)
        assert abs(served["malignancy"] - malignancy) < 1e-4


def test_same_seed_same_metrics(first_run, workspace):
    second = train(tiny_config(workspace), progress=False)
    keys = [k for k in first_run.metrics if k.startswith(("test_", "val_")) and "seconds" not in k]
    assert {k: first_run.metrics[k] for k in keys} == {k: second.metrics[k] for k in keys}


def test_promotion_keeps_the_better_model(first_run, workspace):
    bundle = workspace / "bundle"
    first = promote("tiny-urgency", first_run.model_version, bundle_dir=bundle)
    assert first.promoted and str(tracking.champion("tiny-urgency").version) == first_run.model_version
    assert sorted(p.name for p in bundle.iterdir()) == ["MODEL_CARD.md", "urgency.json", "urgency.onnx"]

    # a candidate trained on noise-level data (no epochs of learning) must not replace it if worse
    worse = train(replace(tiny_config(workspace), epochs=1, lr=0.0, backbone_lr=0.0, seed=5), progress=False)
    decision = promote("tiny-urgency", worse.model_version, bundle_dir=bundle)
    assert "malignancy_auc" in decision.table and "undefined" not in " ".join(decision.reasons)
    better = worse.metrics["test_malignancy_auc"] >= first_run.metrics["test_malignancy_auc"] - 0.005 and (
        worse.metrics["test_sensitivity_urgent"] >= first_run.metrics["test_sensitivity_urgent"]
    )
    assert decision.promoted == better
    champion = str(tracking.champion("tiny-urgency").version)
    assert champion == (worse.model_version if better else first_run.model_version)
    runs = tracking.client().search_runs(
        [tracking.client().get_experiment_by_name("dermatriage-promotions").experiment_id]
    )
    assert len(runs) >= 2  # the comparison is logged either way
    contract = json.loads((bundle / "urgency.json").read_text())
    assert contract["provenance"]["run_id"] == (worse.run_id if better else first_run.run_id)


def test_model_maps_probability_to_tier_and_score_consistently():
    assert tier_and_score(0.9, urgent=0.4, priority=0.1)[0] is Tier.URGENT
    assert tier_and_score(0.2, urgent=0.4, priority=0.1)[0] is Tier.PRIORITY
    assert tier_and_score(0.05, urgent=0.4, priority=0.1)[0] is Tier.ROUTINE
    scores = [tier_and_score(p, urgent=0.4, priority=0.1)[1] for p in np.linspace(0, 1, 101)]
    assert scores == sorted(scores)


def test_served_model_in_the_intake_api(first_run, tmp_path, sessions, database_url):
    from conftest import make_org, service_settings
    from fastapi.testclient import TestClient

    from serving.app import create_app

    # this test is about the urgency model (the photo is synthetic: the classical checks judge it)
    settings = service_settings(database_url, tmp_path / "photos", urgency_model=str(first_run.onnx_path))
    org = make_org(sessions)
    with TestClient(create_app(settings)) as client:
        r = client.post(
            "/v1/cases",
            data={"questionnaire": json.dumps({"jurisdiction": "US-CA", "age": 70})},
            files=[("photos", ("a.jpg", encode(skin_photo()), "image/jpeg"))],
            headers=org.headers(**{"Idempotency-Key": "m1"}),
        )
    assert r.status_code == 201, r.text
    triage = r.json()["triage"]
    assert triage["model_versions"]["urgency_model"].startswith("urgency-")
    assert any(reason.startswith("Photo model") for reason in triage["reasons"])


def test_serving_loads_the_champion_from_the_registry(first_run, workspace, tmp_path):
    from model.loading import load_urgency_model

    if tracking.champion("tiny-urgency") is None:
        promote("tiny-urgency", first_run.model_version, bundle=False)
    champion = tracking.champion("tiny-urgency")
    run = tracking.client().get_run(champion.run_id)
    model = load_urgency_model("models:/tiny-urgency@champion", cache_dir=tmp_path, threads=1)
    assert model is not None
    assert model.version == f"urgency-{run.info.run_id[:8]}"


def test_cross_validation_ensemble_with_flips(workspace):
    run = train(replace(tiny_config(workspace), cv_folds=(0, 1), tta_flips=True, epochs=1), progress=False)
    assert run.metrics["parity_max_abs_diff"] < 1e-4
    assert run.metrics["validation_n_images"] == 24  # out-of-fold: every train photo once
    history = {k for k in tracking.client().get_run(run.run_id).data.metrics if k.startswith("fold")}
    assert {"fold0_val_malignancy_auc", "fold1_val_malignancy_auc"} <= history
    tracked = Predictions.from_csv(run.out_dir / "test_predictions.csv")
    model = UrgencyModel(run.onnx_path)
    rows = {r.image_id: r for r in read_manifest(workspace / "manifest.csv")}
    row = rows[tracked.image_ids[0]]
    photo = ingest_photo((workspace / row.path).read_bytes(), filename=row.path, limits=PhotoLimits())
    served = model.predict_photo(photo.analysis.rgb, Questionnaire(**row.questionnaire, jurisdiction="BR-ES"))
    assert abs(served["malignancy"] - tracked.malignancy[0]) < 1e-4
