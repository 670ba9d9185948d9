"""Every key of a training config with its default and meaning, read from the config dataclass itself:
``dataclasses.fields`` for the keys and defaults (nested sections as dotted keys, e.g.
``network.backbone``), the ``#:`` comment above a field or the ``#`` comment after it for the meaning.
What ``dermatriage train urgency --help`` lists (``training.cli.TrainCommand``), so the documentation
cannot drift from the code."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

_FIELD = re.compile(r"^\s+(\w+)\s*:[^=#]*(?:=[^#]*)?(?:#\s*(.*))?$")


def _meanings(cls: type) -> dict[str, str]:
    """Field name -> its comment (``#:`` lines above it, joined, or the ``#`` comment after it)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    meanings: dict[str, str] = {}
    pending: list[str] = []
    for line in source.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        found = _FIELD.match(line)
        if found and not stripped.startswith(("def ", "@", "return")):
            name, trailing = found.groups()
            text = " ".join(pending) or (trailing or "").strip()
            if text:
                meanings.setdefault(name, text)
        pending = []
    return meanings


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return "null" if value is None else str(value)


def config_keys(cls: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """``(key, default, meaning)`` of every field of the config dataclass ``cls``; a field holding a
    dataclass is listed key by key under its name (``network.fusion``)."""
    meanings = _meanings(cls)
    keys = []
    for field in dataclasses.fields(cls):
        default = _default(field)
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            keys += [
                (key, value, text)
                for key, _, text in config_keys(type(default), f"{prefix}{field.name}.")
                for value in [_shown(_nested(default, key.removeprefix(f"{prefix}{field.name}.")))]
            ]
            continue
        meaning = field.metadata.get("help") or meanings.get(field.name, "")
        keys.append((prefix + field.name, _shown(default), meaning))
    return keys


def _nested(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj
