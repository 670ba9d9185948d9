"""What the facade serves: each resource type with its read and its searches. The routes dispatch
through ``REGISTRY`` and the CapabilityStatement is generated from it (``serving.fhir.capability``), so
the statement cannot promise what is not served.

Every look-up applies the cases' own rules: ``visible_cases`` (the caller's organization; a
dermatologist only the jurisdictions they are licensed in) and ``visible_patients``; the intake system
does not see drafts (diagnoses and prescriptions held until a consult note releases them), as in
``GET /v1/cases/{id}/consult``. Anything else does not exist for the caller (NotFound, 404). Every read
is audited (``fhir.read``, by the case, or the patient, it is about) and every search (``fhir.search``,
by the patient searched for; a patient the caller may not see is audited ``not_found`` and finds
nothing, as a FHIR search does)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.resource import Resource
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.audit import record
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.cases.visibility import visible_cases
from serving.consults import notes
from serving.consults.models import (
    ConsultNote,
    Diagnosis,
    Disposition,
    FollowUp,
    Message,
    Prescription,
    VideoVisit,
)
from serving.errors import NotFound
from serving.fhir import mapping
from serving.fhir.questionnaire import ID as QUESTIONNAIRE_ID
from serving.fhir.questionnaire import intake_questionnaire
from serving.histories.service import visible_patients
from serving.orgs.service import Role
from serving.patients.models import Patient


@dataclass(frozen=True)
class Found:
    """A resource, and what its read is audited by (``case`` or ``patient``, and the id)."""

    resource: Resource
    about: tuple[str, str] | None


@dataclass(frozen=True)
class SearchParam:
    name: str
    #: the FHIR search parameter type: reference, token...
    type: str
    documentation: str
    find: Callable[[Session, Client, str], list[Resource]]


@dataclass(frozen=True)
class ResourceKind:
    type: str
    documentation: str
    read: Callable[[Session, Client, str], Found | None]
    searches: Mapping[str, SearchParam]


# -- what the caller may see -------------------------------------------------------------------


def _released(client: Client, model: Any) -> list:
    """The intake system does not see drafts."""
    return [model.draft.is_(False)] if client.role is Role.intake else []


def _of_cases(session: Session, client: Client, model: Any, *where: Any) -> list[tuple[Any, Case]]:
    """Rows of ``model`` (a row about a case) with their case, of the cases the caller may see, oldest
    first."""
    query = visible_cases(client, select(model, Case).join(Case, Case.id == model.case_id)).where(*where)
    return [tuple(row) for row in session.execute(query.order_by(model.created_at, model.id))]


def _patient_cases(session: Session, client: Client, patient_id: str) -> list[Case]:
    query = visible_cases(client).where(Case.patient_id == patient_id)
    return list(session.scalars(query.order_by(Case.created_at, Case.id)))


def _case(session: Session, client: Client, case_id: str) -> Case | None:
    return session.scalar(visible_cases(client).where(Case.id == case_id))


def _diagnoses(session: Session, client: Client, case: Case) -> list[Diagnosis]:
    query = select(Diagnosis).where(Diagnosis.case_id == case.id, *_released(client, Diagnosis))
    return list(session.scalars(query.order_by(Diagnosis.created_at, Diagnosis.id)))


def _about(case: Case) -> tuple[str, str]:
    return ("case", case.id)


# -- Patient -------------------------------------------------------------------------------------


def _read_patient(session: Session, client: Client, ident: str) -> Found | None:
    row = session.scalar(visible_patients(client).where(Patient.id == ident))
    return None if row is None else Found(mapping.patient(row), ("patient", row.id))


def _patients_by_identifier(session: Session, client: Client, value: str) -> list[Resource]:
    external_id = value.rsplit("|", 1)[-1]  # system|value, or the value alone
    rows = session.scalars(visible_patients(client).where(Patient.external_id == external_id))
    return [mapping.patient(row) for row in rows]


# -- DiagnosticReport: the triage, and the dermatologist's report ------------------------------


def _consult_report(session: Session, client: Client, case: Case) -> Resource | None:
    diagnoses = _diagnoses(session, client, case)
    signed: list[ConsultNote] = notes.of_case(session, case=case)
    if not diagnoses and not signed:
        return None
    return mapping.consult_report(case, diagnoses, signed)


def _read_report(session: Session, client: Client, ident: str) -> Found | None:
    for prefix in (mapping.TRIAGE_PREFIX, mapping.CONSULT_PREFIX):
        if ident.startswith(prefix):
            case = _case(session, client, ident.removeprefix(prefix))
            if case is None:
                return None
            if prefix == mapping.TRIAGE_PREFIX:
                return Found(mapping.triage_report(case), _about(case))
            report = _consult_report(session, client, case)
            return None if report is None else Found(report, _about(case))
    return None


def _reports(session: Session, client: Client, patient_id: str) -> list[Resource]:
    found: list[Resource] = []
    for case in _patient_cases(session, client, patient_id):
        found.append(mapping.triage_report(case))
        report = _consult_report(session, client, case)
        if report is not None:
            found.append(report)
    return found


# -- Condition (ICD-10-CM diagnoses) -------------------------------------------------------------


def _condition(session: Session, client: Client, d: Diagnosis, case: Case) -> Resource:
    current = _diagnoses(session, client, case)
    return mapping.condition(case, d, current=bool(current) and current[-1].id == d.id)


def _read_condition(session: Session, client: Client, ident: str) -> Found | None:
    rows = _of_cases(session, client, Diagnosis, Diagnosis.id == ident, *_released(client, Diagnosis))
    return next((Found(_condition(session, client, d, case), _about(case)) for d, case in rows), None)


def _conditions(session: Session, client: Client, patient_id: str) -> list[Resource]:
    rows = _of_cases(session, client, Diagnosis, Case.patient_id == patient_id, *_released(client, Diagnosis))
    return [_condition(session, client, d, case) for d, case in rows]


# -- rows mapped one to one: prescriptions, referrals, follow-ups ------------------------------


def _one_to_one(model: Any, to_resource: Callable[[Case, Any], Resource], *where: Any):
    """The read and the patient search of a type that maps one row of ``model`` to one resource."""

    def read(session: Session, client: Client, ident: str) -> Found | None:
        rows = _of_cases(session, client, model, model.id == ident, *where, *_drafts(client))
        return next((Found(to_resource(case, row), _about(case)) for row, case in rows), None)

    def search(session: Session, client: Client, patient_id: str) -> list[Resource]:
        rows = _of_cases(session, client, model, Case.patient_id == patient_id, *where, *_drafts(client))
        return [to_resource(case, row) for row, case in rows]

    def _drafts(client: Client) -> list:
        return _released(client, model) if hasattr(model, "draft") else []

    return read, search


# -- Task: a retake requested, a question asked ------------------------------------------------


def _tasks_of(session: Session, case: Case, asks: list[Message]) -> list[Resource]:
    """The case's requests to the patient as Tasks (their status from what followed each)."""
    replies = session.scalars(
        select(Message.created_at).where(Message.case_id == case.id, Message.sender == "patient")
    )
    answers = [*replies, *(p.created_at for p in case.photos)]
    all_asks = session.scalars(
        select(Message.id)
        .where(Message.case_id == case.id, Message.kind.in_(mapping.TASK_KINDS))
        .order_by(Message.created_at.desc(), Message.id.desc())
    )
    latest = next(iter(all_asks), None)
    return [
        mapping.task(
            case,
            ask,
            status=mapping.task_status(
                ask,
                answered=any(at > ask.created_at for at in answers),
                awaited=ask.id == latest and case.status is CaseStatus.awaiting_patient,
            ),
        )
        for ask in asks
    ]


