"""The events intake itself causes: a case that needs a retake, a case that is an emergency.

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
from serving.events.types import CASE_EMERGENCY, CASE_RETAKE_REQUIRED


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
        "patient_advice": list(case.patient_advice),
    }


def emit_after_triage(
    session: Session, case: Case, *, previous_status: CaseStatus | None, new_photos: Sequence[Photo]
) -> list[OutboxEvent]:
    """Events for a case just triaged (created, ``previous_status=None``, or sent more photos).

    ``case.emergency`` when the case became an emergency; ``case.retake_required`` when it is (still)
    waiting for a usable photo or every photo just sent is unusable, with their instructions.
    """
    session.flush()  # the photos' ids
    due: list[tuple[str, dict]] = []
    if case.status is CaseStatus.emergency and previous_status is not CaseStatus.emergency:
        due.append((CASE_EMERGENCY, emergency_payload(case)))
    unusable = bool(new_photos) and not any(p.quality.usable for p in new_photos)
    if case.status is CaseStatus.awaiting_retake or unusable:
        # also when a case waiting for follow-up or asked-for photos gets only unusable ones: the
        # patient must hear at once that they need to take them again
        due.append((CASE_RETAKE_REQUIRED, retake_payload(case, new_photos)))
    return [
        emit(session, organization_id=case.organization_id, event_type=kind, case_id=case.id, payload=payload)
        for kind, payload in due
    ]
