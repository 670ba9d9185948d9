"""The event types: every outcome of a case the patient must learn, as the intake system sees it (and the
referral letter its referring practice must receive). Each event of a case names who must receive it in
its payload's ``recipient`` (serving.events.recipients)."""

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
#: the referral letter of a released note is ready for the practice that referred the case (a case
#: submitted by a clinician); its ``recipient`` is that practice (serving.consults.referral_letter)
REFERRAL_LETTER_READY = "referral_letter.ready"
RENEWAL_DECIDED = "prescription.renewal_decided"
FOLLOW_UP_SCHEDULED = "follow_up.scheduled"
FOLLOW_UP_DUE = "follow_up.due"
MESSAGE_SENT = "message.sent"
CASE_REFERRED = "case.referred_in_person"
CASE_CLOSED = "case.closed"
#: a live video visit (serving.consults.video_visits): proposed with times and the join link, the
#: patient's pick, held (the dermatologist goes on with the case), cancelled (back to the queue)
CASE_VIDEO_VISIT_PROPOSED = "case.video_visit_proposed"
CASE_VIDEO_VISIT_CONFIRMED = "case.video_visit_confirmed"
CASE_VIDEO_VISIT_COMPLETED = "case.video_visit_completed"
CASE_VIDEO_VISIT_CANCELLED = "case.video_visit_cancelled"
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
        REFERRAL_LETTER_READY,
        RENEWAL_DECIDED,
        FOLLOW_UP_SCHEDULED,
        FOLLOW_UP_DUE,
        MESSAGE_SENT,
        CASE_REFERRED,
        CASE_CLOSED,
        CASE_VIDEO_VISIT_PROPOSED,
        CASE_VIDEO_VISIT_CONFIRMED,
        CASE_VIDEO_VISIT_COMPLETED,
        CASE_VIDEO_VISIT_CANCELLED,
        PATIENT_ERASED,
    }
)
