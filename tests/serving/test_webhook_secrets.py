"""Webhook signing secrets at rest: sealed in the database (the raw column never holds the secret),
webhooks still verify, and a secret that does not open fails its own events only. (Migration 0008 and
key rotation: test_key_rotation.py.)"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import service_settings
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker
from test_events_delivery import _only_this_tests_webhooks  # noqa: F401 - the shared database's webhooks off
from webhook_receiver import WebhookReceiver

from serving.app import create_app
from serving.db import make_engine, make_session_factory, transaction
from serving.encryption import Keyring, new_key
from serving.events import types
from serving.events.models import OutboxEvent
from serving.events.outbox import emit
from serving.events.service import set_webhook
from serving.orgs.models import Organization
from serving.worker import deliver_due


def stored_secret(sessions, org_id: str) -> str:
    """The column as the database holds it."""
    with transaction(sessions) as session:
        query = text("SELECT webhook_secret FROM organizations WHERE id = :id")
        return session.execute(query, {"id": org_id}).scalar_one()


def emit_one(sessions, org_id: str) -> OutboxEvent:
    with transaction(sessions) as session:
        return emit(session, organization_id=org_id, event_type=types.MESSAGE_SENT, case_id=None, payload={})


@contextmanager
def keyed_sessions(database_url: str, keyring: Keyring) -> Iterator[sessionmaker]:
    """Sessions of a process whose keyring is ``keyring``."""
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine, keyring=keyring)
    finally:
        engine.dispose()


def test_the_api_seals_the_secret_and_webhooks_still_verify(database_url, tmp_path, sessions, org):
    settings = service_settings(database_url, tmp_path / "photos", storage_key=new_key())
    receiver = WebhookReceiver().start()
    try:
        with TestClient(create_app(settings)) as client:
            made = client.put(
                "/v1/webhook", json={"url": receiver.url_for(org.org_id)}, headers=org.headers("admin")
            )
            secret = made.json()["secret"]
            stored = stored_secret(sessions, org.org_id)
            assert secret.startswith("whsec_") and stored.startswith("sealed:v1:")
            assert secret not in stored and secret.removeprefix("whsec_") not in stored
            receiver.add_secret(org.org_id, secret)
            emit_one(sessions, org.org_id)
            assert deliver_due(client.app.state.sessions) == 1  # the app's sessions carry its keyring
        (delivery,) = receiver.deliveries(org.org_id)
        assert delivery.signature_valid and delivery.status == 200
    finally:
        receiver.stop()


def test_a_secret_that_does_not_open_fails_its_own_events_only(database_url, sessions, org, other_org):
    ours, theirs = Keyring(keys=(os.urandom(32),), source="ours"), Keyring(keys=(os.urandom(32),), source="x")
    receiver = WebhookReceiver().start()
    try:
        for keys, who in ((theirs, other_org), (ours, org)):
            with keyed_sessions(database_url, keys) as factory, transaction(factory) as session:
                url = receiver.url_for(who.org_id)
                secret = set_webhook(session, org=session.get(Organization, who.org_id), url=url)
            receiver.add_secret(who.org_id, secret)
        lost, fine = emit_one(sessions, other_org.org_id), emit_one(sessions, org.org_id)
        with keyed_sessions(database_url, ours) as factory:
            assert deliver_due(factory) == 1
        with transaction(sessions) as session:
            lost, fine = session.get(OutboxEvent, lost.sequence), session.get(OutboxEvent, fine.sequence)
            assert fine.delivery_state == "delivered"
            assert lost.delivery_state == "pending" and lost.attempts == 1
            assert lost.last_error.startswith("cannot sign:") and "not in the keyring" in lost.last_error
        assert [d.signature_valid for d in receiver.deliveries()] == [True]
    finally:
        receiver.stop()
