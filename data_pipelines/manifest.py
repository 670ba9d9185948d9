"""The training-data manifest: one row per image, written as a deterministic CSV.

A manifest lists every image a training run may see, with its label, its patient, its fixed
split and its cross-validation fold. ``manifest_hash`` (sha256 of the canonical CSV bytes)
identifies the data of a training run: same hash, same images (by content), same labels, same
splits and folds.

Canonical CSV
    * columns in the order of :data:`COLUMNS`, a header row, ``\\n`` line endings, UTF-8;
    * rows sorted by ``(source, image_id)``;
    * booleans as ``true`` / ``false``, ``None`` as an empty cell;
    * ``questionnaire`` as compact JSON with sorted keys (only the answered fields; an
      unknown answer is an absent key, never ``null``).

Folds (column ``fold``)
    * ``0 .. k-1``: a cross-validation fold of the PAD-UFES-20 ``train`` patients;
    * :data:`TEST_FOLD` (-1): a row of a test patient (``split == "test"``); never used for
      training, tuning or validation;
    * :data:`EXTERNAL_FOLD` (-2): an external source (HAM10000) with ``split == "train"``:
      usable for pre-training, not part of the PAD folds and not PAD patients.
    * the service's own labelled photos (:data:`SERVICE_SOURCE`, written by ``dermatriage data
      export-labels``) take their split and fold from their pseudonymous patient
      (:func:`data_pipelines.splits.service_split`): stable across exports, never one patient in two.

Paths
    ``path`` is relative to the root of its source: the raw data dir for the raw sources, the export
    folder for :data:`SERVICE_SOURCE` (:class:`ImageRoots` resolves a row to its file).

Labels
    ``diagnosis`` is one of the six PAD-UFES-20 classes (ACK, BCC, MEL, NEV, SCC, SEK) or one of
    the extra HAM10000 classes DF / VASC (a training config may drop those). ``malignant`` is
    always ``diagnosis in {BCC, SCC, MEL}``. ``source_diagnosis`` keeps the label as the source
    spells it (``BCC`` for PAD, ``akiec`` for HAM10000), so a config can treat ambiguous source
    classes (HAM ``akiec`` includes Bowen's disease, an SCC in situ) differently.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from model.questionnaire import Questionnaire

#: The raw sources ``dermatriage data build`` reads from the data dir.
SOURCES: tuple[str, ...] = ("pad_ufes_20", "pad_ufes_20_masked", "ham10000")
#: The service's own photos with their outcome labels (``dermatriage data export-labels``).
SERVICE_SOURCE = "dermatriage_service"
#: Every source a manifest row may name.
KNOWN_SOURCES: tuple[str, ...] = SOURCES + (SERVICE_SOURCE,)
#: The modality of each raw source.
MODALITY_OF_SOURCE: Mapping[str, str] = {
    "pad_ufes_20": "smartphone",
    "pad_ufes_20_masked": "smartphone_masked",
    "ham10000": "dermoscopy",
}
#: The modalities a source's rows may have: one per raw source; the service takes both photo kinds.
MODALITIES_OF_SOURCE: Mapping[str, frozenset[str]] = {
    **{source: frozenset({modality}) for source, modality in MODALITY_OF_SOURCE.items()},
    SERVICE_SOURCE: frozenset({"smartphone", "dermoscopy"}),
}
#: The six classes of the urgency model, then the extra classes an external source may carry.
DIAGNOSES: tuple[str, ...] = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
EXTRA_DIAGNOSES: tuple[str, ...] = ("DF", "VASC")
MALIGNANT_DIAGNOSES: frozenset[str] = frozenset({"BCC", "SCC", "MEL"})
SPLITS: tuple[str, ...] = ("train", "test")

TEST_FOLD = -1
EXTERNAL_FOLD = -2
#: Placeholder of a train row before :func:`data_pipelines.splits.assign_folds`; never written.
UNASSIGNED_FOLD = -9

#: The questionnaire fields a manifest may carry (the intake API's, without jurisdiction).
QUESTIONNAIRE_FIELDS: tuple[str, ...] = tuple(f for f in Questionnaire.model_fields if f != "jurisdiction")
#: The jurisdiction used only to validate a manifest questionnaire against the intake model.
VALIDATION_JURISDICTION = "BR-ES"

COLUMNS: tuple[str, ...] = (
    "image_id",
    "path",
    "sha256",
    "source",
    "modality",
    "patient_id",
    "lesion_id",
    "diagnosis",
    "source_diagnosis",
    "malignant",
    "biopsied",
    "split",
    "fold",
    "width",
    "height",
    "questionnaire",
)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A row or a manifest file breaks the manifest contract."""


