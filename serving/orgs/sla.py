"""An organization's review-time policy (SLA): the hours within which a dermatologist must review a
case of each tier, and the due time it gives a case."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from model.triage.tiers import Tier

#: Upper bound on any review time, to catch unit mistakes (minutes given as hours): 30 days.
MAX_SLA_HOURS = 24.0 * 30


def positive_hours(value: object, *, what: str, maximum: float) -> float:
    """``value`` as a float, unless it is not a positive number of hours up to ``maximum`` (a
    ValueError naming ``what``; a value over the maximum was most likely typed in minutes)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number of hours, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number of hours, got {value!r}")
    if value > maximum:
        raise ValueError(
            f"{what} is {value:g} h, more than the {maximum:g} h maximum (is it in minutes instead of hours?)"
        )
    return float(value)


@dataclass(frozen=True)
class SlaPolicy:
    """Hours within which a dermatologist must review a case of each tier.

    A more severe tier may not have a longer SLA than a less severe one (equal is allowed).
    """

    emergency_hours: float = 1.0
    urgent_hours: float = 4.0
    priority_hours: float = 24.0
    routine_hours: float = 48.0

    def __post_init__(self) -> None:
        for tier in Tier:
            value = getattr(self, _FIELD[tier])
            hours = positive_hours(value, what=f"SLA for {tier.value}", maximum=MAX_SLA_HOURS)
            object.__setattr__(self, _FIELD[tier], hours)
        ordered = Tier.by_severity()
        for more, less in zip(ordered, ordered[1:], strict=False):
            if self.hours(more) > self.hours(less):
                raise ValueError(
                    f"SLA for {more.value} ({self.hours(more):g} h) is longer than for the less severe "
                    f"{less.value} ({self.hours(less):g} h); a more severe tier must be reviewed no later"
                )

    @classmethod
    def from_overrides(cls, mapping: Mapping[str, float] | None) -> SlaPolicy:
        """The default policy with some tiers' hours replaced, e.g. ``{"URGENT": 2}``.

        Keys are tier names (case-insensitive); unknown keys, non-positive or non-numeric hours
        and an inverted ordering raise ``ValueError``.
        """
        if not mapping:
            return cls()
        if not isinstance(mapping, Mapping):
            raise ValueError(f"SLA overrides must be a mapping of tier name to hours, got {mapping!r}")
        values: dict[str, float] = {}
        for key, hours in mapping.items():
            name = key.strip().upper() if isinstance(key, str) else None
            if name not in Tier.__members__:
                valid = ", ".join(tier.value for tier in Tier.by_severity())
                raise ValueError(f"unknown tier {key!r} in SLA overrides; expected one of {valid}")
            field = _FIELD[Tier(name)]
            if field in values:
                raise ValueError(f"tier {name} is given twice in SLA overrides")
            values[field] = hours
        return cls(**values)

    def hours(self, tier: Tier | str) -> float:
        return getattr(self, _FIELD[Tier(tier)])

    def to_dict(self) -> dict[str, float]:
        """``{"EMERGENCY": 1.0, "URGENT": 4.0, ...}``, most severe first."""
        return {tier.value: self.hours(tier) for tier in Tier.by_severity()}

    def due_at(self, queued_at: datetime, tier: Tier | str) -> datetime:
        """When a case queued at ``queued_at`` must have been reviewed (keeps ``queued_at``'s tzinfo)."""
        if not isinstance(queued_at, datetime):
            raise TypeError(f"queued_at must be a datetime, got {type(queued_at).__name__}")
        return queued_at + timedelta(hours=self.hours(tier))


_FIELD: dict[Tier, str] = {
    Tier.EMERGENCY: "emergency_hours",
    Tier.URGENT: "urgent_hours",
    Tier.PRIORITY: "priority_hours",
    Tier.ROUTINE: "routine_hours",
}
