"""Requests per API key: a token bucket per key, refilled at its role's rate per minute, holding at
most its burst. In this process: with N processes (``--workers``, replicas) a key gets up to N times
its rate in all.

``TokenBucket.take`` is the rule (pure: the time is given); :class:`RateLimiter` keeps one bucket per
key (thread-safe: keys are checked in the threadpool) and raises :class:`RateLimited`, a 429 with
``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from serving.errors import DomainError


@dataclass(frozen=True)
class Rate:
    """``per_minute`` requests a minute on average, up to ``burst`` at once; ``per_minute`` 0: no limit."""

    per_minute: float
    burst: int

    @property
    def limited(self) -> bool:
        return self.per_minute > 0


@dataclass
class TokenBucket:
    tokens: float
    updated: float  # the clock's time of ``tokens``

    def refill(self, rate: Rate, now: float) -> None:
        self.tokens = min(float(rate.burst), self.tokens + (now - self.updated) * rate.per_minute / 60.0)
        self.updated = now

    def take(self, rate: Rate, now: float) -> float:
        """Take one token if there is one: 0.0; else the seconds until there will be (nothing taken)."""
        self.refill(rate, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) * 60.0 / rate.per_minute


class RateLimited(DomainError):
    def __init__(self, role: str, rate: Rate, wait_s: float):
        self.wait_s = wait_s
        retry_after = max(1, math.ceil(wait_s))
        super().__init__(
            429,
            "rate_limited",
            f"too many requests with this API key: a {role} key may make {rate.per_minute:g} a minute "
            f"(up to {rate.burst} at once)",
            fix=f"Wait {retry_after} s (Retry-After) and send the request again; spread your requests out "
            "(an administrator can raise the limit: DERMATRIAGE_RATE_LIMIT_<ROLE>_PER_MINUTE).",
            headers={"Retry-After": str(retry_after)},
        )


class RateLimiter:
    """One bucket per key, at the rate of the key's role (a role without a rate is not limited)."""

    #: buckets kept before the full ones (idle keys) are forgotten
    PRUNE_ABOVE = 10_000

    def __init__(self, rates: Mapping[str, Rate], *, clock: Callable[[], float] = time.monotonic):
        self.rates = dict(rates)
        self.clock = clock
        self._buckets: dict[str, tuple[Rate, TokenBucket]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> RateLimiter:
        return cls(
            {
                role: Rate(
                    getattr(settings, f"rate_limit_{role}_per_minute"),
                    getattr(settings, f"rate_limit_{role}_burst"),
                )
                for role in ("intake", "dermatologist", "admin")
            }
        )

    def check(self, key: str, role: str) -> None:
        """Count one request of ``key``; :class:`RateLimited` when its bucket is empty."""
        rate = self.rates.get(role)
        if rate is None or not rate.limited:
            return
        with self._lock:
            now = self.clock()
            kept = self._buckets.get(key)
            if kept is None or kept[0] != rate:
                if len(self._buckets) >= self.PRUNE_ABOVE:
                    self._prune(now)
                kept = self._buckets[key] = (rate, TokenBucket(tokens=float(rate.burst), updated=now))
            wait = kept[1].take(rate, now)
        if wait > 0:
            raise RateLimited(role, rate, wait)

    def _prune(self, now: float) -> None:
        """Forget the buckets that have refilled (a new bucket starts full: the same)."""
        for key, (rate, bucket) in list(self._buckets.items()):
            bucket.refill(rate, now)
            if bucket.tokens >= rate.burst:
                del self._buckets[key]
