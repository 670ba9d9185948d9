"""The learning loop through the HTTP API and the command line: one patient, two cases of one lesion six
months apart (the clock injected), the lesion's timeline, a pathology result, the label export holding
exactly the consented cases, a tiny training run reading the export beside a PAD-UFES-20 stand-in, and
the monitoring figures equal to a hand count of the same cases."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from labels_support import export, labelled_case
from patients_support import case_of

from data_pipelines.build import training_rows
from data_pipelines.manifest import SERVICE_SOURCE, manifest_hash, read_manifest
from model.contract import ModelContract
from serving.cases import intake
from serving.labels.rows import pseudonym

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from tiny_pipeline import make_dataset, tiny_config  # noqa: E402

from training import tracking  # noqa: E402
from training.urgency.train import split_rows, train  # noqa: E402

ALICE = {"external_id": "emr-loop-0001", "birth_year": 1958, "sex": "female", "display_name": "Alice Loop"}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only: the export's queries are tested on both databases (test_label_export.py); this
    journey trains a model, which takes its time once."""
    return sqlite_url


@pytest.fixture
def journey(client, org, monkeypatch):
    """Alice's mole, photographed in January and again in July; its first case proved a melanoma by
    pathology, its second confirmed a nevus by the dermatologist. Bob did not consent to research."""
    now = datetime.now(UTC).replace(microsecond=0)
    january, july = now - timedelta(days=200), now - timedelta(days=18)
    monkeypatch.setattr(intake, "utcnow", lambda: january)
    first = labelled_case(client, org, patient=ALICE, seed=11, lesion_label="Mole left shoulder", age=67)
    monkeypatch.setattr(intake, "utcnow", lambda: july)
    second = labelled_case(
        client,
        org,
        patient={"external_id": ALICE["external_id"]},
        seed=12,
        lesion_label="mole left shoulder",
        age=67,
    )
    # Bob's keratosis bled and grew: the red-flag rules send it URGENT (a false alarm, as it turns out)
    bob = case_of(client, org, {"external_id": "emr-loop-0002"}, seed=13, bleeding=True, grew=True)["id"]
    monkeypatch.undo()
    return {"first": first, "second": second, "bob": bob, "january": january, "july": july}


def _diagnose(client, org, case_id: str, code: str) -> None:
    from consults_support import DIAGNOSIS, claim

    assert claim(client, org, case_id).status_code == 200
    body = {**DIAGNOSIS, "code": code, "certainty": "confirmed"}
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=body, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text


