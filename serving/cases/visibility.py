"""Who may see which case: the one rule every query about cases applies (the API, the queue, the
consult and the pages).

A caller sees the cases of their own organization; a dermatologist only those of patients in a
jurisdiction they are licensed in (exact match with the case's ``jurisdiction``). Admins and the
intake system see every case of their organization. Any other case does not exist for the caller: a
look-up of it is a :class:`CaseNotFound` (404), never a 403 that would confirm it exists.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from serving.auth import Client
from serving.cases.models import Case
from serving.errors import NotFound
from serving.orgs.service import Role


class CaseNotFound(NotFound):
    def __init__(self, case_id: str):
        super().__init__("case", case_id, fix="Check the case id.")


def visible_cases(client: Client, query: Select | None = None) -> Select:
    """``query`` (default: ``select(Case)``) narrowed to the cases the caller may see."""
    query = select(Case) if query is None else query
    query = query.where(Case.organization_id == client.organization.id)
    if client.role is Role.dermatologist:
        query = query.where(Case.jurisdiction.in_(sorted(client.jurisdictions)))
    return query


def may_see(client: Client, case: Case) -> bool:
    """The same rule as ``visible_cases``, for a case already loaded."""
    if case.organization_id != client.organization.id:
        return False
    return client.role is not Role.dermatologist or case.jurisdiction in client.jurisdictions


def load_case(session: Session, *, client: Client, case_id: str, for_update: bool = False) -> Case:
    """The caller's case (else CaseNotFound); ``for_update`` locks it for the rest of the transaction."""
    query = visible_cases(client).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise CaseNotFound(case_id)
    return case
