"""The outermost middleware: for every HTTP request, its id in the logging context, its count and
latency by route template and status, and one access log line.

The route is the template the request matched (``/v1/cases/{case_id}``), never the raw path (ids)
nor the query string; a request answered before routing (a refused body) is matched here against the
API's paths, and one that matches none is counted as ``unmatched``.
"""

from __future__ import annotations

import logging
import re
import time

from starlette.requests import Request
from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.auth import request_id
from serving.observability.logs import REQUEST_ID
from serving.telemetry import HTTP_IN_PROGRESS, UNMATCHED_ROUTE, observe_pool, observe_request

access_log = logging.getLogger("dermatriage.access")

#: probes and scrapes: their access lines are logged at DEBUG (they come every few seconds)
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def api_templates(app) -> list[tuple[re.Pattern[str], str]]:
    """The API's path templates, from its OpenAPI document, with the fewest parameters first (a
    literal segment wins over a parameter)."""
    try:
        paths = app.openapi().get("paths", {})
    except Exception:  # noqa: BLE001 - a request is counted (as unmatched) whatever the document's state
        access_log.warning("no OpenAPI paths to name requests answered before routing", exc_info=True)
        paths = {}
    return sorted(((compile_path(path)[0], path) for path in paths), key=lambda item: item[1].count("{"))


def _mounts(app) -> list[Mount]:
    """The app's mounted sub-applications (the API docs' static files), named by their prefix."""
    return [route for route in getattr(app, "routes", []) if isinstance(route, Mount)]


class RequestTelemetry:
    """Pure ASGI (the body streams through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: list[tuple[re.Pattern[str], str]] | None = None  # read at the first need

    def route_template(self, scope: Scope, app) -> str:
        """The template of the route that handled the request, or, for a request answered before
        routing (a refused body), of the API path it was sent to."""
        path = getattr(scope.get("route"), "path", None)
        if path:
            return path
        if self._templates is None:
            mounts = [(re.compile(re.escape(r.path) + "/"), r.path + "/{path}") for r in _mounts(app)]
            self._templates = [*mounts, *api_templates(app)]
        return next((t for regex, t in self._templates if regex.match(scope["path"])), UNMATCHED_ROUTE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # the same id the routes and the X-Request-ID answer header use (kept in the scope's state);
        # set for this request's task: every line logged while it is handled carries it
        REQUEST_ID.set(request_id(Request(scope)))
        started = time.perf_counter()
        status = 500  # unless an answer starts
        app = scope.get("app")  # the FastAPI app (set before the middleware runs)

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        HTTP_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            HTTP_IN_PROGRESS.dec()
            seconds = time.perf_counter() - started
            route = self.route_template(scope, app)
            observe_request(scope["method"], route, status, seconds)
            engine = getattr(getattr(app, "state", None), "engine", None)
            if engine is not None:  # each worker's share of the pool gauges, as its last request left it
                observe_pool(engine.pool)
            access_log.log(
                logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                "%s %s %d %.1f ms",
                scope["method"],
                route,
                status,
                seconds * 1000,
                extra={
                    "access": {
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                    }
                },
            )
