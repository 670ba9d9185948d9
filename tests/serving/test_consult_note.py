"""Sign and release: a diagnosis and prescriptions drafted (held: no event, hidden from the intake
system), then released together as one signed consult note, with exactly one ``consult.released``
event; a second release replays the note; the note is read and downloaded as a PDF (its text checked
with pypdf), every read audited; other organizations, unlicensed dermatologists and intake keys are
refused; nothing else reaches the patient ahead of the drafts."""

from __future__ import annotations

import io

import pytest
from conftest import make_dermatologist
from consults_support import (
    DIAGNOSIS,
    PRESCRIPTION,
    audit_actions,
    bearer,
    event_types,
    follow_up_body,
    in_review,
    last_event,
    rows,
)
from pypdf import PdfReader
from sqlalchemy import select

from serving.consults import note_pdf, notes
from serving.consults.models import ConsultNote, Diagnosis, Prescription
from serving.db import transaction
from serving.events import types

DRAFT_DIAGNOSIS = {
    **DIAGNOSIS,
    "draft": True,
    "free_text": "Comédons fermés, peau séborrhéique.",  # accents must survive into the PDF
}
DRAFT_PRESCRIPTION = {**PRESCRIPTION, "draft": True}
DOXY = {
    "rxcui": "3640",
    "form": "capsule",
    "strength": "100 mg",
    "directions": "One capsule twice a day with water, for 12 weeks.",
    "quantity": 60,
    "refills": 0,
    "draft": True,
}


def _drafted(client, org) -> str:
    """A case in review with a drafted diagnosis, two drafted prescriptions and a follow-up."""
    case_id = in_review(client, org)
    derm = org.headers("dermatologist")
    for path, body in (
        ("diagnosis", DRAFT_DIAGNOSIS),
        ("prescriptions", DRAFT_PRESCRIPTION),
        ("prescriptions", DOXY),
    ):
        r = client.post(f"/v1/cases/{case_id}/{path}", json=body, headers=derm)
        assert r.status_code == 201, r.text
        assert r.json()[path.rstrip("s") if path == "prescriptions" else path]["draft"] is True
    return case_id


def _release(client, org, case_id: str, role: str = "dermatologist", **body):
    headers = bearer(role) if role.startswith("dtk_") else org.headers(role)
    return client.post(f"/v1/cases/{case_id}/consult-note", json={"confirm": True, **body}, headers=headers)


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    assert 1 <= len(reader.pages) <= 2
    return "\n".join(page.extract_text() for page in reader.pages)


