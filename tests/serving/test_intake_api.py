"""The intake API end to end through HTTP: submission, triage, idempotency, bad input, scoping, audit."""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime, timedelta

import numpy as np
import pytest
from factories import (
    blurred_jpeg,
    bomb_png,
    dark_jpeg,
    encode,
    good_jpeg,
    jpeg_with_gps,
    skin_photo,
    truncated_jpeg,
)
from PIL import Image
from sqlalchemy import func, select, text

from serving.audit import AuditEvent
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.db import transaction

QUESTIONNAIRE = {
    "jurisdiction": "US-CA",
    "age": 57,
    "sex": "female",
    "body_site": "back",
    "itch": False,
    "bleeding": None,
    "duration_days": 120,
    "fitzpatrick": 2,
}


def submit(client, org, photos, questionnaire=None, key=None, role="intake", submitted_by=None):
    files = [("photos", (name, data, "application/octet-stream")) for name, data in photos]
    form = {"questionnaire": json.dumps(questionnaire if questionnaire is not None else QUESTIONNAIRE)}
    if submitted_by is not None:
        form["submitted_by"] = json.dumps(submitted_by)
    headers = org.headers(role, **{"Idempotency-Key": key or str(uuid.uuid4())})
    return client.post("/v1/cases", data=form, files=files, headers=headers)


def counts(sessions, org_id):
    with transaction(sessions) as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m).where(m.organization_id == org_id))
            for m in (Case, Photo, IdempotencyRecord)
        )


def stored_files(settings):
    root = settings.photo_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_submission_returns_triage(client, org):
    r = submit(client, org, [("lesion.jpg", good_jpeg())])
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["Location"] == f"/v1/cases/{body['id']}"
    assert body["status"] == "queued"
    t = body["triage"]
    assert t["tier"] in {"EMERGENCY", "URGENT", "PRIORITY", "ROUTINE"}
    assert 0 <= t["urgency_score"] <= 1
    assert t["retake_required"] is False
    assert t["reasons"]
    assert set(t["model_versions"]) >= {"quality", "urgency_rules"}
    due = datetime.fromisoformat(t["review_due_at"])
    created = datetime.fromisoformat(body["created_at"])
    assert timedelta(hours=47) < due - created <= timedelta(hours=48, minutes=1)  # ROUTINE default
    (photo,) = t["photos"]
    assert photo["quality"]["verdict"] == "accept", photo
    assert set(photo["quality"]["checks"]) >= {"focus_blur", "underexposure", "resolution", "skin_present"}
    assert all(
        0 <= c["score"] <= 1 and isinstance(c["passed"], bool) for c in photo["quality"]["checks"].values()
    )
    assert body["photos"][0]["id"] == photo["id"]
    assert body["submitted_by"]["role"] == "patient"

    got = client.get(f"/v1/cases/{body['id']}", headers=org.headers())
    assert got.status_code == 200
    assert got.json() == body


def test_referral_by_clinician_goes_the_same_way(client, org):
    by = {"role": "clinician", "name": "Dr. Ada Okafor", "practice": "Maple Street Family Medicine"}
    r = submit(client, org, [("a.jpg", good_jpeg())], submitted_by=by)
    assert r.status_code == 201, r.text
    assert r.json()["submitted_by"]["practice"] == "Maple Street Family Medicine"
    r = submit(client, org, [("a.jpg", good_jpeg())], submitted_by={"role": "clinician", "name": "Dr. X"})
    assert r.status_code == 422
    assert r.json()["error"]["field"].startswith("submitted_by")


def test_red_flags_make_an_emergency_and_tell_the_patient(client, org):
    q = dict(QUESTIONNAIRE, fever=True, spreading_rapidly=True)
    body = submit(client, org, [("a.jpg", good_jpeg())], questionnaire=q).json()
    assert body["triage"]["tier"] == "EMERGENCY"
    assert body["status"] == "emergency"
    assert any("emergency" in advice.lower() for advice in body["triage"]["patient_advice"])


