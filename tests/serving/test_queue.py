"""The queue through HTTP, on SQLite and PostgreSQL: who sees what, in which order, claim,
lease renewal, release, expiry, admin assignment, illegal moves, audit."""

from __future__ import annotations

import random
from datetime import timedelta

from conftest import make_dermatologist
from queue_cases import case_row, insert_cases, queue_cases
from sqlalchemy import select, update

from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.db import transaction, utcnow
from serving.queue.priority import in_queue_order


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ids(page: dict, part: str = "items") -> list[str]:
    return [item["case_id"] for item in page[part]]


def _case(sessions, case_id: str) -> Case:
    with transaction(sessions) as s:
        return s.get(Case, case_id)


def _actions(sessions, case_id: str) -> list[tuple[str, str | None, dict | None]]:
    with transaction(sessions) as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.resource_id == case_id).order_by(AuditEvent.id))
        return [(e.action, e.actor_user_id, e.detail) for e in rows]


def _expire(sessions, case_id: str) -> None:
    with transaction(sessions) as s:
        s.execute(
            update(Case).where(Case.id == case_id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def _user_id(client, key: str) -> str:
    return client.get("/v1/me", headers=_bearer(key)).json()["user"]["id"]


def test_queue_holds_the_organization_and_licence_filters(client, sessions, org, other_org):
    ca = queue_cases(sessions, org.org_id, 2, jurisdiction="US-CA")
    fl = queue_cases(sessions, org.org_id, 2, jurisdiction="US-FL")  # no one is licensed there
    ny = queue_cases(sessions, org.org_id, 1, jurisdiction="US-NY")
    theirs = queue_cases(sessions, other_org.org_id, 3, jurisdiction="US-CA")

    mine = client.get("/v1/queue", headers=org.headers("dermatologist"))
    assert mine.status_code == 200, mine.text
    assert set(_ids(mine.json())) == set(ca + ny)

    ny_only = make_dermatologist(sessions, org.org_id, jurisdictions=("US-NY",), name="Dr. New York")
    assert _ids(client.get("/v1/queue", headers=_bearer(ny_only)).json()) == ny

    everything = client.get("/v1/queue", headers=org.headers("admin")).json()
    assert set(_ids(everything)) == set(ca + fl + ny)
    assert not set(theirs) & set(_ids(everything))

    # a case outside the caller's licences or organization cannot be claimed either: 404
    for case_id in (fl[0], theirs[0]):
        r = client.post("/v1/queue/claim", json={"case_id": case_id}, headers=org.headers("dermatologist"))
        assert r.status_code == 404, r.text
    # draining the queue never hands out a case the caller may not see
    claimed = []
    while (r := client.post("/v1/queue/claim", headers=_bearer(ny_only))).status_code == 200:
        claimed.append(r.json()["case"]["id"])
    assert r.status_code == 204 and claimed == ny


def test_queue_order_and_pagination_follow_the_priority_function(client, sessions, org):
    now = utcnow()
    rng = random.Random(5)
    rows = []
    for _ in range(23):  # ties on due time and urgency, so every part of the order is exercised
        rows.append(
            case_row(
                org.org_id,
                now=now,
                due_in=timedelta(hours=rng.choice([1, 4, 24])),
                urgency=rng.choice([0.2, 0.5, 0.9]),
                age=timedelta(minutes=rng.choice([1, 30, 90])),
            )
        )
    insert_cases(sessions, rows)
    expected = [c.id for c in in_queue_order(_case(sessions, r["id"]) for r in rows)]

    seen, cursor = [], None
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        r = client.get("/v1/queue", params=params, headers=org.headers("dermatologist"))
        assert r.status_code == 200, r.text
        page = r.json()
        seen += _ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    first = client.get("/v1/queue", params={"limit": 3}, headers=org.headers("dermatologist")).json()[
        "items"
    ][0]
    assert first["case_id"] == expected[0]
    assert 0 < first["seconds_left"] <= 3600 and first["overdue"] is False
    assert first["waited_s"] >= 0 and first["body_site"] == "back" and first["photo_count"] == 0

    bad = client.get("/v1/queue", params={"cursor": "not-a-cursor"}, headers=org.headers("dermatologist"))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"


def test_claim_takes_the_top_case_then_the_next_then_nothing(client, sessions, org):
    later = queue_cases(sessions, org.org_id, 1, due_in=timedelta(hours=40))
    sooner = queue_cases(sessions, org.org_id, 1, due_in=timedelta(hours=3), tier="URGENT", urgency=0.8)
    other = make_dermatologist(sessions, org.org_id, name="Dr. Two")

    first = client.post("/v1/queue/claim", headers=org.headers("dermatologist"))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["case"]["id"] == sooner[0] and body["case"]["status"] == "in_review"
    me = _user_id(client, org.dermatologist)
    assert body["lease"]["assigned_to"] == me
    assert 29 * 60 < body["lease"]["seconds_left"] <= 30 * 60  # the default lease

    second = client.post("/v1/queue/claim", headers=_bearer(other))
    assert second.json()["case"]["id"] == later[0]
    assert client.post("/v1/queue/claim", headers=org.headers("dermatologist")).status_code == 204

    page = client.get("/v1/queue", headers=org.headers("admin")).json()
    assert page["items"] == []
    holders = {i["case_id"]: i["assigned_to"] for i in page["in_review"]}
    assert holders == {sooner[0]: me, later[0]: _user_id(client, other)}

    case = _case(sessions, sooner[0])
    assert case.first_reviewed_at is not None and case.first_reviewed_at <= case.review_due_at
    actions = _actions(sessions, sooner[0])
    assert ("case.claim", me) in [(a, u) for a, u, _ in actions]
    assert any(a == "case.transition" and d["to"] == "in_review" and u == me for a, u, d in actions)


def test_only_dermatologists_with_a_user_claim(client, sessions, org):
    from serving.orgs.models import Organization
    from serving.orgs.service import Role, issue_key

    queue_cases(sessions, org.org_id, 1)
    assert client.get("/v1/queue", headers=org.headers("intake")).status_code == 403
    assert client.post("/v1/queue/claim", headers=org.headers("intake")).status_code == 403
    assert client.post("/v1/queue/claim", headers=org.headers("admin")).status_code == 403
    with transaction(sessions) as s:
        loose = issue_key(s, org=s.get(Organization, org.org_id), role=Role.dermatologist).key
    r = client.post("/v1/queue/claim", headers=_bearer(loose))
    assert r.status_code == 403 and "users create" in r.json()["error"]["message"]


def test_lease_renewal_and_release(client, sessions, org):
    (case_id,) = queue_cases(sessions, org.org_id, 1)
    other = make_dermatologist(sessions, org.org_id, name="Dr. Two")
    derm = org.headers("dermatologist")
    assert client.post("/v1/queue/claim", headers=derm).status_code == 200
    before = _case(sessions, case_id).lease_expires_at

    renewed = client.post(f"/v1/cases/{case_id}/lease", headers=derm)
    assert renewed.status_code == 200, renewed.text
    assert _case(sessions, case_id).lease_expires_at > before

    for path in ("lease", "release"):  # not the holder
        r = client.post(f"/v1/cases/{case_id}/{path}", headers=_bearer(other))
        assert r.status_code == 409 and r.json()["error"]["code"] == "lease_required", r.text

    released = client.post(
        f"/v1/cases/{case_id}/release", json={"reason": "conflict of interest"}, headers=derm
    )
    assert released.status_code == 200, released.text
    assert released.json() | {"lease_expires_at": None} == {
        "case_id": case_id,
        "status": "queued",
        "assigned_to": None,
        "lease_expires_at": None,
        "seconds_left": None,
    }
    case = _case(sessions, case_id)
    assert case.status == "queued" and case.assigned_to is None and case.lease_expires_at is None
    assert case.last_queued_at is not None
    assert [a for a, _, _ in _actions(sessions, case_id)][-3:] == [
        "case.lease.renew",
        "case.transition",
        "case.release",
    ]

    # releasing a case that is not in review is an illegal move: 409 naming the current status
    again = client.post(f"/v1/cases/{case_id}/release", headers=derm)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "illegal_state" and "'queued'" in again.json()["error"]["message"]
    # an admin may release a case someone else holds
    assert client.post("/v1/queue/claim", headers=_bearer(other)).status_code == 200
    assert client.post(f"/v1/cases/{case_id}/release", headers=org.headers("admin")).status_code == 200


def test_an_expired_lease_returns_the_case(client, sessions, org):
    (case_id,) = queue_cases(sessions, org.org_id, 1)
    other = make_dermatologist(sessions, org.org_id, name="Dr. Two")
    derm = org.headers("dermatologist")
    assert client.post("/v1/queue/claim", headers=derm).status_code == 200
    assert client.post("/v1/queue/claim", headers=_bearer(other)).status_code == 204
    _expire(sessions, case_id)

    assert _ids(client.get("/v1/queue", headers=_bearer(other)).json()) == [case_id]  # back in the queue
    taken = client.post("/v1/queue/claim", headers=_bearer(other))
    assert taken.status_code == 200 and taken.json()["case"]["id"] == case_id
    assert taken.json()["lease"]["assigned_to"] == _user_id(client, other)
    # the first holder lost it
    r = client.post(f"/v1/cases/{case_id}/lease", headers=derm)
    assert r.status_code == 409 and r.json()["error"]["code"] == "lease_required"
    expiry = [d for a, u, d in _actions(sessions, case_id) if a == "case.lease.expire"]
    assert len(expiry) == 1 and expiry[0]["held_by"] == _user_id(client, org.dermatologist)


def test_admin_assigns_and_reassigns(client, sessions, org, other_org):
    (case_id,) = queue_cases(sessions, org.org_id, 1, jurisdiction="US-NY")
    ny = make_dermatologist(sessions, org.org_id, jurisdictions=("US-NY",), name="Dr. NY")
    tx = make_dermatologist(sessions, org.org_id, jurisdictions=("US-TX",), name="Dr. TX")
    foreign = make_dermatologist(sessions, other_org.org_id, jurisdictions=("US-NY",), name="Dr. Elsewhere")
    admin = org.headers("admin")

    def assign(user_key, headers=admin):
        return client.post(
            f"/v1/cases/{case_id}/assign", json={"user_id": _user_id(client, user_key)}, headers=headers
        )

    r = assign(tx)
    assert r.status_code == 409 and r.json()["error"]["field"] == "user_id" and "US-NY" in r.text
    assert assign(foreign).json()["error"]["code"] == "user_not_found"  # another organization's: a 404
    assert assign(org.admin).status_code == 409  # not a dermatologist
    assert assign(ny, headers=org.headers("dermatologist")).status_code == 403

    r = assign(ny)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_review" and r.json()["assigned_to"] == _user_id(client, ny)
    r = assign(org.dermatologist)  # reassign while in review
    assert r.status_code == 200 and r.json()["assigned_to"] == _user_id(client, org.dermatologist)
    assert client.post(f"/v1/cases/{case_id}/lease", headers=_bearer(ny)).status_code == 409
    assert client.post(f"/v1/cases/{case_id}/lease", headers=org.headers("dermatologist")).status_code == 200
    assigns = [d for a, _, d in _actions(sessions, case_id) if a == "case.assign"]
    assert [d["from"] for d in assigns] == [None, _user_id(client, ny)]


def test_emergency_cases_are_listed_apart_and_claimable_by_id(client, sessions, org):
    (emergency,) = insert_cases(
        sessions,
        [case_row(org.org_id, status="emergency", tier="EMERGENCY", urgency=0.99, due_in=timedelta(hours=1))],
    )
    (queued,) = queue_cases(sessions, org.org_id, 1)
    page = client.get("/v1/queue", headers=org.headers("dermatologist")).json()
    assert _ids(page) == [queued] and _ids(page, "emergency") == [emergency]
    assert page["emergency"][0]["emergency"] is True

    r = client.post("/v1/queue/claim", json={"case_id": emergency}, headers=org.headers("dermatologist"))
    assert r.status_code == 200 and r.json()["case"]["status"] == "in_review"
    # claiming it again: it is no longer waiting; 409 names the status
    r = client.post("/v1/queue/claim", json={"case_id": emergency}, headers=org.headers("dermatologist"))
    assert r.status_code == 409 and "'in_review'" in r.json()["error"]["message"]


def test_a_submitted_case_reaches_the_queue(client, org):
    import json
    import uuid

    from factories import good_jpeg

    form = {"questionnaire": json.dumps({"jurisdiction": "US-TX", "age": 40, "body_site": "arm"})}
    files = [
        ("photos", ("a.jpg", good_jpeg(), "image/jpeg")),
        ("photos", ("b.jpg", good_jpeg(1), "image/jpeg")),
    ]
    r = client.post(
        "/v1/cases", data=form, files=files, headers=org.headers(**{"Idempotency-Key": str(uuid.uuid4())})
    )
    assert r.status_code == 201, r.text
    (item,) = client.get("/v1/queue", headers=org.headers("dermatologist")).json()["items"]
    assert item["case_id"] == r.json()["id"]
    assert item["photo_count"] == 2 and item["body_site"] == "arm" and item["jurisdiction"] == "US-TX"
    assert item["tier"] == r.json()["triage"]["tier"] and item["quality_flags"] == []


def test_dermatologist_reads_only_cases_in_their_licences(client, sessions, org):
    """GET /v1/cases/{id} and its photos follow the same licence rule as the queue."""
    import json
    import uuid

    from conftest import make_dermatologist
    from factories import encode, skin_photo

    response = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps({"jurisdiction": "US-NY", "age": 40})},
        files=[("photos", ("a.jpg", encode(skin_photo((640, 480), seed=2)), "image/jpeg"))],
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert response.status_code == 201, response.text
    case = response.json()
    photo_url = case["photos"][0]["image_url"]
    texas_only = make_dermatologist(sessions, org.org_id, jurisdictions=("US-TX",), name="Dr Tex")
    licensed = {"Authorization": f"Bearer {org.dermatologist}"}
    unlicensed = {"Authorization": f"Bearer {texas_only}"}
    assert client.get(f"/v1/cases/{case['id']}", headers=licensed).status_code == 200
    assert client.get(photo_url, headers=licensed).status_code == 200
    assert client.get(f"/v1/cases/{case['id']}", headers=unlicensed).status_code == 404
    assert client.get(photo_url, headers=unlicensed).status_code == 404
    assert client.get(f"/v1/cases/{case['id']}", headers=org.headers("admin")).status_code == 200