def _read_task(session: Session, client: Client, ident: str) -> Found | None:
    rows = _of_cases(session, client, Message, Message.id == ident, Message.kind.in_(mapping.TASK_KINDS))
    return next((Found(_tasks_of(session, case, [ask])[0], _about(case)) for ask, case in rows), None)


def _tasks(session: Session, client: Client, patient_id: str) -> list[Resource]:
    rows = _of_cases(
        session, client, Message, Case.patient_id == patient_id, Message.kind.in_(mapping.TASK_KINDS)
    )
    return [task for ask, case in rows for task in _tasks_of(session, case, [ask])]


# -- Questionnaire: the intake questionnaire -----------------------------------------------------


def _read_questionnaire(session: Session, client: Client, ident: str) -> Found | None:
    return Found(intake_questionnaire(), None) if ident == QUESTIONNAIRE_ID else None


# -- the registry --------------------------------------------------------------------------------


def _by_patient(find: Callable[[Session, Client, str], list[Resource]], what: str) -> dict[str, SearchParam]:
    param = SearchParam(
        name="patient",
        type="reference",
        documentation=f"The patient's id (or Patient/<id>): their {what} the caller may see.",
        find=lambda session, client, value: find(session, client, value.removeprefix("Patient/")),
    )
    return {param.name: param}


