"""A refusal as a FHIR OperationOutcome: the domain error's message, what to fix and the field at
fault, its machine code kept as a coding; the issue type from the HTTP status."""

from __future__ import annotations

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue

from serving.errors import DomainError
from serving.fhir.codes import system

#: HTTP status -> the issue type (http://hl7.org/fhir/issue-type)
ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    408: "timeout",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
}


def operation_outcome(error: DomainError) -> OperationOutcome:
    issue: dict = {
        "severity": "error",
        "code": ISSUE_TYPES.get(error.status_code, "processing"),
        "details": CodeableConcept(
            coding=[Coding(system=system("error"), code=error.code)], text=error.message
        ),
    }
    if error.fix:
        issue["diagnostics"] = error.fix
    if error.field:
        issue["expression"] = [error.field]
    return OperationOutcome(issue=[OperationOutcomeIssue(**issue)])