def test_bleeding_lesion_that_grew_is_urgent(client, org):
    q = dict(QUESTIONNAIRE, bleeding=True, grew=True)
    t = submit(client, org, [("a.jpg", good_jpeg())], questionnaire=q).json()["triage"]
    assert t["tier"] == "URGENT"
    assert t["urgency_score"] >= 0.7


def test_sequential_retries_make_one_case(client, org, sessions):
    photos = [("a.jpg", good_jpeg())]
    first = submit(client, org, photos, key="retry-1")
    second = submit(client, org, photos, key="retry-1")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert counts(sessions, org.org_id) == (1, 1, 1)


def test_same_key_for_a_different_submission_is_refused(client, org, sessions):
    assert submit(client, org, [("a.jpg", good_jpeg(1))], key="k").status_code == 201
    r = submit(client, org, [("a.jpg", good_jpeg(2))], key="k")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert counts(sessions, org.org_id) == (1, 1, 1)


def test_same_key_in_two_organizations_makes_two_cases(client, org, other_org):
    a = submit(client, org, [("a.jpg", good_jpeg())], key="shared")
    b = submit(client, other_org, [("a.jpg", good_jpeg())], key="shared")
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def test_idempotency_key_is_required(client, org):
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(QUESTIONNAIRE)},
        files=[("photos", ("a.jpg", good_jpeg(), "image/jpeg"))],
        headers=org.headers(),
    )
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "Idempotency-Key"


BAD_PHOTOS = {
    "not_an_image": (
        [("notes.txt", b"this is not an image at all, just text" * 10)],
        415,
        "unsupported_format",
    ),
    "gif": ([("a.gif", encode(skin_photo((64, 48)), "GIF"))], 415, "unsupported_format"),
    "truncated": ([("cut.jpg", truncated_jpeg())], 422, "corrupt_image"),
    "corrupt": (
        [("bad.jpg", good_jpeg()[:600] + bytes(range(256)) * 40 + good_jpeg()[-2000:])],
        422,
        "corrupt_image",
    ),
    "bomb": ([("bomb.png", bomb_png())], 413, "too_many_pixels"),
    "one_good_one_bad": ([("ok.jpg", good_jpeg()), ("cut.jpg", truncated_jpeg())], 422, "corrupt_image"),
    "no_photo": ([], 422, "no_photo"),
    "eleven_photos": ([(f"p{i}.jpg", good_jpeg(i)) for i in range(11)], 422, None),
}


@pytest.mark.parametrize("case", BAD_PHOTOS, ids=list(BAD_PHOTOS))
def test_bad_photos_are_refused_and_nothing_is_kept(client, org, sessions, settings, case):
    photos, status, code = BAD_PHOTOS[case]
    r = submit(client, org, photos)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"] and error["fix"]
    if code:
        assert error["code"] == code
    assert counts(sessions, org.org_id) == (0, 0, 0)
    assert stored_files(settings) == []


def test_photo_over_the_size_limit_is_refused(settings, org, sessions):
    from fastapi.testclient import TestClient

    from serving.app import create_app

    small = settings.model_copy(update={"max_photo_bytes": 20_000})
    with TestClient(create_app(small)) as client:
        r = submit(client, org, [("big.jpg", good_jpeg())])
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "photo_too_large"
    assert counts(sessions, org.org_id) == (0, 0, 0)
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    ("questionnaire", "field"),
    [
        (dict(QUESTIONNAIRE, favourite_colour="blue"), "questionnaire.favourite_colour"),
        (dict(QUESTIONNAIRE, age="fifty"), "questionnaire.age"),
        (dict(QUESTIONNAIRE, age=130), "questionnaire.age"),
        (dict(QUESTIONNAIRE, itch="yes"), "questionnaire.itch"),
        (dict(QUESTIONNAIRE, body_site="knee"), "questionnaire.body_site"),
        (dict(QUESTIONNAIRE, fitzpatrick=7), "questionnaire.fitzpatrick"),
        ({"age": 40}, "questionnaire.jurisdiction"),
    ],
)
def test_bad_questionnaire_names_the_field(client, org, sessions, settings, questionnaire, field):
    r = submit(client, org, [("a.jpg", good_jpeg())], questionnaire=questionnaire)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field
    assert counts(sessions, org.org_id) == (0, 0, 0)
    assert stored_files(settings) == []


