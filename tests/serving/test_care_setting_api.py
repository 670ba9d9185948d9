"""``care_setting`` through the intake API: set on every triage (first submission, retake, follow-up
photos), stored in ``cases.care_setting``, in the case JSON with its reasons, said to the patient in
their language, and carried by the emergency event."""

from __future__ import annotations

from consults_support import QUESTIONNAIRE, diagnosed, follow_up_body, last_event, send_photo, submit
from factories import good_jpeg, unreadable_jpeg
from sqlalchemy import update

from model.messages import message
from model.triage.care_setting import CARE_RULES_BY_ID, IN_PERSON_ADVICE, NO_IN_PERSON_SIGNS_REASON
from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.db import transaction
from serving.events import types

#: a 67-year-old's raised lesion that grew and bleeds: red flags (URGENT) and likely a biopsy
CHANGING_LESION_67 = {
    "jurisdiction": "US-CA",
    "age": 67,
    "body_site": "back",
    "size_mm": 7.0,
    "grew": True,
    "changed": True,
    "elevated": True,
    "bleeding": True,
    "duration_days": 60,
}
EMERGENCY = {"jurisdiction": "US-CA", "age": 40, "fever": True, "spreading_rapidly": True}


def stored(sessions, case_id: str) -> str | None:
    with transaction(sessions) as session:
        return session.get(Case, case_id).care_setting


def test_a_plain_case_is_remote(client, org, sessions):
    case = submit(client, org)
    triage = case["triage"]
    assert triage["care_setting"] == "remote"
    assert triage["care_setting_reasons"] == [NO_IN_PERSON_SIGNS_REASON]
    assert IN_PERSON_ADVICE not in triage["patient_advice"]
    assert stored(sessions, case["id"]) == "remote"


def test_a_changing_lesion_of_a_67_year_old_is_likely_seen_in_person(client, org, sessions):
    case = submit(client, org, questionnaire=CHANGING_LESION_67)
    triage = case["triage"]
    assert triage["tier"] == "URGENT"
    assert triage["care_setting"] == "in_person_likely"
    fired = ("changing_lesion_age_50_plus", "large_changing_lesion")
    assert triage["care_setting_reasons"] == [CARE_RULES_BY_ID[i].reason for i in fired]
    assert set(triage["care_setting_reasons"]) <= set(triage["reasons"])
    assert triage["patient_advice"][-1] == IN_PERSON_ADVICE
    assert stored(sessions, case["id"]) == "in_person_likely"
    # the dermatologist reads the same
    r = client.get(f"/v1/cases/{case['id']}", headers=org.headers("dermatologist"))
    assert r.status_code == 200, r.text
    assert r.json()["triage"]["care_setting"] == "in_person_likely"
    assert r.json()["triage"]["care_setting_reasons"] == triage["care_setting_reasons"]
    # and the audit trail
    with transaction(sessions) as session:
        created = session.query(AuditEvent).filter_by(resource_id=case["id"], action="case.create").one()
        assert created.detail["care_setting"] == "in_person_likely"


def test_the_patient_reads_it_in_their_language(client, org):
    case = submit(client, org, questionnaire={**CHANGING_LESION_67, "language": "pt-BR"})
    advice = case["triage"]["patient_advice"]
    assert advice == [message("advice.urgent", "pt-BR"), message("advice.in_person_likely", "pt-BR")]
    assert "pessoalmente" in advice[-1]


def test_an_emergency_is_an_emergency_and_its_event_says_so(client, org, sessions):
    case = submit(client, org, questionnaire=EMERGENCY)
    triage = case["triage"]
    assert case["status"] == "emergency"
    assert triage["care_setting"] == "emergency"
    assert triage["care_setting_reasons"] == [CARE_RULES_BY_ID["emergency_tier"].reason]
    assert IN_PERSON_ADVICE not in triage["patient_advice"]
    assert stored(sessions, case["id"]) == "emergency"
    event = last_event(sessions, case["id"])
    assert event.event_type == types.CASE_EMERGENCY
    assert event.payload["care_setting"] == "emergency"


def test_a_retake_triages_it_again(client, org, sessions):
    first = submit(client, org, questionnaire=QUESTIONNAIRE, photos=[("dark.jpg", unreadable_jpeg())])
    assert first["status"] == "awaiting_retake"
    assert first["triage"]["care_setting"] == "remote"  # set while waiting for a readable photo too
    with transaction(sessions) as session:  # as if triaged before care_setting existed
        session.execute(update(Case).where(Case.id == first["id"]).values(care_setting=None))
    assert (
        client.get(f"/v1/cases/{first['id']}", headers=org.headers()).json()["triage"]["care_setting"] is None
    )
    retaken = send_photo(client, org, first["id"], good_jpeg(seed=5))
    assert retaken["status"] == "queued"
    assert retaken["triage"]["care_setting"] == "remote"
    assert retaken["triage"]["care_setting_reasons"] == [NO_IN_PERSON_SIGNS_REASON]
    assert retaken["triage"]["reasons"].count(NO_IN_PERSON_SIGNS_REASON) == 1  # replaced, not appended
    assert stored(sessions, first["id"]) == "remote"


def test_a_queued_older_patient_without_a_readable_photo_keeps_in_person_through_the_retake(
    client, org, sessions
):
    first = submit(client, org, questionnaire=CHANGING_LESION_67, photos=[("x.jpg", unreadable_jpeg())])
    assert first["triage"]["retake_required"] and first["triage"]["care_setting"] == "in_person_likely"
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == first["id"]).values(care_setting="remote"))
    retaken = send_photo(client, org, first["id"], good_jpeg(seed=6))
    assert retaken["triage"]["care_setting"] == "in_person_likely"
    assert stored(sessions, first["id"]) == "in_person_likely"


def test_follow_up_photos_triage_it_again(client, org, sessions):
    case_id = diagnosed(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/follow-ups", json=follow_up_body(), headers=org.headers("dermatologist")
    )
    assert r.status_code == 201, r.text
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == case_id).values(care_setting=None))
    body = send_photo(client, org, case_id, good_jpeg(seed=8))
    assert body["status"] == "queued"
    assert body["triage"]["care_setting"] == "remote"
    assert stored(sessions, case_id) == "remote"
