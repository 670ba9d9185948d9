"""``limit`` bounds what a quality run does: at most ``limit`` training photos and at most ``limit``
validation images, a deterministic subset of the full validation set in which the untouched photos and
every defect still appear; every long step shows a progress bar when asked to. And the promotion gate
names the real cause of a refusal: a version whose only test evaluations were limited (or had fewer
bootstrap resamples than the floor) hears that, and the command that makes one that counts; a smoke
candidate hears that first."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from click.testing import CliRunner
from tiny_pipeline import evaluate_tiny_quality, make_dataset, tiny_run_settings

from data_pipelines.degrade import DEFECTS, SEVERITIES, Severity
from data_pipelines.manifest import read_manifest
from model.quality_network import QualityNetConfig
from model.quality_verdict import DEFECTS as MODEL_DEFECTS
from training import tracking
from training.cli import promote
from training.promotion import PROMOTION_FLOORS
from training.quality.config import QualityTrainConfig
from training.quality.data import CLEAN, evaluation_set, load_photos, min_limit, stratified_pairs
from training.quality.promote import promote_quality
from training.quality.train import train

NAME = "tiny-quality-limits"
N_CELLS = 1 + len(DEFECTS) * len(SEVERITIES)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinyq_limits")
    make_dataset(root, per_class=4)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    yield root
    mp.undo()


def tiny_config(root, **overrides) -> QualityTrainConfig:
    settings = {
        "network": QualityNetConfig(
            defects=MODEL_DEFECTS,
            backbone="test_efficientnet",
            pretrained=False,
            image_size=64,
            frozen_blocks=1,
        ),
        "pool_per_photo": 2,
        "workers": 1,
        "registered_model": NAME,
        **tiny_run_settings(root),
        **overrides,
    }
    return QualityTrainConfig(**settings)


@pytest.fixture(scope="module")
def full_run(workspace):
    """A tiny run on all its photos (registered: a candidate whose settings are not a smoke run's by
    the tiny floors)."""
    return train(tiny_config(workspace), progress=False)


@pytest.fixture
def tiny_floors(monkeypatch):
    """The promotion floors the tiny runs meet (2 epochs, 10 resamples); the real ones are untouched."""
    monkeypatch.setitem(PROMOTION_FLOORS["quality"], "epochs", 2)
    monkeypatch.setitem(PROMOTION_FLOORS["quality"], "n_bootstrap", 10)


@pytest.mark.parametrize(
    ("n_photos", "limit"), [(1, 12), (2, 34), (4, 50), (6, 14), (17, 40), (34, 80), (48, 48), (6, 10_000)]
)
def test_stratified_pairs_take_cells_and_photos_in_turn(n_photos, limit):
    pairs = stratified_pairs(n_photos, N_CELLS, limit)
    assert len(pairs) == min(limit, n_photos * N_CELLS)
    assert len(set(pairs)) == len(pairs)  # no image twice
    cells = Counter(c for _, c in pairs)
    if len(pairs) >= N_CELLS:
        assert set(cells) == set(range(N_CELLS))  # every cell: untouched and every defect x severity
    assert max(cells.values()) - min(cells.values()) <= 1
    photos = Counter(p for p, _ in pairs)
    assert max(photos.values()) - min(photos.values()) <= 1
    assert len(photos) == min(n_photos, len(pairs))


def test_a_limited_evaluation_set_is_a_stratified_subset_of_the_full_one(workspace):
    rows = [r for r in read_manifest(workspace / "manifest.csv") if r.split == "train"][:4]
    photos = load_photos(rows, workspace, desc="photos", progress=False)
    options = {"seed": 3, "size": 64, "resize": "full_frame", "workers": 1, "progress": False}
    full = evaluation_set(photos, **options)
    assert len(full) == len(photos) * N_CELLS
    limit = min_limit()
    limited = evaluation_set(photos, limit=limit, **options)
    assert len(limited) == limit
    # the untouched photos and every defect, each at moderate (a photo to retake)
    assert {s.defect for s in limited} == {CLEAN, *(d.value for d in DEFECTS)}
    assert all(s.severity == int(Severity.moderate) for s in limited if s.defect != CLEAN)
    # the same images as the full set's (same generators), never one twice
    by_cell = {(s.key, s.defect, s.severity): s for s in full}
    assert len({(s.key, s.defect, s.severity) for s in limited}) == limit
    for s in limited:
        twin = by_cell[(s.key, s.defect, s.severity)]
        assert (s.image == twin.image).all() and s.params == twin.params
    again = evaluation_set(photos, limit=limit, **options)
    assert [(s.key, s.defect, s.severity) for s in again] == [(s.key, s.defect, s.severity) for s in limited]
    with pytest.raises(ValueError, match=f"at least {min_limit()}"):
        evaluation_set(photos, limit=min_limit() - 1, **options)


def test_a_limited_run_validates_on_at_most_limit_images_with_progress_bars(workspace, capfd):
    limit = min_limit() + 2
    run = train(tiny_config(workspace, limit=limit, registered_model=f"{NAME}-limited"), progress=True)
    err = capfd.readouterr().err
    m = tracking.client().get_run(run.run_id).data.metrics
    n_train = len(
        [r for r in read_manifest(workspace / "manifest.csv") if r.split == "train" and r.fold != 0]
    )
    assert m["n_train_photos"] == min(limit, n_train) and m["n_train_pool"] == 2 * m["n_train_photos"]
    assert m["n_val_images"] == limit  # not n_val_photos x 34
    assert m["n_val_photos"] * N_CELLS > limit
    # every defect in the validation set at moderate/severe: each has a detection rate in its report
    report = (run.out_dir / "validation.md").read_text()
    for defect in MODEL_DEFECTS:
        (row,) = [line for line in report.splitlines() if line.startswith(f"| {defect} |")]
        detection, first = row.split("|")[3:5]
        assert "nan" not in detection and "nan" not in first, row
    for bar in (
        "training photos",
        "validation photos",
        "training pool (defects drawn)",
        "validation set (defects drawn)",
        "frozen layers (training)",
        "frozen layers (validation)",
        "epoch 1/2",
        "validation scoring",
    ):
        assert re.search(re.escape(bar) + r":\s+\d+%", err), bar
    assert f"0/{limit} [" in err  # the validation set's bar counts the limited images


def test_no_progress_bars_unless_asked(workspace, capfd):
    rows = [r for r in read_manifest(workspace / "manifest.csv") if r.split == "train"][:2]
    load_photos(rows, workspace, desc="quiet photos", progress=False)
    assert "quiet photos" not in capfd.readouterr().err
    load_photos(rows, workspace, desc="loud photos", progress=True)
    assert "loud photos" in capfd.readouterr().err


def test_a_too_small_limit_is_refused_before_anything_runs(workspace):
    with pytest.raises(ValueError, match=f"limit >= {min_limit()}"):
        train(tiny_config(workspace, limit=min_limit() - 1), progress=False)


def _promote(version: str, bundle_dir) -> tuple[int, str]:
    result = CliRunner().invoke(
        promote, ["--name", NAME, "--version", version, "--bundle-dir", str(bundle_dir), "--dry-run"]
    )
    return result.exit_code, " ".join(result.output.split())


def test_only_limited_or_rough_test_evaluations_are_named_as_the_cause(
    full_run, workspace, tmp_path, tiny_floors
):
    version = full_run.model_version
    code, output = _promote(version, tmp_path / "bundle")
    assert code != 0 and f"{NAME} version {version} has no test evaluation:" in output

    evaluate_tiny_quality(full_run, workspace, tmp_path / "limited", n_boot=10, limit=3)
    code, output = _promote(version, tmp_path / "bundle")
    assert code != 0
    assert "has no test evaluation that counts: its only test evaluation was limited" in output
    assert "limit=3, 3 photos" in output
    assert "so it does not count" in output
    assert f"dermatriage evaluate quality --model models:/{NAME}/{version}' (without --limit" in output
    assert "has no test evaluation:" not in output and "smoke run" not in output

    evaluate_tiny_quality(full_run, workspace, tmp_path / "rough", n_boot=5)
    code, output = _promote(version, tmp_path / "bundle")
    assert code != 0 and "its only 2 test evaluations were limited to part of the test photos" in output
    assert "or had fewer bootstrap resamples than the promotion floor" in output
    assert "n_bootstrap=5 < the floor 10" in output and "limit=3, 3 photos" in output

    # one that counts: the gate judges it (whatever the tiny model's figures), older ones ignored
    evaluate_tiny_quality(full_run, workspace, tmp_path / "full", n_boot=10)
    result = promote_quality(NAME, version, bundle_dir=tmp_path / "bundle", dry_run=True)
    assert any("retake_auc" in r for r in result.reasons)
    assert not any("does not count" in r or "smoke run" in r for r in result.reasons)


def test_a_smoke_candidate_hears_that_first(workspace, tmp_path, tiny_floors):
    limited = train(tiny_config(workspace, limit=min_limit(), epochs=1), progress=False)
    assert limited.model_version  # smoke=false: registered, and yet a smoke run by its settings
    result = promote_quality(NAME, limited.model_version, bundle_dir=tmp_path / "bundle", dry_run=True)
    assert not result.promoted
    assert result.reasons[0].startswith(f"a smoke run: a limited run (limit={min_limit()}")
    assert f"version {limited.model_version}, training run {limited.run_id[:8]}" in result.reasons[0]
    assert any("epochs=1" in r for r in result.reasons[:2])
    assert result.reasons[-1].startswith(f"besides, {NAME} version {limited.model_version} has no test")
