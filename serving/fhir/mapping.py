"""The service's rows as FHIR resources (pure: rows in, ``fhir.resources`` models out; nothing is
looked up here). Each resource's ``id`` is the row's id, but for the two DiagnosticReports of a case:
``triage-<case id>`` (the intake triage) and ``consult-<case id>`` (the dermatologist's report).

Resources about a case name its patient (``Patient/<id>``); a case sent without a patient names the
case instead (a Reference by the case's identifier), as every such resource needs a subject."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.appointment import Appointment, AppointmentParticipant
from fhir.resources.R4B.attachment import Attachment
from fhir.resources.R4B.careplan import CarePlan, CarePlanActivity, CarePlanActivityDetail
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.dosage import Dosage
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.medicationrequest import MedicationRequest, MedicationRequestDispenseRequest
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from serving.cases.models import Case
from serving.consults import referral_letter
from serving.consults.models import (
    ConsultNote,
    Diagnosis,
    Disposition,
    FollowUp,
    Message,
    Prescription,
    VideoVisit,
)
from serving.consults.note_schemas import pdf_url
from serving.fhir.codes import (
    BASE,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    ICD10CM,
    RXNORM,
    identifier_system,
    system,
)
from serving.patients.models import Patient

LOINC = "http://loinc.org"
URGENCY_SCORE = f"{BASE}/StructureDefinition/urgency-score"
#: the link the patient joins a video visit by (R4 has no element for it)
JOIN_URL = f"{BASE}/StructureDefinition/join-url"
TRIAGE_PREFIX, CONSULT_PREFIX = "triage-", "consult-"

#: a diagnosis's certainty -> Condition.verificationStatus ("revised": the dermatologist's later,
#: settled diagnosis)
VERIFICATION = {"provisional": "provisional", "confirmed": "confirmed", "revised": "confirmed"}
#: a referral's urgency -> ServiceRequest.priority
REFERRAL_PRIORITY = {"routine": "routine", "soon": "urgent", "urgent": "asap"}
#: a follow-up's status -> CarePlan.status, CarePlan.activity.detail.status
FOLLOW_UP_STATUS = {
    "scheduled": ("active", "scheduled"),
    "received": ("completed", "completed"),
    "cancelled": ("revoked", "cancelled"),
}
#: a video visit's status -> Appointment.status, and the patient's participation status
VISIT_STATUS = {
    "proposed": ("proposed", "needs-action"),
    "confirmed": ("booked", "accepted"),
    "completed": ("fulfilled", "accepted"),
    "cancelled": ("cancelled", "declined"),
}
#: the messages that ask the patient for something -> Task.code
TASK_KINDS = {"retake_request": "Retake the photos", "question": "Answer the dermatologist's question"}


def _instant(value: datetime) -> str:
    return value.isoformat()


def _coding(name: str, code: str, display: str | None = None) -> Coding:
    return Coding(system=system(name), code=code, display=display)


def case_identifier(case_id: str) -> Identifier:
    return Identifier(system=identifier_system("case"), value=case_id)


def subject(case: Case) -> Reference:
    """The case's patient, or (a case sent without one) the case by its identifier."""
    if case.patient_id is not None:
        return Reference(reference=f"Patient/{case.patient_id}")
    return Reference(identifier=case_identifier(case.id), display=f"the patient of case {case.id}")


def patient(row: Patient) -> FhirPatient:
    values: dict = {
        "id": row.id,
        "identifier": [
            Identifier(system=identifier_system(f"external-id/{row.organization_id}"), value=row.external_id)
        ],
    }
    if row.sex is not None:
        values["gender"] = row.sex  # female | male | other | unknown: FHIR's administrative genders
    if row.birth_year is not None:
        values["birthDate"] = f"{row.birth_year:04d}"
    if row.display_name is not None:
        values["name"] = [HumanName(text=row.display_name)]
    return FhirPatient(**values)


def triage_report(case: Case) -> DiagnosticReport:
    """The intake triage: its tier and care setting as codes, its reasons as the conclusion."""
    codes = [_coding("triage-tier", case.tier.value)]
    if case.care_setting is not None:
        codes.append(_coding("care-setting", case.care_setting))
    kind = _coding("report-kind", "triage", "Teledermatology intake triage")
    return DiagnosticReport(
        id=f"{TRIAGE_PREFIX}{case.id}",
        identifier=[case_identifier(case.id)],
        status="final",
        category=[CodeableConcept(coding=[kind])],
        code=CodeableConcept(coding=[kind], text="Teledermatology intake triage"),
        subject=subject(case),
        effectiveDateTime=_instant(case.created_at),
        issued=_instant(case.triaged_at),
        conclusion="; ".join(case.reasons) or f"tier {case.tier.value}",
        conclusionCode=[CodeableConcept(coding=[code]) for code in codes],
        extension=[Extension(url=URGENCY_SCORE, valueDecimal=Decimal(str(round(case.urgency_score, 6))))],
    )