def test_drafts_are_held_then_released_as_one_signed_note(client, org, sessions):
    case_id = _drafted(client, org)
    events_before = event_types(sessions, case_id)
    assert types.CASE_DIAGNOSED not in events_before and types.PRESCRIPTION_ISSUED not in events_before
    assert rows(sessions, case_id)["status"] == "diagnosed"
    # the intake system sees nothing of the drafts; the dermatologist sees them as drafts
    consult = client.get(f"/v1/cases/{case_id}/consult", headers=org.headers("intake")).json()
    assert consult["diagnoses"] == [] and consult["prescriptions"] == []
    consult = client.get(f"/v1/cases/{case_id}/consult", headers=org.headers("dermatologist")).json()
    assert [d["draft"] for d in consult["diagnoses"] + consult["prescriptions"]] == [True, True, True]
    # no note yet
    assert client.get(f"/v1/cases/{case_id}/consult-note", headers=org.headers()).status_code == 404
    r = client.post(
        f"/v1/cases/{case_id}/follow-ups", json=follow_up_body(), headers=org.headers("dermatologist")
    )
    assert r.status_code == 201, r.text

    draft = client.get(f"/v1/cases/{case_id}/consult-note/draft", headers=org.headers("dermatologist")).json()
    assert draft["releasable"] is True and draft["number"] == 1
    assert draft["content"]["diagnosis"]["code"] == "L70.0"
    assert [p["medication"] for p in draft["content"]["prescriptions"]] == ["tretinoin", "doxycycline"]
    assert draft["content"]["follow_up"]["instructions"] == follow_up_body()["instructions"]

    r = _release(client, org, case_id, content_sha256=draft["content_sha256"])
    assert r.status_code == 201, r.text
    body = r.json()
    note = body["note"]
    assert body["replayed"] is False and body["case"]["status"] == "follow_up_scheduled"
    assert note["number"] == 1 and note["content_sha256"] == draft["content_sha256"]
    assert note["content_sha256"] == notes.content_sha256(note["content"])
    assert note["signature"]["name"] == "Dr. Default"
    assert note["signature"]["licence_jurisdiction"] == "US-CA"
    assert note["signature"]["attestation"] == notes.ATTESTATION

    # exactly one event, with the note's content; the drafts' own events (and the follow-up's, scheduled
    # while they were held) never went out
    after = event_types(sessions, case_id)[len(events_before) :]
    assert after == [types.CONSULT_RELEASED]
    event = last_event(sessions, case_id)
    assert event.payload["content"] == note["content"]
    assert event.payload["content_sha256"] == note["content_sha256"]
    assert event.payload["signature"]["name"] == "Dr. Default"
    assert event.payload["content"]["diagnosis"]["patient_plan"] == DIAGNOSIS["patient_plan"]
    assert [p["strength"] for p in event.payload["content"]["prescriptions"]] == ["0.05%", "100 mg"]
    with transaction(sessions) as session:
        held = [*session.scalars(select(Diagnosis).where(Diagnosis.case_id == case_id))]
        held += [*session.scalars(select(Prescription).where(Prescription.case_id == case_id))]
        assert {(r.draft, r.consult_note_id) for r in held} == {(False, note["id"])}

    # a second release: nothing new held -> the same note again, no second event
    r = _release(client, org, case_id)
    assert r.status_code == 200 and r.json()["replayed"] is True and r.json()["note"]["id"] == note["id"]
    assert event_types(sessions, case_id).count(types.CONSULT_RELEASED) == 1
    # the intake system now sees what was released, and reads the note
    consult = client.get(f"/v1/cases/{case_id}/consult", headers=org.headers("intake")).json()
    assert len(consult["diagnoses"]) == 1 and len(consult["prescriptions"]) == 2
    r = client.get(f"/v1/cases/{case_id}/consult-note", headers=org.headers())
    assert r.status_code == 200 and r.json()["note"] == note

    # the PDF: the diagnosis code, the drugs, the signer, the accents, the hash
    r = client.get(f"/v1/cases/{case_id}/consult-note.pdf", headers=org.headers("dermatologist"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith('attachment; filename="consult-note-')
    text = _pdf_text(r.content)
    for expected in (
        "L70.0",
        "Acne vulgaris",
        "tretinoin 0.05% cream",
        "doxycycline 100 mg capsule",
        "Dr. Default",
        "US-CA",
        "Comédons fermés, peau séborrhéique",
        note["content_sha256"],
        "Apply a pea-sized amount",
        org.slug.title(),
    ):
        assert expected in text, (expected, text)

    actions = audit_actions(sessions, case_id)
    for action in (
        "consult.note.draft.read",
        "consult.note.release",
        "consult.note.release.replay",
        "consult.note.read",
        "consult.note.pdf",
    ):
        assert (action, "ok") in actions, action
    assert ("consult.note.read", "not_found") in actions  # the look-up before any note existed


def test_who_may_release_and_read(client, org, other_org, sessions):
    case_id = _drafted(client, org)
    # another organization: the case does not exist for it (and the miss is audited)
    assert _release(client, other_org, case_id).status_code == 404
    assert client.get(f"/v1/cases/{case_id}/consult-note.pdf", headers=other_org.headers()).status_code == 404
    # a dermatologist not licensed where the patient is: 404 too
    ny_only = make_dermatologist(sessions, org.org_id, jurisdictions=("US-NY",), name="Dr. New York")
    assert _release(client, org, case_id, role=ny_only).status_code == 404
    # intake keys never release
    r = _release(client, org, case_id, role="intake")
    assert r.status_code == 403
    # an admin may release without the lease, but signs only under a licence where the patient is
    r = _release(client, org, case_id, role="admin")
    assert r.status_code == 403 and r.json()["error"]["code"] == "licence_required", r.text
    # a licensed dermatologist without the lease
    other = make_dermatologist(sessions, org.org_id, name="Dr. Other")
    r = _release(client, org, case_id, role=other)
    assert r.status_code == 409 and r.json()["error"]["code"] == "lease_required", r.text
    # the drafts changed since the review: refused
    r = _release(client, org, case_id, content_sha256="0" * 64)
    assert r.status_code == 409 and r.json()["error"]["code"] == "consult_note_changed", r.text
    assert r.json()["error"]["field"] == "content_sha256"
    r = client.post(f"/v1/cases/{case_id}/consult-note", json={}, headers=org.headers("dermatologist"))
    assert r.status_code == 422
    assert types.CONSULT_RELEASED not in event_types(sessions, case_id)
    with transaction(sessions) as session:
        assert session.scalar(select(ConsultNote).where(ConsultNote.case_id == case_id)) is None
    misses = [a for a in audit_actions(sessions, case_id) if a[1] == "not_found"]
    assert ("consult.note.release", "not_found") in misses and ("consult.note.pdf", "not_found") in misses


def test_nothing_reaches_the_patient_ahead_of_the_drafts(client, org, sessions):
    case_id = _drafted(client, org)
    derm = org.headers("dermatologist")
    for path, body in (
        ("diagnosis", DIAGNOSIS),
        ("prescriptions", PRESCRIPTION),
        ("referral", {"reason": "Needs a biopsy.", "urgency": "soon"}),
        ("close", {"reason": "Done."}),
    ):
        r = client.post(f"/v1/cases/{case_id}/{path}", json=body, headers=derm)
        assert r.status_code == 409 and r.json()["error"]["code"] == "consult_note_pending", (path, r.text)
    assert types.CONSULT_RELEASED not in event_types(sessions, case_id)
    assert _release(client, org, case_id).status_code == 201
    # released: the case closes as before
    r = client.post(f"/v1/cases/{case_id}/close", json={"reason": "Done."}, headers=derm)
    assert r.status_code == 200, r.text


def test_nothing_to_release_and_a_later_note(client, org, sessions):
    case_id = in_review(client, org)
    r = _release(client, org, case_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_release", r.text
    # a diagnosis told at once (no drafts) is as today: its own event, no note
    derm = org.headers("dermatologist")
    assert client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=derm).status_code == 201
    assert event_types(sessions, case_id)[-1] == types.CASE_DIAGNOSED
    assert _release(client, org, case_id).status_code == 409
    # a prescription drafted afterwards is released with the current diagnosis as context
    assert (
        client.post(f"/v1/cases/{case_id}/prescriptions", json=DRAFT_PRESCRIPTION, headers=derm).status_code
        == 201
    )
    first = _release(client, org, case_id).json()["note"]
    assert first["number"] == 1 and first["content"]["diagnosis"]["previously_released"] is True
    # a revision: a new drafted diagnosis makes the next note; the first stays as it was
    revised = {**DIAGNOSIS, "certainty": "revised", "code": "L71.9", "draft": True}
    assert client.post(f"/v1/cases/{case_id}/diagnosis", json=revised, headers=derm).status_code == 201
    second = _release(client, org, case_id).json()["note"]
    assert second["number"] == 2 and second["content"]["diagnosis"]["code"] == "L71.9"
    assert second["content"]["prescriptions"] == []
    assert event_types(sessions, case_id).count(types.CONSULT_RELEASED) == 2
    r = client.get(f"/v1/cases/{case_id}/consult-note", params={"number": 1}, headers=derm)
    assert r.json()["note"] == first
    assert client.get(f"/v1/cases/{case_id}/consult-note", headers=derm).json()["note"]["number"] == 2
    assert (
        client.get(f"/v1/cases/{case_id}/consult-note", params={"number": 3}, headers=derm).status_code == 404
    )


@pytest.mark.parametrize("unicode_font", [True, False])
def test_the_pdf_renders_accents_with_or_without_dejavu(client, org, sessions, monkeypatch, unicode_font):
    case_id = _drafted(client, org)
    assert _release(client, org, case_id).status_code == 201
    if not unicode_font:
        monkeypatch.setattr(note_pdf, "font_dir", lambda: None)
    elif note_pdf.font_dir() is None:
        pytest.skip("DejaVu Sans is not installed (Debian: fonts-dejavu-core)")
    with transaction(sessions) as session:
        note = session.scalar(select(ConsultNote).where(ConsultNote.case_id == case_id))
        note.content["diagnosis"]["assessment"] = "Łódź “quoted” — ok"  # not stored: rendered only
        text = _pdf_text(note_pdf.render_pdf(note))
        session.rollback()
    assert "Comédons fermés" in text
    assert ("Łódź" if unicode_font else 'Lódz "quoted" - ok') in text, text
    assert note_pdf.latin1("Łódź — ñ") == "Lódz - ñ"
