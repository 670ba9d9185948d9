"""Limits that hold over a real socket: the service (uvicorn with serving.limits.connection's protocol,
the app of create_app) in a thread, raw-socket clients that stream too much or too slowly, and a count
of the bytes the server read from each connection. Short timeouts here (headers 1.5 s, body idle 1 s,
body total 2.5 s); the default body cap (24 MB)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import pytest
import uvicorn
from conftest import make_org, service_settings
from live_service import ServiceProcess, free_port, service_env

from serving.app import create_app
from serving.db import make_engine, make_session_factory
from serving.limits.connection import TimedHttpProtocol
from serving.migrations import upgrade
from serving.settings import Settings

HEADER_TIMEOUT = 1.5
BODY_IDLE = 1.0
BODY_TOTAL = 2.5
#: how long the server may take to close a refused connection: generous, for a loaded 2-core CI machine
#: (what each test checks is that it closes and what it read, not how fast)
CLOSE_WITHIN = 5.0
BOUNDARY = "limitsboundary"


class CountingProtocol(TimedHttpProtocol):
    """The served protocol, counting the bytes it reads per client port."""

    header_timeout_seconds = HEADER_TIMEOUT
    read: ClassVar[dict[int, int]] = {}

    def connection_made(self, transport) -> None:
        self._port = transport.get_extra_info("peername")[1]
        self.read[self._port] = 0
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.read[self._port] += len(data)
        super().data_received(data)


@dataclass
class Served:
    port: int
    intake_key: str
    settings: Settings

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def read_by_server(self, s: socket.socket) -> int:
        return CountingProtocol.read[s.getsockname()[1]]


@pytest.fixture(scope="module")
def served(sqlite_url, tmp_path_factory):
    settings = service_settings(
        sqlite_url,
        tmp_path_factory.mktemp("limits") / "photos",
        body_idle_timeout_seconds=BODY_IDLE,
        body_timeout_seconds=BODY_TOTAL,
    )
    engine = make_engine(sqlite_url)
    org = make_org(make_session_factory(engine))
    engine.dispose()
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, http=CountingProtocol, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield Served(port=port, intake_key=org.intake, settings=settings)
    server.should_exit = True
    thread.join(timeout=15)


def submission_head(key: str, *, length: int | None = None) -> bytes:
    """The request line and headers of POST /v1/cases, chunked unless ``length`` is given."""
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return (
        "POST /v1/cases HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {key}\r\nIdempotency-Key: {time.time_ns()}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n\r\n"
    ).encode()


def photo_part_head() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict:
        return json.loads(self.body)["error"]


def read_answer(s: socket.socket, timeout: float = 10.0) -> Answer | None:
    """The response on ``s`` (None when the connection ended without one)."""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            got = s.recv(65536)
            if not got:
                break
            data += got
    except (ConnectionResetError, TimeoutError):
        pass
    if b"\r\n\r\n" not in data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return Answer(int(lines[0].split()[1]), headers, body)


def _length(data: bytes) -> int:
    """The Content-Length in the head of ``data`` (0 until the head is complete)."""
    head = data.partition(b"\r\n\r\n")[0].lower()
    marker = head.find(b"content-length:")
    return int(head[marker + 15 :].split(b"\r\n")[0]) if marker >= 0 else 0


def closed_after(s: socket.socket, timeout: float) -> bool:
    """Whether the server closed ``s`` within ``timeout`` (reading and dropping what it sends)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            if not s.recv(65536):
                return True
    except TimeoutError:
        return False
    except OSError:
        return True
    return False


def stream_until_answered(s: socket.socket, total: int, piece: bytes) -> int:
    """Send ``total`` bytes of ``piece`` chunks until the server answers or stops reading; the bytes
    sent (the socket's buffers hold some the server never read)."""
    frame = memoryview(chunk(piece))
    sent = 0
    s.setblocking(False)
    try:
        while sent < total:
            readable, writable, _ = select.select([s], [s], [], 10)
            if readable or not writable:
                break
            offset = 0
            while offset < len(frame):
                try:
                    offset += s.send(frame[offset:])
                except BlockingIOError:
                    readable, writable, _ = select.select([s], [s], [], 10)
                    if readable or not writable:
                        return sent + offset
            sent += len(frame)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        s.setblocking(True)
    return sent