@dataclass(frozen=True)
class ImageRoots:
    """Where a row's file is: the raw data dir, or a label export's folder for the service's rows."""

    data_dir: Path
    label_export: Path | None = None

    def file(self, row: ManifestRow) -> Path:
        if row.source != SERVICE_SOURCE:
            return self.data_dir / row.path
        if self.label_export is None:
            raise ManifestError(f"row {row.image_id!r} comes from a label export, and none is configured")
        return self.label_export / row.path


@dataclass(frozen=True)
class ManifestRow:
    image_id: str
    path: str
    sha256: str
    source: str
    modality: str
    patient_id: str
    lesion_id: str
    diagnosis: str
    malignant: bool
    biopsied: bool | None
    questionnaire: dict[str, Any] = field(hash=False)
    split: str
    fold: int
    width: int
    height: int
    source_diagnosis: str = ""

    def sort_key(self) -> tuple[str, str]:
        return (self.source, self.image_id)

    def replace(self, **changes: Any) -> ManifestRow:
        return dataclasses.replace(self, **changes)


def is_malignant(diagnosis: str) -> bool:
    return diagnosis in MALIGNANT_DIAGNOSES


def validate_questionnaire(q: Mapping[str, Any]) -> Questionnaire:
    """Check a manifest questionnaire: known fields only, no ``None``, valid for the intake API."""
    unknown = set(q) - set(QUESTIONNAIRE_FIELDS)
    if unknown:
        raise ManifestError(f"questionnaire has fields outside the intake model: {sorted(unknown)}")
    nulls = sorted(k for k, v in q.items() if v is None)
    if nulls:
        raise ManifestError(f"questionnaire stores unknown answers as null (omit them): {nulls}")
    try:
        return Questionnaire(**q, jurisdiction=VALIDATION_JURISDICTION)
    except Exception as exc:  # pydantic.ValidationError
        raise ManifestError(f"questionnaire does not validate: {exc}") from exc


def validate_row(row: ManifestRow, *, check_questionnaire: bool = True) -> None:
    """Raise :class:`ManifestError` where ``row`` breaks the manifest contract."""
    where = f"row {row.image_id!r}"
    if not row.image_id:
        raise ManifestError("empty image_id")
    if row.source not in KNOWN_SOURCES:
        raise ManifestError(f"{where}: unknown source {row.source!r}")
    if row.modality not in MODALITIES_OF_SOURCE[row.source]:
        raise ManifestError(f"{where}: modality {row.modality!r} does not match source {row.source!r}")
    p = PurePosixPath(row.path)
    if not row.path or p.is_absolute() or ".." in p.parts or "\\" in row.path:
        raise ManifestError(f"{where}: path must be relative to the data dir, got {row.path!r}")
    if not _SHA256.match(row.sha256):
        raise ManifestError(f"{where}: sha256 is not 64 lowercase hex digits: {row.sha256!r}")
    if not row.patient_id or not row.lesion_id:
        raise ManifestError(f"{where}: empty patient_id or lesion_id")
    if row.diagnosis not in DIAGNOSES + EXTRA_DIAGNOSES:
        raise ManifestError(f"{where}: unknown diagnosis {row.diagnosis!r}")
    if row.malignant is not is_malignant(row.diagnosis):
        raise ManifestError(f"{where}: malignant={row.malignant} contradicts diagnosis {row.diagnosis}")
    if row.biopsied not in (True, False, None):
        raise ManifestError(f"{where}: biopsied must be a bool or None")
    if row.split not in SPLITS:
        raise ManifestError(f"{where}: split must be train/test, got {row.split!r}")
    if not isinstance(row.fold, int) or isinstance(row.fold, bool):
        raise ManifestError(f"{where}: fold must be an int")
    if row.split == "test" and row.fold != TEST_FOLD:
        raise ManifestError(f"{where}: a test row must have fold {TEST_FOLD}, got {row.fold}")
    if row.split == "train" and not (row.fold >= 0 or row.fold == EXTERNAL_FOLD):
        raise ManifestError(f"{where}: a train row needs a fold >= 0 or {EXTERNAL_FOLD}, got {row.fold}")
    if not (isinstance(row.width, int) and isinstance(row.height, int) and row.width > 0 and row.height > 0):
        raise ManifestError(f"{where}: width/height must be positive ints")
    if check_questionnaire:
        validate_questionnaire(row.questionnaire)


# --- serialisation ------------------------------------------------------------------------------


