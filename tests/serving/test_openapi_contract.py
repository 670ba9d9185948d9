"""What the OpenAPI document promises about errors, checked on the document and on real answers: every
4xx in the one error shape (``ErrorBody``), the key's and the rate limit's answers on every operation
behind a key, a body's refusals on every operation that reads one, the required ``Idempotency-Key``,
and a 405's ``Allow`` naming every method of its path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from conftest import make_org, service_settings
from factories import good_jpeg
from fastapi.testclient import TestClient
from test_openapi import current_document

from serving.app import create_app
from serving.db import make_engine, make_session_factory

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def document() -> dict:
    return current_document()


def operations(document: dict) -> Iterator[tuple[str, dict]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


@pytest.fixture
def org(sqlite_url):
    engine = make_engine(sqlite_url)
    yield make_org(make_session_factory(engine))
    engine.dispose()


def client_for(sqlite_url, tmp_path, **settings) -> TestClient:
    return TestClient(create_app(service_settings(sqlite_url, tmp_path / "photos", **settings)))


def test_every_refusal_is_documented_in_the_error_shape(document: dict) -> None:
    assert "ErrorBody" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's shape, never sent
    for name, operation in operations(document):
        for status, answer in operation["responses"].items():
            if status.startswith("4"):
                assert answer["content"]["application/json"]["schema"] == ERROR_BODY, (name, status)
                assert answer["description"], (name, status)


def test_operations_behind_a_key_document_its_refusals(document: dict) -> None:
    secured = [(name, op) for name, op in operations(document) if op.get("security") == [{"apiKey": []}]]
    assert len(secured) == len([n for n, _ in operations(document) if n.split()[1].startswith("/v1/")])
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["apiKey"]["description"],
    }
    for name, operation in secured:
        answers = operation["responses"]
        assert answers["401"]["headers"]["WWW-Authenticate"]["required"], name
        assert answers["429"]["headers"]["Retry-After"]["required"], name


def test_operations_with_a_body_document_its_refusals(document: dict) -> None:
    with_body = [(name, op) for name, op in operations(document) if "requestBody" in op]
    assert len(with_body) >= 15
    for name, operation in with_body:
        assert {"408", "413", "422"} <= set(operation["responses"]), name


def test_idempotency_key_is_a_required_header_of_a_submission(document: dict) -> None:
    (key,) = [
        p for p in document["paths"]["/v1/cases"]["post"]["parameters"] if p["name"] == "Idempotency-Key"
    ]
    assert key["in"] == "header" and key["required"] is True
    assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"}
    renewal = document["paths"]["/v1/prescriptions/{prescription_id}/renewal-requests"]["post"]
    (optional,) = [p for p in renewal["parameters"] if p["name"] == "Idempotency-Key"]
    assert optional["required"] is False


def test_a_missing_or_malformed_idempotency_key_is_a_documented_400(
    document, sqlite_url, tmp_path, org
) -> None:
    schema = schemathesis.openapi.from_dict(document)
    form = {
        "data": {"questionnaire": '{"jurisdiction": "US-CA"}'},
        "files": [("photos", ("a.jpg", good_jpeg()))],
    }
    with client_for(sqlite_url, tmp_path) as client:
        missing = client.post("/v1/cases", headers=org.headers(), **form)
        too_long = client.post("/v1/cases", headers=org.headers(**{"Idempotency-Key": "k" * 256}), **form)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "idempotency_key_required"
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "invalid_idempotency_key"
    for answer in (missing, too_long):
        assert answer.json()["error"]["field"] == "Idempotency-Key" and answer.json()["error"]["fix"]
        answer.request.read()  # a multipart request is a stream: schemathesis reads what was sent
        schema["/v1/cases"]["POST"].validate_response(answer)


def test_a_405_names_every_method_of_its_path(sqlite_url, tmp_path, org) -> None:
    with client_for(sqlite_url, tmp_path) as client:
        users = client.request("OPTIONS", "/v1/users", headers=org.headers("admin"))
        webhook = client.patch("/v1/webhook", headers=org.headers("admin"))
        thread = client.put("/v1/cases/some-case/messages", headers=org.headers("admin"))
        nowhere = client.get("/v2/cases", headers=org.headers("admin"))
    assert (users.status_code, users.headers["Allow"]) == (405, "GET, POST")
    assert (webhook.status_code, webhook.headers["Allow"]) == (405, "GET, PUT, DELETE")
    assert (thread.status_code, thread.headers["Allow"]) == (405, "GET, POST")
    error = thread.json()["error"]
    assert error["code"] == "method_not_allowed" and error["fix"] == "Use one of: GET, POST."
    assert nowhere.status_code == 404 and nowhere.json()["error"]["fix"]


def test_a_rate_limited_answer_is_the_documented_429(document, sqlite_url, tmp_path, org) -> None:
    schema = schemathesis.openapi.from_dict(document)
    slow = {"rate_limit_admin_per_minute": 1, "rate_limit_admin_burst": 1}
    with client_for(sqlite_url, tmp_path, **slow) as client:
        first = client.get("/v1/me", headers=org.headers("admin"))
        limited = client.get("/v1/me", headers=org.headers("admin"))
    assert first.status_code == 200 and limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    schema["/v1/me"]["GET"].validate_response(limited)


def test_a_body_that_is_not_json_text_is_a_documented_422(document, sqlite_url, tmp_path, org) -> None:
    schema = schemathesis.openapi.from_dict(document)
    with client_for(sqlite_url, tmp_path) as client:
        answer = client.put(
            "/v1/webhook",
            content=b'{"url": "\x80"}',  # not UTF-8
            headers=org.headers("admin", **{"Content-Type": "application/json"}),
        )
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "unreadable_body"
    schema["/v1/webhook"]["PUT"].validate_response(answer)
