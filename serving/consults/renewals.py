"""Renewal requests: the patient, through the intake system, asks for more of a prescription.

Each request is a queue item of its own, due the organization's ROUTINE review time after it came
in. A dermatologist licensed in the case's jurisdiction approves it (a new prescription that
renews the old one) or declines it with a reason the patient reads.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from model.triage.tiers import Tier
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.visibility import visible_cases
from serving.consults.common import add_to_case, audit, authored, rows_of
from serving.consults.models import Prescription, RenewalRequest
from serving.consults.prescriptions import prescription_event
from serving.consults.schemas import RenewalDecisionIn, RenewalRequestIn
from serving.errors import DomainError, NotFound
from serving.events import types
from serving.events.outbox import emit
from serving.orgs.service import sla_policy

PENDING, APPROVED, DECLINED = "pending", "approved", "declined"
#: what an approved renewal writes as the original prescription had it (unless the decision changes
#: ``quantity`` or ``refills``)
RENEWED_AS_BEFORE = (
    "diagnosis_id",
    "rxcui",
    "medication",
    "form",
    "strength",
    "directions",
    "quantity",
    "quantity_unit",
    "refills",
    "pharmacy_note",
)
#: the review-time tier a renewal is due in
RENEWAL_TIER = Tier.ROUTINE


def _audit(
    session: Session, client: Client, action: str, request_id: str | None, detail: dict | None = None
) -> None:
    audit(
        session,
        client=client,
        action=action,
        resource_type="renewal_request",
        resource_id=request_id,
        detail=detail,
    )


def _prescription(session: Session, *, client: Client, prescription_id: str) -> Prescription:
    found = session.scalar(
        select(Prescription).where(
            Prescription.id == prescription_id, Prescription.organization_id == client.organization.id
        )
    )
    if found is None:
        raise NotFound("prescription", prescription_id)
    return found


def fingerprint(prescription_id: str, data: RenewalRequestIn) -> str:
    body = json.dumps({"prescription_id": prescription_id, **data.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def replay(
    session: Session, *, client: Client, idempotency_key: str, prescription_id: str, data: RenewalRequestIn
) -> RenewalRequest | None:
    """The request an earlier call with this Idempotency-Key made, or None; DomainError if the key
    named a different request."""
    earlier = session.scalar(
        select(RenewalRequest).where(
            RenewalRequest.organization_id == client.organization.id,
            RenewalRequest.idempotency_key == idempotency_key,
        )
    )
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint(prescription_id, data):
        raise DomainError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different renewal request",
            fix="Use a new Idempotency-Key for a new request.",
            field="Idempotency-Key",
        )
    return earlier


def request_renewal(
    session: Session,
    *,
    client: Client,
    prescription_id: str,
    data: RenewalRequestIn,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[RenewalRequest, bool]:
    """Put a renewal in the queue. Returns (request, created); a retry with the same key returns the
    first request with created False."""
    if idempotency_key:
        earlier = replay(
            session,
            client=client,
            idempotency_key=idempotency_key,
            prescription_id=prescription_id,
            data=data,
        )
        if earlier is not None:
            _audit(session, client, "consult.renewal.request.replay", earlier.id)
            return earlier, False
    prescription = _prescription(session, client=client, prescription_id=prescription_id)
    session.scalar(select(Case.id).where(Case.id == prescription.case_id).with_for_update())  # one at a time
    pending = session.scalar(
        select(RenewalRequest).where(
            RenewalRequest.prescription_id == prescription.id, RenewalRequest.status == PENDING
        )
    )
    if pending is not None:
        raise DomainError(
            409,
            "renewal_pending",
            f"a renewal of this prescription is already waiting for a dermatologist ({pending.id})",
            fix="Wait for the decision (event prescription.renewal_decided).",
            field="prescription_id",
        )
    request = RenewalRequest(
        organization_id=client.organization.id,
        case_id=prescription.case_id,
        prescription_id=prescription.id,
        status=PENDING,
        patient_note=data.note,
        requested_at=now,
        due_at=now + timedelta(hours=sla_policy(client.organization).hours(RENEWAL_TIER)),
        idempotency_key=idempotency_key,
        fingerprint=fingerprint(prescription_id, data) if idempotency_key else None,
    )
    session.add(request)
    session.flush()
    _audit(
        session,
        client,
        "consult.renewal.request",
        request.id,
        {"prescription_id": prescription.id, "case_id": prescription.case_id},
    )
    return request, True


def get_request(
    session: Session, *, client: Client, request_id: str, for_update: bool = False
) -> RenewalRequest:
    query = select(RenewalRequest).where(
        RenewalRequest.id == request_id, RenewalRequest.organization_id == client.organization.id
    )
    if for_update:
        query = query.with_for_update()
    found = session.scalar(query)
    if found is None:
        raise NotFound("renewal request", request_id)
    return found


def _check_decision(data: RenewalDecisionIn) -> None:
    if data.decision == "decline" and not data.reason:
        raise DomainError(
            422,
            "reason_required",
            "a declined renewal needs a reason the patient will read",
            fix="Say in 'reason' why, and what the patient should do instead.",
            field="reason",
        )
    if data.decision == "decline" and (data.quantity is not None or data.refills is not None):
        raise DomainError(
            422,
            "not_with_decline",
            "'quantity' and 'refills' only go with 'approve'",
            fix="Leave them out when declining.",
            field="refills" if data.refills is not None else "quantity",
        )


def decide(session: Session, *, client: Client, request_id: str, data: RenewalDecisionIn, now: datetime):
    """Approve (a new prescription renewing the old one) or decline. Returns (request, new prescription
    or None)."""
    _check_decision(data)
    request = get_request(session, client=client, request_id=request_id, for_update=True)
    case = session.get(Case, request.case_id)
    if case.jurisdiction not in client.jurisdictions:
        raise DomainError(
            403,
            "not_licensed",
            f"the patient is in {case.jurisdiction}, where you are not licensed",
            fix="A dermatologist licensed in the patient's jurisdiction must decide this renewal.",
        )
    if request.status != PENDING:
        raise DomainError(
            409,
            "renewal_already_decided",
            f"the renewal request is already {request.status}",
            fix="Nothing to do; see the request's decision.",
            field="status",
        )
    original = session.get(Prescription, request.prescription_id)
    renewed = None
    if data.decision == "approve":
        kept = {column: getattr(original, column) for column in RENEWED_AS_BEFORE}
        changes = data.model_dump(include={"quantity", "refills"}, exclude_none=True)
        renewed = add_to_case(
            session,
            Prescription,
            case,
            **{**kept, **changes},
            renews_id=original.id,
            **authored(client, now, by="prescribed_by"),
        )
    request.status = APPROVED if renewed is not None else DECLINED
    request.decided_at = now
    request.decided_by_user_id = client.user_id
    request.decision_reason = data.reason
    request.new_prescription_id = renewed.id if renewed is not None else None
    _audit(
        session,
        client,
        "consult.renewal.decide",
        request.id,
        {"decision": request.status, "new_prescription_id": request.new_prescription_id},
    )
    emit(
        session,
        organization_id=request.organization_id,
        event_type=types.RENEWAL_DECIDED,
        case_id=request.case_id,
        payload={
            "renewal_request_id": request.id,
            "prescription_id": original.id,
            "decision": request.status,
            "reason": data.reason,
            "new_prescription": prescription_event(renewed) if renewed is not None else None,
        },
    )
    return request, renewed


def of_case(session: Session, *, case: Case) -> list[RenewalRequest]:
    return rows_of(session, RenewalRequest, case, RenewalRequest.requested_at, RenewalRequest.id)


def pending_for(session: Session, *, client: Client, limit: int = 100) -> list[RenewalRequest]:
    """The organization's pending renewals by due time (audited): for a dermatologist those of patients
    in the jurisdictions they are licensed in, for an admin all."""
    query = (
        visible_cases(client, select(RenewalRequest).join(Case, Case.id == RenewalRequest.case_id))
        .where(RenewalRequest.status == PENDING)
        .order_by(RenewalRequest.due_at, RenewalRequest.requested_at, RenewalRequest.id)
        .limit(limit)
    )
    found = list(session.scalars(query))
    _audit(session, client, "consult.renewals.read", None, {"renewal_requests": [r.id for r in found]})
    return found
