"""Triage tiers: how soon a case must reach a dermatologist.

Tiers compare by clinical severity: ``Tier.EMERGENCY > Tier.URGENT > Tier.PRIORITY > Tier.ROUTINE``.
(``Tier`` is a ``StrEnum`` (a ``str``) for JSON/DB convenience, but its ordering is *not* alphabetical:
``<``/``>`` are overridden to compare severity, and comparing with a plain string is a TypeError.)
"""

from __future__ import annotations

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
