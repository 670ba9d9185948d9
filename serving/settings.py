"""Service configuration, read from the environment once, at the entry point.

Every setting can be given as ``DERMATRIAGE_<NAME>``; the database also as ``DATABASE_URL``.
Nothing here is read at import time: ``Settings()`` is built by the CLI or ``create_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from model.decode import DEFAULT_TARGET_LONG_SIDE

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DERMATRIAGE_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'dermatriage.db'}",
        validation_alias=AliasChoices("DATABASE_URL", "DERMATRIAGE_DATABASE_URL"),
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://... for PostgreSQL.",
    )
    photo_dir: Path = Field(default=DEFAULT_DATA_DIR / "photos", description="Content-addressed photo store.")
    max_photo_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_photo_pixels: int = Field(default=50_000_000, gt=0)
    max_photos_per_request: int = Field(default=10, ge=1, le=50)
    analysis_long_side: int = Field(default=DEFAULT_TARGET_LONG_SIDE, ge=256, le=4096)
    trust_forwarded_for: bool = Field(
        default=False, description="Take the client address from X-Forwarded-For (behind a proxy only)."
    )
    urgency_model: str = Field(
        default="bundled",
        description="'bundled' (model/artifacts/urgency.onnx when present), 'none' (rules only), "
        "a path to an .onnx with its contract .json beside it, or an MLflow registry URI such as "
        "'models:/dermatriage-urgency@champion' (needs mlflow installed and MLFLOW_TRACKING_URI).",
    )
    quality_model: str = Field(
        default="bundled",
        description="The learned image-quality model: 'bundled' (model/artifacts/quality.onnx when present), "
        "'none' (the classical checks alone), a path to an .onnx with its contract, or a registry URI "
        "such as 'models:/dermatriage-quality@champion'.",
    )
    model_threads: int = Field(default=1, ge=1, le=64, description="ONNX Runtime threads per model.")
    model_cache_dir: Path = Field(default=DEFAULT_DATA_DIR / "models", description="Registry downloads.")
    lease_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="How long a claimed case stays with its dermatologist."
    )
    migrate_on_start: bool = True
    log_level: str = "info"
    # events: webhook delivery (serving/events/)
    deliver_events: bool = Field(
        default=True, description="Deliver webhooks from the service itself (else run 'dermatriage worker')."
    )
    event_poll_seconds: float = Field(default=2.0, gt=0, le=3600, description="Pause between passes.")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Per webhook request.")
    webhook_backoff_base_seconds: float = Field(default=2.0, gt=0, description="First retry delay (doubles).")
    webhook_backoff_cap_seconds: float = Field(default=3600.0, gt=0, description="Longest retry delay.")
    webhook_retry_hours: float = Field(default=72.0, gt=0, description="Give up on an event after this.")
    webhook_concurrency: int = Field(default=8, ge=1, le=64, description="Webhook requests at a time.")
    # the dermatologists' pages (serving/web/)
    web_session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="A sign-in lasts this long.")
    web_idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60, description="Signed out after this idle.")
    web_secure_cookie: bool | None = Field(
        default=None,
        description="Send the session cookie over HTTPS only (default: outside development/test).",
    )
    sign_in_max_failures: int = Field(default=5, ge=1, le=100, description="Failures before the lockout.")
    sign_in_lockout_minutes: float = Field(
        default=15.0, gt=0, le=24 * 60, description="Failures counted over."
    )

    # limits that hold: streaming body cap, read timeouts, decode memory, rate limits (issue 13)
    # observability: metrics, structured logs, tracing (issue 13)
    # photo storage backends, encryption at rest, backups (issue 13)

    @field_validator("database_url")
    @classmethod
    def _driver(cls, url: str) -> str:
        # Plain postgres URLs (as most platforms hand them out) use the psycopg 3 driver.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookie(self) -> bool:
        if self.web_secure_cookie is not None:
            return self.web_secure_cookie
        return self.environment not in ("development", "test")

    @property
    def max_request_bytes(self) -> int:
        """Upper bound on a whole multipart request: every photo at its limit plus the form."""
        return self.max_photos_per_request * self.max_photo_bytes + 1024 * 1024