def test_the_learning_loop(journey, client, org, settings, sessions, tmp_path, monkeypatch):
    derm = org.headers("dermatologist")
    first, second, bob = journey["first"], journey["second"], journey["bob"]

    # the lesion's timeline: both photos, in order, six months apart
    patient_id = client.get(f"/v1/cases/{first}", headers=derm).json()["patient_id"]
    patient = client.get(f"/v1/patients/{patient_id}", headers=derm).json()
    (lesion,) = patient["lesions"]
    assert [p["case_id"] for p in lesion["photos"]] == [first, second]
    taken = [datetime.fromisoformat(p["created_at"]) for p in lesion["photos"]]
    assert taken == [journey["january"], journey["july"]]

    # the dermatologists' conclusions: a melanoma proven by pathology, a confirmed nevus; Bob's too
    _diagnose(client, org, first, "D22.9")
    r = client.post(
        f"/v1/cases/{first}/pathology",
        json={"icd10": "C43.9", "reported_on": datetime.now(UTC).date().isoformat(), "report": "Melanoma."},
        headers=derm,
    )
    assert r.status_code == 201, r.text
    assert r.json()["outcome_label"]["model_class"] == "MEL"
    _diagnose(client, org, second, "D22.9")
    _diagnose(client, org, bob, "L82.1")

    # the export: exactly Alice's two consented cases (Bob's answers carry no consent)
    out = tmp_path / "labels"
    export(settings, "--out", str(out), "--org", org.slug, "--test-share", "0")
    exported = read_manifest(out / "manifest.csv")
    photo_ids = {
        p["id"] for c in (first, second) for p in client.get(f"/v1/cases/{c}", headers=derm).json()["photos"]
    }
    assert {r.image_id for r in exported} == {pseudonym("photo", p) for p in photo_ids}
    assert sorted(r.diagnosis for r in exported) == ["MEL", "NEV"]
    assert len({(r.patient_id, r.split, r.fold) for r in exported}) == 1  # one patient, one split

    # a tiny training run reads the export beside the PAD-UFES-20 stand-in; the test split stays PAD's
    workspace = tmp_path / "tiny"
    make_dataset(workspace)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workspace / 'mlflow.db'}")
    cfg = tiny_config(workspace, label_export=out, sources=("pad_ufes_20", SERVICE_SOURCE), epochs=1)
    rows = training_rows(cfg.manifest, label_export=out)
    split = split_rows(rows, cfg)
    service_train = [r for r in split.train if r.source == SERVICE_SOURCE]
    assert len(service_train) == 2  # --test-share 0: every exported patient is a train patient
    assert {r.source for r in split.test} == {"pad_ufes_20"}
    run = train(cfg, progress=False)
    tracked = tracking.client().get_run(run.run_id).data
    assert tracked.tags["manifest_hash"] == manifest_hash(rows) != manifest_hash(read_manifest(cfg.manifest))
    by_source = {"pad_ufes_20": len(split.train) - 2, SERVICE_SOURCE: 2}
    assert {s: tracked.metrics[f"train_rows_{s}"] for s in by_source} == by_source
    assert (
        ModelContract.load(run.onnx_path.with_suffix(".json")).provenance["train_rows_by_source"] == by_source
    )
    assert Counter(r.source for r in rows)[SERVICE_SOURCE] == 2

    # monitoring: the figures equal a hand count of the same three cases
    tier = {
        c: client.get(f"/v1/cases/{c}", headers=derm).json()["triage"]["tier"] for c in (first, second, bob)
    }
    assert tier == {first: "ROUTINE", second: "ROUTINE", bob: "URGENT"}
    malignant = {first: True, second: False, bob: False}  # MEL by pathology; a nevus; a keratosis
    submitted = {first: journey["january"], second: journey["july"], bob: None}
    for days, window in ((365, (first, second, bob)), (90, (second, bob))):
        r = client.get(f"/v1/metrics/model?window_days={days}", headers=derm)
        assert r.status_code == 200, r.text
        m = r.json()
        flagged = {c: tier[c] in ("EMERGENCY", "URGENT") for c in window}
        hand = {
            "tp": sum(malignant[c] and flagged[c] for c in window),
            "fn": sum(malignant[c] and not flagged[c] for c in window),
            "tn": sum(not malignant[c] and not flagged[c] for c in window),
            "fp": sum(not malignant[c] and flagged[c] for c in window),
        }
        assert m["counts"]["submitted"] == m["counts"]["labelled"] == len(window)
        assert m["counts"]["by_source"] == {
            k: v
            for k, v in {
                "pathology": int(first in window),
                "diagnosis": len(window) - int(first in window),
            }.items()
            if v
        } or m["counts"]["by_source"].get("pathology", 0) == int(first in window)
        (urgent,) = [p for p in m["tiers"]["operating_points"] if p["at_least"] == "URGENT"]
        assert {k: urgent[k] for k in hand} == hand
        positives = hand["tp"] + hand["fn"]
        assert (
            urgent["sensitivity"]["n"] == positives and urgent["specificity"]["n"] == hand["tn"] + hand["fp"]
        )
        routine_malignant = [c for c in window if malignant[c] and tier[c] == "ROUTINE"]
        assert [x["case_id"] for x in m["routine_malignant"]] == routine_malignant
        for x in m["routine_malignant"]:
            assert (
                x["url"] == f"/cases/{x['case_id']}" and x["source"] == "pathology" and x["code"] == "C43.9"
            )
            assert datetime.fromisoformat(x["submitted_at"]) == submitted[x["case_id"]]
