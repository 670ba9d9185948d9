"""The event types: every outcome of a case the patient must learn, as the intake system sees it."""

from __future__ import annotations

CASE_RETAKE_REQUIRED = "case.retake_required"
CASE_RETAKE_SUGGESTED = "case.retake_suggested"
CASE_EMERGENCY = "case.emergency"
CASE_RETAKE_DEADLINE_PASSED = "case.retake_deadline_passed"
CASE_QUESTION_ASKED = "case.question_asked"
CASE_DIAGNOSED = "case.diagnosed"
CASE_PATHOLOGY_RECORDED = "case.pathology_recorded"
PRESCRIPTION_ISSUED = "prescription.issued"
#: a signed consult note released its drafted diagnosis, plan and prescriptions (serving.consults.notes)
CONSULT_RELEASED = "consult.released"
RENEWAL_DECIDED = "prescription.renewal_decided"
FOLLOW_UP_SCHEDULED = "follow_up.scheduled"
FOLLOW_UP_DUE = "follow_up.due"
MESSAGE_SENT = "message.sent"
CASE_REFERRED = "case.referred_in_person"
CASE_CLOSED = "case.closed"
PATIENT_ERASED = "patient.erased"

ALL_TYPES: frozenset[str] = frozenset(
    {
        CASE_RETAKE_REQUIRED,
        CASE_RETAKE_SUGGESTED,
        CASE_EMERGENCY,
        CASE_RETAKE_DEADLINE_PASSED,
        CASE_QUESTION_ASKED,
        CASE_DIAGNOSED,
        CASE_PATHOLOGY_RECORDED,
        PRESCRIPTION_ISSUED,
        CONSULT_RELEASED,
        RENEWAL_DECIDED,
        FOLLOW_UP_SCHEDULED,
        FOLLOW_UP_DUE,
        MESSAGE_SENT,
        CASE_REFERRED,
        CASE_CLOSED,
        PATIENT_ERASED,
    }
)
