"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, built from files installed with the
``fastapi-offline`` package and served by the app itself: nothing is fetched from a CDN, so the pages work
without internet."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: where the Swagger UI and ReDoc scripts, stylesheet and icon are served
ASSETS = "/docs/assets"
_ASSETS_DIR = files("fastapi_offline") / "static"
#: the pages may load only from this server (ReDoc's sidebar would fetch its maker's logo from a CDN; the
#: browser refuses it and ReDoc hides the image); their own inline script and styles, ReDoc's worker
SAME_ORIGIN_ONLY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'"
)


def install_docs(app: FastAPI) -> None:
    """``/docs`` and ``/redoc`` over ``app.openapi_url``; the app must be made with ``docs_url=None,
    redoc_url=None`` (FastAPI's own pages load their scripts from a CDN)."""
    app.mount(ASSETS, StaticFiles(directory=str(_ASSETS_DIR)), name="docs-assets")

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS}/{name}"

    def document(request: Request) -> dict[str, str]:
        """What both pages are told: the document (behind a proxy's root path too) and the title."""
        return {
            "openapi_url": f"{request.scope.get('root_path', '')}{app.openapi_url}",
            "title": f"{app.title} API",
        }

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        scripts = {"swagger_js_url": asset(request, "swagger-ui-bundle.js"), "oauth2_redirect_url": None}
        style = {
            "swagger_css_url": asset(request, "swagger-ui.css"),
            "swagger_favicon_url": asset(request, "favicon.png"),
        }
        return same_origin_only(
            get_swagger_ui_html(
                **document(request), **scripts, **style, swagger_ui_parameters=app.swagger_ui_parameters
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        assets = {
            "redoc_js_url": asset(request, "redoc.standalone.js"),
            "redoc_favicon_url": asset(request, "favicon.png"),
        }
        return same_origin_only(get_redoc_html(**document(request), **assets, with_google_fonts=False))


def same_origin_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = SAME_ORIGIN_ONLY
    return page
