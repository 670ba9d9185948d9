"""HTML forms -> the consult API's request schemas, and the problems shown beside a form.

Empty optional fields become None; the schemas' validation errors become one ``FormProblem`` naming
the field to fix, like the API's 422 body.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from serving.consults import diagnoses, diagnosis
from serving.consults.schemas import (
    AttachmentIn,
    CloseIn,
    DiagnosisIn,
    FollowUpIn,
    MessageIn,
    PathologyIn,
    PrescriptionIn,
    ReferralIn,
    RetakeRequestIn,
)
from serving.consults.visit_schemas import VideoVisitCancelIn, VideoVisitCompleteIn, VideoVisitIn
from serving.errors import DomainError
from serving.people.service import time_zones

MAX_ATTACHMENTS = 5
#: the times a video visit form offers
VISIT_TIMES = 5

#: what to fix, in the page's words, where the service's advice names the JSON API
PAGE_FIX = {
    "unknown_diagnosis_code": "Pick a diagnosis from the list: type a name, a synonym or a code; "
    "put anything the code does not say under 'Details'.",
    "unknown_medication": "Pick a medication from the list: type its name or its class.",
    "diagnosis_required": "Record the diagnosis first (Diagnose), then prescribe.",
    "invalid_base64": "Attach the image file again.",
    "due_in_past": "Pick a date and time in the future.",
    "due_too_far": "Pick a date within two years.",
    "time_too_far": "Pick times within 90 days.",
    "video_visit_not_due": "Mark the visit held once it has taken place.",
    "lease_required": "Claim the case from the queue (or renew your lease) first.",
    "consult_note_pending": "Sign and release the drafted consult note first (Sign and release, below).",
    "consult_note_changed": "The drafts changed since this page was loaded: review them again, then sign.",
}
#: the same, where one form needs other words than the rest (form name, error code)
FORM_FIX = {
    ("pathology", "unknown_diagnosis_code"): "Pick the histopathology diagnosis from the list: type a name, "
    "a synonym or a code; put anything the code does not say in the report.",
    ("pathology", "illegal_state"): "Claim the case from the queue and review it first.",
    ("video_visit", "time_in_past"): "Pick times in the future.",
    ("pathology", "invalid_report_date"): "Enter the date printed on the pathology report: "
    "not in the future, not before the case was submitted.",
}


@dataclass
class FormProblem(Exception):
    """What went wrong with one form of the page: shown beside that form, its values kept."""

    form: str
    message: str
    fix: str = ""
    field: str | None = None
    status: int = 422

    @classmethod
    def of(cls, form: str, exc: DomainError) -> FormProblem:
        """A service's refusal, in the page's words, beside ``form``."""
        fix = FORM_FIX.get((form, exc.code)) or PAGE_FIX.get(exc.code, exc.fix)
        return cls(form, exc.message, fix=fix, field=exc.field, status=exc.status_code)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _number(form: FormData, name: str) -> int | float | str | None:
    """A number field's text as the number it spells (the schemas take JSON numbers, not text); text
    that spells none stays text, for the schema to refuse by name."""
    text = _text(form, name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def values_of(form: FormData) -> dict[str, Any]:
    """The submitted text values (to refill the form after a problem); lists for repeated names."""
    out: dict[str, Any] = {}
    for key in form:
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        if key in ("reasons", "photo_ids"):
            out[key] = items
        elif items:
            out[key] = items[-1]
    return out


def validated(schema: type[BaseModel], data: dict[str, Any], *, form: str) -> BaseModel:
    try:
        return schema.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        errors = exc.errors()
        first = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in errors)
        raise FormProblem(form, problems, fix=f"Correct the field '{first}'.", field=first) from exc


def diagnosis_code(raw: str | None, *, form: str = "diagnose", field: str = "code") -> str | None:
    """'L70.0 — Acne vulgaris' (a picked catalogue entry), 'l70.0', or a typed name or synonym that names
    one entry ('basal cell carcinoma') -> its code, by the catalogue's one rule (``diagnoses.resolve``);
    text naming no single entry is refused beside ``form``, with the closest entries."""
    if not raw:
        return None
    found = diagnoses.resolve(raw)
    if found.entry is None:
        details = "report" if form == "pathology" else "free_text"
        raise FormProblem.of(form, diagnosis.unresolved(found, field=field, details=details))
    return found.entry.code


def diagnosis_in(form: FormData) -> DiagnosisIn:
    data = {
        "code": diagnosis_code(_text(form, "code")),
        "certainty": _text(form, "certainty"),
        "free_text": _text(form, "free_text"),
        "assessment": _text(form, "assessment"),
        "patient_plan": _text(form, "patient_plan"),
        "draft": True,  # the page drafts: released with the signed consult note (routes_note)
    }
    return validated(DiagnosisIn, data, form="diagnose")


def pathology_in(form: FormData) -> PathologyIn:
    data = {
        "icd10": diagnosis_code(_text(form, "icd10"), form="pathology", field="icd10"),
        "reported_on": _text(form, "reported_on"),
        "report": _text(form, "report"),
    }
    return validated(PathologyIn, data, form="pathology")


def prescription_in(form: FormData) -> PrescriptionIn:
    data = {
        "rxcui": (_text(form, "rxcui") or "").split()[0] if _text(form, "rxcui") else None,
        "form": _text(form, "form"),
        "strength": _text(form, "strength"),
        "directions": _text(form, "directions"),
        "quantity": _number(form, "quantity"),
        "refills": _number(form, "refills"),
        "pharmacy_note": _text(form, "pharmacy_note"),
        "draft": True,  # the page drafts: released with the signed consult note (routes_note)
    }
    return validated(PrescriptionIn, data, form="prescribe")


def due_at(local: str | None, offset_minutes: str | None, zone_name: str | None = None) -> datetime | None:
    """A ``datetime-local`` value in the user's time zone (``zone_name``, the page's setting: an IANA
    name), else at the browser's ``getTimezoneOffset()`` (minutes behind UTC; UTC when the script did
    not run) -> an aware datetime."""
    if not local:
        return None
    try:
        naive = datetime.fromisoformat(local)
        offset = int(offset_minutes or 0)
    except ValueError as exc:
        raise FormProblem(
            "follow_up",
            f"{local!r} is not a date and time",
            fix="Pick the date and time again.",
            field="due_at",
        ) from exc
    if naive.tzinfo is not None:
        return naive
    zone = _zone(zone_name)
    if zone is not None:
        return naive.replace(tzinfo=zone)
    if not -14 * 60 <= offset <= 14 * 60:
        offset = 0
    return naive.replace(tzinfo=timezone(-timedelta(minutes=offset)))


def _zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone a form names (None: none, or not one this machine knows)."""
    if not name or name not in time_zones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def follow_up_in(form: FormData) -> FollowUpIn:
    data = {
        "due_at": due_at(_text(form, "due_at"), _text(form, "tz_offset"), _text(form, "time_zone")),
        "instructions": _text(form, "instructions"),
    }
    return validated(FollowUpIn, data, form="follow_up")


