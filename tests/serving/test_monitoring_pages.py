"""The "Model performance" page through TestClient: the same figures as the API, drawn (SVG rows with
intervals, the reliability diagram, the drift bands with alert marks), the ROUTINE-malignant cases
linked, the window picker, the empty states, the scope of a dermatologist's licences, the audit row."""

from __future__ import annotations

import re

from monitoring_support import Spec, make, read_as
from sqlalchemy import select
from web_support import default_dermatologist, sign_in, with_password

from serving.audit import AuditEvent
from serving.db import transaction


def _signed_in(client, org, sessions, login: str = "derm") -> None:
    if login == "derm":
        default_dermatologist(sessions, org.org_id)
    assert sign_in(client, org.slug, login).status_code == 303


def test_the_page_draws_the_figures_of_the_api(client, org, sessions):
    missed = make(client, org, Spec("ROUTINE", pathology="C43.9"), seed=1)
    caught = make(client, org, Spec("URGENT", pathology="C44.91"), seed=2)
    benign = make(client, org, Spec("ROUTINE", diagnoses=(("D22.9", "confirmed"),)), seed=3)
    for case_id, p in ((missed, 0.05), (caught, 0.4), (benign, 0.02)):
        read_as(sessions, case_id, p)
    _signed_in(client, org, sessions)
    page = client.get("/model-performance")
    assert page.status_code == 200
    html = page.text
    assert 'href="/model-performance" aria-current="page"' in html  # in the navigation, current
    assert re.search(r'id="fig-submitted">3<', html) and re.search(r'id="fig-labelled">3<', html)
    assert re.search(r'id="fig-routine-malignant">1<', html)
    # sensitivity >= urgent 1 of 2, specificity 1 of 1: dots with interval bars
    tiers = html[html.index('id="tiers-chart"') : html.index("</svg>", html.index('id="tiers-chart"'))]
    assert tiers.count('class="dot"') == 4 and tiers.count('class="ci"') == 12
    assert "50% (1/2)" in tiers and "100% (1/1)" in tiers
    assert 'id="calibration-chart"' in html and 'class="diagonal"' in html
    # the missed melanoma, linked to its page
    assert f'<a href="/cases/{missed}">{missed[:8]}</a>' in html and "C43.9" in html
    assert caught not in html.split('id="routine-malignant"')[1].split("</table>")[0]
    # drift: bands, alert marks (800 px photos against 300-512 px training photos), the alert line
    assert 'class="band"' in html and 'class="alert-mark"' in html
    assert 'id="drift-alerts"' in html and "median long side" in html
    assert 'aria-current="true">90 days' in html
    with transaction(sessions) as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.organization_id == org.org_id))
        assert "metrics.model.read" in set(actions)


def test_the_window_picker_and_its_refusal(client, org, sessions):
    _signed_in(client, org, sessions)
    for days in (30, 90, 365):
        page = client.get(f"/model-performance?window_days={days}")
        assert page.status_code == 200 and f'aria-current="true">{days} days' in page.text
    for bad in ("7", "abc", "-30"):
        page = client.get(f"/model-performance?window_days={bad}")
        assert page.status_code == 422 and "Choose 30, 90 or 365 days" in page.text


def test_empty_states_say_what_will_appear(client, org, sessions):
    _signed_in(client, org, sessions)
    nothing = client.get("/model-performance").text
    assert 'id="empty-state"' in nothing and "No case submitted in the last 90 days" in nothing
    assert 'id="tiers-chart"' not in nothing
    make(client, org, Spec("ROUTINE", diagnoses=(("C43.9", "provisional"),)))
    unlabelled = client.get("/model-performance").text
    assert 'id="empty-state"' in unlabelled and "No outcome yet for the 1 cases" in unlabelled
    assert "confirmed" in unlabelled and "pathology result" in unlabelled
    assert 'id="tiers-chart"' not in unlabelled and 'id="answers-chart"' in unlabelled  # drift still drawn
    assert 'id="gate-table"' in unlabelled


def test_a_dermatologist_sees_only_their_licences_and_signed_out_users_sign_in(client, org, sessions):
    make(client, org, Spec("URGENT", pathology="C43.9"))  # US-CA
    with_password(sessions, org.org_id, login="ny", jurisdictions=("US-NY",))
    _signed_in(client, org, sessions, login="ny")
    page = client.get("/model-performance").text
    assert re.search(r'id="fig-submitted">0<', page) and "your licensed jurisdictions: US-NY" in page
    anonymous = type(client)(client.app)
    r = anonymous.get("/model-performance", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
