"""The training data's reference profile: counted by hand on a few rows, written by `dermatriage data
profile` from a built manifest, and the committed ``model/artifacts/reference_profile.json`` equal to
the profile of the real data (when the real data is here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli_runner
from fake_sources import DATA

from data_pipelines.build import build_manifest
from data_pipelines.manifest import ManifestRow, manifest_hash, read_manifest
from data_pipelines.profile import profile_rows
from model import input_profile


def _row(image_id: str, lesion: str, questionnaire: dict, *, size=(300, 200), **extra) -> ManifestRow:
    values = {
        "image_id": image_id,
        "path": f"pad_ufes_20/images/{image_id}.jpg",
        "sha256": "0" * 64,
        "source": "pad_ufes_20",
        "modality": "smartphone",
        "patient_id": f"PAT_{lesion}",
        "lesion_id": lesion,
        "diagnosis": "NEV",
        "malignant": False,
        "biopsied": False,
        "questionnaire": questionnaire,
        "split": "train",
        "fold": 0,
        "width": size[0],
        "height": size[1],
    }
    return ManifestRow(**(values | extra))


def test_the_profile_by_hand() -> None:
    rows = [
        # lesion 1: two photos, one questionnaire (counted once)
        _row("a1", "1", {"age": 50, "fitzpatrick": 2, "sex": "female"}, size=(300, 200)),
        _row("a2", "1", {"age": 50, "fitzpatrick": 2, "sex": "female"}, size=(100, 512)),
        # lesion 2: sex unknown is not an answer
        _row("b1", "2", {"age": 70, "fitzpatrick": 3, "sex": "unknown", "itch": False}, size=(400, 400)),
        # lesion 3: no Fitzpatrick type
        _row("c1", "3", {"age": 30}, size=(200, 100)),
        # left out: a test row, a masked copy, a dermoscopic image
        _row("t1", "4", {"age": 1}, split="test", fold=-1),
        _row("m1", "1", {"age": 50}, source="pad_ufes_20_masked", modality="smartphone_masked"),
        _row("h1", "5", {}, source="ham10000", modality="dermoscopy", fold=-2),
    ]
    profile = profile_rows(rows, manifest_sha256="abc")
    assert (profile["n_lesions"], profile["n_photos"]) == (3, 4)
    assert profile["selection"] == {
        "sources": ["pad_ufes_20"],
        "splits": ["train"],
        "manifest_sha256": "abc",
        "n_patients": 3,
    }
    rates = profile["answer_rates"]
    assert set(rates) == set(input_profile.QUESTIONS)
    assert (rates["age"], rates["fitzpatrick"], rates["sex"], rates["itch"]) == (1.0, 2 / 3, 1 / 3, 1 / 3)
    assert rates["fever"] == 0.0 and "jurisdiction" not in rates and "consent_research" not in rates
    assert profile["fitzpatrick"] == {
        "n": 2,
        "shares": {"1": 0.0, "2": 0.5, "3": 0.5, "4": 0.0, "5": 0.0, "6": 0.0},
    }
    # long sides 200 300 400 512: quantiles interpolate between them
    assert profile["long_side"] == {
        "n": 4,
        "p05": pytest.approx(215.0),
        "p25": pytest.approx(275.0),
        "p50": 350.0,
        "p75": pytest.approx(428.0),
        "p95": pytest.approx(495.2),
    }
    assert profile["modality"] == {"n": 4, "shares": {"clinical": 1.0, "dermoscopic": 0.0, "not_skin": 0.0}}
    # the dermoscopic source, asked for, is named as the service names it
    ham = profile_rows(rows, sources=("ham10000",))
    assert ham["modality"]["shares"]["dermoscopic"] == 1.0
    with pytest.raises(ValueError, match="no manifest row"):
        profile_rows(rows, splits=("validation",))


def test_the_command_writes_the_profile(built, tmp_path: Path) -> None:
    result, rows = built
    out = tmp_path / "reference_profile.json"
    run = cli_runner({})
    printed = run("data", "profile", "--manifest", str(result.path), "--out", str(out)).output
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(profile_rows(rows, manifest_sha256=result.hash)))
    assert f"{written['n_lesions']} lesions" in printed
    assert input_profile.load_reference(out)["selection"]["manifest_sha256"] == result.hash


@pytest.mark.skipif(not (DATA / "pad_ufes_20/split.csv").exists(), reason="real data not present")
def test_the_committed_reference_is_the_profile_of_the_real_data(tmp_path: Path) -> None:
    result = build_manifest(DATA, tmp_path / "manifest.csv", sources=("pad_ufes_20",), progress=False)
    rows = read_manifest(result.path)
    committed = input_profile.load_reference()
    fresh = json.loads(json.dumps(profile_rows(rows, manifest_sha256=manifest_hash(rows))))
    # the committed file was made from the manifest of every source (its hash differs); the figures not
    committed_figures = {k: v for k, v in committed.items() if k != "selection"}
    assert committed_figures == {k: v for k, v in fresh.items() if k != "selection"}
    assert committed["selection"]["n_patients"] == fresh["selection"]["n_patients"]