def retake_in(form: FormData) -> RetakeRequestIn:
    data = {
        "instructions": _text(form, "instructions"),
        "reasons": [r for r in form.getlist("reasons") if isinstance(r, str) and r.strip()],
        "photo_ids": [p for p in form.getlist("photo_ids") if isinstance(p, str) and p.strip()],
    }
    return validated(RetakeRequestIn, data, form="retake")


async def message_in(form: FormData) -> MessageIn:
    files = [f for f in form.getlist("attachments") if isinstance(f, UploadFile) and f.filename]
    if len(files) > MAX_ATTACHMENTS:
        raise FormProblem(
            "message",
            f"{len(files)} images attached",
            fix=f"Attach at most {MAX_ATTACHMENTS}.",
            field="attachments",
        )
    attachments = [
        AttachmentIn(
            filename=(f.filename or "")[:200], content_base64=base64.b64encode(await f.read()).decode()
        )
        for f in files
    ]
    data = {
        "body": _text(form, "body"),
        "question": form.get("question") in ("on", "true", "1"),
        "attachments": attachments,
    }
    return validated(MessageIn, data, form="message")


def referral_in(form: FormData) -> ReferralIn:
    data = {k: _text(form, k) for k in ("reason", "urgency", "specialty", "instructions")}
    return validated(ReferralIn, data, form="refer")


def close_in(form: FormData) -> CloseIn:
    return validated(CloseIn, {"reason": _text(form, "reason")}, form="close")


def video_visit_in(form: FormData) -> VideoVisitIn:
    """The times offered (``datetime-local`` fields ``time_1`` to ``time_5``, in the user's time zone;
    empty ones skipped), the reason and the planned length."""
    zone, offset = _text(form, "time_zone"), _text(form, "tz_offset")
    times = []
    for n in range(1, VISIT_TIMES + 1):
        try:
            time = due_at(_text(form, f"time_{n}"), offset, zone)
        except FormProblem as problem:
            raise FormProblem(
                "video_visit", problem.message, fix=problem.fix, field="proposed_times"
            ) from None
        if time is not None:
            times.append(time)
    data = {
        "proposed_times": times,
        "reason": _text(form, "reason"),
        "duration_minutes": _number(form, "duration_minutes"),
    }
    return validated(VideoVisitIn, data, form="video_visit")


def visit_complete_in(form: FormData) -> VideoVisitCompleteIn:
    return validated(VideoVisitCompleteIn, {"note": _text(form, "note")}, form="visit_complete")


def visit_cancel_in(form: FormData) -> VideoVisitCancelIn:
    return validated(VideoVisitCancelIn, {"reason": _text(form, "reason")}, form="visit_cancel")