def consult_report(
    case: Case, diagnoses: Sequence[Diagnosis], notes: Sequence[ConsultNote]
) -> DiagnosticReport:
    """The dermatologist's report of a case (it has a diagnosis or a consult note): its diagnoses as
    ICD-10-CM codes (the current one last), the current assessment as the conclusion, the latest
    signed note as the presented form (its PDF; for a clinician's referral also the letter to the
    referring practice). ``preliminary`` while the current diagnosis is a
    draft, else ``final``."""
    kind = Coding(system=LOINC, code="11488-4", display="Consult note")
    values: dict = {
        "id": f"{CONSULT_PREFIX}{case.id}",
        "identifier": [case_identifier(case.id)],
        "status": "preliminary" if diagnoses and diagnoses[-1].draft else "final",
        "category": [CodeableConcept(coding=[_coding("report-kind", "consult", "Dermatology consult")])],
        "code": CodeableConcept(coding=[kind], text="Dermatology consult"),
        "subject": subject(case),
        "effectiveDateTime": _instant(case.created_at),
    }
    if diagnoses:
        values["conclusion"] = diagnoses[-1].assessment
        values["conclusionCode"] = [_icd10(d) for d in diagnoses]
        values["issued"] = _instant(diagnoses[-1].created_at)
    if notes:
        note = notes[-1]
        values["issued"] = _instant(note.signed_at)
        values["resultsInterpreter"] = [Reference(display=note.signed_by_name)]
        values["presentedForm"] = [
            Attachment(
                contentType="application/pdf",
                url=pdf_url(note),
                title=f"Consult note {note.number}",
                creation=_instant(note.signed_at),
            )
        ]
        if referral_letter.is_referred(case):  # the letter to the referring practice, from the same note
            practice = (case.submitted_by or {}).get("practice") or "the referring practice"
            values["presentedForm"].append(
                Attachment(
                    contentType="application/pdf",
                    url=referral_letter.letter_url(note),
                    title=f"Referral letter to {practice}",
                    creation=_instant(note.signed_at),
                )
            )
    return DiagnosticReport(**values)


def _icd10(d: Diagnosis) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=ICD10CM, code=d.icd10_code, display=d.icd10_title)])


def condition(case: Case, d: Diagnosis, *, current: bool) -> Condition:
    """A diagnosis (ICD-10-CM). ``current``: the case's latest diagnosis (clinically active); an earlier
    one, replaced by a later diagnosis, carries no clinical status."""
    values: dict = {
        "id": d.id,
        "identifier": [case_identifier(case.id)],
        "verificationStatus": CodeableConcept(
            coding=[Coding(system=CONDITION_VERIFICATION, code=VERIFICATION[d.certainty])]
        ),
        "code": CodeableConcept(
            coding=[Coding(system=ICD10CM, code=d.icd10_code, display=d.icd10_title)],
            text=d.free_text or d.icd10_title,
        ),
        "subject": subject(case),
        "recordedDate": _instant(d.created_at),
        "note": [Annotation(text=d.assessment)],
    }
    if current:
        values["clinicalStatus"] = CodeableConcept(coding=[Coding(system=CONDITION_CLINICAL, code="active")])
    return Condition(**values)


def medication_request(case: Case, p: Prescription) -> MedicationRequest:
    """A prescription (RxNorm ingredient): ``draft`` until a consult note releases it, else ``active``."""
    values: dict = {
        "id": p.id,
        "identifier": [case_identifier(case.id)],
        "status": "draft" if p.draft else "active",
        "intent": "order",
        "medicationCodeableConcept": CodeableConcept(
            coding=[Coding(system=RXNORM, code=p.rxcui, display=p.medication)],
            text=f"{p.medication} {p.strength} {p.form}",
        ),
        "subject": subject(case),
        "authoredOn": _instant(p.created_at),
        "reasonReference": [Reference(reference=f"Condition/{p.diagnosis_id}")],
        "dosageInstruction": [Dosage(text=p.directions)],
        "dispenseRequest": MedicationRequestDispenseRequest(
            quantity=Quantity(value=Decimal(str(p.quantity)), unit=p.quantity_unit),
            numberOfRepeatsAllowed=p.refills,
        ),
    }
    if p.pharmacy_note:
        values["note"] = [Annotation(text=p.pharmacy_note)]
    if p.renews_id is not None:
        values["priorPrescription"] = Reference(reference=f"MedicationRequest/{p.renews_id}")
    return MedicationRequest(**values)


