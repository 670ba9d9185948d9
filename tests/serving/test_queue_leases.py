"""The queue's service functions directly, on SQLite and PostgreSQL: require_lease, the sweep
of expired leases, leases kept through diagnosis and ended by other moves, deactivation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import make_dermatologist
from queue_cases import queue_cases
from sqlalchemy import select

from serving.audit import Actor, AuditEvent
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.states import transition
from serving.cases.status import CaseStatus
from serving.cases.visibility import may_see
from serving.db import transaction, utcnow
from serving.orgs.models import Organization
from serving.orgs.service import Role, find_active_key
from serving.people.models import User
from serving.queue import service
from serving.queue.staff import deactivate_user


def client_for(sessions, key: str) -> Client:
    with transaction(sessions) as s:
        api_key, org = find_active_key(s, key)
        user = s.get(User, api_key.user_id) if api_key.user_id else None
    actor = Actor(organization_id=org.id, key_id=api_key.id, role=api_key.role, user_id=user and user.id)
    return Client(
        organization=org,
        key_id=api_key.id,
        role=Role(api_key.role),
        actor=actor,
        user_id=user and user.id,
        jurisdictions=frozenset(user.jurisdictions) if user else frozenset(),
    )


def claim(sessions, client: Client, **kwargs) -> Case | None:
    with transaction(sessions) as s:
        return service.claim_next(s, client=client, **kwargs)


def test_require_lease(sessions, org):
    queue_cases(sessions, org.org_id, 1)
    derm = client_for(sessions, org.dermatologist)
    other = client_for(sessions, make_dermatologist(sessions, org.org_id, name="Dr. Two"))
    admin = client_for(sessions, org.admin)
    case = claim(sessions, derm)
    with transaction(sessions) as s:
        case = s.get(Case, case.id)
        service.require_lease(s, case=case, client=derm)  # the holder
        service.require_lease(s, case=case, client=admin)  # admins act without a lease
        with pytest.raises(service.LeaseRequired, match="another dermatologist holds it"):
            service.require_lease(s, case=case, client=other)
        with pytest.raises(service.LeaseRequired, match="expired"):
            service.require_lease(s, case=case, client=derm, now=utcnow() + timedelta(minutes=31))


def test_lease_survives_diagnosis_and_ends_when_the_case_leaves_the_dermatologist(sessions, org):
    queue_cases(sessions, org.org_id, 1)
    derm = client_for(sessions, org.dermatologist)
    case = claim(sessions, derm)
    with transaction(sessions) as s:
        case = s.get(Case, case.id)
        transition(s, case, CaseStatus.diagnosed, actor=derm.actor, reason="test")
        service.require_lease(s, case=case, client=derm)  # still theirs: prescriptions come next
        transition(s, case, CaseStatus.follow_up_scheduled, actor=derm.actor, reason="test")
        assert case.assigned_to is None and case.lease_expires_at is None
        with pytest.raises(service.LeaseRequired, match="no one holds it"):
            service.require_lease(s, case=case, client=derm)


def test_sweep_returns_expired_cases_only(sessions, org):
    ids = queue_cases(sessions, org.org_id, 3)
    derm = client_for(sessions, org.dermatologist)
    short = claim(sessions, derm, lease=timedelta(minutes=1))
    long = claim(sessions, derm, lease=timedelta(minutes=60))
    assert {short.id, long.id} < set(ids)
    later = utcnow() + timedelta(minutes=2)
    with transaction(sessions) as s:
        assert service.sweep_expired_leases(s, now=later, organization_id=org.org_id) == [short.id]
    with transaction(sessions) as s:
        assert service.sweep_expired_leases(s, now=later, organization_id=org.org_id) == []
        back = s.get(Case, short.id)
        assert back.status == "queued" and back.assigned_to is None
        assert s.get(Case, long.id).status == "in_review"
        events = s.scalars(select(AuditEvent).where(AuditEvent.resource_id == short.id)).all()
        assert [e.actor_role for e in events if e.action == "case.lease.expire"] == ["system"]
    # the returned case is claimable again, at the top (it was due first)
    assert claim(sessions, derm, now=later).id == short.id


def test_deactivating_a_dermatologist_returns_their_cases(sessions, org):
    queue_cases(sessions, org.org_id, 2)
    key = make_dermatologist(sessions, org.org_id, name="Dr. Leaving")
    leaving = client_for(sessions, key)
    held = [claim(sessions, leaving).id, claim(sessions, leaving).id]
    admin = client_for(sessions, org.admin)
    with transaction(sessions) as s:
        org_row = s.get(Organization, org.org_id)
        deactivate_user(s, org=org_row, user_id=leaving.user_id, actor=admin.actor)
    with transaction(sessions) as s:
        assert {s.get(Case, i).status for i in held} == {"queued"}
        assert find_active_key(s, key) is None  # keys revoked


def test_may_see_applies_the_licence_rule(sessions, org, other_org):
    ca, fl = queue_cases(sessions, org.org_id, 1), queue_cases(sessions, org.org_id, 1, jurisdiction="US-FL")
    (theirs,) = queue_cases(sessions, other_org.org_id, 1)
    derm, admin = client_for(sessions, org.dermatologist), client_for(sessions, org.admin)
    with transaction(sessions) as s:
        ca, fl, theirs = s.get(Case, ca[0]), s.get(Case, fl[0]), s.get(Case, theirs)
    assert [may_see(derm, c) for c in (ca, fl, theirs)] == [True, False, False]
    assert [may_see(admin, c) for c in (ca, fl, theirs)] == [True, True, False]
