"""The FastAPI application: ``create_app(settings)`` wires routers, errors and resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from model.intake import PhotoLimits
from model.loading import load_quality_model, load_urgency_model
from model.triage.engine import TriageEngine
from serving.api.cases import router as cases_router
from serving.api.consult_notes import router as consult_notes_router
from serving.api.consults import router as consults_router
from serving.api.docs import install_docs
from serving.api.events import router as events_router
from serving.api.fhir import install as install_fhir
from serving.api.messages import router as messages_router
from serving.api.monitoring import router as monitoring_router
from serving.api.openapi import install_openapi
from serving.api.patients import router as patients_router
from serving.api.people import router as people_router
from serving.api.queue import router as queue_router
from serving.api.renewals import router as renewals_router
from serving.api.video_visits import router as video_visits_router
from serving.auth import request_id
from serving.cases.reads import Intake
from serving.consults.follow_ups import mark_received
from serving.db import make_engine, make_session_factory
from serving.encryption import keyring_from
from serving.errors import install_handlers
from serving.events.delivery import RetryPolicy
from serving.limits.body import BodyLimits, RequestBodyLimits
from serving.limits.budget import MemoryBudget, give_back_freed_memory
from serving.limits.rate import RateLimiter
from serving.migrations import at_head, upgrade
from serving.observability import install as install_observability
from serving.photos.backends import photo_store_from
from serving.settings import Settings
from serving.web import install as install_web
from serving.worker import BackgroundDelivery

log = logging.getLogger("dermatriage")


class Health(BaseModel):
    status: str = Field(description="'ok'.")


class Readiness(BaseModel):
    status: str = Field(description="'ready' or 'not ready'.")
    checks: dict[str, str] = Field(description="database, photo_store, models: 'ok' or what is wrong.")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keyring = keyring_from(settings)  # seals webhook secrets (and photos, with photo_encryption)
        if settings.migrate_on_start:
            upgrade(settings.database_url, keyring=keyring)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine, keyring=keyring)
        app.state.engine = engine
        app.state.sessions = sessions
        app.state.intake = Intake(
            sessions=sessions,
            store=photo_store_from(settings, keyring=keyring),
            engine=TriageEngine(
                urgency_model=load_urgency_model(
                    settings.urgency_model, cache_dir=settings.model_cache_dir, threads=settings.model_threads
                ),
                quality_model=load_quality_model(
                    settings.quality_model, cache_dir=settings.model_cache_dir, threads=settings.model_threads
                ),
            ),
            limits=PhotoLimits(
                max_bytes=settings.max_photo_bytes,
                max_pixels=settings.max_photo_pixels,
                analysis_long_side=settings.analysis_long_side,
            ),
            on_follow_up_photos=mark_received,  # usable follow-up photos answer the follow-up
            on_stage_timings=app.state.observability.record_stages,  # metrics and spans per stage
            decode_budget=MemoryBudget(settings.decode_memory_budget_mb * 1024 * 1024),
        )
        give_back_freed_memory()  # so that the decode budget bounds the process's memory
        log.info(
            "dermatriage ready: database %s, photos in %s",
            engine.url.render_as_string(hide_password=True),
            app.state.intake.store.location,
        )
        delivery = None
        if settings.deliver_events:
            delivery = BackgroundDelivery(
                sessions, policy=RetryPolicy.from_settings(settings), poll_seconds=settings.event_poll_seconds
            )
            delivery.start()
        try:
            yield
        finally:
            if delivery is not None:
                await delivery.stop()
            engine.dispose()
            app.state.observability.shutdown()

    app = FastAPI(
        title="dermatriage",
        version="0.1.0",
        summary="Intake and triage for store-and-forward teledermatology",
        lifespan=lifespan,
        docs_url=None,  # install_docs: the pages from installed files, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    install_handlers(app)

    @app.middleware("http")
    async def _request_id(request: Request, call_next):
        rid = request_id(request)
        response = await call_next(request)
        response.headers["X-Request-ID"] = rid
        return response

    @app.get("/healthz", tags=["health"], response_model=Health, summary="The process is up")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: the failed checks say why."}},
        summary="Database, photo store and models are reachable",
    )
    def readyz(request: Request) -> JSONResponse:
        checks = {}
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                checks["database"] = "ok" if at_head(conn) else "migrations pending"
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            checks["database"] = f"unreachable: {type(exc).__name__}"
        intake: Intake = request.app.state.intake
        checks["photo_store"] = "ok" if intake.store.writable() else "not writable"
        problems = intake.engine.problems()
        checks["models"] = "ok" if not problems else "; ".join(f"{k}: {v}" for k, v in problems.items())
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    app.include_router(cases_router)
    app.include_router(queue_router)
    app.include_router(people_router)
    app.include_router(events_router)
    app.include_router(consults_router)
    app.include_router(consult_notes_router)
    app.include_router(messages_router)
    app.include_router(renewals_router)
    app.include_router(video_visits_router)
    app.include_router(patients_router)
    app.include_router(monitoring_router)
    install_fhir(app)  # /fhir/R4 and its OperationOutcome errors (serving/api/fhir.py)
    install_web(app)  # the dermatologists' pages (serving/web/)
    install_docs(app)  # /docs and /redoc (serving/api/docs.py)
    install_openapi(app)  # the document says what the routes answer (serving/api/openapi.py)
    # the request body's size cap and read timeouts (serving/limits/body.py): outside every other
    # middleware but observability's, which sees its 413 and 408 answers
    app.add_middleware(RequestBodyLimits, limits=BodyLimits.from_settings(settings))
    app.state.rate_limiter = RateLimiter.from_settings(settings)  # per key, checked by serving.auth
    # /metrics, access log, request ids, tracing: last, so that its middleware is the outermost
    app.state.observability = install_observability(app, settings)
    return app
