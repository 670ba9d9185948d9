"""The FastAPI application: ``create_app(settings)`` wires routers, errors and resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from model.intake import PhotoLimits
from model.loading import load_quality_model, load_urgency_model
from model.triage.engine import TriageEngine
from serving.api.cases import router as cases_router
from serving.api.consults import router as consults_router
from serving.api.events import router as events_router
from serving.api.messages import router as messages_router
from serving.api.people import router as people_router
from serving.api.queue import router as queue_router
from serving.api.renewals import router as renewals_router
from serving.auth import request_id
from serving.cases.reads import Intake
from serving.consults.follow_ups import mark_received
from serving.db import make_engine, make_session_factory
from serving.errors import error_body, install_handlers
from serving.events.delivery import RetryPolicy
from serving.migrations import at_head, upgrade
from serving.photos.store import PhotoStore
from serving.settings import Settings
from serving.web import install as install_web
from serving.worker import BackgroundDelivery

log = logging.getLogger("dermatriage")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        app.state.engine = engine
        app.state.sessions = sessions
        app.state.intake = Intake(
            sessions=sessions,
            store=PhotoStore(settings.photo_dir),
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
        )
        log.info(
            "dermatriage ready: database %s, photos in %s",
            engine.url.render_as_string(hide_password=True),
            settings.photo_dir,
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

    app = FastAPI(
        title="dermatriage",
        version="0.1.0",
        summary="Intake and triage for store-and-forward teledermatology",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_handlers(app)

    @app.middleware("http")
    async def _limits_and_request_id(request: Request, call_next):
        rid = request_id(request)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_request_bytes:
            response = JSONResponse(
                error_body(
                    "request_too_large",
                    f"the request is {length} bytes; the limit is {settings.max_request_bytes}",
                    fix="Send fewer or smaller photos.",
                ),
                status_code=413,
            )
        else:
            response = await call_next(request)
        response.headers["X-Request-ID"] = rid
        return response

    @app.get("/healthz", tags=["health"], summary="The process is up")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Database, photo store and models are reachable")
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
    app.include_router(messages_router)
    app.include_router(renewals_router)
    install_web(app)  # the dermatologists' pages (serving/web/)
    return app
