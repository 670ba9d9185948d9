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

from collections.abc import Callable
from pathlib import Path

from data_pipelines.manifest import ManifestRow
from data_pipelines.sources import ham10000, pad_ufes_20
from data_pipelines.sources.common import SourceError, read_csv

#: source name -> reader(data_dir) -> rows.
READERS: dict[str, Callable[[Path], list[ManifestRow]]] = {
    "pad_ufes_20": pad_ufes_20.photo_rows,
    "pad_ufes_20_masked": pad_ufes_20.masked_rows,
    "ham10000": ham10000.rows,
}

__all__ = ["READERS", "SourceError", "read_csv"]
