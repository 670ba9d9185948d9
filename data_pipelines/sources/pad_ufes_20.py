"""PAD-UFES-20 (CC BY 4.0; Pacheco et al. 2020, doi:10.17632/zr7vgbcyr2.1): smartphone photos
with the patient questionnaire, and lesion-masked derivatives.

Layout read (relative to ``<data_dir>/pad_ufes_20/``)
    * ``metadata.csv``: one row per photo in ``images/`` (746), the original metadata columns
      plus ``file``, ``orig_width``, ``orig_height``, ``width``, ``height``;
    * ``metadata_full.csv``: all 2,298 original rows; the questionnaire and patient of the
      masked photos come from here (joined by ``img_id``);
    * ``lesion_masked.csv``: one row per file in ``lesion_masked/`` (1,650);
    * ``split.csv``: the FIXED patient split (``patient_id``, ``split`` = train/test). A patient
      missing from it is an error: every row of a test patient is ``split=test``.

Rows
    * source ``pad_ufes_20`` (modality ``smartphone``): image_id = ``img_id`` without extension,
      e.g. ``PAT_46_881_939``, path ``pad_ufes_20/images/PAT_46_881_939.jpg``;
    * source ``pad_ufes_20_masked`` (modality ``smartphone_masked``): image_id =
      ``<img_id without extension>_masked``, path ``pad_ufes_20/lesion_masked/<...>.jpg``.
      patient_id / lesion_id / diagnosis are checked to agree between lesion_masked.csv and
      metadata_full.csv.
    * patient_id as in the dataset (``PAT_46``), lesion_id the dataset's lesion number (``881``);
      diagnosis the ``diagnostic`` code (ACK, BCC, MEL, NEV, SCC, SEK; PAD's SCC includes Bowen's
      disease); biopsied from ``biopsed``.

Questionnaire mapping (PAD column -> intake ``Questionnaire`` field)
    ==========================  =========================================================
    age                         age (int; ``55`` and ``55.0`` accepted)
    gender FEMALE / MALE        sex female / male
    region                      body_site (table below)
    itch                        itch
    hurt                        pain
    bleed                       bleeding
    grew                        grew
    changed                     changed
    elevation                   elevated
    fitspatrick (``2.0``)       fitzpatrick (int 1..6)
    skin_cancer_history         skin_cancer_history
    diameter_1, diameter_2      size_mm = max of the known ones (float, mm)
    ==========================  =========================================================

    Unknown answers -- an empty cell (the first collection phase did not ask), ``UNK`` -- are
    omitted from the questionnaire (the intake model's ``None``), never mapped to False.
    Booleans are the strings ``True`` / ``False`` (any case). Any other value is an error,
    so a new vocabulary cannot slip in silently. Not mapped (no intake field): smoke, drink,
    background_father/mother, pesticide, cancer_history, has_piped_water, has_sewage_system.
    Every mapped questionnaire is validated as ``Questionnaire(**q, jurisdiction="BR-ES")``.

PAD region values found in ``metadata_full.csv`` (14) and their ``BodySite``
    ABDOMEN->abdomen, ARM->arm, BACK->back, CHEST->chest, EAR->ear, FACE->face, FOOT->foot,
    FOREARM->forearm, HAND->hand, LIP->lip, NECK->neck, NOSE->nose, SCALP->scalp,
    THIGH->thigh. Every PAD region has an exact BodySite; BodySite's leg, genital and other
    do not occur in PAD. An empty cell or ``UNK`` -> body_site omitted; any other value -> error.
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import Any

from data_pipelines.manifest import (
    DIAGNOSES,
    MODALITY_OF_SOURCE,
    SPLITS,
    TEST_FOLD,
    UNASSIGNED_FOLD,
    ManifestError,
    ManifestRow,
    is_malignant,
    validate_questionnaire,
)
from data_pipelines.sources.common import SourceError, read_csv

SUBDIR = "pad_ufes_20"
PHOTO_SOURCE = "pad_ufes_20"
MASKED_SOURCE = "pad_ufes_20_masked"
MASKED_SUFFIX = "_masked"

#: PAD ``region`` -> intake ``BodySite`` value.
REGION_TO_BODY_SITE: dict[str, str] = {
    "ABDOMEN": "abdomen",
    "ARM": "arm",
    "BACK": "back",
    "CHEST": "chest",
    "EAR": "ear",
    "FACE": "face",
    "FOOT": "foot",
    "FOREARM": "forearm",
    "HAND": "hand",
    "LIP": "lip",
    "NECK": "neck",
    "NOSE": "nose",
    "SCALP": "scalp",
    "THIGH": "thigh",
}
SEX: dict[str, str] = {"FEMALE": "female", "MALE": "male"}
#: PAD yes/no column -> intake field.
BOOLEAN_COLUMNS: dict[str, str] = {
    "itch": "itch",
    "hurt": "pain",
    "bleed": "bleeding",
    "grew": "grew",
    "changed": "changed",
    "elevation": "elevated",
    "skin_cancer_history": "skin_cancer_history",
}
UNKNOWN_CELLS = frozenset({"", "UNK"})

METADATA_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "lesion_id",
    "age",
    "gender",
    "skin_cancer_history",
    "fitspatrick",
    "region",
    "diameter_1",
    "diameter_2",
    "diagnostic",
    "itch",
    "grew",
    "hurt",
    "changed",
    "bleed",
    "elevation",
    "img_id",
    "biopsed",
)


# --- cell parsers ---------------------------------------------------------------------------------


def _unknown(cell: str) -> bool:
    return cell.strip().upper() in UNKNOWN_CELLS


def parse_bool(cell: str, column: str = "?") -> bool | None:
    """``True``/``False`` (any case) -> bool; empty / ``UNK`` -> None; else an error."""
    if _unknown(cell):
        return None
    value = cell.strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    raise SourceError(f"column {column}: expected True/False/UNK/empty, got {cell!r}")


def _parse_number(cell: str, column: str) -> float | None:
    if _unknown(cell):
        return None
    try:
        value = float(cell)
    except ValueError:
        raise SourceError(f"column {column}: expected a number, got {cell!r}") from None
    if not math.isfinite(value):
        raise SourceError(f"column {column}: expected a finite number, got {cell!r}")
    return value


def _parse_whole(cell: str, column: str, lo: int, hi: int) -> int | None:
    value = _parse_number(cell, column)
    if value is None:
        return None
    if value != int(value) or not lo <= value <= hi:
        raise SourceError(f"column {column}: expected a whole number in {lo}..{hi}, got {cell!r}")
    return int(value)


def map_questionnaire(rec: dict[str, str]) -> dict[str, Any]:
    """The intake questionnaire fields (only the known answers) of one PAD metadata row."""
    q: dict[str, Any] = {}
    age = _parse_whole(rec["age"], "age", 0, 120)
    if age is not None:
        q["age"] = age
    gender = rec["gender"].strip().upper()
    if gender not in UNKNOWN_CELLS:
        if gender not in SEX:
            raise SourceError(f"column gender: unknown value {rec['gender']!r}")
        q["sex"] = SEX[gender]
    region = rec["region"].strip().upper()
    if region not in UNKNOWN_CELLS:
        if region not in REGION_TO_BODY_SITE:
            raise SourceError(f"column region: unmapped PAD region {rec['region']!r}")
        q["body_site"] = REGION_TO_BODY_SITE[region]
    for column, name in BOOLEAN_COLUMNS.items():
        value = parse_bool(rec[column], column)
        if value is not None:
            q[name] = value
    fitz = _parse_whole(rec["fitspatrick"], "fitspatrick", 1, 6)
    if fitz is not None:
        q["fitzpatrick"] = fitz
    diameters = [_parse_number(rec[c], c) for c in ("diameter_1", "diameter_2")]
    known = [d for d in diameters if d is not None]
    if known:
        size = float(max(known))
        if size < 0:
            raise SourceError(f"negative lesion diameter in {rec['img_id']!r}")
        q["size_mm"] = size
    try:
        validate_questionnaire(q)
    except ManifestError as exc:
        raise SourceError(f"{rec.get('img_id')!r}: {exc}") from exc
    return q


# --- tables ---------------------------------------------------------------------------------------


def read_split(data_dir: Path) -> dict[str, str]:
    """patient_id -> ``train`` / ``test`` from the fixed ``split.csv``."""
    split: dict[str, str] = {}
    for rec in read_csv(data_dir / SUBDIR / "split.csv", ("patient_id", "split")):
        pid, value = rec["patient_id"].strip(), rec["split"].strip()
        if value not in SPLITS:
            raise SourceError(f"split.csv: patient {pid!r} has split {value!r}")
        if pid in split and split[pid] != value:
            raise SourceError(f"split.csv: patient {pid!r} listed twice with different splits")
        split[pid] = value
    return split


def _split_of(patient_id: str, split: dict[str, str]) -> str:
    try:
        return split[patient_id]
    except KeyError:
        raise SourceError(f"patient {patient_id!r} is not in pad_ufes_20/split.csv") from None


def _stem(img_id: str) -> str:
    return PurePosixPath(img_id).stem


def _diagnosis(rec: dict[str, str]) -> str:
    dx = rec["diagnostic"].strip()
    if dx not in DIAGNOSES:
        raise SourceError(f"{rec['img_id']!r}: unknown PAD diagnostic {dx!r}")
    return dx


def _rel_path(data_dir: Path, file_cell: str, expected_dir: str, img_id: str) -> str:
    rel = PurePosixPath(file_cell.strip())
    if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] != (expected_dir,):
        raise SourceError(f"{img_id!r}: file {file_cell!r} is not under {expected_dir}/")
    path = f"{SUBDIR}/{rel.as_posix()}"
    if not (data_dir / path).is_file():
        raise SourceError(f"{img_id!r}: missing image {data_dir / path}")
    return path


def _size(rec: dict[str, str], img_id: str) -> tuple[int, int]:
    try:
        return int(rec["width"]), int(rec["height"])
    except (KeyError, ValueError):
        raise SourceError(f"{img_id!r}: missing or bad width/height") from None


def _row(
    rec: dict[str, str],
    *,
    source: str,
    image_id: str,
    path: str,
    split: dict[str, str],
    size: tuple[int, int],
) -> ManifestRow:
    pid = rec["patient_id"].strip()
    row_split = _split_of(pid, split)
    dx = _diagnosis(rec)
    return ManifestRow(
        image_id=image_id,
        path=path,
        sha256="",
        source=source,
        modality=MODALITY_OF_SOURCE[source],
        patient_id=pid,
        lesion_id=rec["lesion_id"].strip(),
        diagnosis=dx,
        source_diagnosis=dx,
        malignant=is_malignant(dx),
        biopsied=parse_bool(rec["biopsed"], "biopsed"),
        questionnaire=map_questionnaire(rec),
        split=row_split,
        fold=TEST_FOLD if row_split == "test" else UNASSIGNED_FOLD,
        width=size[0],
        height=size[1],
    )


def photo_rows(data_dir: Path) -> list[ManifestRow]:
    """One row per photo in ``pad_ufes_20/images/`` (from ``metadata.csv``)."""
    data_dir = Path(data_dir)
    split = read_split(data_dir)
    records = read_csv(data_dir / SUBDIR / "metadata.csv", METADATA_COLUMNS + ("file", "width", "height"))
    rows = []
    for rec in records:
        img_id = rec["img_id"].strip()
        rows.append(
            _row(
                rec,
                source=PHOTO_SOURCE,
                image_id=_stem(img_id),
                path=_rel_path(data_dir, rec["file"], "images", img_id),
                split=split,
                size=_size(rec, img_id),
            )
        )
    return rows


def masked_rows(data_dir: Path) -> list[ManifestRow]:
    """One row per file in ``pad_ufes_20/lesion_masked/``; questionnaire from ``metadata_full.csv``."""
    data_dir = Path(data_dir)
    split = read_split(data_dir)
    full = {
        rec["img_id"].strip(): rec
        for rec in read_csv(data_dir / SUBDIR / "metadata_full.csv", METADATA_COLUMNS)
    }
    masked = read_csv(
        data_dir / SUBDIR / "lesion_masked.csv",
        ("img_id", "file", "diagnostic", "patient_id", "lesion_id", "width", "height"),
    )
    rows = []
    for m in masked:
        img_id = m["img_id"].strip()
        rec = full.get(img_id)
        if rec is None:
            raise SourceError(f"lesion_masked.csv: {img_id!r} is not in metadata_full.csv")
        for column in ("patient_id", "lesion_id", "diagnostic"):
            if m[column].strip() != rec[column].strip():
                raise SourceError(
                    f"{img_id!r}: {column} differs between lesion_masked.csv ({m[column]!r}) "
                    f"and metadata_full.csv ({rec[column]!r})"
                )
        rows.append(
            _row(
                rec,
                source=MASKED_SOURCE,
                image_id=_stem(img_id) + MASKED_SUFFIX,
                path=_rel_path(data_dir, m["file"], "lesion_masked", img_id),
                split=split,
                size=_size(m, img_id),
            )
        )
    return rows