def service_request(case: Case, d: Disposition) -> ServiceRequest:
    """A referral to be seen in person."""
    what = "In-person dermatology visit" + (f" ({d.specialty})" if d.specialty else "")
    values: dict = {
        "id": d.id,
        "identifier": [case_identifier(case.id)],
        "status": "active",
        "intent": "order",
        "priority": REFERRAL_PRIORITY.get(d.urgency or "routine", "routine"),
        "code": CodeableConcept(coding=[_coding("referral", "in-person", what)], text=what),
        "subject": subject(case),
        "authoredOn": _instant(d.created_at),
        "reasonCode": [CodeableConcept(text=d.reason)],
    }
    if d.instructions:
        values["patientInstruction"] = d.instructions
    return ServiceRequest(**values)


def care_plan(case: Case, f: FollowUp) -> CarePlan:
    """A follow-up: new photos by ``due_at``."""
    plan_status, activity_status = FOLLOW_UP_STATUS[f.status]
    due = Period(end=_instant(f.due_at))
    return CarePlan(
        id=f.id,
        identifier=[case_identifier(case.id)],
        status=plan_status,
        intent="plan",
        title="Follow-up photos",
        description=f.instructions,
        subject=subject(case),
        created=_instant(f.created_at),
        period=due,
        activity=[
            CarePlanActivity(
                detail=CarePlanActivityDetail(
                    kind="Task",
                    code=CodeableConcept(coding=[_coding("follow-up", "photos", "Follow-up photos")]),
                    status=activity_status,
                    scheduledPeriod=due,
                    description=f.instructions,
                )
            )
        ],
    )


def task_status(ask: Message, *, answered: bool, awaited: bool) -> str:
    """What became of a request to the patient: ``completed`` once they answered (a message or photos
    after it), ``requested`` while the case still waits for them, else ``cancelled``."""
    if answered:
        return "completed"
    return "requested" if awaited else "cancelled"


def task(case: Case, ask: Message, *, status: str) -> Task:
    """A retake request or a question to the patient (``status``: ``task_status``)."""
    what = TASK_KINDS[ask.kind]
    values: dict = {
        "id": ask.id,
        "identifier": [case_identifier(case.id)],
        "status": status,
        "intent": "order",
        "code": CodeableConcept(coding=[_coding("task", ask.kind, what)], text=what),
        "description": ask.body,
        "for_fhir": subject(case),
        "owner": subject(case),
        "authoredOn": _instant(ask.created_at),
        "focus": Reference(reference=f"DiagnosticReport/{TRIAGE_PREFIX}{case.id}"),
    }
    reasons = (ask.detail or {}).get("reasons") or []
    if reasons:
        values["reasonCode"] = CodeableConcept(
            coding=[_coding("retake-reason", reason) for reason in reasons], text=", ".join(reasons)
        )
    return Task(**values)


def appointment(case: Case, visit: VideoVisit) -> Appointment:
    """A live video visit: the times offered (``requestedPeriod``) until the patient picks one
    (``start``/``end``), its join link as an extension."""
    status, participation = VISIT_STATUS[visit.status]
    length = timedelta(minutes=visit.duration_minutes)
    values: dict = {
        "id": visit.id,
        "identifier": [case_identifier(case.id)],
        "status": status,
        "serviceType": [CodeableConcept(coding=[_coding("visit", "video", "Dermatology video visit")])],
        "description": visit.reason,
        "minutesDuration": visit.duration_minutes,
        "created": _instant(visit.created_at),
        "requestedPeriod": [Period(start=_instant(t), end=_instant(t + length)) for t in visit.times],
        "participant": [AppointmentParticipant(actor=subject(case), status=participation)],
        "supportingInformation": [Reference(reference=f"DiagnosticReport/{TRIAGE_PREFIX}{case.id}")],
    }
    if visit.confirmed_time is not None:
        values["start"] = _instant(visit.confirmed_time)
        values["end"] = _instant(visit.confirmed_time + length)
    if visit.join_url:
        values["extension"] = [Extension(url=JOIN_URL, valueUrl=visit.join_url)]
    if visit.completion_note:
        values["comment"] = visit.completion_note
    if visit.cancel_reason:
        values["cancelationReason"] = CodeableConcept(text=visit.cancel_reason)
    return Appointment(**values)