def canonical_json(q: Mapping[str, Any]) -> str:
    return json.dumps(dict(q), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _bool_cell(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _parse_bool(cell: str, *, optional: bool, column: str) -> bool | None:
    if cell == "true":
        return True
    if cell == "false":
        return False
    if cell == "" and optional:
        return None
    raise ManifestError(f"column {column}: expected true/false{'/empty' if optional else ''}, got {cell!r}")


def _cells(row: ManifestRow) -> list[str]:
    values = {
        "image_id": row.image_id,
        "path": row.path,
        "sha256": row.sha256,
        "source": row.source,
        "modality": row.modality,
        "patient_id": row.patient_id,
        "lesion_id": row.lesion_id,
        "diagnosis": row.diagnosis,
        "source_diagnosis": row.source_diagnosis,
        "malignant": _bool_cell(row.malignant),
        "biopsied": _bool_cell(row.biopsied),
        "split": row.split,
        "fold": str(row.fold),
        "width": str(row.width),
        "height": str(row.height),
        "questionnaire": canonical_json(row.questionnaire),
    }
    return [values[c] for c in COLUMNS]


def sort_rows(rows: Iterable[ManifestRow]) -> list[ManifestRow]:
    return sorted(rows, key=ManifestRow.sort_key)


def canonical_csv_bytes(rows: Iterable[ManifestRow], *, validate: bool = True) -> bytes:
    """The canonical CSV of ``rows`` (sorted; unique image ids; each row validated)."""
    ordered = sort_rows(rows)
    seen: set[str] = set()
    for row in ordered:
        if row.image_id in seen:
            raise ManifestError(f"duplicate image_id {row.image_id!r}")
        seen.add(row.image_id)
        if validate:
            validate_row(row)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in ordered:
        writer.writerow(_cells(row))
    return buf.getvalue().encode("utf-8")


def write_manifest(rows: Iterable[ManifestRow], path: str | os.PathLike[str]) -> Path:
    """Write the canonical CSV atomically (temp file + rename); returns the path."""
    data = canonical_csv_bytes(rows)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _parse_int(cell: str, column: str) -> int:
    try:
        return int(cell)
    except ValueError:
        raise ManifestError(f"column {column}: expected an int, got {cell!r}") from None


def _row_from_cells(rec: Mapping[str, str]) -> ManifestRow:
    try:
        q = json.loads(rec["questionnaire"])
    except json.JSONDecodeError as exc:
        raise ManifestError(f"row {rec['image_id']!r}: questionnaire is not JSON: {exc}") from exc
    if not isinstance(q, dict):
        raise ManifestError(f"row {rec['image_id']!r}: questionnaire must be a JSON object")
    return ManifestRow(
        image_id=rec["image_id"],
        path=rec["path"],
        sha256=rec["sha256"],
        source=rec["source"],
        modality=rec["modality"],
        patient_id=rec["patient_id"],
        lesion_id=rec["lesion_id"],
        diagnosis=rec["diagnosis"],
        source_diagnosis=rec["source_diagnosis"],
        malignant=bool(_parse_bool(rec["malignant"], optional=False, column="malignant")),
        biopsied=_parse_bool(rec["biopsied"], optional=True, column="biopsied"),
        split=rec["split"],
        fold=_parse_int(rec["fold"], "fold"),
        width=_parse_int(rec["width"], "width"),
        height=_parse_int(rec["height"], "height"),
        questionnaire=q,
    )


def parse_manifest_bytes(data: bytes, *, validate: bool = True) -> list[ManifestRow]:
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise ManifestError(f"manifest header must be {list(COLUMNS)}, got {header}")
    rows = []
    for lineno, cells in enumerate(reader, start=2):
        if len(cells) != len(COLUMNS):
            raise ManifestError(f"line {lineno}: expected {len(COLUMNS)} cells, got {len(cells)}")
        row = _row_from_cells(dict(zip(COLUMNS, cells, strict=True)))
        if validate:
            validate_row(row)
        rows.append(row)
    return rows


def read_manifest(path: str | os.PathLike[str], *, validate: bool = True) -> list[ManifestRow]:
    """Read a manifest CSV (rows in file order; each row validated unless ``validate=False``)."""
    return parse_manifest_bytes(Path(path).read_bytes(), validate=validate)


def manifest_hash(
    path_or_rows: str | os.PathLike[str] | Sequence[ManifestRow] | Iterable[ManifestRow],
) -> str:
    """sha256 (hex) of the canonical CSV bytes.

    For rows: of ``canonical_csv_bytes(rows)``. For a path: the file is parsed and re-serialised
    canonically, so a file written by :func:`write_manifest` hashes to the sha256 of its bytes,
    and a re-ordered or re-quoted copy of the same data hashes the same.
    """
    if isinstance(path_or_rows, str | os.PathLike):
        rows: Iterable[ManifestRow] = read_manifest(path_or_rows)
    else:
        rows = path_or_rows
    return hashlib.sha256(canonical_csv_bytes(rows)).hexdigest()
