"""Helpers for the label-export tests: labelled cases made through the HTTP API, and the command."""

from __future__ import annotations

from click.testing import CliRunner
from consults_support import DIAGNOSIS, claim
from patients_support import case_of

from serving.cli import main
from serving.db import utcnow


def labelled_case(
    client, org, *, patient=None, consent=True, diagnosis=None, pathology=None, seed=0, **answers
) -> str:
    """A case sent with ``patient``, claimed, diagnosed ``diagnosis`` (an ICD-10 code, confirmed) and
    given a ``pathology`` result (a code) where asked; returns its id."""
    if consent is not None:
        answers["consent_research"] = consent
    case_id = case_of(client, org, patient, seed=seed, **answers)["id"]
    if diagnosis is None and pathology is None:
        return case_id
    r = claim(client, org, case_id)
    assert r.status_code == 200, r.text
    body = {**DIAGNOSIS, "code": diagnosis or "L98.9", "certainty": "confirmed"}
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=body, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    if pathology:
        r = client.post(
            f"/v1/cases/{case_id}/pathology",
            json={"icd10": pathology, "reported_on": utcnow().date().isoformat(), "report": "Excision."},
            headers=org.headers("dermatologist"),
        )
        assert r.status_code == 201, r.text
    return case_id


def env_of(settings) -> dict[str, str]:
    """The command line's environment for the service of ``settings``."""
    return {
        "DATABASE_URL": settings.database_url,
        "DERMATRIAGE_PHOTO_DIR": str(settings.photo_dir),
        "DERMATRIAGE_ENVIRONMENT": "test",
    }


def export(settings, *args: str, ok: bool = True):
    result = CliRunner().invoke(main, ["data", "export-labels", "--no-progress", *args], env=env_of(settings))
    if ok:
        assert result.exit_code == 0, result.output
    return result
