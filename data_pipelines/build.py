"""Build the training manifest from the raw data (``dermatriage data build``).

Raw data dir: ``$DERMATRIAGE_DATA_DIR``, default ``<repo>/../shared/data`` (read-only; never
written). The manifest hash printed at the end identifies the data of a training run.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from data_pipelines.manifest import (
    DIAGNOSES,
    EXTRA_DIAGNOSES,
    KNOWN_SOURCES,
    SERVICE_SOURCE,
    SOURCES,
    ManifestError,
    ManifestRow,
    manifest_hash,
    read_manifest,
    sort_rows,
    write_manifest,
)
from data_pipelines.sources import READERS, SourceError
from data_pipelines.sources.pad_ufes_20 import read_split
from data_pipelines.splits import assert_no_leakage, assign_folds


@dataclass(frozen=True)
class BuildResult:
    path: Path
    hash: str
    #: source -> split -> number of rows.
    counts: dict[str, dict[str, int]]
    seconds: float = 0.0

    @property
    def n_rows(self) -> int:
        return sum(sum(by_split.values()) for by_split in self.counts.values())


def file_facts(path: Path) -> tuple[str, int, int]:
    """(sha256 of the bytes, width, height); the size comes from the image header only."""
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    with Image.open(path) as im:  # lazy: parses the header, decodes no pixels
        width, height = im.size
    return digest, width, height


def resolve_files(data_dir: Path, rows: Sequence[ManifestRow], *, progress: bool = True) -> list[ManifestRow]:
    """Rows with sha256, width and height read from the files (sizes checked against the CSVs)."""
    out = []
    for row in tqdm(rows, desc="hashing images", unit="img", disable=not progress, file=sys.stderr):
        digest, width, height = file_facts(data_dir / row.path)
        if (row.width, row.height) not in ((0, 0), (width, height)):
            raise SourceError(
                f"{row.path}: the CSV says {row.width}x{row.height}, the file is {width}x{height}"
            )
        out.append(row.replace(sha256=digest, width=width, height=height))
    return out


def collect_rows(data_dir: Path, sources: Iterable[str]) -> list[ManifestRow]:
    """The unresolved rows (no sha256, folds unassigned) of the given sources."""
    rows: list[ManifestRow] = []
    for name in sources:
        if name not in READERS:
            raise ValueError(f"unknown source {name!r}; known: {sorted(READERS)}")
        rows.extend(READERS[name](data_dir))
    return rows


def build_manifest(
    data_dir: Path,
    out_path: Path,
    *,
    sources: Sequence[str] = SOURCES,
    k_folds: int = 5,
    seed: int = 0,
    progress: bool = True,
) -> BuildResult:
    """Read the sources, hash the files, assign folds, check for leakage, write the manifest."""
    start = time.perf_counter()
    data_dir = Path(data_dir)
    rows = collect_rows(data_dir, sources)
    rows = resolve_files(data_dir, sort_rows(rows), progress=progress)
    rows = assign_folds(rows, k=k_folds, seed=seed)
    split_of_patient = read_split(data_dir) if any(s.startswith("pad_ufes_20") for s in sources) else None
    assert_no_leakage(rows, split_of_patient=split_of_patient)
    path = write_manifest(rows, out_path)
    digest = manifest_hash(rows)
    counts: dict[str, dict[str, int]] = {}
    for (source, split), n in sorted(Counter((r.source, r.split) for r in rows).items()):
        counts.setdefault(source, {})[split] = n
    return BuildResult(path=path, hash=digest, counts=counts, seconds=time.perf_counter() - start)


#: the manifest inside a folder written by ``dermatriage data export-labels``
EXPORT_MANIFEST = "manifest.csv"


def export_rows(label_export: Path) -> list[ManifestRow]:
    """The rows of a label export, each file checked against its sha256 (a moved or changed file would
    train on the wrong label)."""
    rows = read_manifest(Path(label_export) / EXPORT_MANIFEST)
    foreign = sorted({r.source for r in rows} - {SERVICE_SOURCE})
    if foreign:
        raise ManifestError(f"{label_export} is not a label export: it has rows of {foreign}")
    for row in rows:
        digest, _, _ = file_facts(Path(label_export) / row.path)
        if digest != row.sha256:
            raise ManifestError(f"{label_export}/{row.path} does not match the sha256 its manifest records")
    return rows


def training_rows(manifest: Path, *, label_export: Path | None = None) -> list[ManifestRow]:
    """What a training run reads: the manifest's rows, and a label export's beside them (checked
    together for leakage: a photo of the service equal to a test photo, a patient in two folds)."""
    rows = read_manifest(manifest)
    if label_export is None:
        return rows
    if any(r.source == SERVICE_SOURCE for r in rows):
        raise ManifestError(f"{manifest} already holds rows of {SERVICE_SOURCE}: name the export once")
    combined = rows + export_rows(label_export)
    assert_no_leakage(combined)
    return combined


def _table(title: str, row_keys: list, col_keys: list, cell: Counter) -> list[str]:
    head = [title] + [str(c) for c in col_keys] + ["total"]
    body = []
    for rk in row_keys:
        vals = [cell[(rk, ck)] for ck in col_keys]
        body.append([str(rk)] + [str(v) for v in vals] + [str(sum(vals))])
    totals = [sum(cell[(rk, ck)] for rk in row_keys) for ck in col_keys]
    body.append(["total"] + [str(v) for v in totals] + [str(sum(totals))])
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def fmt(line: list[str]) -> str:
        cells = zip(line, widths, strict=True)
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells)).rstrip()

    return [fmt(head), *(fmt(line) for line in body)]


def summarize(rows: Iterable[ManifestRow]) -> str:
    """Counts per source/split/diagnosis and per fold, as plain-text tables."""
    rows = list(rows)
    present = {r.diagnosis for r in rows}
    dxs = [d for d in DIAGNOSES + EXTRA_DIAGNOSES if d in present]
    lines = [f"{len(rows)} rows, {len({r.patient_id for r in rows})} patient ids"]
    for source in [s for s in KNOWN_SOURCES if any(r.source == s for r in rows)]:
        sub = [r for r in rows if r.source == source]
        patients = {sp: len({r.patient_id for r in sub if r.split == sp}) for sp in ("train", "test")}
        lines += [
            "",
            f"== {source}: {len(sub)} rows; patients train {patients['train']}, test {patients['test']}",
        ]
        splits = [sp for sp in ("train", "test") if any(r.split == sp for r in sub)]
        lines += _table("split", splits, dxs, Counter((r.split, r.diagnosis) for r in sub))
        folds = sorted({r.fold for r in sub})
        lines.append("")
        lines += _table("fold", folds, dxs, Counter((r.fold, r.diagnosis) for r in sub))
    return "\n".join(lines)
