"""The service's Prometheus metric objects, and the few calls that feed them.

The lowest layer of ``serving`` (it imports nothing of the service), so that whatever does the work
can count it: the HTTP middleware and the triage stages (``serving.observability``), webhook delivery
(``serving.worker``). What is read from the database at scrape time (queue, webhook backlog) is not
here: ``serving.observability.collectors`` computes it when ``/metrics`` is read.

Several worker processes (``dermatriage serve --workers N``): prometheus_client keeps each process's
values in files under ``PROMETHEUS_MULTIPROC_DIR`` (set by ``serve`` before the workers start) and
``/metrics`` adds them up; the gauges here say how (``livesum``: the sum over the living processes).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # no *_created series: Prometheus does not need them, they double the count
#: label value of a request that matched no route (never the raw path: it would hold ids)
UNMATCHED_ROUTE = "unmatched"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_WEBHOOK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 24 * 3600.0)

HTTP_REQUESTS = Counter(
    "dermatriage_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "dermatriage_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route template and status.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "dermatriage_http_requests_in_progress",
    "Requests being handled now.",
    multiprocess_mode="livesum",
)
TRIAGE_STAGE = Histogram(
    "dermatriage_triage_stage_seconds",
    "Time per photo of each triage stage: decode (and sanitize), quality (checks, quality model, "
    "modality), urgency (the urgency model's reading, beside the quality stage).",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
WEBHOOK_ATTEMPT = Histogram(
    "dermatriage_webhook_attempt_duration_seconds",
    "Duration of each webhook POST, by outcome (delivered, http_error, no_answer).",
    ["outcome"],
    buckets=_WEBHOOK_BUCKETS,
)
WEBHOOK_FAILURES = Counter(
    "dermatriage_webhook_delivery_failures",
    "Webhook attempts that did not deliver: http_error (a non-2xx answer), no_answer (timeout, refused).",
    ["reason"],
)
WEBHOOK_LAG = Histogram(
    "dermatriage_webhook_delivery_lag_seconds",
    "From an event's writing to its delivery (2xx), retries included.",
    buckets=_LAG_BUCKETS,
)
DB_POOL = {
    "size": "Connections the pool keeps (its configured size).",
    "checked_in": "Idle connections in the pool.",
    "checked_out": "Connections in use.",
    "overflow": "Connections open beyond the pool's size.",
}
_DB_POOL_GAUGES = {
    name: Gauge(f"dermatriage_db_pool_{name}", help_text, multiprocess_mode="livesum")
    for name, help_text in DB_POOL.items()
}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    labels = (method, route, str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_DURATION.labels(*labels).observe(seconds)


def observe_stage(stage: str, seconds: float) -> None:
    TRIAGE_STAGE.labels(stage).observe(seconds)


def observe_webhook_attempt(*, status_code: int | None, seconds: float, lag_s: float | None) -> None:
    """One POST of an event: its HTTP status (None: no answer), its duration and, when it delivered,
    how long after the event was written."""
    if status_code is None:
        outcome = "no_answer"
    elif 200 <= status_code < 300:
        outcome = "delivered"
    else:
        outcome = "http_error"
    WEBHOOK_ATTEMPT.labels(outcome).observe(seconds)
    if outcome == "delivered":
        if lag_s is not None:
            WEBHOOK_LAG.observe(max(0.0, lag_s))
    else:
        WEBHOOK_FAILURES.labels(outcome).inc()


def observe_pool(pool) -> None:
    """Copy a SQLAlchemy pool's state into the pool gauges (a pool without a size, as SQLite's
    in-memory one, counts as 0)."""
    size = _count(pool, "size")
    _DB_POOL_GAUGES["size"].set(size)
    _DB_POOL_GAUGES["checked_in"].set(_count(pool, "checkedin"))
    _DB_POOL_GAUGES["checked_out"].set(_count(pool, "checkedout"))
    # QueuePool.overflow() counts up from -size: connections beyond the size are its positive part
    _DB_POOL_GAUGES["overflow"].set(max(0, _count(pool, "overflow")))


def _count(pool, method: str) -> int:
    read = getattr(pool, method, None)
    return int(read()) if callable(read) else 0
