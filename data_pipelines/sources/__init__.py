"""Readers that turn one raw data source into manifest rows.

Each reader takes the data dir (the folder that holds ``pad_ufes_20/`` and ``ham10000/``) and
returns :class:`~data_pipelines.manifest.ManifestRow` objects that are complete except for the
file facts and the folds: ``sha256`` is ``""``, ``width`` / ``height`` are the stored sizes the
source's CSV states, and train rows carry ``fold = UNASSIGNED_FOLD`` (test rows ``TEST_FOLD``).
:func:`data_pipelines.build.build_manifest` hashes the files, reads the real sizes from the image
headers (and checks them against the CSV) and assigns the folds.

Readers fail loudly (:class:`SourceError`) on anything they do not understand: a value outside
the known vocabulary, a missing file, a patient absent from the fixed split.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from data_pipelines.manifest import ManifestError, ManifestRow


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


def _pad_photos(data_dir: Path) -> list[ManifestRow]:
    from data_pipelines.sources import pad_ufes_20

    return pad_ufes_20.photo_rows(data_dir)


def _pad_masked(data_dir: Path) -> list[ManifestRow]:
    from data_pipelines.sources import pad_ufes_20

    return pad_ufes_20.masked_rows(data_dir)


def _ham(data_dir: Path) -> list[ManifestRow]:
    from data_pipelines.sources import ham10000

    return ham10000.rows(data_dir)


#: source name -> reader(data_dir) -> rows.
READERS: dict[str, Callable[[Path], list[ManifestRow]]] = {
    "pad_ufes_20": _pad_photos,
    "pad_ufes_20_masked": _pad_masked,
    "ham10000": _ham,
}

__all__ = ["READERS", "SourceError", "read_csv"]
