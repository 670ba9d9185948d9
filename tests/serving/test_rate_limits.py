"""Requests per key and minute, by role: the token bucket (pure, a given clock), and through HTTP a 429
with Retry-After in the error shape, per key (another key is not affected), recovering after the wait;
the pages count per signed-in user."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_support import default_dermatologist, sign_in

from serving.app import create_app
from serving.limits.rate import Rate, RateLimited, RateLimiter, TokenBucket


def test_a_bucket_gives_its_burst_then_one_token_per_interval():
    rate = Rate(per_minute=60, burst=3)
    bucket = TokenBucket(tokens=3, updated=0.0)
    assert [bucket.take(rate, 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(rate, 0.0) == pytest.approx(1.0)  # one a second
    assert bucket.take(rate, 0.5) == pytest.approx(0.5)
    assert bucket.take(rate, 1.0) == 0.0
    assert bucket.take(rate, 100.0) == 0.0
    assert bucket.tokens == pytest.approx(2.0)  # refilled up to the burst only


def test_the_limiter_keeps_one_bucket_per_key_at_its_role_rate():
    now = [0.0]
    limiter = RateLimiter({"intake": Rate(30, 2), "admin": Rate(0, 1)}, clock=lambda: now[0])
    limiter.check("a", "intake")
    limiter.check("a", "intake")
    with pytest.raises(RateLimited) as refused:
        limiter.check("a", "intake")
    assert refused.value.status_code == 429 and refused.value.headers == {"Retry-After": "2"}
    limiter.check("b", "intake")  # another key: its own bucket
    for _ in range(50):
        limiter.check("c", "admin")  # per_minute 0: not limited
    limiter.check("d", "dermatologist")  # a role without a rate: not limited
    now[0] = 2.0
    limiter.check("a", "intake")  # refilled


def test_idle_buckets_are_forgotten_when_there_are_many(monkeypatch):
    now = [0.0]
    limiter = RateLimiter({"intake": Rate(60, 1)}, clock=lambda: now[0])
    monkeypatch.setattr(RateLimiter, "PRUNE_ABOVE", 3)
    for key in "abc":
        limiter.check(key, "intake")
    now[0] = 0.5
    limiter.check("d", "intake")  # a, b, c not refilled yet: kept
    assert len(limiter._buckets) == 4
    now[0] = 5.0
    limiter.check("e", "intake")  # all refilled: forgotten
    assert set(limiter._buckets) == {"e"}


@pytest.fixture
def limited(settings):
    rates = {
        "rate_limit_intake_per_minute": 120,  # a token every 0.5 s
        "rate_limit_intake_burst": 3,
        "rate_limit_dermatologist_per_minute": 120,
        "rate_limit_dermatologist_burst": 2,
    }
    with TestClient(create_app(settings.model_copy(update=rates))) as client:
        client.now = [1000.0]  # the limiter's clock, moved by the tests
        client.app.state.rate_limiter.clock = lambda: client.now[0]
        yield client


def test_over_the_limit_a_key_gets_429_with_retry_after_and_recovers(limited, org, other_org):
    for _ in range(3):
        assert limited.get("/v1/events", headers=org.headers()).status_code == 200
    refused = limited.get("/v1/events", headers=org.headers())
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and error["message"] and error["fix"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert limited.get("/v1/events", headers=other_org.headers()).status_code == 200  # another key
    assert limited.get("/v1/events", headers=org.headers("admin")).status_code == 200  # admin: no limit set
    limited.now[0] += 0.4
    assert limited.get("/v1/events", headers=org.headers()).status_code == 429
    limited.now[0] += 0.1  # 0.5 s: one token
    assert limited.get("/v1/events", headers=org.headers()).status_code == 200
    assert limited.get("/v1/events", headers=org.headers()).status_code == 429


def test_a_signed_in_dermatologist_is_limited_on_the_pages(limited, org, sessions):
    default_dermatologist(sessions, org.org_id)
    assert sign_in(limited, org.slug, "derm").status_code == 303
    statuses = [limited.get("/queue").status_code for _ in range(3)]
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429
    page = limited.get("/queue")
    assert page.status_code == 429 and "Too many requests" in page.text
    assert int(page.headers["Retry-After"]) >= 1
    # the same person's API key has its own bucket
    assert limited.get("/v1/queue", headers=org.headers("dermatologist")).status_code == 200
