"""The whole urgency pipeline on a handful of test-made photos, in seconds: manifest, training of a
tiny network (tracked in MLflow), ONNX export, parity, contract, registry, promotion, and the
served prediction equal to the tracked one."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
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
from training.cli import evaluate
from training.evaluation.predictions import Predictions
from training.urgency import promote as urgency_promote
from training.urgency.answers import MODEL_QUESTIONS
from training.urgency.gate import GateDecision
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


@pytest.fixture(autouse=True)
def tiny_floors(monkeypatch):
    """The tiny runs (1-2 epochs, 50 resamples) meet the promotion floors here (the smoke-run refusal
    with the real floors: test_promotion_gate.py)."""
    monkeypatch.setitem(urgency_promote.PROMOTION_FLOORS["urgency"], "epochs", 1)
    monkeypatch.setitem(urgency_promote.PROMOTION_FLOORS["urgency"], "n_bootstrap", 50)


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
        "test_complete_malignancy_auc",
        "test_complete_malignancy_auc_draws_min",
        "test_photo_only_malignancy_auc",
        "test_answered_only_malignancy_auc",
        "test_as_recorded_tier_sensitivity",
        "test_as_recorded_tier_melanoma_sensitivity",
        "test_tier_agreement_recorded_complete",
        "test_tier_flip_rate",
        "test_tier_flip_rate_jpeg_q70",
        "threshold_urgent",
        "calibration_temperature",
    ):
        assert key in run.data.metrics, key
    artifacts = {a.path for a in tracking.client().list_artifacts(first_run.run_id)}
    expected = {
        "model",
        "plots",
        "predictions",
        "config.yaml",
        "evaluation.md",
        "test_report.json",
        "views.json",
    }
    assert expected <= artifacts
    model_files = {a.path for a in tracking.client().list_artifacts(first_run.run_id, "model")}
    assert model_files == {"model/urgency.onnx", "model/urgency.json", "model/MODEL_CARD.md"}
    plots = {a.path for a in tracking.client().list_artifacts(first_run.run_id, "plots")}
    assert {"plots/test_roc.png", "plots/test_calibration.png", "plots/test_confusion_matrix.png"} <= plots
    assert first_run.model_version == "1"
    views = json.loads((first_run.out_dir / "views.json").read_text())
    assert list(views["views"]) == ["as_recorded", "complete", "photo_only", "answered_only"]
    assert len(views["complete_draws"]) == 2 and len(views["tier_flip_rates"]) == 5
    for name, rate in views["tier_flip_rates"].items():  # the causes account for every flip
        assert sum(views["tier_flip_causes"][name].values()) == pytest.approx(rate)
    card = (first_run.onnx_path.parent / "MODEL_CARD.md").read_text()
    for view in ("(a) as recorded", "(b) complete", "(c) photo only", "(d) answered only"):
        assert f"| {view} |" in card and f"### {view.capitalize()}, in full" in card, view


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


def test_promotion_reads_both_models_through_the_serving_path(first_run, workspace):
    bundle = workspace / "bundle"
    first = promote("tiny-urgency", first_run.model_version, bundle_dir=bundle, progress=False)
    assert first.promoted and str(tracking.champion("tiny-urgency").version) == first_run.model_version
    assert sorted(p.name for p in bundle.iterdir()) == ["MODEL_CARD.md", "urgency.json", "urgency.onnx"]

    # the same seed and config make the same model: the gate sees no loss anywhere and promotes it
    again = train(tiny_config(workspace), progress=False)
    decision = promote("tiny-urgency", again.model_version, bundle_dir=bundle, progress=False)
    assert decision.promoted, decision.summary()
    for view in ("as_recorded", "complete", "photo_only"):
        assert f"| {view} | sensitivity at URGENT |" in decision.table
    assert "| complete | specificity at URGENT |" in decision.table
    assert str(tracking.champion("tiny-urgency").version) == again.model_version
    contract = json.loads((bundle / "urgency.json").read_text())
    assert contract["provenance"]["run_id"] == again.run_id

    # a run on a few photos is never promoted, whatever its figures
    limited = train(tiny_config(workspace, limit=12, epochs=1), progress=False)
    refused = promote("tiny-urgency", limited.model_version, bundle_dir=bundle, progress=False)
    assert not refused.promoted and "limited run" in refused.reasons[0]
    assert str(tracking.champion("tiny-urgency").version) == again.model_version
    assert json.loads((bundle / "urgency.json").read_text())["provenance"]["run_id"] == again.run_id
    runs = tracking.client().search_runs(
        [tracking.client().get_experiment_by_name("dermatriage-promotions").experiment_id]
    )
    assert len(runs) >= 3  # every decision is logged, refused or not


def bundled_run(workspace, tmp_path, *, seed: int):
    """A one-epoch run whose model is also the bundled one (a bundle folder of its own)."""
    run = train(tiny_config(workspace, seed=seed, epochs=1), progress=False)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for path in run.onnx_path.parent.iterdir():
        (bundle / path.name).write_bytes(path.read_bytes())
    return run, bundle


def test_promotion_without_a_registry_champion_must_beat_the_bundled_model(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'fresh.db'}")
    run, bundle = bundled_run(workspace, tmp_path, seed=3)
    decision = promote("tiny-urgency", run.model_version, bundle_dir=bundle, progress=False)
    assert decision.champion_before == f"bundled urgency-{run.run_id[:8]}"
    assert decision.table and decision.promoted  # the same model: nothing lost


def test_evaluate_urgency_reads_a_model_file_as_the_run_did(first_run):
    args = [
        "urgency",
        "--model",
        str(first_run.onnx_path),
        "--config",
        str(first_run.out_dir / "config.yaml"),
    ]
    result = CliRunner().invoke(evaluate, args)
    assert result.exit_code == 0, result.output
    auc = first_run.metrics["test_as_recorded_malignancy_auc"]
    (row,) = [line for line in result.output.splitlines() if line.startswith("| (a) as recorded |")]
    assert row.split(" | ")[2].startswith(f"{auc:.3f} (")  # the run's own figure, read again
    assert (
        "Why (share of photos: quality verdict changed / model crossed URGENT / other): jpeg_q95"
        in result.output
    )


def test_a_refused_candidate_is_promoted_only_with_a_written_reason(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'fresh.db'}")
    run, bundle = bundled_run(workspace, tmp_path, seed=5)
    before = (bundle / "urgency.json").read_bytes()
    refusal = GateDecision(promoted=False, reasons=("as_recorded: sensitivity at URGENT drops",), rows=())
    monkeypatch.setattr(urgency_promote, "judge", lambda candidate, champion: refusal)

    refused = promote("tiny-urgency", run.model_version, bundle_dir=bundle, progress=False)
    assert not refused.promoted and tracking.champion("tiny-urgency").tags["bundled"]  # imported, kept
    assert (bundle / "urgency.json").read_bytes() == before
    with pytest.raises(ValueError, match="reason"):
        promote("tiny-urgency", run.model_version, bundle_dir=bundle, override="  ", progress=False)

    reason = "safety officer A. Lima: specificity 0.31 -> 0.58 on complete answers outweighs one miss"
    accepted = promote("tiny-urgency", run.model_version, bundle_dir=bundle, override=reason, progress=False)
    assert accepted.promoted
    assert accepted.reasons == (*refusal.reasons, f"promoted over the gate's refusal: {reason}")
    assert str(tracking.champion("tiny-urgency").version) == run.model_version
    tag = tracking.client().get_model_version("tiny-urgency", run.model_version).tags["promotion"]
    assert "sensitivity at URGENT drops" in tag and reason in tag


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
        case_url = f"/v1/cases/{r.json()['id']}"
        seen = {
            role: client.get(case_url, headers=org.headers(role)).json()
            for role in ("intake", "dermatologist", "admin")
        }
    # patients are never shown a probability: the intake key's view has no model reading at all
    assert seen["intake"]["triage"] == triage
    assert all("urgency_model" not in photo for photo in seen["intake"]["triage"]["photos"])
    for role in ("dermatologist", "admin"):
        (photo,) = seen[role]["triage"]["photos"]
        reading = photo["urgency_model"]
        assert reading["version"] == triage["model_versions"]["urgency_model"]
        assert 0 <= reading["malignancy"] <= 1 and set(reading["diagnosis"]) == set(LABELS)
        assert abs(sum(reading["diagnosis"].values()) - 1) < 1e-3
        malignant = sum(reading["diagnosis"][label] for label in ("BCC", "MEL", "SCC"))
        assert abs(malignant - reading["malignancy"]) < 1e-3


def test_serving_loads_the_champion_from_the_registry(first_run, workspace, tmp_path):
    from model.loading import load_urgency_model

    if tracking.champion("tiny-urgency") is None:  # no bundled model to compare with: it becomes champion
        promote("tiny-urgency", first_run.model_version, bundle=False, bundle_dir=tmp_path / "none")
    champion = tracking.champion("tiny-urgency")
    run = tracking.client().get_run(champion.run_id)
    model = load_urgency_model("models:/tiny-urgency@champion", cache_dir=tmp_path, threads=1)
    assert model is not None
    assert model.version == f"urgency-{run.info.run_id[:8]}"


def test_cross_validation_members_give_out_of_fold_predictions_and_one_served_network(workspace):
    run = train(replace(tiny_config(workspace), cv_folds=(0, 1), epochs=1), progress=False)
    assert run.metrics["parity_max_abs_diff"] < 1e-4
    assert run.metrics["n_out_of_fold"] == 24  # every train photo once, predicted by the member without it
    history = {k for k in tracking.client().get_run(run.run_id).data.metrics if k.startswith("fold")}
    assert {"fold0_val_malignancy_auc", "fold1_val_malignancy_auc"} <= history
    assert "test_teacher_ensemble_malignancy_auc" in run.metrics
    contract = ModelContract.load(run.onnx_path.with_suffix(".json"))
    assert contract.calibration is not None and contract.calibration.temperature > 0
    assert contract.questionnaire.reads == MODEL_QUESTIONS
    single = train(tiny_config(workspace, epochs=1), progress=False)
    # one network is served however many members the run fitted
    assert abs(run.onnx_path.stat().st_size - single.onnx_path.stat().st_size) < 1024
    tracked = Predictions.from_csv(run.out_dir / "test_predictions.csv")
    model = UrgencyModel(run.onnx_path)
    rows = {r.image_id: r for r in read_manifest(workspace / "manifest.csv")}
    row = rows[tracked.image_ids[0]]
    photo = ingest_photo((workspace / row.path).read_bytes(), filename=row.path, limits=PhotoLimits())
    served = model.predict_photo(photo.analysis.rgb, Questionnaire(**row.questionnaire, jurisdiction="BR-ES"))
    assert abs(served["malignancy"] - tracked.malignancy[0]) < 1e-4
