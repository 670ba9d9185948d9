"""Comfort (issue 15): the focus outline has at least 3:1 contrast with what surrounds it (WCAG 2.2
'focus appearance'), and sign-in takes the organization's name as well as its slug, refusing a name
that several organizations share with a message that says what to type."""

from __future__ import annotations

import re
import uuid

from web_support import CSRF_FIELD, PASSWORD, default_dermatologist

from serving.db import transaction
from serving.orgs.service import create_org
from serving.web.rendering import STATIC_DIR


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _variables(css: str) -> dict[str, str]:
    root = css[css.index(":root") : css.index("}", css.index(":root"))]
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", root))


def test_the_focus_outline_stands_out_on_every_background():
    css = (STATIC_DIR / "app.css").read_text()
    var = _variables(css)
    assert re.search(r"^:focus-visible \{ outline: 3px solid var\(--focus\)", css, re.M)
    for background in (var["card"], var["bg"], "#ffffff"):
        assert contrast(var["focus"], background) >= 3, (var["focus"], background)
    header = re.search(r"\.top \{[^}]*background: (#[0-9a-fA-F]{6})", css).group(1)
    assert re.search(r"^\.top :focus-visible \{ outline-color: var\(--focus-on-dark\); \}", css, re.M)
    assert contrast(var["focus-on-dark"], header) >= 3
    assert contrast("#ffb000", "#ffffff") < 3  # the old amber on white, which this replaces


def _sign_in(client, organization: str, login: str = "derm"):
    token = CSRF_FIELD.search(client.get("/sign-in").text).group(1)
    return client.post(
        "/sign-in",
        data={
            "csrf_token": token,
            "organization": organization,
            "login": login,
            "password": PASSWORD,
            "next": "",
        },
        follow_redirects=False,
    )


def _named(sessions, name: str) -> None:
    with transaction(sessions) as session:
        create_org(session, slug=f"org-{uuid.uuid4().hex[:10]}", name=name)


def test_sign_in_by_the_organizations_name_or_slug(client, org, sessions):
    default_dermatologist(sessions, org.org_id)
    name = org.slug.title()  # make_org names an organization after its slug
    for typed in (org.slug, org.slug.upper(), name, f"  {name.lower()}  ", name.upper()):
        r = _sign_in(client, typed)
        assert r.status_code == 303 and r.headers["location"] == "/queue", typed
        client.cookies.clear()
    assert _sign_in(client, "No Such Clinic").status_code == 401


def test_a_name_several_organizations_share_is_refused_clearly(client, org, sessions):
    default_dermatologist(sessions, org.org_id)
    shared = f"Skin Clinic {uuid.uuid4().hex[:6]}"
    _named(sessions, shared)
    _named(sessions, shared.upper())
    r = _sign_in(client, shared.lower())
    assert r.status_code == 401
    assert f"Several organizations are named &#39;{shared.lower()}&#39;" in r.text
    assert "short name" in r.text
    assert _sign_in(client, org.slug).status_code == 303  # the slug still signs in
