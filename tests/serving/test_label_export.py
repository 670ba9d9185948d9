"""``dermatriage data export-labels``: exactly the research-consented cases with an outcome label in the
model's classes and an accepted photo, as a valid training manifest (own source, patient-grouped splits,
sha256 of every file), pseudonymous, audited, one organization unless asked, never over an older export,
nothing half-written."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from labels_support import env_of, export, labelled_case
from pydantic import SecretStr
from sqlalchemy import select

from data_pipelines.manifest import SERVICE_SOURCE, manifest_hash, read_manifest
from data_pipelines.splits import service_split
from model import outcome
from serving.app import create_app
from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.cli import main
from serving.db import transaction, utcnow
from serving.encryption import new_key
from serving.events import types
from serving.events.models import OutboxEvent
from serving.labels import export as export_module
from serving.labels.rows import EXPORTED_FIELDS, pseudonym

ALICE = {"external_id": "emr-alice-8812", "display_name": "Alice Exportable", "birth_year": 1961}
BOB = {"external_id": "emr-bob-3301", "display_name": "Bob Unconsented"}
FREE_TEXT = {"concern": "the heron-shaped spot worries me", "lesion_label": "heron mole left calf"}


def _photo_ids(sessions, *case_ids: str) -> set[str]:
    with transaction(sessions) as session:
        return {p.id for case_id in case_ids for p in session.get(Case, case_id).photos}


@pytest.fixture
def cases(client, org, other_org):
    """Alice's two consented cases (a pathology-proven BCC; a confirmed nevus of the same patient), and
    every reason a case is left out; a consented, proven melanoma of another organization."""
    made = {
        "bcc": labelled_case(
            client, org, patient=ALICE, diagnosis="D22.9", pathology="C44.91", seed=1, **FREE_TEXT
        ),
        "nev": labelled_case(client, org, patient=ALICE, diagnosis="D22.9", seed=2),
        "no_label": labelled_case(client, org, patient=ALICE, seed=3),
        "no_consent": labelled_case(client, org, patient=BOB, consent=None, pathology="C43.9", seed=4),
        "refused": labelled_case(client, org, patient=BOB, consent=False, pathology="C43.9", seed=5),
        "outside": labelled_case(client, org, diagnosis="L70.0", seed=6),
        "other_org": labelled_case(client, other_org, pathology="C43.9", seed=7),
    }
    return made


def test_the_export_holds_exactly_the_consented_labelled_cases(cases, settings, sessions, org, tmp_path):
    out = tmp_path / "export"
    result = export(settings, "--out", str(out), "--org", org.slug)
    assert "exported 2 of 6 cases (2 photos)" in result.output

    rows = read_manifest(out / "manifest.csv")  # validated against the manifest contract
    by_id = {r.image_id: r for r in rows}
    bcc_photo, nev_photo = (next(iter(_photo_ids(sessions, cases[k]))) for k in ("bcc", "nev"))
    assert set(by_id) == {pseudonym("photo", bcc_photo), pseudonym("photo", nev_photo)}
    bcc, nev = by_id[pseudonym("photo", bcc_photo)], by_id[pseudonym("photo", nev_photo)]
    # the label: the pathology over the diagnosis, mapped to the model's classes; the code kept
    assert (bcc.diagnosis, bcc.source_diagnosis, bcc.malignant, bcc.biopsied) == ("BCC", "C44.91", True, True)
    assert (nev.diagnosis, nev.source_diagnosis, nev.malignant, nev.biopsied) == (
        "NEV",
        "D22.9",
        False,
        False,
    )
    # one patient, one split and fold; two lesions (no label named a shared one)
    assert bcc.patient_id == nev.patient_id and bcc.patient_id.startswith("svc-patient-")
    assert (bcc.split, bcc.fold) == (nev.split, nev.fold) == service_split(bcc.patient_id, k=5)
    assert bcc.lesion_id != nev.lesion_id
    assert {r.source for r in rows} == {SERVICE_SOURCE} and {r.modality for r in rows} == {"smartphone"}
    # structured answers only
    assert bcc.questionnaire["age"] == 34 and bcc.questionnaire["body_site"] == "face"
    assert set(bcc.questionnaire) <= set(EXPORTED_FIELDS)
    assert "concern" not in bcc.questionnaire and "consent_research" not in bcc.questionnaire

    # every file is where the manifest says, with its sha256 and size; private to the user
    for row in rows:
        data = (out / row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert (out / row.path).stat().st_mode & 0o077 == 0
    assert out.stat().st_mode & 0o077 == 0

    summary = json.loads((out / "export.json").read_text())
    assert summary["organizations"] == [org.slug]
    assert summary["outcome_mapping_version"] == outcome.MAPPING_VERSION
    assert summary["cases_exported"] == 2 and summary["photos"] == 2
    assert summary["skipped"] == {
        "no research consent": 2,
        "no outcome label (no confirmed diagnosis or pathology)": 1,
        "outcome outside the model's classes": 1,
    }
    assert summary["manifest_sha256"] == manifest_hash(rows)

    # nothing that names the patient, nor the free text, anywhere in the export
    blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for needle in (*ALICE.values(), *FREE_TEXT.values(), cases["bcc"], bcc_photo):
        assert str(needle).encode() not in blob, needle

    # each exported case's read is audited; the export itself too
    with transaction(sessions) as session:
        audited = set(
            session.scalars(select(AuditEvent.resource_id).where(AuditEvent.action == "labels.export"))
        )
        summaries = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "labels.export.summary"))
        )
    assert audited == {cases["bcc"], cases["nev"]}
    assert [(a.resource_id, a.detail["cases"]) for a in summaries] == [(org.org_id, 2)]


def test_organizations_are_never_crossed_unless_asked(cases, settings, org, other_org, tmp_path):
    refused = export(settings, "--out", str(tmp_path / "a"), ok=False)
    assert (
        refused.exit_code != 0 and "--org SLUG" in refused.output and "--all-organizations" in refused.output
    )
    assert not (tmp_path / "a").exists()

    export(settings, "--out", str(tmp_path / "b"), "--org", org.slug)
    mine = read_manifest(tmp_path / "b" / "manifest.csv")
    theirs = export(settings, "--out", str(tmp_path / "c"), "--org", other_org.slug)
    assert "exported 1 of 1 cases" in theirs.output
    together = export(settings, "--out", str(tmp_path / "d"), "--all-organizations")
    ids = {r.image_id for r in read_manifest(tmp_path / "d" / "manifest.csv")}
    assert {r.image_id for r in mine + read_manifest(tmp_path / "c" / "manifest.csv")} <= ids
    orgs = json.loads((tmp_path / "d" / "export.json").read_text())["organizations"]
    assert {org.slug, other_org.slug} <= set(orgs) and "exported" in together.output


def test_since_exports_only_labels_recorded_from_that_day(cases, settings, org, tmp_path):
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    today = utcnow().date().isoformat()
    later = export(settings, "--out", str(tmp_path / "later"), "--org", org.slug, "--since", tomorrow)
    assert (
        "exported 0 of 6 cases (0 photos)" in later.output and "label recorded before --since" in later.output
    )
    assert read_manifest(tmp_path / "later" / "manifest.csv") == []
    now = export(settings, "--out", str(tmp_path / "now"), "--org", org.slug, "--since", today)
    assert "exported 2 of 6 cases" in now.output


def test_an_older_export_is_never_overwritten_and_a_failed_one_leaves_nothing(
    cases, settings, org, tmp_path, monkeypatch
):
    out = tmp_path / "export"
    export(settings, "--out", str(out), "--org", org.slug)
    before = sorted(p.name for p in out.rglob("*"))
    again = export(settings, "--out", str(out), "--org", org.slug, ok=False)
    assert again.exit_code != 0 and "not an empty folder" in again.output
    assert sorted(p.name for p in out.rglob("*")) == before

    calls = []

    def failing_copy(store, photo, out_dir, name):
        if calls:
            raise OSError("disk full")
        calls.append(name)
        return real_copy(store, photo, out_dir, name)

    real_copy = export_module._photo_file
    monkeypatch.setattr(export_module, "_photo_file", failing_copy)
    failed = export(settings, "--out", str(tmp_path / "failed"), "--org", org.slug, ok=False)
    assert failed.exit_code != 0 and calls  # one photo was written before the failure
    assert list((tmp_path / "failed").rglob("*")) == []


def test_an_encrypted_photo_store_exports_the_photos_in_clear(org, tmp_path, settings):
    """With ``photo_encryption`` the service keeps photos sealed; the export holds the photos themselves
    (the training pipeline decodes them), checked against the sha256 the service recorded."""
    key = new_key()
    sealed = settings.model_copy(
        update={"photo_dir": tmp_path / "sealed", "photo_encryption": True, "storage_key": SecretStr(key)}
    )
    with TestClient(create_app(sealed)) as sealed_client:
        labelled_case(sealed_client, org, patient=ALICE, pathology="C43.9", seed=9)
    stored = {p.read_bytes() for p in (tmp_path / "sealed").rglob("*") if p.is_file()}
    assert stored

    env = {**env_of(sealed), "DERMATRIAGE_PHOTO_ENCRYPTION": "true", "DERMATRIAGE_STORAGE_KEY": key}
    out = tmp_path / "export"
    args = ["data", "export-labels", "--no-progress", "--out", str(out), "--org", org.slug]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    rows = read_manifest(out / "manifest.csv")
    assert [r.diagnosis for r in rows] == ["MEL"]
    exported = (out / rows[0].path).read_bytes()
    assert exported[:3] == b"\xff\xd8\xff" and exported not in stored  # the JPEG, not the sealed bytes


def test_an_erasure_names_the_exports_that_hold_the_patient(cases, client, settings, sessions, org, tmp_path):
    """Copies in a label export are outside the service: erasing the patient deletes what the service
    holds, and the event says which exports hold the patient and under which pseudonym."""
    out = tmp_path / "export"
    export(settings, "--out", str(out), "--org", org.slug)
    export_id = json.loads((out / "export.json").read_text())["export_id"]
    exported_patient = {r.patient_id for r in read_manifest(out / "manifest.csv")}
    patient_id = client.get(f"/v1/cases/{cases['bcc']}", headers=org.headers("admin")).json()["patient_id"]

    r = client.delete(f"/v1/patients/{patient_id}", headers=org.headers("admin"))
    assert r.status_code == 204, r.text
    with transaction(sessions) as session:
        event = session.scalar(
            select(OutboxEvent).where(
                OutboxEvent.organization_id == org.org_id, OutboxEvent.event_type == types.PATIENT_ERASED
            )
        )
    assert event.payload["label_exports"] == [export_id]
    assert {event.payload["export_patient_id"]} == exported_patient

    # Bob was never exported: his erasure's event names no export
    bob = client.get(f"/v1/cases/{cases['no_consent']}", headers=org.headers("admin")).json()["patient_id"]
    assert client.delete(f"/v1/patients/{bob}", headers=org.headers("admin")).status_code == 204
    with transaction(sessions) as session:
        payloads = [
            e.payload
            for e in session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.organization_id == org.org_id, OutboxEvent.event_type == types.PATIENT_ERASED
                )
            )
        ]
    assert [p for p in payloads if p["patient_id"] == bob] == [{"patient_id": bob, "cases": 2}]
