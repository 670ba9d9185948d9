"""The quality-model pipeline on test-made photos: degraded pool, training of a tiny network (tracked),
ONNX export with its contract and thresholds, parity, the serving path, and the test evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from factories import encode, skin_photo
from tiny_pipeline import evaluate_tiny_quality, make_dataset, tiny_run_settings

from model.contract import ModelContract
from model.intake import PhotoLimits, ingest_photo
from model.quality_model import QualityModel
from model.quality_network import QualityNetConfig
from model.quality_verdict import DEFECTS
from model.triage.engine import TriageEngine
from training import tracking
from training.quality.config import QualityTrainConfig
from training.quality.data import CLEAN, evaluation_set, load_photos, targets, training_pool
from training.quality.train import train


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinyq")
    make_dataset(root, per_class=4)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    yield root
    mp.undo()


def tiny_config(root) -> QualityTrainConfig:
    return QualityTrainConfig(
        network=QualityNetConfig(
            defects=DEFECTS, backbone="test_efficientnet", pretrained=False, image_size=64, frozen_blocks=1
        ),
        pool_per_photo=3,
        workers=1,
        registered_model="tiny-quality",
        **tiny_run_settings(root),
    )


@pytest.fixture(scope="module")
def run(workspace):
    return train(tiny_config(workspace), progress=False)


def test_pool_and_sets_are_deterministic_and_labelled(workspace):
    from data_pipelines.manifest import read_manifest

    rows = [r for r in read_manifest(workspace / "manifest.csv") if r.split == "train"][:3]
    photos = load_photos(rows, workspace, desc="photos")
    a = training_pool(photos, seed=1, per_photo=4, p_clean=0.25, size=64, resize="full_frame", workers=1)
    b = training_pool(photos, seed=1, per_photo=4, p_clean=0.25, size=64, resize="full_frame", workers=2)
    assert [(s.key, s.defect, s.severity) for s in a] == [(s.key, s.defect, s.severity) for s in b]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    assert len(a) == 12 and all(s.image.shape == (64, 64, 3) for s in a)
    evaluation = evaluation_set(photos[:1], seed=3, size=64, resize="full_frame", workers=1)
    assert len(evaluation) == 1 + 3 * len(DEFECTS)
    assert evaluation[0].defect == CLEAN and evaluation[0].report is not None
    y_retake, y_defects = targets(evaluation, DEFECTS)
    assert y_retake.tolist() == [s.severity >= 2 for s in evaluation]
    for s, row in zip(evaluation[1:], y_defects[1:], strict=True):
        assert row[DEFECTS.index(s.defect)] == pytest.approx(s.severity / 3)
        assert row.sum() == pytest.approx(s.severity / 3)


def test_run_is_tracked_exported_and_registered(run):
    m = tracking.client().get_run(run.run_id).data.metrics
    for key in (
        "validation_retake_auc",
        "validation_false_retake",
        "validation_first_instruction",
        "threshold_retake",
        "parity_max_abs_diff",
    ):
        assert key in m, key
    assert m["parity_max_abs_diff"] <= 1e-4
    assert len(tracking.client().get_metric_history(run.run_id, "val_loss")) == 2
    contract = ModelContract.load(run.onnx_path.with_suffix(".json"))
    assert contract.name == "quality" and contract.image.resize == "full_frame"
    assert set(contract.thresholds) == {"retake", *(f"defect.{d}" for d in DEFECTS)}
    assert 0 < contract.thresholds["retake"] <= 1
    assert run.model_version == "1"


def test_served_quality_verdict_comes_from_the_exported_model(run):
    engine = TriageEngine(quality_model=QualityModel(run.onnx_path))
    photo = ingest_photo(encode(skin_photo((640, 480), seed=9)), filename="a.jpg", limits=PhotoLimits())
    quality = engine.judge_quality(photo.analysis.rgb, original_size=(photo.width, photo.height)).to_json()
    assert quality["model"]["version"] == engine.quality_model.version
    assert set(quality["model"]["defects"]) == set(DEFECTS)
    assert quality["verdict"] in ("accept", "retake")
    assert (quality["verdict"] == "retake") == bool(quality["instructions"])
    assert engine.model_versions["quality_model"] == engine.quality_model.version


def test_evaluation_on_the_test_split_is_logged_with_plots(run, workspace, tmp_path):
    report, folder = evaluate_tiny_quality(run, workspace, tmp_path / "eval", n_boot=20, limit=3)
    m = report.metrics
    assert m["n_photos"] == 3 and m["n_samples"] == 3 * (1 + 3 * len(DEFECTS))
    for key in ("retake_auc", "false_retake", "first_instruction"):
        assert 0.0 <= m[key] <= 1.0
        assert m[f"{key}_ci_low"] <= m[key] + 1e-9 and m[key] <= m[f"{key}_ci_high"] + 1e-9
    assert {r["defect"] for r in report.rows} == set(DEFECTS)
    plots = ("quality_roc.png", "quality_first_defect_confusion.png", "quality_detection_by_severity.png")
    for name in plots:
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((folder / "quality_evaluation.json").read_text())
    assert saved["metrics"]["n_photos"] == 3
    runs = tracking.client().search_runs(
        [tracking.client().get_experiment_by_name("dermatriage-quality-evaluation").experiment_id]
    )
    assert runs and "test_retake_auc" in runs[0].data.metrics


def _with_retake_threshold(run, folder, threshold: float):
    """A copy of the run's model whose contract sends back photos from ``threshold`` on."""
    import shutil
    from dataclasses import replace

    folder.mkdir()
    onnx = folder / "quality.onnx"
    shutil.copy2(run.onnx_path, onnx)
    contract = ModelContract.load(run.onnx_path.with_suffix(".json"))
    # every defect threshold with it, so that at 0 the model always names a defect
    thresholds = {
        k: threshold if k.startswith("defect.") and threshold == 0 else v
        for k, v in contract.thresholds.items()
    }
    replace(contract, thresholds={**thresholds, "retake": threshold}).save(onnx.with_suffix(".json"))
    return onnx


