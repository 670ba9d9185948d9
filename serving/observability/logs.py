"""Log lines: one JSON object per line (or readable text), with the id of the request being handled.

``logging_config(settings)`` is a ``logging.config.dictConfig`` document for the whole process: the
root logger (the service's ``dermatriage*`` loggers, libraries) and uvicorn's own loggers go through
the same formatter. uvicorn's access log is switched off by ``dermatriage serve``: the service writes
its own access line per request (``serving.observability.http``), with the route template instead of
the path and never the query string.

Fields of a JSON line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``
(null outside a request), ``exception`` (the traceback, when one is logged), and for an access line
``method``, ``route``, ``status``, ``duration_ms``. Nothing of a submission is logged: messages carry
ids and counts, never questionnaire answers, names, filenames or keys.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from serving.settings import Settings

#: the request being handled by this task/thread (set by the HTTP middleware)
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

#: what an access line adds to a record (``logger.info(..., extra={"access": {...}})``)
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_format(settings: Settings) -> str:
    """'json' or 'text': the setting, else text in development and JSON anywhere else."""
    if settings.log_format is not None:
        return settings.log_format
    return "text" if settings.environment == "development" else "json"


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``record.request_id``, '-' in text outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line.update({k: access[k] for k in ACCESS_FIELDS if k in access})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get() or "-"
        return super().format(record)


def logging_config(settings: Settings) -> dict[str, Any]:
    """The process's logging, for ``logging.config.dictConfig`` or uvicorn's ``log_config``: every
    line to standard error through one formatter, at ``settings.log_level``."""
    level = settings.log_level.upper()
    formatter = JsonFormatter if log_format(settings) == "json" else TextFormatter
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "line",
        "filters": ["request_id"],
    }
    own = {"handlers": ["default"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": own,
            "uvicorn.error": {"level": level},
            # the service writes its own access line (route template, no query string)
            "uvicorn.access": {**own, "level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
