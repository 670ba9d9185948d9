"""What happens when a patient's follow-up photos come back: the SLA clock restarts, unusable photos
are answered with a retake event at once, and due follow-ups are reminded by the delivery pass."""

from __future__ import annotations

from datetime import timedelta

from consults_support import diagnosed, event_types, follow_up_body, send_photo
from factories import good_jpeg, unreadable_jpeg
from sqlalchemy import update

from serving.cases.models import Case
from serving.consults.models import FollowUp
from serving.db import transaction, utcnow
from serving.events import types
from serving.worker import deliver_due


def _scheduled(client, org) -> tuple[str, str]:
    case_id = diagnosed(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/follow-ups", json=follow_up_body(), headers=org.headers("dermatologist")
    )
    assert r.status_code == 201, r.text
    return case_id, r.json()["follow_up"]["id"]


def test_follow_up_back_in_the_queue_is_due_from_its_return_not_its_first_submission(client, org, sessions):
    case_id, _ = _scheduled(client, org)
    weeks_ago = utcnow() - timedelta(days=30)
    with transaction(sessions) as session:  # the case was first queued a month ago
        session.execute(update(Case).where(Case.id == case_id).values(queued_at=weeks_ago))
    body = send_photo(client, org, case_id, good_jpeg(seed=7))
    assert body["status"] == "queued"
    with transaction(sessions) as session:
        case = session.get(Case, case_id)
        assert case.review_due_at > utcnow()  # not overdue on arrival
        assert case.review_due_at - case.last_queued_at <= timedelta(hours=48)


def test_unusable_follow_up_photos_ask_the_patient_again_at_once(client, org, sessions):
    case_id, _ = _scheduled(client, org)
    before = event_types(sessions, case_id).count(types.CASE_RETAKE_REQUIRED)
    body = send_photo(client, org, case_id, unreadable_jpeg(seed=3))
    assert body["status"] == "follow_up_scheduled"  # still waiting for usable photos
    assert event_types(sessions, case_id).count(types.CASE_RETAKE_REQUIRED) == before + 1


def test_delivery_pass_reminds_due_follow_ups_once(client, org, sessions):
    case_id, follow_up_id = _scheduled(client, org)
    with transaction(sessions) as session:
        session.execute(
            update(FollowUp).where(FollowUp.id == follow_up_id).values(due_at=utcnow() - timedelta(hours=1))
        )
    deliver_due(sessions, http_post=lambda *a: 200)
    deliver_due(sessions, http_post=lambda *a: 200)
    assert event_types(sessions, case_id).count(types.FOLLOW_UP_DUE) == 1