def test_questionnaire_that_is_not_json(client, org):
    r = client.post(
        "/v1/cases",
        data={"questionnaire": "{age: 4"},
        files=[("photos", ("a.jpg", good_jpeg(), "image/jpeg"))],
        headers=org.headers(**{"Idempotency-Key": "x"}),
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_json"


def test_unknown_answers_may_be_null(client, org):
    q = {"jurisdiction": "US-NY", "fever": None, "bleeding": None, "sex": None}
    assert submit(client, org, [("a.jpg", good_jpeg())], questionnaire=q).status_code == 201


def test_no_metadata_survives_in_stored_photos(client, org, settings):
    original = jpeg_with_gps()
    assert b"SecretPhone" in original
    body = submit(client, org, [("gps.jpg", original)]).json()
    photo = body["photos"][0]
    served = client.get(photo["image_url"], headers=org.headers())
    assert served.status_code == 200
    for data in [served.content] + [p.read_bytes() for p in stored_files(settings)]:
        with Image.open(io.BytesIO(data)) as im:
            assert not im.getexif()
            assert "exif" not in im.info and "xmp" not in im.info
        assert b"SecretPhone" not in data and b"PhoneMaker" not in data and b"Exif" not in data
    thumb = client.get(photo["thumbnail_url"], headers=org.headers())
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320


def test_heic_from_an_iphone_is_accepted(client, org):
    pytest.importorskip("pillow_heif")
    r = submit(client, org, [("IMG_0001.HEIC", encode(skin_photo(), "HEIF", quality=90))])
    assert r.status_code == 201, r.text
    assert r.json()["photos"][0]["media_type"] == "image/jpeg"


def test_png_and_webp_are_accepted(client, org):
    r = submit(
        client, org, [("a.png", encode(skin_photo(), "PNG")), ("b.webp", encode(skin_photo(), "WEBP"))]
    )
    assert r.status_code == 201, r.text
    assert [p["media_type"] for p in r.json()["photos"]] == ["image/png", "image/jpeg"]


def test_another_organization_sees_nothing(client, org, other_org, sessions):
    body = submit(client, org, [("a.jpg", good_jpeg())]).json()
    case_id, photo = body["id"], body["photos"][0]
    for url in (f"/v1/cases/{case_id}", photo["image_url"], photo["thumbnail_url"]):
        r = client.get(url, headers=other_org.headers())
        assert r.status_code == 404, url
        assert "US-CA" not in r.text and "quality" not in r.text
    r = client.post(
        f"/v1/cases/{case_id}/photos",
        files=[("photos", ("b.jpg", good_jpeg(3), "image/jpeg"))],
        headers=other_org.headers(),
    )
    assert r.status_code == 404
    assert counts(sessions, other_org.org_id) == (0, 0, 0)
    assert counts(sessions, org.org_id) == (1, 1, 1)
    with transaction(sessions) as s:
        denied = s.scalars(select(AuditEvent).where(AuditEvent.organization_id == other_org.org_id)).all()
    assert {e.outcome for e in denied} == {"not_found"}


def test_every_read_and_write_is_audited(client, org, sessions):
    body = submit(client, org, [("a.jpg", good_jpeg())]).json()
    client.get(f"/v1/cases/{body['id']}", headers=org.headers("dermatologist"))
    client.get(body["photos"][0]["image_url"], headers=org.headers("dermatologist"))
    with transaction(sessions) as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.organization_id == org.org_id).order_by(AuditEvent.id)
        ).all()
    actions = [(e.action, e.actor_role) for e in events]
    assert ("case.create", "intake") in actions
    assert ("case.read", "dermatologist") in actions
    assert ("photo.read", "dermatologist") in actions
    assert all(e.actor_key_id and e.client_address and e.at and e.request_id for e in events)