def trickle_until_answered(s: socket.socket, piece: bytes, give_up: float) -> tuple[Answer | None, float]:
    """Send ``piece`` every quarter second until an answer comes (or ``give_up`` seconds): the answer
    and the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < give_up:
        try:
            s.sendall(piece)
        except OSError:
            break
        readable, _, _ = select.select([s], [], [], 0.25)
        if readable:
            return read_answer(s), time.monotonic() - started
    return None, time.monotonic() - started


# --- the total cap, counted while the body streams ---


def test_a_chunked_260_mb_submission_is_refused_before_25_mb_are_read(served):
    assert served.settings.max_request_bytes == Settings().max_request_bytes == 24_000_000  # the default
    with served.connect() as s:
        s.sendall(submission_head(served.intake_key) + chunk(photo_part_head()))
        sent = stream_until_answered(s, 260 * 1000 * 1000, b"\x89PNG" * 16384)
        answer = read_answer(s)
        read = served.read_by_server(s)
    assert read < 25_000_000, f"the server read {read} bytes"
    assert read > served.settings.max_request_bytes  # it did read up to the cap, while it streamed
    assert sent < 100_000_000
    assert answer is not None and answer.status == 413
    assert answer.error()["code"] == "request_too_large"
    assert answer.error()["fix"]
    assert answer.headers["connection"] == "close"


def test_a_declared_length_over_the_cap_is_refused_before_reading_the_body(served):
    with served.connect() as s:
        head = submission_head(served.intake_key, length=served.settings.max_request_bytes + 1)
        s.sendall(head)
        answer = read_answer(s)
        assert closed_after(s, CLOSE_WITHIN)
        read = served.read_by_server(s)
    assert answer is not None and answer.status == 413
    assert answer.error()["code"] == "request_too_large"
    assert read == len(head)


# --- the body's read timeouts ---


def test_a_body_that_stops_is_cut_off_after_the_idle_timeout(served):
    with served.connect() as s:
        s.sendall(submission_head(served.intake_key, length=100_000) + photo_part_head() + b"x" * 1000)
        started = time.monotonic()
        answer = read_answer(s)
        waited = time.monotonic() - started
        assert closed_after(s, CLOSE_WITHIN)
    assert answer is not None and answer.status == 408, answer
    assert answer.error()["code"] == "request_timeout"
    assert "no data came" in answer.error()["message"]
    assert BODY_IDLE * 0.9 <= waited < BODY_IDLE + 1.5


def test_a_trickled_body_is_cut_off_after_the_total_timeout(served):
    with served.connect() as s:
        s.sendall(submission_head(served.intake_key, length=100_000) + photo_part_head())
        answer, waited = trickle_until_answered(s, b"y" * 10, BODY_TOTAL + 3)
    assert answer is not None and answer.status == 408, answer
    assert "not complete after" in answer.error()["message"]
    assert BODY_TOTAL * 0.9 <= waited < BODY_TOTAL + 1.5


def test_a_slow_upload_that_keeps_up_the_minimum_rate_is_read_to_its_end(served):
    """100 KB a second for 4 s, past the 2.5 s timeout: each 50 KB (the default minimum rate) earns a
    second more, so the body is read to its end and answered for what it is (a form without its
    questionnaire)."""
    assert served.settings.body_min_rate_bytes == 50_000
    body = photo_part_head() + b"n" * 400_000 + f"\r\n--{BOUNDARY}--\r\n".encode()
    with served.connect() as s:
        s.sendall(submission_head(served.intake_key, length=len(body)))
        started = time.monotonic()
        for offset in range(0, len(body), 10_000):
            s.sendall(body[offset : offset + 10_000])
            time.sleep(max(0.0, started + (offset + 10_000) / 100_000 - time.monotonic()))
        answer = read_answer(s)
    assert time.monotonic() - started > BODY_TOTAL + 1
    assert answer is not None and answer.status == 422, answer
    assert answer.error()["field"] == "questionnaire"


def test_an_answer_sent_before_the_body_was_read_closes_the_connection(served):
    with served.connect() as s:  # no key: 401 before the form is read
        s.sendall(
            b"POST /v1/cases HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk(b"z" * 1000)
        )
        answer = read_answer(s)
        assert closed_after(s, CLOSE_WITHIN)
    assert answer is not None and answer.status == 401
    assert answer.headers["connection"] == "close"


# --- the request line and headers' timeout ---


def test_trickled_headers_are_cut_off_with_408(served):
    with served.connect() as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        answer, waited = trickle_until_answered(s, b"X-Slow: 1\r\n", HEADER_TIMEOUT + 3)
        assert closed_after(s, CLOSE_WITHIN)
    assert answer is not None and answer.status == 408
    assert answer.error()["code"] == "request_timeout" and answer.error()["fix"]
    assert HEADER_TIMEOUT * 0.9 <= waited < HEADER_TIMEOUT + 1.5


def test_a_silent_connection_is_closed_after_the_header_timeout(served):
    with served.connect() as s:
        started = time.monotonic()
        s.settimeout(HEADER_TIMEOUT + 3)
        assert s.recv(100) == b""  # closed, no answer: no request had begun
        assert HEADER_TIMEOUT * 0.9 <= time.monotonic() - started < HEADER_TIMEOUT + 1.5


def test_a_kept_alive_connection_serves_one_request_after_another(served):
    with served.connect() as s:
        for _ in range(2):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            answer = read_answer(s)
            assert answer is not None and answer.status == 200
            assert answer.headers.get("connection") != "close"
            time.sleep(HEADER_TIMEOUT * 0.6)  # waits between requests do not add up to a timeout


def test_twenty_slow_clients_are_all_cut_off(served):
    """Ten trickle their headers, ten their body, all at once: every connection is closed by the
    server within its timeout (and a little scheduling slack)."""
    closed_at: list[float | None] = [None] * 20
    started = time.monotonic()

    def slow_client(index: int) -> None:
        with served.connect() as s:
            if index % 2:
                s.sendall(submission_head(served.intake_key, length=100_000) + photo_part_head())
                trickle = b"b" * 10
            else:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
                trickle = b"X-Slow: 1\r\n"
            s.settimeout(0.2)
            while time.monotonic() - started < 10:
                try:
                    s.sendall(trickle)
                    if s.recv(65536) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
                # an answer came: the server closes right after it
            closed_at[index] = time.monotonic() - started

    threads = [threading.Thread(target=slow_client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    assert all(t is not None for t in closed_at), closed_at
    assert max(closed_at) < max(HEADER_TIMEOUT, BODY_TOTAL) + 2.0, closed_at


# --- as operators run it ---


def test_dermatriage_serve_holds_the_limits_in_every_worker(tmp_path):
    """``dermatriage serve --workers 2``: the header timeout (from the environment, in each worker) and
    the body cap hold in the real command."""
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    key = make_org(make_session_factory(engine)).intake
    engine.dispose()
    env = service_env(
        database_url,
        tmp_path / "photos",
        header_timeout_seconds="1",
        urgency_model="none",
        quality_model="none",
        deliver_events="false",
        log_level="warning",
    )
    service = ServiceProcess(env, tmp_path / "serve.log", workers=2).start()
    try:
        service.wait_ready(path="/healthz")
        for _ in range(2):  # two connections: the workers take turns
            with socket.create_connection(("127.0.0.1", service.port), timeout=10) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: 1")
                started = time.monotonic()
                answer = read_answer(s, timeout=5)
                assert answer is not None and answer.status == 408
                assert 0.9 <= time.monotonic() - started < 3
        with socket.create_connection(("127.0.0.1", service.port), timeout=10) as s:
            s.sendall(submission_head(key) + chunk(photo_part_head()))
            sent = stream_until_answered(s, 260 * 1000 * 1000, b"\xff" * 65536)
            answer = read_answer(s)
        assert answer is not None and answer.status == 413
        assert answer.error()["code"] == "request_too_large"
        assert sent < 100_000_000  # the cap plus what the sockets' buffers held
    finally:
        service.stop()
