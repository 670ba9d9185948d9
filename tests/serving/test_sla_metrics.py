"""SLA figures: the pure computations, then GET /v1/metrics/sla on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from queue_cases import case_row, insert_cases

from serving.queue.sla import (
    ReviewedCase,
    WaitingCase,
    compliance,
    depth_per_tier,
    oldest_waiting,
    overdue_count,
    predict_breaches,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def waiting(name: str, *, due_in: timedelta, tier: str = "ROUTINE", waited: timedelta = H, urgency=0.5):
    return WaitingCase(
        id=name,
        tier=tier,
        urgency_score=urgency,
        review_due_at=NOW + due_in,
        created_at=NOW - waited,
        waiting_since=NOW - waited,
    )


def reviewed(*, queued_ago: timedelta, due_after: timedelta, reviewed_after: timedelta) -> ReviewedCase:
    queued = NOW - queued_ago
    return ReviewedCase(
        queued_at=queued, review_due_at=queued + due_after, first_reviewed_at=queued + reviewed_after
    )


def test_depth_oldest_and_overdue():
    cases = [
        waiting("a", due_in=H, tier="URGENT", waited=2 * H),
        waiting("b", due_in=-H, tier="URGENT", waited=5 * H),
        waiting("c", due_in=30 * H, waited=10 * H),
    ]
    assert depth_per_tier(cases) == {"EMERGENCY": 0, "URGENT": 2, "PRIORITY": 0, "ROUTINE": 1}
    oldest = oldest_waiting(cases, NOW)
    assert (oldest.case_id, oldest.tier, oldest.waited_s) == ("c", "ROUTINE", 36000)
    assert oldest_waiting([], NOW) is None
    assert overdue_count(cases, NOW) == 1


def test_compliance_over_a_window():
    window = timedelta(days=7)
    rows = [
        reviewed(queued_ago=50 * H, due_after=48 * H, reviewed_after=10 * H),  # met, within 24 h
        reviewed(queued_ago=50 * H, due_after=4 * H, reviewed_after=4 * H),  # met exactly at the due time
        reviewed(queued_ago=50 * H, due_after=4 * H, reviewed_after=30 * H),  # missed, and over 24 h
        reviewed(queued_ago=30 * 24 * H, due_after=48 * H, reviewed_after=H),  # reviewed before the window
    ]
    still_waiting = [waiting("late", due_in=-2 * H), waiting("fine", due_in=2 * H)]
    c = compliance(rows, still_waiting, now=NOW, window=window)
    assert (c.reviewed, c.within_sla, c.share_within_sla) == (3, 2, 0.6667)
    assert (c.overdue_unreviewed, c.share_counting_overdue) == (1, 0.5)
    assert (c.within_24h, c.share_within_24h) == (2, 0.6667)
    assert c.window_start == NOW - window
    empty = compliance([], [], now=NOW, window=window)
    assert empty.share_within_sla is None and empty.share_counting_overdue is None


def test_breach_prediction_from_throughput():
    queue = [
        waiting("overdue", due_in=-H, urgency=0.1),
        waiting("one", due_in=1 * H, urgency=0.9),
        waiting("two", due_in=1 * H, urgency=0.8),
        waiting("three", due_in=1 * H, urgency=0.7),
        waiting("later", due_in=10 * H),
    ]
    # 2 claims an hour: positions 0..4 are taken at +0.5 h, +1 h, +1.5 h, +2 h, +2.5 h
    forecast = predict_breaches(queue, now=NOW, claims_per_hour=2.0)
    assert forecast.method == "throughput"
    assert [b.case_id for b in forecast.cases] == ["overdue", "two", "three"]
    assert forecast.cases[1].expected_review_at == NOW + 1.5 * H
    # a faster team: only the overdue case
    assert [b.case_id for b in predict_breaches(queue, now=NOW, claims_per_hour=10.0).cases] == ["overdue"]


def test_breach_prediction_without_throughput_uses_the_horizon():
    queue = [waiting("soon", due_in=0.5 * H), waiting("overdue", due_in=-H), waiting("later", due_in=3 * H)]
    forecast = predict_breaches(queue, now=NOW, claims_per_hour=0.0)
    assert forecast.method == "due_soon" and forecast.horizon_s == 3600
    assert [b.case_id for b in forecast.cases] == ["overdue", "soon"]
    assert all(b.expected_review_at is None for b in forecast.cases)


def test_sla_metrics_endpoint(client, sessions, org, other_org):
    from serving.db import utcnow

    now = utcnow()
    insert_cases(
        sessions,
        [
            case_row(org.org_id, tier="URGENT", urgency=0.8, due_in=-H, age=5 * H),  # overdue
            case_row(org.org_id, due_in=40 * H, age=8 * H),  # the oldest waiting
            case_row(org.org_id, due_in=47 * H, age=H),
            case_row(org.org_id, status="emergency", tier="EMERGENCY", due_in=H),
            # reviewed two days ago: one in time, one late
            case_row(
                org.org_id, status="diagnosed", age=60 * H, due_in=-12 * H, first_reviewed_at=now - 50 * H
            ),
            case_row(
                org.org_id, status="diagnosed", age=60 * H, due_in=-50 * H, first_reviewed_at=now - 48 * H
            ),
            case_row(other_org.org_id, due_in=-H),  # another organization's
        ],
    )
    claimed = client.post("/v1/queue/claim", headers=org.headers("dermatologist"))
    assert claimed.status_code == 200
    overdue_id = claimed.json()["case"]["id"]  # the overdue case was at the top, and is now in review

    assert client.get("/v1/metrics/sla", headers=org.headers("intake")).status_code == 403
    r = client.get("/v1/metrics/sla", params={"window_days": 7}, headers=org.headers("dermatologist"))
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["queue_depth"] == {"EMERGENCY": 0, "URGENT": 0, "PRIORITY": 0, "ROUTINE": 2}
    assert (m["queued"], m["overdue"], m["emergency_open"], m["in_review"]) == (2, 0, 1, 1)
    assert (
        m["oldest_waiting"]["tier"] == "ROUTINE"
        and 8 * 3600 - 60 < m["oldest_waiting"]["waited_s"] < 8 * 3600 + 60
    )
    c = m["compliance"]
    # the claim just now was late (the case was overdue); of the two reviewed earlier one was in time
    assert (c["reviewed"], c["within_sla"], c["window_days"]) == (3, 1, 7)
    assert c["share_within_sla"] == round(1 / 3, 4)
    f = m["predicted_breaches"]
    assert f["method"] == "throughput" and f["claims_per_hour"] == round(1 / 24, 3)
    # at one claim a day the first waiting case is reached in 24 h (due in 40 h: fine), the second
    # in 48 h (due in 47 h: a breach)
    assert f["count"] == 1
    (breach,) = f["cases"]
    assert timedelta(hours=46) < datetime.fromisoformat(breach["review_due_at"]) - now < timedelta(hours=48)
    assert overdue_id not in [b["case_id"] for b in f["cases"]]
    assert m["sla_hours"]["ROUTINE"] == 48

    bad = client.get("/v1/metrics/sla", params={"window_days": 0}, headers=org.headers("admin"))
    assert bad.status_code == 422
