"""The case page shows the patient: the panel (name, age, sex, prior cases linked with their
diagnoses) and the lesion's photos over time, through TestClient; a case without a patient shows no
panel; a dermatologist never sees, on the page, a case outside their licences."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from consults_support import DIAGNOSIS, claim
from patients_support import case_of
from sqlalchemy import select
from web_support import default_dermatologist, sign_in, with_password

from serving.audit import AuditEvent
from serving.cases import intake
from serving.db import transaction

ALICE = {"external_id": "emr-1001", "birth_year": 1969, "sex": "female", "display_name": "Alice Example"}
FIRST_AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
SECOND_AT = FIRST_AT + timedelta(days=182)


def _section(html: str, title_id: str) -> str:
    start = html.index(f'aria-labelledby="{title_id}"')
    return html[start : html.index("</section>", start)]


def _two_cases_of_one_lesion(client, org, monkeypatch, *, second_jurisdiction: str = "US-CA"):
    monkeypatch.setattr(intake, "utcnow", lambda: FIRST_AT)
    first = case_of(client, org, ALICE, seed=1, lesion_label="Mole left shoulder", body_site="back")
    monkeypatch.setattr(intake, "utcnow", lambda: SECOND_AT)
    second = case_of(
        client,
        org,
        {"external_id": ALICE["external_id"]},
        seed=2,
        lesion_label="mole left shoulder",
        jurisdiction=second_jurisdiction,
    )
    monkeypatch.undo()
    return first, second


def test_the_case_page_shows_the_patient_and_the_lesion_timeline(client, org, sessions, monkeypatch):
    first, second = _two_cases_of_one_lesion(client, org, monkeypatch)
    assert claim(client, org, first["id"]).status_code == 200
    r = client.post(
        f"/v1/cases/{first['id']}/diagnosis",
        json={**DIAGNOSIS, "certainty": "confirmed"},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    user_id = default_dermatologist(sessions, org.org_id)
    assert sign_in(client, org.slug, "derm").status_code == 303

    page = client.get(f"/cases/{second['id']}")
    assert page.status_code == 200
    html = page.text
    assert html.index('id="patient-title"') < html.index('id="photos-title"')  # near the top
    panel = _section(html, "patient-title")
    age = datetime.now(UTC).year - 1969
    assert "Patient: Alice Example" in panel and f"about {age} (born 1969)" in panel and "female" in panel
    assert "1 prior case<" in panel
    (prior,) = re.findall(r"<li>.*?</li>", panel, re.S)
    assert f'href="/cases/{first["id"]}">05 Jan 2026</a>' in prior
    assert "L70.0" in prior and "diagnosed" in prior and "ROUTINE" in prior

    timeline = _section(html, "timeline-title")
    assert "Lesion timeline: Mole left shoulder" in timeline
    (p1,), (p2,) = first["photos"], second["photos"]
    thumbs = re.findall(r'<img src="(/cases/[^"]+/thumbnail)"', timeline)
    assert thumbs == [
        f"/cases/{first['id']}/photos/{p1['id']}/thumbnail",
        f"/cases/{second['id']}/photos/{p2['id']}/thumbnail",
    ]
    assert re.findall(r"<time[^>]*>([^<]+)</time>", timeline) == ["05 Jan 2026", "06 Jul 2026"]
    items = re.findall(r"<li( class=\"current\")?>", timeline)
    assert items == ["", ' class="current"'] and timeline.count("This case") == 1
    assert f'href="/cases/{first["id"]}/photos/{p1["id"]}/image"' in timeline
    for url in thumbs:  # the page's own photo routes serve both, the earlier case's too
        assert client.get(url).status_code == 200

    # the earlier case's page shows the later one, and marks its own photo in the timeline
    earlier = client.get(f"/cases/{first['id']}").text
    assert "0 prior cases" in earlier and f'href="/cases/{second["id"]}"' in earlier
    assert re.findall(r"<li( class=\"current\")?>", _section(earlier, "timeline-title")) == [
        ' class="current"',
        "",
    ]
    with transaction(sessions) as session:
        reads = session.scalars(
            select(AuditEvent.resource_id).where(
                AuditEvent.actor_user_id == user_id, AuditEvent.action == "patient.read"
            )
        ).all()
    assert reads == [first["patient_id"]] * 2  # each page's read of the patient, by id


def test_a_case_without_a_patient_shows_no_panel(client, org, sessions):
    case = case_of(client, org, None, lesion_label="rash on the arm")
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    page = client.get(f"/cases/{case['id']}")
    assert page.status_code == 200 and 'id="photos-title"' in page.text
    assert "patient-title" not in page.text and "timeline-title" not in page.text


def test_a_case_outside_the_licences_stays_off_the_page(client, org, sessions, monkeypatch):
    first, second = _two_cases_of_one_lesion(client, org, monkeypatch, second_jurisdiction="US-NY")
    with_password(sessions, org.org_id, login="ny", jurisdictions=("US-NY",))
    sign_in(client, org.slug, "ny")
    page = client.get(f"/cases/{second['id']}")
    assert page.status_code == 200
    assert "Patient: Alice Example" in page.text and "0 prior cases" in page.text
    assert first["id"] not in page.text  # neither the case nor its photo
    timeline = _section(page.text, "timeline-title")
    assert len(re.findall(r"<img ", timeline)) == 1 and "This case" in timeline
    # the earlier case exists (an admin sees both): it is the licence that keeps it off the page
    everything = client.get(f"/v1/patients/{second['patient_id']}", headers=org.headers("admin")).json()
    assert [c["id"] for c in everything["cases"]] == [first["id"], second["id"]]
    assert client.get(f"/cases/{first['id']}").status_code == 404
