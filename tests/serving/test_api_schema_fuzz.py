"""Schemathesis against the app in this process: every operation of the OpenAPI document, in its coverage
phase (each documented value's boundaries, each required part left out, each undocumented method) and
a few generated requests per operation, with a fixed seed. Every check of schemathesis runs: no server
error; no response the document does not describe (status, content type, headers, body, ``Allow``); no
request the document calls valid refused, none it calls invalid accepted; a missing key is a 401.

Authenticated with real keys (an admin's; a dermatologist's for the two operations only a dermatologist
may call), on SQLite in a temporary folder, without rate limits. What the document cannot say, the run is
taught here, as a client would learn it from the descriptions: a photo part holds a photo, a queue cursor
is one the API handed out, and each submission has its own ``Idempotency-Key``.

The figures, printed: ``PYTHONPATH=tests .venv/bin/python tests/serving/test_api_schema_fuzz.py``.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import sys
import tempfile
import time
import types
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from conftest import make_org, service_settings
from factories import encode, skin_photo
from hypothesis import strategies as st
from schemathesis.engine import events, from_schema
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.formats import unregister_string_format

from serving.app import create_app
from serving.db import make_engine, make_session_factory
from serving.migrations import upgrade
from serving.queue.order import encode_cursor

SEED = 13
#: generated requests per operation (the coverage phase adds its own: boundaries, missing parts, methods)
EXAMPLES = 5
PHASES = ("examples", "coverage", "fuzzing")
#: operations only a dermatologist's key may call; every other one is called with an admin's key
DERMATOLOGIST_ONLY = ("/v1/queue/claim", "/v1/renewal-requests/{request_id}/decision")
UTC = st.just(dt.UTC)


@dataclass
class Finding:
    check: str
    operation: str
    title: str
    status: int | None
    request: str

    def __str__(self) -> str:
        return f"{self.check} on {self.operation} (answered {self.status}): {self.title}\n    {self.request}"


@dataclass
class Run:
    operations: set[str] = field(default_factory=set)
    documented: set[str] = field(default_factory=set)
    cases: collections.Counter = field(default_factory=collections.Counter)  # by phase
    statuses: collections.Counter = field(default_factory=collections.Counter)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def failed(self, *checks: str) -> list[Finding]:
        return [f for f in self.findings if f.check in checks]


def _photos() -> st.SearchStrategy[bytes]:
    """What a photo part holds: a small phone-like skin photo, JPEG or PNG."""
    formats = ("JPEG", "PNG", "JPEG")
    return st.sampled_from([encode(skin_photo((64, 48), seed=seed), fmt) for seed, fmt in enumerate(formats)])


def _cursors() -> st.SearchStrategy[str]:
    """A queue cursor as the API hands them out (any position in the queue order)."""

    def cursor(due, score, created, case_id) -> str:
        position = types.SimpleNamespace(
            review_due_at=due, urgency_score=score, created_at=created, id=case_id
        )
        return encode_cursor(position)

    return st.builds(
        cursor,
        st.none() | st.datetimes(timezones=UTC),
        st.floats(0, 1),
        st.datetimes(timezones=UTC),
        st.uuids().map(str),
    )


def _one_key_per_submission(_context, case):
    """A client sends a new Idempotency-Key with each new submission; a valid key is made unique (one left
    out, blank or too long stays as generated: those cases test the 400)."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and key.strip() and len(key) <= 255:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    return case


def _describe(case, response) -> str:
    query = f"?{response.request.url.split('?', 1)[1]}" if "?" in response.request.url else ""
    body = (
        case.body
        if isinstance(case.body, dict | list | str | int | float | bool)
        else type(case.body).__name__
    )
    shown = json.dumps(body, default=str)[:300] if body is not None else ""
    return f"{case.method} {case.formatted_path}{query} {shown}"


