"""A real webhook receiver for tests: ``http.server`` on an ephemeral local port, in a thread.

It checks every delivery's signature the way an intake system would (``verify_signature``), answers
401 to a bad one, and records everything it got. Use the ``webhook_receiver`` fixture (imported as below)::

    def test_something(webhook_receiver, sessions, org):
        webhook_receiver.connect(org.org_id)        # the org's webhook now points here
        ...                                         # cause events
        deliver_due(sessions)                       # or let the app's background task deliver
        events = webhook_receiver.wait_for(3, org_id=org.org_id)   # unique, signed, in arrival order

``status`` (or ``respond``, a function of the request) sets what it answers; ``stop()`` makes it
refuse connections, ``start()`` brings it back on the same port. To have the fixture in a test module::

    from webhook_receiver import webhook_receiver_fixture  # noqa: F401 - the webhook_receiver fixture
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serving.db import transaction
from serving.events.service import set_webhook
from serving.events.signing import SIGNATURE_HEADER, verify_signature
from serving.orgs.models import Organization


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    signature_valid: bool
    status: int  # what the receiver answered
    at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def accepted(self) -> bool:
        return self.signature_valid and 200 <= self.status < 300


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.receiver._handle(self, body)

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver


class WebhookReceiver:
    def __init__(self, sessions=None):
        self.sessions = sessions
        self.received: list[Received] = []
        self.status = 200
        #: when set, decides the answer to each valid delivery (``respond(event_dict) -> status``)
        self.respond: Callable[[dict], int] | None = None
        self.port: int | None = None
        self._secrets: dict[str, str] = {}  # path -> secret
        self._connected: list[str] = []
        self._lock = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        server = _Server(("127.0.0.1", self.port or 0), _Handler)
        server.receiver = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: deliveries get 'connection refused' until ``start()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def close(self) -> None:
        self.stop()
        if self.sessions is not None:
            with transaction(self.sessions) as session:
                for org_id in self._connected:
                    org = session.get(Organization, org_id)
                    if org is not None and org.webhook_url and org.webhook_url.startswith(self.base_url):
                        set_webhook(session, org=org, url=None)

    # -- wiring ----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, org_id: str) -> str:
        return f"{self.base_url}/hooks/{org_id}"

    def add_secret(self, org_id: str, secret: str) -> None:
        self._secrets[f"/hooks/{org_id}"] = secret

    def connect(self, org_id: str) -> str:
        """Point the organization's webhook here (via the service); returns its signing secret."""
        with transaction(self.sessions) as session:
            org = session.get(Organization, org_id)
            secret = set_webhook(session, org=org, url=self.url_for(org_id), rotate_secret=True)
        self.add_secret(org_id, secret)
        self._connected.append(org_id)
        return secret

    # -- what arrived ----------------------------------------------------------------------------
    def _handle(self, handler: _Handler, body: bytes) -> None:
        secret = self._secrets.get(handler.path)
        header = handler.headers.get(SIGNATURE_HEADER)
        valid = secret is not None and verify_signature(secret, body, header, 300)
        status = 401
        if valid:
            status = self.respond(json.loads(body)) if self.respond else self.status
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:  # recorded before the answer, so a finished delivery is always here
            self.received.append(Received(handler.path, headers, body, valid, status))
            self._lock.notify_all()
        handler.send_response(status)
        if 300 <= status < 400:  # somewhere to go, were a sender to follow redirects
            handler.send_header("Location", f"{self.base_url}{handler.path}/moved")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def deliveries(self, org_id: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if org_id is None or r.path == f"/hooks/{org_id}"]

    def events(self, org_id: str | None = None) -> list[dict]:
        """Accepted events, each once (the first time it was accepted), in arrival order."""
        seen, out = set(), []
        for r in self.deliveries(org_id):
            if r.accepted and r.event["id"] not in seen:
                seen.add(r.event["id"])
                out.append(r.event)
        return out

    def wait_for(self, count: int, *, org_id: str | None = None, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.events(org_id)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.events(org_id))} of {count} events arrived in {timeout} s"
                    )
                self._lock.wait(left)
        return self.events(org_id)


@pytest.fixture(name="webhook_receiver")
def webhook_receiver_fixture(sessions) -> Iterator[WebhookReceiver]:
    """A started receiver; at the end it stops, and the organizations it served lose their webhook."""
    receiver = WebhookReceiver(sessions).start()
    try:
        yield receiver
    finally:
        receiver.close()