@pytest.mark.parametrize("threshold, asked", [(0.0, True), (1.0 + 1e-9, False)])
def test_intake_uses_the_configured_quality_model(run, tmp_path, sqlite_url, threshold, asked):
    from conftest import make_org, service_settings
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.db import make_engine, make_session_factory

    onnx = _with_retake_threshold(run, tmp_path / "model", threshold)
    settings = service_settings(sqlite_url, tmp_path / "photos", quality_model=str(onnx))
    org = make_org(make_session_factory(make_engine(sqlite_url)))
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/cases",
            data={"questionnaire": json.dumps({"jurisdiction": "US-CA", "age": 50})},
            files=[("photos", ("a.jpg", encode(skin_photo((800, 600), seed=1)), "image/jpeg"))],
            headers={"Authorization": f"Bearer {org.intake}", "Idempotency-Key": f"k-{threshold}"},
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "queued"  # a readable photo never holds a case back
    triage = body["triage"]
    photo = triage["photos"][0]["quality"]
    assert photo["model"]["version"] == triage["model_versions"]["quality_model"]
    assert photo["model"]["version"] == ModelContract.load(run.onnx_path.with_suffix(".json")).version
    if asked:  # a better photo is requested, the case goes on
        assert triage["better_photo_requested"] and not triage["retake_required"]
        assert photo["verdict"] == "retake" and photo["readable"]
        assert photo["defects"] and photo["instructions"]
    else:
        assert photo["verdict"] == "accept" and photo["instructions"] == []


def test_promotion_needs_a_test_evaluation_that_meets_the_targets(run, workspace, tmp_path):
    from training.quality.promote import bundle_quality, decide, latest_evaluation, promote_quality

    version = ModelContract.load(run.onnx_path.with_suffix(".json")).version
    floors = {"epochs": 2, "n_bootstrap": 10}  # what the tiny run meets
    if latest_evaluation(version, full_only=False) is None:  # (the evaluation test may have run first)
        with pytest.raises(ValueError, match="no test evaluation: run 'dermatriage evaluate quality"):
            promote_quality("tiny-quality", run.model_version, bundle_dir=tmp_path / "bundle", floors=floors)
    # a limited evaluation does not count, and the refusal says why (by the floors the tiny run meets)
    evaluate_tiny_quality(run, workspace, tmp_path / "limited", n_boot=10, limit=3)
    with pytest.raises(ValueError, match=r"no test evaluation that counts: .*limit=3, 3 photos.*not count"):
        promote_quality("tiny-quality", run.model_version, bundle_dir=tmp_path / "bundle", floors=floors)
    report, _ = evaluate_tiny_quality(run, workspace, tmp_path / "eval", n_boot=10)
    evaluation = latest_evaluation(version)
    assert evaluation is not None and evaluation.data.params["split"] == "test"
    # 2 epochs and 10 resamples are a smoke run by the real floors: refused, and the message says so
    smoke = promote_quality("tiny-quality", run.model_version, bundle_dir=tmp_path / "bundle")
    assert not smoke.promoted and not (tmp_path / "bundle").exists()
    assert "epochs=2" in smoke.reasons[0]  # the candidate's own smoke settings lead
    assert any("n_bootstrap=10" in r for r in smoke.reasons)
    result = promote_quality("tiny-quality", run.model_version, bundle_dir=tmp_path / "bundle", floors=floors)
    expected, _ = decide(dict(evaluation.data.metrics), None)
    assert result.promoted == expected
    assert any("first_instruction" in r for r in result.reasons)
    tag = tracking.client().get_model_version("tiny-quality", run.model_version).tags["promotion"]
    assert tag.startswith("promoted" if expected else "rejected")

    with pytest.raises(ValueError, match="needs a reason"):
        promote_quality("tiny-quality", run.model_version, bundle_dir=tmp_path / "b", override="  ")
    if not expected:  # a person may accept the refusal, in writing; it is logged with the decision
        forced = promote_quality(
            "tiny-quality", run.model_version, bundle_dir=tmp_path / "b", override="me: why", floors=floors
        )
        assert forced.promoted and forced.reasons[-1] == "promoted over the gate's refusal: me: why"

    folder = bundle_quality(run.run_id, evaluation.info.run_id, tmp_path / "bundle2")
    card = (folder / "QUALITY_MODEL_CARD.md").read_text()
    assert "## Test" in card and f"{report.metrics['retake_auc']:.3f}" in card
    assert QualityModel(folder / "quality.onnx").version == version


def test_decision_rules():
    from training.quality.promote import decide

    good = {"test_retake_auc": 0.97, "test_false_retake": 0.05, "test_first_instruction": 0.9}
    assert decide(good, None)[0]
    assert not decide({**good, "test_false_retake": 0.2}, None)[0]
    assert not decide(good, {**good, "test_retake_auc": 0.99})[0]  # worse than the champion
    assert decide(good, {**good, "test_retake_auc": 0.974})[0]  # within the tolerance