def fuzz(workdir: Path) -> Run:
    """One schemathesis run against a fresh app; what it found."""
    url = f"sqlite:///{workdir / 'dermatriage.db'}"
    upgrade(url)
    engine = make_engine(url)
    org = make_org(make_session_factory(engine))
    engine.dispose()
    no_rate_limits = {f"rate_limit_{role}_per_minute": 0 for role in ("intake", "dermatologist", "admin")}
    app = create_app(service_settings(url, workdir / "photos", **no_rate_limits))
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "continue-on-failure": True,
            "headers": {"Authorization": f"Bearer {org.admin}"},
            "operations": [
                {
                    "include-path": list(DERMATOLOGIST_ONLY),
                    "headers": {"Authorization": f"Bearer {org.dermatologist}"},
                }
            ],
            "checks": {"enabled": True},
            "generation": {"max-examples": EXAMPLES, "deterministic": True},
            "phases": {
                **{phase: {"enabled": phase in PHASES} for phase in ("examples", "fuzzing", "stateful")},
                # undocumented methods: one that reads (OPTIONS, whose Allow is checked), one that writes
                "coverage": {"enabled": True, "unexpected-methods": ["OPTIONS", "PATCH"]},
            },
        }
    )
    schemathesis.openapi.format("binary", _photos())  # a photo part
    schemathesis.openapi.format("byte", _photos().map(lambda photo: base64.b64encode(photo).decode()))
    schemathesis.openapi.format("queue-cursor", _cursors())
    run = Run()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
        schema.hook("map_case")(_one_key_per_submission)
        run.documented = {op.ok().label for op in schema.get_all_operations()}
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                _record(run, event)
            elif isinstance(event, events.NonFatalError | events.FatalError):
                run.errors.append(f"{getattr(event, 'label', '')}: {getattr(event, 'value', event)!r}")
    finally:
        unregister_string_format("binary")
        unregister_string_format("byte")
        unregister_string_format("queue-cursor")
        shutdown_lifespans()
    run.seconds, run.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return run


def _record(run: Run, event: events.ScenarioFinished) -> None:
    recorder = event.recorder
    run.operations.add(recorder.label)
    run.cases[str(event.phase)] += len(recorder.cases)
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            run.statuses[interaction.response.status_code] += 1
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction else None
            run.findings.append(
                Finding(
                    check=check.name,
                    operation=failure.operation or recorder.label,
                    title=failure.title,
                    status=response.status_code if response is not None else None,
                    request=_describe(recorder.cases[case_id].value, response)
                    if response is not None
                    else "",
                )
            )


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    return fuzz(tmp_path_factory.mktemp("schemathesis"))


def _shown(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings[:20])


def test_every_operation_is_fuzzed(run: Run) -> None:
    assert not run.errors, "\n".join(run.errors)
    assert run.documented and run.operations == run.documented
    assert run.cases["coverage"] >= 10 * len(run.documented) and run.cases["fuzzing"] >= len(run.documented)


def test_no_server_error(run: Run) -> None:
    assert not [s for s in run.statuses if s >= 500]
    assert not run.failed("not_a_server_error"), _shown(run.failed("not_a_server_error"))


def test_no_response_contradicts_the_document(run: Run) -> None:
    contradictions = run.failed(
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "allow_header_conformance",
        "unsupported_method",
    )
    assert not contradictions, _shown(contradictions)


def test_requests_are_judged_as_the_document_says(run: Run) -> None:
    """Valid by the document: accepted (or a 401/403/404/409 about who and what); invalid: refused; a
    required header or the key left out: a 4xx (the key: a 401)."""
    misjudged = run.failed(
        "positive_data_acceptance", "negative_data_rejection", "missing_required_header", "ignored_auth"
    )
    assert not misjudged, _shown(misjudged)


def test_nothing_else_failed(run: Run) -> None:
    assert not run.findings, _shown(run.findings)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        result = fuzz(Path(folder))
    by_check = collections.Counter((f.check, f.operation) for f in result.findings)
    sys.stdout.write(
        f"operations {len(result.operations)} of {len(result.documented)} documented; requests by phase "
        f"{dict(result.cases)}; statuses {dict(sorted(result.statuses.items()))}; {result.seconds:.1f} s "
        f"({result.cpu_seconds:.1f} s CPU)\n"
        f"findings {len(result.findings)}: {dict(by_check)}\nerrors {result.errors}\n"
    )
    for finding in result.findings[:40]:
        sys.stdout.write(f"{finding}\n")