def test_audit_log_is_append_only(client, org, sessions):
    submit(client, org, [("a.jpg", good_jpeg())])
    for statement in ("UPDATE audit_events SET outcome = 'tampered'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), transaction(sessions) as s:
            s.execute(text(statement))


def test_keys_roles_and_revocation(client, org, sessions):
    assert client.get("/v1/cases/x").status_code == 401
    assert client.get("/v1/cases/x", headers={"Authorization": "Bearer nope"}).status_code == 401
    r = submit(client, org, [("a.jpg", good_jpeg())], role="dermatologist")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    from serving.orgs.service import get_org_by_slug, list_keys, revoke_key

    with transaction(sessions) as s:
        o = get_org_by_slug(s, org.slug)
        intake_key = next(k for k in list_keys(s, org=o) if k.role == "intake")
        revoke_key(s, org=o, prefix=intake_key.prefix)
    assert submit(client, org, [("a.jpg", good_jpeg())]).status_code == 401


def black_jpeg() -> bytes:
    """A photo that cannot be read at all (nearly black): it holds a ROUTINE case back."""
    return encode(np.zeros((600, 800, 3), np.uint8))


def test_retake_then_good_photo_enters_the_queue(client, org, sessions):
    body = submit(client, org, [("black.jpg", black_jpeg())]).json()
    assert body["status"] == "awaiting_retake"
    t = body["triage"]
    assert t["retake_required"] is True
    assert t["review_due_at"] is None
    assert t["photos"][0]["quality"]["verdict"] == "retake"
    assert t["photos"][0]["quality"]["instructions"]

    r = client.post(
        f"/v1/cases/{body['id']}/photos",
        files=[("photos", ("again.jpg", good_jpeg(5), "image/jpeg"))],
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["status"] == "queued"
    assert after["triage"]["retake_required"] is False
    assert after["triage"]["review_due_at"] is not None
    assert [p["batch"] for p in after["photos"]] == [1, 2]
    assert [p["quality"]["verdict"] for p in after["triage"]["photos"]] == ["retake", "accept"]
    with transaction(sessions) as s:
        moves = s.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_id == body["id"], AuditEvent.action == "case.transition"
            )
        ).all()
    assert [(m.detail["from"], m.detail["to"]) for m in moves] == [("awaiting_retake", "queued")]


def test_photos_cannot_be_added_to_a_closed_case(client, org, sessions):
    case_id = submit(client, org, [("a.jpg", good_jpeg())]).json()["id"]
    with transaction(sessions) as s:
        s.get(Case, case_id).status = "closed"
    r = client.post(
        f"/v1/cases/{case_id}/photos",
        files=[("photos", ("b.jpg", good_jpeg(2), "image/jpeg"))],
        headers=org.headers(),
    )
    assert r.status_code == 409
    assert "closed" in r.json()["error"]["message"]


def test_review_sla_is_set_per_organization(client, org, sessions):
    from serving.orgs.service import get_org_by_slug, set_sla

    with transaction(sessions) as s:
        set_sla(s, org=get_org_by_slug(s, org.slug), hours={"URGENT": 2, "PRIORITY": 12, "ROUTINE": 24})
    q = dict(QUESTIONNAIRE, bleeding=True, grew=True)
    t = submit(client, org, [("a.jpg", good_jpeg())], questionnaire=q).json()["triage"]
    due = datetime.fromisoformat(t["review_due_at"]) - datetime.fromisoformat(t["triaged_at"])
    assert timedelta(hours=1, minutes=59) < due <= timedelta(hours=2)


def test_orphan_sweep_keeps_referenced_files(client, org, sessions, settings):
    from serving.photos.local import LocalPhotoStore
    from serving.photos.sweep import sweep_orphans

    submit(client, org, [("a.jpg", good_jpeg())])
    store = LocalPhotoStore(settings.photo_dir)
    kept = sorted(store.iter_keys())
    orphan = jpeg_with_gps(9)
    import hashlib

    orphan_key, _ = store.put(orphan, sha256=hashlib.sha256(orphan).hexdigest(), suffix="jpg")
    assert sweep_orphans(sessions, store, grace_s=3600) == []  # too young: may be a request in flight
    assert sweep_orphans(sessions, store, grace_s=0) == [orphan_key]
    assert sorted(store.iter_keys()) == kept


