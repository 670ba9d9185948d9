"""Who must receive an event, and how its patient-facing texts are addressed (pure, but for the one
look-up of the case's ``submitted_by``).

Every event of a case says who must receive it in ``recipient``:

* ``{"kind": "patient"}``: the patient (also for a case a clinician referred: the patient still hears
  the outcome of their own case);
* ``{"kind": "caregiver", "name", "relation", "addressee"}``: the caregiver who submitted the case on
  the patient's behalf. Its patient-facing texts then name the caregiver: each is prefixed with the
  ``addressee`` ("For Maria Silva (caring for the patient): ...");
* ``{"kind": "referring_practice", "name", "clinician", "contact", "practice_id", "address"}``: the
  practice that referred the case (``referral_letter.ready``), set by the event's emitter.

``emit()`` calls ``addressed()`` for every event of a case, so no emitter composes an addressee itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, column, select, table
from sqlalchemy.orm import Session

#: the case's submitter, read without the cases layer (above this one)
_CASES = table("cases", column("id"), column("submitted_by", JSON))

#: top-level payload keys holding text the patient (or their caregiver) reads: a string or a list of them
PATIENT_TEXT_KEYS = ("patient_advice", "body", "instructions")


def submitter_of(session: Session, case_id: str) -> dict[str, Any] | None:
    """The case's ``submitted_by``, None when there is no such case (then nobody is named)."""
    row = session.execute(select(_CASES.c.submitted_by).where(_CASES.c.id == case_id)).first()
    return None if row is None else dict(row[0] or {})


def addressee(submitted_by: Mapping[str, Any]) -> str | None:
    """How a caregiver is named at the head of each patient-facing text, None when the patient submitted
    (or a caregiver gave no name)."""
    name = (submitted_by.get("name") or "").strip()
    if submitted_by.get("role") != "caregiver" or not name:
        return None
    relation = (submitted_by.get("relation") or "").strip()
    return f"For {name} (caring for the patient{', ' + relation if relation else ''})"


def patient_recipient(submitted_by: Mapping[str, Any]) -> dict[str, Any]:
    """Who receives the case's patient-facing events: the caregiver who submitted it, else the patient."""
    if submitted_by.get("role") == "caregiver":
        return {
            "kind": "caregiver",
            "name": submitted_by.get("name"),
            "relation": submitted_by.get("relation"),
            "addressee": addressee(submitted_by),
        }
    return {"kind": "patient"}


def practice_recipient(submitted_by: Mapping[str, Any]) -> dict[str, Any]:
    """The referring practice of a case a clinician submitted: who a referral letter goes to."""
    return {
        "kind": "referring_practice",
        "name": submitted_by.get("practice"),
        "clinician": submitted_by.get("name"),
        "contact": submitted_by.get("contact"),
        "practice_id": submitted_by.get("practice_id"),
        "address": submitted_by.get("address"),
    }


def address(text: str, submitted_by: Mapping[str, Any]) -> str:
    """``text`` headed by the caregiver's name when a caregiver submitted the case; else as it is."""
    head = addressee(submitted_by)
    return f"{head}: {text}" if head else text


def _address_value(value: Any, submitted_by: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return address(value, submitted_by)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [address(v, submitted_by) for v in value]
    return value


def addressed(payload: Mapping[str, Any], submitted_by: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with its ``recipient`` (kept when the emitter set one: then it is not the patient's
    and its texts stay as they are) and, for the patient or their caregiver, its patient-facing texts
    (``PATIENT_TEXT_KEYS``, and each photo's retake ``instructions``) addressed. Signed content (a consult
    note's) is never rewritten: its reader finds the addressee in ``recipient``."""
    out = dict(payload)
    if "recipient" in out:
        return out
    out["recipient"] = patient_recipient(submitted_by)
    if addressee(submitted_by) is None:
        return out
    for key in PATIENT_TEXT_KEYS:
        if key in out:
            out[key] = _address_value(out[key], submitted_by)
    if isinstance(out.get("photos"), list):
        out["photos"] = [
            {**p, "instructions": _address_value(p["instructions"], submitted_by)}
            if isinstance(p, dict) and "instructions" in p
            else p
            for p in out["photos"]
        ]
    return out
