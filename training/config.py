"""What every training config shares: YAML plus ``key=value`` overrides in, resolved YAML out.

A config is a frozen dataclass that also derives from :class:`RunConfig`. It is built once at the
entry point and saved with the run resolved (paths absolute, defaults filled), so a run can be
repeated from its logged config alone. Each config names its nested sections in
:meth:`RunConfig._sections`; everything else (unknown keys, paths, tuples, overrides) is here.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
#: the manifest source of the smartphone photos: what serving sees
PHOTOS = "pad_ufes_20"


class RunConfig:
    """Loading, saving and resolving for a frozen dataclass config with a ``network`` section."""

    #: fields holding paths: ``~`` expanded on load, made absolute (against the repository) on resolve
    path_fields: ClassVar[tuple[str, ...]] = ("data_dir", "manifest", "output_dir")
    #: fields holding tuples (YAML gives lists)
    tuple_fields: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["network"] = self.network.to_dict()
        return _plain(data)

    @classmethod
    def _sections(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Nested sections from their plain dicts (``network``, …); ``data`` is a copy to change."""
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        data = dict(data)
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        data = cls._sections(data)
        for key in cls.path_fields:
            if data.get(key) is not None:  # an optional path may be None
                data[key] = Path(data[key]).expanduser()
        for key in cls.tuple_fields:
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    @classmethod
    def load(cls, path: Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Self:
        """The YAML at ``path`` (none: all defaults) with ``key=value`` overrides (dotted keys reach
        into sections, values parsed as YAML), resolved."""
        data = (yaml.safe_load(Path(path).read_text()) if path else {}) or {}
        for item in overrides:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ValueError(f"override {item!r} is not key=value")
            _set_dotted(data, key.strip(), yaml.safe_load(raw))
        return cls.from_dict(data).resolved()

    def resolved(self) -> Self:
        def absolute(p: Path | None) -> Path | None:
            return p if p is None or p.is_absolute() else (REPO_ROOT / p).resolve()

        return replace(self, **{key: absolute(getattr(self, key)) for key in self.path_fields})

    def save(self, path: Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
