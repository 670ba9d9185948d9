"""Service configuration, read from the environment once, at the entry point.

Every setting can be given as ``DERMATRIAGE_<NAME>``; the database also as ``DATABASE_URL``.
Nothing here is read at import time: ``Settings()`` is built by the CLI or ``create_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from model.decode import DEFAULT_TARGET_LONG_SIDE

DEFAULT_DATA_DIR = Path("var")
#: what a request holds besides its photos: the questionnaire, part headers, a message's text
FORM_ALLOWANCE_BYTES = 1024 * 1024


def one_photo_request_bytes(max_photo_bytes: int) -> int:
    """The smallest request cap that still takes one photo of the largest size, base64-encoded in JSON
    (a message attachment; a multipart upload is smaller), with its form."""
    return 4 * -(-max_photo_bytes // 3) + FORM_ALLOWANCE_BYTES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DERMATRIAGE_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'dermatriage.db'}",
        validation_alias=AliasChoices("DATABASE_URL", "DERMATRIAGE_DATABASE_URL"),
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://... for PostgreSQL.",
    )
    photo_dir: Path = Field(default=DEFAULT_DATA_DIR / "photos", description="Content-addressed photo store.")
    max_photo_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description="Largest accepted photo file. One such photo, base64-encoded (a message attachment), "
        "plus the form must fit in max_request_bytes.",
    )
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
    max_request_bytes: int = Field(
        default=24_000_000,
        ge=2 * 1024 * 1024,
        description="The most bytes of a request body, counted as it arrives (chunked or not): about ten "
        "2.3 MB phone photos with their form; more photos go in later batches "
        "(POST /v1/cases/{id}/photos). Over it: 413, and the rest is not read.",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="The request line and headers must arrive within this, from the connection's opening "
        "(or the previous answer on it); else 408 and the connection is closed. 'dermatriage serve' only "
        "(uvicorn's protocol serving.limits.connection:TimedHttpProtocol).",
    )
    body_idle_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600, description="The longest pause in a request body; else 408."
    )
    body_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        le=3600,
        description="A request body must arrive within this, plus a second for every body_min_rate_bytes "
        "it brings (a trickle is cut off after 20 s; 24 MB at 1 Mbit/s takes 192 s of the 500 it earns); "
        "else 408.",
    )
    body_min_rate_bytes: int = Field(
        default=50_000,
        ge=0,
        description="Bytes a second a slow body must keep up to be given more time (0: none, the timeout "
        "is the whole body's).",
    )
    decode_memory_budget_mb: int = Field(
        default=512,
        ge=32,
        description="Memory (MiB) the photos being decoded at once may hold, per process; a decode waits "
        "for its share (a 50-megapixel PNG needs about 450). A photo needing more decodes alone.",
    )
    rate_limit_intake_per_minute: float = Field(
        default=600, ge=0, description="Requests a minute per intake key (0: no limit), per process."
    )
    rate_limit_intake_burst: int = Field(default=120, ge=1, description="Requests at once per intake key.")
    rate_limit_dermatologist_per_minute: float = Field(
        default=300, ge=0, description="Requests a minute per dermatologist (key or sign-in), per process."
    )
    rate_limit_dermatologist_burst: int = Field(default=100, ge=1, description="Requests at once, same.")
    rate_limit_admin_per_minute: float = Field(
        default=300, ge=0, description="Requests a minute per admin (key or sign-in), per process."
    )
    rate_limit_admin_burst: int = Field(default=100, ge=1, description="Requests at once, same.")
    # observability: metrics, structured logs, tracing (issue 13)
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="Log lines as one JSON object each ('json') or as readable text ('text'); by default "
        "text in development, JSON otherwise. 'dermatriage serve' and 'worker' use it for every logger.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, GET /metrics needs 'Authorization: Bearer <token>'; unset, /metrics is open "
        "(keep it off the public network then: it shows queue sizes per organization).",
    )
    # photo storage backends, encryption at rest, backups (issue 13)
    photo_store: Literal["local", "s3"] = Field(
        default="local",
        description="Where photos are kept: 'local' (the content-addressed folder photo_dir) or 's3' "
        "(any S3-compatible object store: AWS S3, MinIO, ...; credentials from the standard AWS "
        "environment variables, shared config files or instance role).",
    )
    photo_encryption: bool = Field(
        default=False,
        description="Encrypt the local folder's photos with the storage key (AES-256-GCM; objects named "
        "by HMAC, not by their SHA-256). With photo_store=s3 use s3_sse instead.",
    )
    s3_bucket: str | None = Field(default=None, description="The bucket (photo_store=s3).")
    s3_prefix: str = Field(
        default="", max_length=512, description="Key prefix inside the bucket, e.g. 'photos/'."
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible service (MinIO: http://minio:9000); none for AWS.",
    )
    s3_region: str | None = Field(default=None, description="Region (default: the AWS configuration's).")
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="'path' for MinIO and most S3-compatible services behind one host name."
    )
    s3_sse: Literal["none", "AES256", "aws:kms"] = Field(
        default="none", description="Server-side encryption asked for every object written."
    )
    s3_sse_kms_key_id: str | None = Field(
        default=None, description="KMS key (id, ARN or alias) for s3_sse=aws:kms; none: the bucket's default."
    )
    storage_key: SecretStr | None = Field(
        default=None,
        description="The storage key (32 bytes, base64) sealing webhook secrets and encrypted photos; "
        "`dermatriage secrets new-key` makes one. Default: DERMATRIAGE_STORAGE_KEY_FILE, else with SQLite "
        "a key generated once into storage.key beside the database.",
    )
    storage_old_keys: SecretStr | None = Field(
        default=None, description="Older storage keys still read (comma-separated base64), during a rotation."
    )
    storage_key_file: Path | None = Field(
        default=None, description="A file of storage keys, one base64 key a line, the current one first."
    )

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

    @model_validator(mode="after")
    def _one_photo_fits_a_request(self) -> Settings:
        needed = one_photo_request_bytes(self.max_photo_bytes)
        if self.max_request_bytes < needed:
            raise ValueError(
                f"max_request_bytes ({self.max_request_bytes}) must hold one photo of max_photo_bytes "
                f"({self.max_photo_bytes}), base64-encoded, and the form: at least {needed}; raise "
                "DERMATRIAGE_MAX_REQUEST_BYTES or lower DERMATRIAGE_MAX_PHOTO_BYTES"
            )
        return self
