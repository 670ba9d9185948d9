"""What ``/metrics`` reads when it is read: the queue and the webhook backlog from the database (the
same rules as ``GET /v1/metrics/sla``: ``serving.queue.metrics`` and ``serving.queue.sla``), and the
model versions in use. Figures by organization (its slug), never a case or a patient.

Every worker process answers the same from the database, so these are not kept in files in
multiprocess mode: the process that is scraped reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.db import transaction, utcnow
from serving.events.models import DeliveryState, OutboxEvent
from serving.orgs.models import Organization
from serving.queue import sla
from serving.queue.metrics import waiting_cases

log = logging.getLogger("dermatriage.metrics")


class DatabaseCollector:
    """Queue depth by tier, the oldest waiting case's wait and the SLA breaches (queued cases past
    their review due time), and the webhook backlog; one short read transaction per scrape."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "dermatriage_metrics_database_up", "1 when the database figures below could be read."
        )
        try:
            with transaction(self.sessions) as session:
                orgs = sorted(session.execute(select(Organization.slug, Organization.id)).all())
                families = [*self._queue(session, orgs), *self._webhooks(session, orgs)]
        except Exception:  # noqa: BLE001 - a scrape reports the database as down, never fails
            log.warning("metrics: the database could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    @staticmethod
    def _queue(session: Session, orgs: Sequence[tuple[str, str]]) -> list[Metric]:
        now = utcnow()
        waiting = waiting_cases(session)
        depth = GaugeMetricFamily(
            "dermatriage_queue_depth", "Cases waiting in the queue, by tier.", labels=["organization", "tier"]
        )
        oldest = _per_organization(
            "dermatriage_queue_oldest_waiting_seconds",
            "How long the longest-waiting queued case has waited (0 when none waits).",
        )
        overdue = _per_organization(
            "dermatriage_queue_sla_breaches",
            "Queued cases past their review due time (their SLA is breached and they still wait).",
        )
        for slug, org_id in orgs:
            cases = waiting.get(org_id, [])
            for tier, count in sla.depth_per_tier(cases).items():
                depth.add_metric([slug, tier], count)
            first = sla.oldest_waiting(cases, now)
            oldest.add_metric([slug], max(0, first.waited_s) if first else 0)
            overdue.add_metric([slug], sla.overdue_count(cases, now))
        return [depth, oldest, overdue]

    @staticmethod
    def _webhooks(session: Session, orgs: Sequence[tuple[str, str]]) -> list[Metric]:
        now = utcnow()
        rows = session.execute(
            select(
                OutboxEvent.organization_id,
                OutboxEvent.delivery_state,
                func.count(),
                func.min(OutboxEvent.created_at),
            )
            .where(OutboxEvent.delivery_state.in_((DeliveryState.pending.value, DeliveryState.failed.value)))
            .group_by(OutboxEvent.organization_id, OutboxEvent.delivery_state)
        ).all()
        figures = {(org_id, state): (count, first) for org_id, state, count, first in rows}
        backlog = _per_organization(
            "dermatriage_webhook_backlog_events",
            "Events waiting to be delivered to the organization's webhook.",
        )
        oldest = _per_organization(
            "dermatriage_webhook_oldest_pending_seconds",
            "Age of the oldest event waiting for delivery (0 when none waits).",
        )
        given_up = _per_organization(
            "dermatriage_webhook_given_up_events",
            "Events never delivered within the retry window (in the feed only).",
        )
        for slug, org_id in orgs:
            count, first = figures.get((org_id, DeliveryState.pending.value), (0, None))
            backlog.add_metric([slug], count)
            oldest.add_metric([slug], max(0.0, (now - first).total_seconds()) if first else 0)
            given_up.add_metric([slug], figures.get((org_id, DeliveryState.failed.value), (0, None))[0])
        return [backlog, oldest, given_up]


def _per_organization(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=["organization"])


class ModelCollector:
    """``dermatriage_model_info{component, version} 1`` for each model and rule set in use."""

    def __init__(self, versions: Callable[[], dict[str, str]]) -> None:
        self.versions = versions

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "dermatriage_model_info",
            "The models and rule sets triage uses (value 1), by component and version.",
            labels=["component", "version"],
        )
        for component, version in sorted(self.versions().items()):
            info.add_metric([component, str(version)], 1)
        yield info
