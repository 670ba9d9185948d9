"""Histopathology results: what the biopsy or excision of a case's lesion showed, coded from the same
ICD-10-CM catalogue as the diagnoses. They come back weeks after the consult, so they are recorded in
any status once a dermatologist has started reviewing the case (closed and referred cases included),
and without the case's lease (no one holds a closed case). Several per case: the latest by report date
is the case's outcome (model/outcome.py maps it to the urgency model's classes)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from model import outcome
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.states import IllegalMove
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case
from serving.consults import diagnosis
from serving.consults.common import add_to_case, authored, record_action, rows_of
from serving.consults.models import Diagnosis, PathologyResult
from serving.consults.schemas import PathologyIn
from serving.errors import DomainError
from serving.events import types

S = CaseStatus

#: statuses a case has before any dermatologist looked at it; a pathology result is refused there until
#: a review has started (``first_reviewed_at``): a case back in the queue after follow-up photos takes one
BEFORE_REVIEW = frozenset({S.awaiting_retake, S.queued, S.emergency})
#: diagnoses that count for the outcome label ("provisional" is a first impression)
SETTLED_CERTAINTIES = ("confirmed", "revised")
#: a date is "today" somewhere on Earth from UTC-12 to UTC+14
_EARLIEST_ZONE, _LATEST_ZONE = timedelta(hours=-12), timedelta(hours=14)


def require_reviewed(case: Case) -> None:
    """A 409 for a case no dermatologist has started reviewing (awaiting a retake, queued, emergency)."""
    status = CaseStatus(case.status)
    if status in BEFORE_REVIEW and case.first_reviewed_at is None:
        raise IllegalMove(
            status,
            "record a pathology result",
            message=f"a case in status {status.value!r} that no dermatologist has reviewed yet "
            "cannot take a pathology result",
            fix="Claim the case (POST /v1/queue/claim) and review it first.",
        )


def _date_problem(field: str, message: str, fix: str) -> DomainError:
    return DomainError(422, "invalid_report_date", message, fix=fix, field=field)


def check_report_date(reported_on: date, *, case: Case, now: datetime) -> None:
    """Not in the future, not before the case (each as the date anywhere on Earth)."""
    if reported_on > (now + _LATEST_ZONE).date():
        raise _date_problem(
            "reported_on",
            f"the report date {reported_on.isoformat()} is in the future",
            "Send the date printed on the pathology report.",
        )
    if reported_on < (case.created_at + _EARLIEST_ZONE).date():
        raise _date_problem(
            "reported_on",
            f"the report date {reported_on.isoformat()} is before the case was submitted "
            f"({case.created_at.date().isoformat()})",
            "Record a result of this case's lesion, reported after the case was submitted.",
        )


def record(session: Session, *, client: Client, case_id: str, data: PathologyIn, now: datetime):
    """Record a pathology result (the case's status does not change). Returns (case, result, label)."""
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    require_reviewed(case)
    entry = diagnosis.catalogue_entry(data.icd10, field="icd10", details="report")
    check_report_date(data.reported_on, case=case, now=now)
    result = add_to_case(
        session,
        PathologyResult,
        case,
        icd10_code=entry.code,
        icd10_title=entry.title,
        reported_on=data.reported_on,
        report=data.report,
        **authored(client, now, by="recorded_by"),
    )
    record_action(
        session,
        client=client,
        case=case,
        action="consult.pathology.create",
        detail={"pathology_id": result.id, "code": entry.code, "reported_on": data.reported_on.isoformat()},
        event=(
            types.CASE_PATHOLOGY_RECORDED,
            {
                "pathology_id": result.id,
                "code": entry.code,
                "title": entry.title,
                "reported_on": data.reported_on.isoformat(),
            },
        ),
    )
    return case, result, outcome_of(session, case=case)


#: a case's results, oldest report first (the same day: in the order recorded)
RESULT_ORDER = (PathologyResult.reported_on, PathologyResult.created_at, PathologyResult.id)


def of_case(session: Session, *, case: Case) -> list[PathologyResult]:
    """The case's results, oldest report first (the same day: in the order recorded)."""
    return rows_of(session, PathologyResult, case, *RESULT_ORDER)


def label_from(
    results: Sequence[PathologyResult], diagnoses: Sequence[Diagnosis]
) -> outcome.OutcomeLabel | None:
    """The outcome rule, in one place: the latest pathology result, else the last confirmed or revised
    diagnosis (``results`` and ``diagnoses`` of one case, oldest first); None when there is neither."""
    settled = [d for d in diagnoses if d.certainty in SETTLED_CERTAINTIES]
    return outcome.outcome_label(
        pathology_code=results[-1].icd10_code if results else None,
        diagnosis_code=settled[-1].icd10_code if settled else None,
    )


def outcome_of(session: Session, *, case: Case, results: list[PathologyResult] | None = None):
    """The case's outcome label (``model.outcome.OutcomeLabel``), or None: the latest pathology result,
    else the last confirmed or revised diagnosis."""
    results = of_case(session, case=case) if results is None else results
    return label_from(results, diagnosis.history(session, case=case))


def outcomes_of(session: Session, case_ids: Select) -> dict[str, outcome.OutcomeLabel]:
    """The outcome label of every case of ``case_ids`` (a SELECT of case ids, e.g. narrowed by
    ``visible_cases``) that has one, by case id: two queries for all of them, the same rule as
    :func:`outcome_of`."""
    results: dict[str, list[PathologyResult]] = defaultdict(list)
    for row in session.scalars(
        select(PathologyResult).where(PathologyResult.case_id.in_(case_ids)).order_by(*RESULT_ORDER)
    ):
        results[row.case_id].append(row)
    diagnoses: dict[str, list[Diagnosis]] = defaultdict(list)
    for row in session.scalars(
        select(Diagnosis)
        .where(Diagnosis.case_id.in_(case_ids), Diagnosis.certainty.in_(SETTLED_CERTAINTIES))
        .order_by(*diagnosis.HISTORY_ORDER)
    ):
        diagnoses[row.case_id].append(row)
    labels = {}
    for case_id in results.keys() | diagnoses.keys():
        label = label_from(results.get(case_id, []), diagnoses.get(case_id, []))
        if label is not None:
            labels[case_id] = label
    return labels


def findings(session: Session, *, case: Case):
    """(results, outcome label) for the case page and ``GET /v1/cases/{id}``."""
    results = of_case(session, case=case)
    return results, outcome_of(session, case=case, results=results)
