"""Ten concurrent retries of one submission against a real server make exactly one case."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx2 as httpx
import uvicorn
from factories import good_jpeg
from sqlalchemy import func, select

from serving.app import create_app
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.db import transaction


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app):
        self.port = _free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def test_ten_concurrent_retries_make_one_case(settings, org, sessions):
    photo = good_jpeg(7)
    questionnaire = json.dumps({"jurisdiction": "US-TX", "age": 33})
    results: list[httpx.Response] = []
    barrier = threading.Barrier(10)

    def retry(base: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            barrier.wait()
            results.append(
                http.post(
                    "/v1/cases",
                    data={"questionnaire": questionnaire},
                    files=[("photos", ("a.jpg", photo, "image/jpeg"))],
                    headers=org.headers(**{"Idempotency-Key": "same-submission"}),
                )
            )

    with LiveServer(create_app(settings)) as base:
        threads = [threading.Thread(target=retry, args=(base,)) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert len(results) == 10
    assert sorted(r.status_code for r in results) == [200] * 9 + [201], [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    with transaction(sessions) as s:
        for model in (Case, Photo, IdempotencyRecord):
            n = s.scalar(select(func.count()).select_from(model).where(model.organization_id == org.org_id))
            assert n == 1, model.__name__
    stored = [p for p in settings.photo_dir.rglob("*") if p.is_file()]
    assert len(stored) == 2  # the photo and its thumbnail, once
