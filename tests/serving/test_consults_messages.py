"""The thread between dermatologist and patient: questions that wait for the patient, replies that
return the case to the queue, image attachments sanitized like case photos, and refusals."""

from __future__ import annotations

import base64
import io

import pytest
from conftest import make_dermatologist
from consults_support import bearer, diagnosed, event_types, follow_up_body, in_review, last_event, rows
from factories import good_jpeg, jpeg_with_gps
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from serving.app import create_app
from serving.consults.models import Message
from serving.db import transaction
from serving.events import types
from serving.photos.local import LocalPhotoStore
from serving.photos.sweep import sweep_orphans


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def stored_files(settings) -> list:
    root = settings.photo_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_question_waits_for_the_patient_and_the_reply_requeues(client, org, sessions):
    case_id = in_review(client, org)
    question = {"body": "Does it itch at night?", "question": True}
    r = client.post(f"/v1/cases/{case_id}/messages", json=question, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    assert r.json()["case"]["status"] == "awaiting_patient"
    assert r.json()["message"]["sender"] == "dermatologist" and r.json()["message"]["kind"] == "question"
    event = last_event(sessions, case_id)
    assert event.event_type == types.CASE_QUESTION_ASKED and event.payload["body"] == question["body"]

    reply = {
        "body": "Yes, mostly at night.",
        "attachments": [{"filename": "now.jpg", "content_base64": b64(good_jpeg(seed=5))}],
    }
    r = client.post(f"/v1/cases/{case_id}/messages", json=reply, headers=org.headers("intake"))
    assert r.status_code == 201, r.text
    assert r.json()["case"]["status"] == "queued"
    assert r.json()["message"]["sender"] == "patient"
    assert (
        event_types(sessions, case_id)[-1] == types.CASE_QUESTION_ASKED
    )  # the patient's own words: no event

    thread = client.get(f"/v1/cases/{case_id}/messages", headers=org.headers("dermatologist")).json()
    assert [(m["sender"], m["kind"]) for m in thread] == [
        ("dermatologist", "question"),
        ("patient", "message"),
    ]
    assert len(thread[1]["attachments"]) == 1


def test_attachments_are_stripped_of_metadata(client, org, sessions):
    case_id = in_review(client, org)
    body = {
        "body": "This is what it should look like.",
        "attachments": [{"content_base64": b64(jpeg_with_gps())}],
    }
    r = client.post(f"/v1/cases/{case_id}/messages", json=body, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    (attachment,) = r.json()["message"]["attachments"]
    assert r.json()["case"]["status"] == "in_review"
    event = last_event(sessions, case_id)
    assert event.event_type == types.MESSAGE_SENT
    assert event.payload["attachments"][0]["image_url"] == attachment["image_url"]

    image = client.get(attachment["image_url"], headers=org.headers("intake"))
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert b"SecretPhone" not in image.content and b"PhoneMaker" not in image.content
    assert not Image.open(io.BytesIO(image.content)).getexif()
    thumb = client.get(attachment["thumbnail_url"], headers=org.headers("intake"))
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) <= 320


@pytest.mark.parametrize(
    ("attachment", "status", "field"),
    [
        ({"content_base64": "not base64!"}, 422, "attachments[0].content_base64"),
        ({"content_base64": b64(b"%PDF-1.4 hello")}, 415, "attachments[0]"),
        ({"content_base64": b64(good_jpeg()[:5000])}, 422, "attachments[0]"),
        ({"content_base64": ""}, 422, "attachments[0]"),
    ],
)
def test_bad_attachment_writes_nothing(client, org, sessions, settings, attachment, status, field):
    case_id = in_review(client, org)
    files_before, before = stored_files(settings), rows(sessions, case_id)
    body = {"body": "see photo", "attachments": [{"content_base64": b64(good_jpeg(seed=9))}, attachment]}
    body["attachments"] = [attachment]
    r = client.post(f"/v1/cases/{case_id}/messages", json=body, headers=org.headers("dermatologist"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field
    assert rows(sessions, case_id) == before
    assert stored_files(settings) == files_before


def test_failed_transaction_removes_the_files_it_wrote(client, org, other_org, sessions, settings):
    """The case check runs again inside the transaction; files written for a refused message go."""
    case_id = in_review(client, org)
    files_before = stored_files(settings)
    body = {"body": "x", "attachments": [{"content_base64": b64(good_jpeg(seed=77))}]}
    r = client.post(f"/v1/cases/{case_id}/messages", json=body, headers=other_org.headers("dermatologist"))
    assert r.status_code == 404
    assert stored_files(settings) == files_before


def test_attachment_over_the_size_limit(client, settings, sessions, org):
    case_id = in_review(client, org)
    small = settings.model_copy(update={"max_photo_bytes": 20_000})
    with TestClient(create_app(small)) as small_client:
        body = {"body": "big", "attachments": [{"content_base64": b64(good_jpeg())}]}
        r = small_client.post(
            f"/v1/cases/{case_id}/messages", json=body, headers=org.headers("dermatologist")
        )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["field"].startswith("attachments[0]")
    assert rows(sessions, case_id)["messages"] == 0


def test_who_may_write_when(client, org, other_org, sessions):
    case_id = in_review(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/messages", json={"body": "?", "question": True}, headers=org.headers()
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "question"
    other = make_dermatologist(sessions, org.org_id)
    for body in ({"body": "hello"}, {"body": "?", "question": True}):
        r = client.post(f"/v1/cases/{case_id}/messages", json=body, headers=bearer(other))
        assert r.status_code == 409 and r.json()["error"]["code"] == "lease_required"
    r = client.post(f"/v1/cases/{case_id}/messages", json={"body": "hi"}, headers=other_org.headers("intake"))
    assert r.status_code == 404
    assert client.get(f"/v1/cases/{case_id}/messages", headers=other_org.headers()).status_code == 404
    r = client.post(f"/v1/cases/{case_id}/messages", json={"body": ""}, headers=org.headers("dermatologist"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "body"
    assert rows(sessions, case_id)["messages"] == 0

    # a case waiting for its follow-up is held by no one: any licensed dermatologist may write to it
    case_id = diagnosed(client, org)
    client.post(
        f"/v1/cases/{case_id}/follow-ups", json=follow_up_body(), headers=org.headers("dermatologist")
    )
    r = client.post(f"/v1/cases/{case_id}/messages", json={"body": "How is it going?"}, headers=bearer(other))
    assert r.status_code == 201, r.text
    assert r.json()["case"]["status"] == "follow_up_scheduled"
    r = client.post(
        f"/v1/cases/{case_id}/messages",
        json={"body": "?", "question": True},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 409  # a question needs the case in review
    client.post(f"/v1/cases/{case_id}/close", json={"reason": "done"}, headers=org.headers("admin"))
    r = client.post(f"/v1/cases/{case_id}/messages", json={"body": "thanks"}, headers=org.headers())
    assert r.status_code == 409 and "'closed'" in r.json()["error"]["message"]
    with transaction(sessions) as session:
        assert (
            session.scalar(select(func.count()).select_from(Message).where(Message.case_id == case_id)) == 1
        )


def test_the_orphan_sweep_keeps_attachments(client, org, sessions, settings):
    case_id = in_review(client, org)
    body = {"body": "compare with this", "attachments": [{"content_base64": b64(good_jpeg(seed=31))}]}
    r = client.post(f"/v1/cases/{case_id}/messages", json=body, headers=org.headers("dermatologist"))
    (attachment,) = r.json()["message"]["attachments"]
    sweep_orphans(sessions, LocalPhotoStore(settings.photo_dir), grace_s=0)
    assert client.get(attachment["image_url"], headers=org.headers()).status_code == 200
    assert client.get(attachment["thumbnail_url"], headers=org.headers()).status_code == 200