_read_prescription, _prescriptions = _one_to_one(Prescription, mapping.medication_request)
_read_referral, _referrals = _one_to_one(Disposition, mapping.service_request, Disposition.kind == "referral")
_read_follow_up, _follow_ups = _one_to_one(FollowUp, mapping.care_plan)
_read_visit, _visits = _one_to_one(VideoVisit, mapping.appointment)

_KINDS = (
    ResourceKind(
        "Patient",
        "A patient of the organization, by the intake system's id (identifier).",
        _read_patient,
        {
            "identifier": SearchParam(
                "identifier",
                "token",
                "The intake system's id for the patient (external_id), optionally as system|value.",
                _patients_by_identifier,
            )
        },
    ),
    ResourceKind(
        "DiagnosticReport",
        "triage-<case id>: the intake triage; consult-<case id>: the dermatologist's report.",
        _read_report,
        _by_patient(_reports, "cases' triage and consult reports"),
    ),
    ResourceKind(
        "Condition", "A diagnosis (ICD-10-CM).", _read_condition, _by_patient(_conditions, "diagnoses")
    ),
    ResourceKind(
        "MedicationRequest",
        "A prescription (RxNorm).",
        _read_prescription,
        _by_patient(_prescriptions, "prescriptions"),
    ),
    ResourceKind(
        "ServiceRequest",
        "A referral to be seen in person.",
        _read_referral,
        _by_patient(_referrals, "in-person referrals"),
    ),
    ResourceKind(
        "CarePlan",
        "A follow-up (new photos by a date).",
        _read_follow_up,
        _by_patient(_follow_ups, "follow-ups"),
    ),
    ResourceKind(
        "Task",
        "A request to the patient: retake the photos, or answer a question.",
        _read_task,
        _by_patient(_tasks, "retake requests and questions"),
    ),
    ResourceKind(
        "Appointment",
        "A live video visit: the times offered, then the one the patient picked.",
        _read_visit,
        _by_patient(_visits, "video visits"),
    ),
    ResourceKind(
        "Questionnaire",
        f"The intake questionnaire ({QUESTIONNAIRE_ID}), generated from the JSON API's.",
        _read_questionnaire,
        {},
    ),
)
REGISTRY: dict[str, ResourceKind] = {kind.type: kind for kind in _KINDS}


class ResourceNotFound(NotFound):
    def __init__(self, resource_type: str, ident: str):
        super().__init__(
            resource_type, ident, fix=f"Check the id; search with GET /fhir/R4/{resource_type}?..."
        )


def read(session: Session, *, client: Client, resource_type: str, ident: str) -> Resource:
    """The resource, audited; ResourceNotFound when the caller may not see it (or it does not exist)."""
    found = REGISTRY[resource_type].read(session, client, ident)
    if found is None:
        raise ResourceNotFound(resource_type, ident)
    if found.about is not None:
        kind, about_id = found.about
        record(
            session,
            actor=client.actor,
            action="fhir.read",
            resource_type=kind,
            resource_id=about_id,
            detail={"resource": f"{resource_type}/{ident}"},
        )
    return found.resource


def search(session: Session, *, client: Client, resource_type: str, param: str, value: str) -> list[Resource]:
    """The resources the caller may see matching one search parameter, audited by the patient."""
    results = REGISTRY[resource_type].searches[param].find(session, client, value)
    if param == "patient":
        patient_id = value.removeprefix("Patient/")
        seen = session.scalar(visible_patients(client).where(Patient.id == patient_id)) is not None
        about, ident, outcome = "patient", patient_id, "ok" if seen else "not_found"
    else:  # by the intake system's id: audited by the patients found, never by external_id
        about, ident, outcome = "patient", ",".join(r.id for r in results)[:64] or None, "ok"
    record(
        session,
        actor=client.actor,
        action="fhir.search",
        resource_type=about,
        resource_id=ident[:64] if ident else None,
        outcome=outcome,
        detail={"type": resource_type, "param": param, "results": len(results)},
    )
    return results
