"""Consult routes: thin. Parse, call a consult service in one transaction; its domain errors become
their JSON answers in ``serving.errors`` (a refused look-up audited first)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError

from serving.audit import record, record_refused_lookup
from serving.auth import Client, CurrentClient, require
from serving.cases.models import Case
from serving.cases.visibility import load_case
from serving.consults import (
    diagnoses,
    diagnosis,
    disposition,
    follow_ups,
    formulary,
    messages,
    prescriptions,
    renewals,
)
from serving.consults.schemas import (
    CaseRef,
    CloseIn,
    ConsultOut,
    DiagnosisActed,
    DiagnosisCodeOut,
    DiagnosisIn,
    DispositionActed,
    FollowUpActed,
    FollowUpIn,
    FollowUpOut,
    MedicationOut,
    MessageActed,
    MessageIn,
    MessageOut,
    PrescriptionActed,
    PrescriptionIn,
    ReferralIn,
    RenewalActed,
    RenewalDecisionIn,
    RenewalRequestIn,
    RenewalRequestOut,
    RetakeRequestIn,
    diagnosis_code_out,
    diagnosis_out,
    disposition_out,
    follow_up_out,
    medication_out,
    message_out,
    prescription_out,
    renewal_out,
)
from serving.db import transaction, utcnow
from serving.errors import DomainError, NotFound
from serving.orgs.service import Role

router = APIRouter(prefix="/v1", tags=["consults"])
REVIEWERS = (Role.dermatologist, Role.admin)
EVERYONE = (Role.intake, Role.dermatologist, Role.admin)


@contextmanager
def _errors(request: Request, client: Client, *, action: str, resource_id: str) -> Iterator[None]:
    """A look-up that found nothing the caller may see is audited (in a transaction of its own, as the
    request's has rolled back) before its 404 goes out; every other domain error goes out as it is."""
    try:
        yield
    except NotFound as exc:
        record_refused_lookup(
            request.app.state.sessions,
            actor=client.actor,
            action=action,
            resource_type=exc.resource_type,
            resource_id=resource_id,
        )
        raise


def _sessions(request: Request):
    return request.app.state.sessions


def _ref(case) -> CaseRef:
    return CaseRef(id=case.id, status=case.status)


# -- catalogues -------------------------------------------------------------------------------


@router.get(
    "/catalogue/diagnoses", response_model=list[DiagnosisCodeOut], summary="Search the diagnosis catalogue"
)
def search_diagnoses(
    client: CurrentClient,
    q: Annotated[
        str | None, Query(max_length=100, description="Words of the name, or a code prefix.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[DiagnosisCodeOut]:
    return [diagnosis_code_out(d) for d in diagnoses.search(q, limit=limit)]


@router.get("/catalogue/medications", response_model=list[MedicationOut], summary="Search the formulary")
def search_medications(
    client: CurrentClient,
    q: Annotated[
        str | None, Query(max_length=100, description="Words of the name or class, or an RXCUI.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[MedicationOut]:
    return [medication_out(m) for m in formulary.search(q, limit=limit)]


# -- the consult record -----------------------------------------------------------------------


@router.get(
    "/cases/{case_id}/consult", response_model=ConsultOut, summary="Diagnoses (history), prescriptions..."
)
def get_consult(case_id: str, request: Request, client: CurrentClient) -> ConsultOut:
    """Everything decided on the case: every diagnosis (oldest first; the last is current),
    prescriptions and renewals, follow-ups, referral or closure."""
    with (
        _errors(request, client, action="consult.read", resource_id=case_id),
        transaction(_sessions(request)) as session,
    ):
        case = load_case(session, client=client, case_id=case_id)
        out = ConsultOut(
            case=_ref(case),
            diagnoses=[diagnosis_out(d) for d in diagnosis.history(session, case=case)],
            prescriptions=[prescription_out(p) for p in prescriptions.of_case(session, case=case)],
            renewal_requests=[renewal_out(r) for r in renewals.of_case(session, case=case)],
            follow_ups=[follow_up_out(f) for f in follow_ups.of_case(session, case=case)],
            dispositions=[disposition_out(d) for d in disposition.of_case(session, case=case)],
        )
        record(session, actor=client.actor, action="consult.read", resource_type="case", resource_id=case.id)
    return out


def _act(request: Request, client: Client, *, action: str, case_id: str, call, data):
    with (
        _errors(request, client, action=action, resource_id=case_id),
        transaction(_sessions(request)) as session,
    ):
        return call(session, client=client, case_id=case_id, data=data, now=utcnow())


@router.post("/cases/{case_id}/diagnosis", status_code=201, response_model=DiagnosisActed, summary="Diagnose")
def post_diagnosis(
    case_id: str, data: DiagnosisIn, request: Request, client: CurrentClient
) -> DiagnosisActed:
    """A coded diagnosis from GET /v1/catalogue/diagnoses. A case in review becomes 'diagnosed'; a later
    diagnosis (confirmed or revised at follow-up) is added to the history."""
    require(client, *REVIEWERS)
    case, row = _act(
        request,
        client,
        action="consult.diagnosis.create",
        case_id=case_id,
        call=diagnosis.diagnose,
        data=data,
    )
    return DiagnosisActed(case=_ref(case), diagnosis=diagnosis_out(row))


@router.post(
    "/cases/{case_id}/prescriptions", status_code=201, response_model=PrescriptionActed, summary="Prescribe"
)
def post_prescription(
    case_id: str, data: PrescriptionIn, request: Request, client: CurrentClient
) -> PrescriptionActed:
    """A medication of the formulary (GET /v1/catalogue/medications) in a listed form and strength,
    for a diagnosed case."""
    require(client, *REVIEWERS)
    case, row = _act(
        request,
        client,
        action="consult.prescription.create",
        case_id=case_id,
        call=prescriptions.prescribe,
        data=data,
    )
    return PrescriptionActed(case=_ref(case), prescription=prescription_out(row))


@router.post(
    "/cases/{case_id}/follow-ups",
    status_code=201,
    response_model=FollowUpActed,
    summary="Schedule a follow-up",
)
def post_follow_up(case_id: str, data: FollowUpIn, request: Request, client: CurrentClient) -> FollowUpActed:
    """A diagnosed case waits for follow-up photos (POST /v1/cases/{id}/photos) by 'due_at'."""
    require(client, *REVIEWERS)
    case, row = _act(
        request,
        client,
        action="consult.follow_up.schedule",
        case_id=case_id,
        call=follow_ups.schedule,
        data=data,
    )
    return FollowUpActed(case=_ref(case), follow_up=follow_up_out(row))


@router.get("/follow-ups/overdue", response_model=list[FollowUpOut], summary="Follow-ups past their date")
def get_overdue(
    request: Request, client: CurrentClient, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[FollowUpOut]:
    require(client, *EVERYONE)
    with transaction(_sessions(request)) as session:
        return [
            follow_up_out(f) for f in follow_ups.overdue(session, client=client, now=utcnow(), limit=limit)
        ]


@router.post(
    "/cases/{case_id}/retake-request",
    status_code=201,
    response_model=MessageActed,
    summary="Ask the patient for new photos",
)
def post_retake_request(
    case_id: str, data: RetakeRequestIn, request: Request, client: CurrentClient
) -> MessageActed:
    """The case waits for the patient ('awaiting_patient') until new photos arrive."""
    require(client, *REVIEWERS)
    case, row = _act(
        request,
        client,
        action="consult.retake.request",
        case_id=case_id,
        call=disposition.request_retake,
        data=data,
    )
    return MessageActed(case=_ref(case), message=message_out(row))


@router.post(
    "/cases/{case_id}/referral", status_code=201, response_model=DispositionActed, summary="Refer in person"
)
def post_referral(
    case_id: str, data: ReferralIn, request: Request, client: CurrentClient
) -> DispositionActed:
    require(client, *REVIEWERS)
    case, row = _act(
        request, client, action="consult.referral.create", case_id=case_id, call=disposition.refer, data=data
    )
    return DispositionActed(case=_ref(case), disposition=disposition_out(row))


@router.post("/cases/{case_id}/close", response_model=DispositionActed, summary="Close the case")
def post_close(case_id: str, data: CloseIn, request: Request, client: CurrentClient) -> DispositionActed:
    require(client, *REVIEWERS)
    case, row = _act(
        request, client, action="consult.case.close", case_id=case_id, call=disposition.close, data=data
    )
    return DispositionActed(case=_ref(case), disposition=disposition_out(row))


# -- messages ---------------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/messages", status_code=201, response_model=MessageActed, summary="Write to the thread"
)
async def post_message(
    case_id: str, data: MessageIn, request: Request, client: CurrentClient
) -> MessageActed:
    """Dermatologist to patient, or the patient (intake key) to the dermatologist; images as base64
    attachments. A dermatologist's 'question' sends the case to 'awaiting_patient'; the patient's
    message to a case awaiting them puts it back in the queue."""
    require(client, *EVERYONE)
    intake = request.app.state.intake
    with _errors(request, client, action="consult.message.create", resource_id=case_id):
        case, row = await run_in_threadpool(
            messages.post_message,
            _sessions(request),
            store=intake.store,
            limits=intake.limits,
            client=client,
            case_id=case_id,
            data=data,
            now=utcnow(),
        )
    return MessageActed(case=_ref(case), message=message_out(row))


@router.get("/cases/{case_id}/messages", response_model=list[MessageOut], summary="The thread, oldest first")
def get_messages(case_id: str, request: Request, client: CurrentClient) -> list[MessageOut]:
    require(client, *EVERYONE)
    with (
        _errors(request, client, action="consult.messages.read", resource_id=case_id),
        transaction(_sessions(request)) as session,
    ):
        return [message_out(m) for m in messages.thread(session, client=client, case_id=case_id)]


def _attachment(
    request: Request, client: Client, case_id: str, message_id: str, attachment_id: str, thumbnail
):
    with (
        _errors(request, client, action="consult.attachment.read", resource_id=attachment_id),
        transaction(_sessions(request)) as session,
    ):
        found = messages.attachment(
            session,
            client=client,
            case_id=case_id,
            message_id=message_id,
            attachment_id=attachment_id,
            thumbnail=thumbnail,
        )
    content = request.app.state.intake.store.read(found.thumbnail_key if thumbnail else found.storage_key)
    media_type = "image/jpeg" if thumbnail else found.media_type
    return Response(content, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/cases/{case_id}/messages/{message_id}/attachments/{attachment_id}/image",
    response_class=Response,
    summary="An attachment",
)
def attachment_image(
    case_id: str, message_id: str, attachment_id: str, request: Request, client: CurrentClient
):
    return _attachment(request, client, case_id, message_id, attachment_id, thumbnail=False)


@router.get(
    "/cases/{case_id}/messages/{message_id}/attachments/{attachment_id}/thumbnail",
    response_class=Response,
    summary="An attachment's thumbnail",
)
def attachment_thumbnail(
    case_id: str, message_id: str, attachment_id: str, request: Request, client: CurrentClient
):
    return _attachment(request, client, case_id, message_id, attachment_id, thumbnail=True)


# -- renewals ---------------------------------------------------------------------------------


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > 255:
        raise DomainError(
            400,
            "invalid_idempotency_key",
            "the Idempotency-Key header is empty or longer than 255 characters",
            field="Idempotency-Key",
            fix="Send a unique key (e.g. a UUID) and the same one when you retry.",
        )
    return value.strip()


@router.post(
    "/prescriptions/{prescription_id}/renewal-requests",
    status_code=201,
    response_model=RenewalRequestOut,
    responses={200: {"model": RenewalRequestOut, "description": "A retry with the same Idempotency-Key."}},
    summary="Ask for a renewal (intake)",
)
def post_renewal_request(
    prescription_id: str,
    data: RenewalRequestIn,
    request: Request,
    client: CurrentClient,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
):
    """The renewal enters the dermatologists' queue as an item of its own, due within the organization's
    ROUTINE review time. Retries with the same Idempotency-Key return the first request."""
    require(client, Role.intake, Role.admin)
    key = _idempotency_key(idempotency_key)

    def attempt():
        with transaction(_sessions(request)) as session:
            return renewals.request_renewal(
                session,
                client=client,
                prescription_id=prescription_id,
                data=data,
                idempotency_key=key,
                now=utcnow(),
            )

    with _errors(request, client, action="consult.renewal.request", resource_id=prescription_id):
        try:
            row, created = attempt()
        except IntegrityError:
            if key is None:
                raise
            row, created = attempt()  # a concurrent retry won the key: replay it
    return JSONResponse(renewal_out(row).model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/renewal-requests", response_model=list[RenewalRequestOut], summary="Pending renewals")
def get_renewal_requests(
    request: Request, client: CurrentClient, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[RenewalRequestOut]:
    """Pending renewal requests by due time; a dermatologist sees those of patients in their licensed
    jurisdictions."""
    require(client, *REVIEWERS)
    with transaction(_sessions(request)) as session:
        return [renewal_out(r) for r in renewals.pending_for(session, client=client, limit=limit)]


@router.post(
    "/renewal-requests/{request_id}/decision",
    response_model=RenewalActed,
    summary="Approve or decline a renewal",
)
def post_renewal_decision(
    request_id: str, data: RenewalDecisionIn, request: Request, client: CurrentClient
) -> RenewalActed:
    """By a dermatologist licensed in the patient's jurisdiction. Approving writes a new prescription
    that renews the original."""
    require(client, Role.dermatologist)
    with (
        _errors(request, client, action="consult.renewal.decide", resource_id=request_id),
        transaction(_sessions(request)) as session,
    ):
        row, renewed = renewals.decide(session, client=client, request_id=request_id, data=data, now=utcnow())
        case = session.get(Case, row.case_id)
    return RenewalActed(
        case=_ref(case),
        renewal_request=renewal_out(row),
        prescription=prescription_out(renewed) if renewed is not None else None,
    )
