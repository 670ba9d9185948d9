"""What every response shape shares: filling a schema from a database row."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def from_row(schema: type[M], row: object, **given: Any) -> M:
    """``schema`` with each field taken from ``row``'s attribute of the same name, except those
    ``given`` (derived values, renamed columns, nested shapes)."""
    values = {
        name: getattr(row, name) for name in schema.model_fields if name not in given and hasattr(row, name)
    }
    return schema.model_validate({**values, **given})


def image_urls(base: str) -> dict[str, str]:
    """The ``image_url`` and ``thumbnail_url`` of a stored image served under ``base``."""
    return {"image_url": f"{base}/image", "thumbnail_url": f"{base}/thumbnail"}
