"""Where a case stands: the statuses of the case state machine (the moves are in
:mod:`serving.cases.states`)."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    awaiting_retake = "awaiting_retake"  # no usable photo yet; not in the queue
    queued = "queued"  # waiting for a dermatologist
    emergency = "emergency"  # flagged for immediate action; patient told to seek emergency care
    in_review = "in_review"  # claimed by a dermatologist
    awaiting_patient = "awaiting_patient"  # question or retake asked by the dermatologist
    awaiting_visit = "awaiting_visit"  # a live video visit proposed; no one holds it until it happens
    diagnosed = "diagnosed"
    follow_up_scheduled = "follow_up_scheduled"
    referred_in_person = "referred_in_person"
    closed = "closed"
