"""Triage tiers and the review-time (SLA) policy that turns a tier into a due time.

Tiers compare by clinical severity: ``Tier.EMERGENCY > Tier.URGENT > Tier.PRIORITY > Tier.ROUTINE``.
(``Tier`` is a ``StrEnum`` (a ``str``) for JSON/DB convenience, but its ordering is *not* alphabetical:
``<``/``>`` are overridden to compare severity, and comparing with a plain string is a TypeError.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Tier(StrEnum):
    """How soon a case must reach a dermatologist (and whether the patient must act now)."""

    EMERGENCY = "EMERGENCY"
    URGENT = "URGENT"
    PRIORITY = "PRIORITY"
    ROUTINE = "ROUTINE"

    @property
    def severity(self) -> int:
        """0 for ROUTINE up to 3 for EMERGENCY: higher is more severe."""
        return _SEVERITY[self]

    @property
    def rank(self) -> int:
        """Position in review order: 0 for EMERGENCY (first) up to 3 for ROUTINE; a queue sort key."""
        return len(_SEVERITY) - 1 - _SEVERITY[self]

    @classmethod
    def by_severity(cls) -> tuple[Tier, ...]:
        """All tiers, most severe first."""
        return tuple(sorted(cls, key=lambda tier: tier.rank))

    def _check(self, other: object) -> Tier:
        if not isinstance(other, Tier):
            # str's own ordering would silently compare alphabetically; refuse instead.
            raise TypeError(f"cannot compare Tier with {type(other).__name__}")
        return other

    def __lt__(self, other: object) -> bool:
        return self.severity < self._check(other).severity

    def __le__(self, other: object) -> bool:
        return self.severity <= self._check(other).severity

    def __gt__(self, other: object) -> bool:
        return self.severity > self._check(other).severity

    def __ge__(self, other: object) -> bool:
        return self.severity >= self._check(other).severity

    def __str__(self) -> str:
        return self.value


_SEVERITY: dict[Tier, int] = {Tier.ROUTINE: 0, Tier.PRIORITY: 1, Tier.URGENT: 2, Tier.EMERGENCY: 3}


def most_severe(*tiers: Tier | str) -> Tier:
    """The most severe of the given tiers (strings are parsed as tier values)."""
    if not tiers:
        raise ValueError("most_severe() needs at least one tier")
    return max((Tier(tier) for tier in tiers), key=lambda tier: tier.severity)


#: Upper bound on any review time, to catch unit mistakes (minutes given as hours): 30 days.
MAX_SLA_HOURS = 24.0 * 30


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
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"SLA for {tier.value} must be a number of hours, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"SLA for {tier.value} must be a positive number of hours, got {value!r}")
            if value > MAX_SLA_HOURS:
                raise ValueError(
                    f"SLA for {tier.value} is {value} h, more than the {MAX_SLA_HOURS:g} h maximum "
                    "(is it in minutes instead of hours?)"
                )
            object.__setattr__(self, _FIELD[tier], float(value))
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
