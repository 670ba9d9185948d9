"""The events intake itself causes: a case that needs a retake (no readable photo), a case whose
photos could be better (a retake suggested, the case queued all the same), a case that is an emergency.

Called by the case service after triage, inside its transaction. Payloads hold what the patient app
shows: ids, status and patient-facing text (advice, retake instructions), nothing clinical beyond it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from serving.cases.models import Case, Photo
from serving.cases.status import CaseStatus
from serving.events.models import OutboxEvent
from serving.events.outbox import emit
from serving.events.types import CASE_EMERGENCY, CASE_RETAKE_REQUIRED, CASE_RETAKE_SUGGESTED


def retake_payload(case: Case, photos: Sequence[Photo]) -> dict:
    return {
        "case_id": case.id,
        "status": case.status,
        "patient_advice": list(case.patient_advice),
        "photos": [
            {
                "photo_id": p.id,
                "batch": p.batch,
                "position": p.position,
                "verdict": p.quality_verdict,
                "readable": p.quality.readable,
                "instructions": list(p.quality.instructions),
            }
            for p in photos
        ],
    }


def emergency_payload(case: Case) -> dict:
    return {
        "case_id": case.id,
        "status": case.status,
        "tier": case.tier,
        "care_setting": case.care_setting,
        "patient_advice": list(case.patient_advice),
    }


def emit_after_triage(
    session: Session, case: Case, *, previous_status: CaseStatus | None, new_photos: Sequence[Photo]
) -> list[OutboxEvent]:
    """Events for a case just triaged (created, ``previous_status=None``, or sent more photos).

    ``case.emergency`` when the case became an emergency; ``case.retake_required`` when it is (still)
    waiting for a readable photo or every photo just sent is unreadable, with their instructions;
    ``case.retake_suggested`` when the photos just sent can be read but none is good as it is (the
    case goes on with its tier; the patient is asked for a better photo).
    """
    session.flush()  # the photos' ids
    due: list[tuple[str, dict]] = []
    if case.status is CaseStatus.emergency and previous_status is not CaseStatus.emergency:
        due.append((CASE_EMERGENCY, emergency_payload(case)))
    unreadable = bool(new_photos) and not any(p.quality.usable for p in new_photos)
    could_be_better = bool(new_photos) and not unreadable and not any(p.quality.accepted for p in new_photos)
    if case.status is CaseStatus.awaiting_retake or unreadable:
        # also when a case waiting for follow-up or asked-for photos gets only unreadable ones: the
        # patient must hear at once that they need to take them again
        due.append((CASE_RETAKE_REQUIRED, retake_payload(case, new_photos)))
    elif could_be_better:
        due.append((CASE_RETAKE_SUGGESTED, retake_payload(case, new_photos)))
    return [
        emit(session, organization_id=case.organization_id, event_type=kind, case_id=case.id, payload=payload)
        for kind, payload in due
    ]
