"""What every source reader shares: its error, and reading a CSV as raw strings."""

from __future__ import annotations

import csv
from pathlib import Path

from data_pipelines.manifest import ManifestError


class SourceError(ManifestError):
    """The raw data does not look as the reader expects."""


def read_csv(path: Path, required: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """All rows of a CSV as dicts of raw strings (no NA guessing: an empty cell stays ``""``)."""
    if not path.is_file():
        raise SourceError(f"missing file {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise SourceError(f"{path}: missing columns {missing}")
        return [dict(rec) for rec in reader]
