"""An organization's review-time (SLA) policy."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from model.triage.tiers import Tier
from serving.orgs.sla import SlaPolicy

E, U, P, R = Tier.EMERGENCY, Tier.URGENT, Tier.PRIORITY, Tier.ROUTINE


# -------------------------------------------------------------------------------------- SLA policy


def test_sla_defaults() -> None:
    policy = SlaPolicy()
    assert policy.to_dict() == {"EMERGENCY": 1.0, "URGENT": 4.0, "PRIORITY": 24.0, "ROUTINE": 48.0}
    assert SlaPolicy.from_overrides(None) == policy
    assert SlaPolicy.from_overrides({}) == policy
    assert policy.hours(U) == 4.0 and policy.hours("PRIORITY") == 24.0


def test_sla_overrides() -> None:
    policy = SlaPolicy.from_overrides({"URGENT": 2, "routine": 72.5})
    assert policy.to_dict() == {"EMERGENCY": 1.0, "URGENT": 2.0, "PRIORITY": 24.0, "ROUTINE": 72.5}
    assert SlaPolicy.from_overrides(policy.to_dict()) == policy
    # equal SLAs for neighbouring tiers are allowed
    assert SlaPolicy.from_overrides({"URGENT": 1}).hours(U) == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.urgent_hours = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CRITICAL": 1}, "unknown tier"),
        ({"": 1}, "unknown tier"),
        ({"URGENT": 0}, "positive"),
        ({"URGENT": -2}, "positive"),
        ({"URGENT": math.nan}, "positive"),
        ({"URGENT": math.inf}, "positive"),
        ({"URGENT": "4"}, "number"),
        ({"URGENT": True}, "number"),
        ({"URGENT": None}, "number"),
        ({"ROUTINE": 24 * 365}, "maximum"),
        ({"EMERGENCY": 6}, "EMERGENCY .*longer than .*URGENT"),
        ({"ROUTINE": 12}, "PRIORITY .*longer than .*ROUTINE"),
        ({"URGENT": 30}, "URGENT .*longer than .*PRIORITY"),
        ({"URGENT": 2, "urgent": 3}, "twice"),
    ],
)
def test_sla_validation(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlaPolicy.from_overrides(overrides)


def test_sla_validation_applies_to_direct_construction() -> None:
    with pytest.raises(ValueError, match="longer"):
        SlaPolicy(emergency_hours=5.0)


def test_due_at() -> None:
    queued = datetime(2024, 3, 30, 23, 30, tzinfo=UTC)
    policy = SlaPolicy.from_overrides({"EMERGENCY": 0.5})
    assert policy.due_at(queued, E) == queued + timedelta(minutes=30)
    assert policy.due_at(queued, U) == datetime(2024, 3, 31, 3, 30, tzinfo=UTC)
    assert policy.due_at(queued, "ROUTINE") == datetime(2024, 4, 1, 23, 30, tzinfo=UTC)
    other_zone = datetime(2024, 3, 30, 8, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert policy.due_at(other_zone, P).tzinfo == other_zone.tzinfo
    # the queue orders by due time: the more severe tier is due no later
    dues = [policy.due_at(queued, t) for t in Tier.by_severity()]
    assert dues == sorted(dues)
