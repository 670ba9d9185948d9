"""Hostile multipart bodies through the HTTP API: each answers the one error shape (a code, a message, a
fix, and the part in ``field`` where one is at fault), never Starlette's bare 400, and leaves nothing
written: no case, no photo row, no file."""

from __future__ import annotations

import json
import uuid

import pytest
from factories import good_jpeg
from test_intake_api import QUESTIONNAIRE, counts, stored_files

BOUNDARY = "hostileboundary"


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


QUESTIONNAIRE_PART = part("questionnaire", json.dumps(QUESTIONNAIRE).encode())
PHOTO = good_jpeg()
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

#: name: (content type, body, status, code, field)
HOSTILE = {
    "no_boundary": ("multipart/form-data", form(QUESTIONNAIRE_PART), 422, "invalid_form", None),
    "wrong_boundary": (
        "multipart/form-data; boundary=another",
        form(QUESTIONNAIRE_PART, part("photos", PHOTO, "a.jpg")),
        422,
        "invalid_form",
        None,
    ),
    "not_multipart_data": (MULTIPART, b"this is not a form" * 10, 422, "invalid_form", None),
    "questionnaire_of_a_megabyte": (
        MULTIPART,
        form(part("questionnaire", b'{"jurisdiction": "US-CA", "pad": "' + b"x" * (1024 * 1024) + b'"}')),
        413,
        "form_part_too_large",
        "questionnaire",
    ),
    "more_than_twenty_fields": (
        MULTIPART,
        form(QUESTIONNAIRE_PART, *(part(f"f{i}", b"1") for i in range(21))),
        422,
        "invalid_form",
        None,
    ),
    "eleven_files": (
        MULTIPART,
        form(QUESTIONNAIRE_PART, *(part("photos", PHOTO, f"p{i}.jpg") for i in range(11))),
        422,
        "too_many_photos",
        "photos",
    ),
    "a_10000_character_file_name": (
        MULTIPART,
        form(
            QUESTIONNAIRE_PART, part("photos", PHOTO, "a.jpg"), part("photos", PHOTO, "x" * 10_000 + ".jpg")
        ),
        422,
        "invalid_form",
        "photos[1]",
    ),
    "json_body": ("application/json", json.dumps({"questionnaire": QUESTIONNAIRE}).encode(), 415, None, None),
    "no_content_type": (None, b"questionnaire=1", 415, "unsupported_media_type", None),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_form_answers_the_error_shape_and_keeps_nothing(client, org, sessions, settings, case):
    content_type, body, status, code, field = HOSTILE[case]
    headers = org.headers(**{"Idempotency-Key": str(uuid.uuid4())})
    if content_type is not None:
        headers["Content-Type"] = content_type
    r = client.post("/v1/cases", content=body, headers=headers)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == (code or "unsupported_media_type")
    assert error["message"] and error["fix"]
    assert error.get("field") == field
    assert counts(sessions, org.org_id) == (0, 0, 0)
    assert stored_files(settings) == []


def test_more_photos_for_a_case_answer_the_same_shape(client, org):
    r = client.post(
        f"/v1/cases/{uuid.uuid4()}/photos",
        content=form(part("photos", PHOTO, "y" * 10_000)),
        headers=org.headers(**{"Content-Type": MULTIPART}),
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "photos[0]"


def test_a_form_without_files_is_read_and_answered_for_what_it_lacks(client, org):
    """What HTTP libraries send when no file is attached (urlencoded): the answer names the photo."""
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(QUESTIONNAIRE)},
        headers=org.headers(**{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "no_photo"


def test_a_long_file_name_under_the_header_limit_is_accepted_and_bounded_in_messages(client, org):
    name = "n" * 3000 + ".jpg"
    files = [("photos", (name, PHOTO, "image/jpeg"))]
    headers = org.headers(**{"Idempotency-Key": str(uuid.uuid4())})
    r = client.post(
        "/v1/cases", data={"questionnaire": json.dumps(QUESTIONNAIRE)}, files=files, headers=headers
    )
    assert r.status_code == 201, r.text
    assert name not in r.text