def test_oversized_request_is_refused_before_reading_it(client, org):
    r = client.post("/v1/cases", content=b"x", headers=org.headers(**{"Content-Length": str(10**10)}))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"


# --- can the photo be read at all / could it be better (quality gate v2) ---


def test_a_photo_that_could_be_better_is_read_and_the_case_is_queued(client, org):
    body = submit(client, org, [("soft.jpg", blurred_jpeg())]).json()
    assert body["status"] == "queued"  # never held back: a dermatologist can read it
    t = body["triage"]
    quality = t["photos"][0]["quality"]
    assert quality["verdict"] == "retake" and quality["readable"] is True
    assert quality["modality"] == "clinical"
    assert quality["defects"][0] == "defocus_blur" and len(quality["instructions"]) <= 2
    assert t["retake_required"] is False and t["better_photo_requested"] is True
    assert t["review_due_at"] is not None
    assert any(r.startswith("Better photo requested") for r in t["reasons"])
    events = client.get("/v1/events", headers=org.headers()).json()["events"]
    kinds = [e["type"] for e in events if e["case_id"] == body["id"]]
    assert kinds == ["case.retake_suggested"]  # the patient is asked, the case goes on


def test_a_dark_photo_of_skin_is_named_dark_not_not_skin(client, org):
    quality = submit(client, org, [("dark.jpg", dark_jpeg())]).json()["triage"]["photos"][0]["quality"]
    assert quality["defects"][0] == "underexposure" and "not_skin" not in quality["defects"]


def test_an_unreadable_photo_with_red_flags_is_queued_all_the_same(client, org):
    answers = {**QUESTIONNAIRE, "bleeding": True, "grew": True}  # URGENT by the red-flag rules
    body = submit(client, org, [("black.jpg", black_jpeg())], questionnaire=answers).json()
    assert body["status"] == "queued" and body["triage"]["tier"] == "URGENT"
    assert body["triage"]["retake_required"] is True
    assert body["triage"]["photos"][0]["quality"]["readable"] is False
    events = client.get("/v1/events", headers=org.headers()).json()["events"]
    assert [e["type"] for e in events if e["case_id"] == body["id"]] == ["case.retake_required"]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("size", [(1, 1), (7, 7), (2000, 5), (3, 900)])
def test_any_decodable_image_of_any_size_gets_a_verdict(client, org, fmt, size):
    w, h = size
    r = submit(client, org, [("odd", encode(skin_photo((max(w, 8), max(h, 8)))[:h, :w], fmt))])
    assert r.status_code == 201, r.text
    quality = r.json()["triage"]["photos"][0]["quality"]
    assert quality["verdict"] == "retake" and quality["readable"] is False
    assert quality["defects"][0] == "low_resolution"


@pytest.mark.parametrize(("language", "word"), [("es", "pantalla"), ("pt-BR", "tela"), ("en", "screen")])
def test_instructions_and_advice_come_in_the_patients_language(client, org, language, word):
    answers = {**QUESTIONNAIRE, "language": language, "bleeding": True, "grew": True}
    t = submit(client, org, [("soft.jpg", blurred_jpeg())], questionnaire=answers).json()["triage"]
    assert word in t["photos"][0]["quality"]["instructions"][0]
    assert t["patient_advice"] and (language == "en" or "dermat" in t["patient_advice"][0])


def test_photos_declared_dermoscopic_are_accepted_and_the_case_is_at_least_priority(client, org):
    answers = {**QUESTIONNAIRE, "capture_device": "dermatoscope"}
    t = submit(client, org, [("derm.jpg", good_jpeg())], questionnaire=answers).json()["triage"]
    assert t["photos"][0]["quality"]["modality"] == "dermoscopic"
    assert t["photos"][0]["quality"]["verdict"] == "accept"
    assert t["tier"] in ("PRIORITY", "URGENT", "EMERGENCY")
    assert any("Dermoscopic photo" in r for r in t["reasons"])
