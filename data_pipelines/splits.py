"""Cross-validation folds over the PAD-UFES-20 train patients, and the leakage check.

The test split is fixed by ``pad_ufes_20/split.csv`` and is never touched here: test rows get
fold ``TEST_FOLD`` (-1). External sources (HAM10000) get ``EXTERNAL_FOLD`` (-2). Every PAD
train row (photo or masked photo) gets a fold ``0 .. k-1``, the same for all rows of a patient.

Algorithm (:func:`assign_folds`), deterministic for a given ``(rows, k, seed)``:
    1. group PAD train rows by patient; patients whose rows share a file content (equal
       ``sha256``) are merged into one group, so identical files never sit in two folds (the real
       data has one such pair: two all-black masked photos whose student mask is empty);
    2. a group's stratum is its most severe diagnosis, in the order :data:`SEVERITY`
       (MEL > SCC > BCC > ACK > SEK > NEV, which is also rarest-first), over its photos
       (``pad_ufes_20``) where it has any -- the photos are the primary training and validation
       data -- else over its masked photos; photo strata come first, then masked-only strata;
    3. strata are processed in that order; inside a stratum the groups (sorted by id) are
       shuffled with ``numpy.random.default_rng(seed)``, then stably sorted by descending number
       of rows (big groups first packs better);
    4. each group goes to the fold with the fewest groups of its stratum, ties broken by the
       fewest rows so far, then the lowest fold index.
    So every fold holds ``n // k`` or ``n // k + 1`` groups of each stratum: with the real data
    every fold has MEL and SCC patients.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from data_pipelines.manifest import (
    DIAGNOSES,
    EXTERNAL_FOLD,
    EXTRA_DIAGNOSES,
    SERVICE_SOURCE,
    TEST_FOLD,
    UNASSIGNED_FOLD,
    ManifestRow,
)

#: Sources whose train rows take part in the folds (the PAD patients).
FOLD_SOURCES: frozenset[str] = frozenset({"pad_ufes_20", "pad_ufes_20_masked"})
#: Most severe first; a patient's stratum is the first of these among its diagnoses.
SEVERITY: tuple[str, ...] = ("MEL", "SCC", "BCC", "ACK", "SEK", "NEV", "DF", "VASC")
assert set(SEVERITY) == set(DIAGNOSES + EXTRA_DIAGNOSES)


class LeakageError(AssertionError):
    """The rows mix test and train data, or one patient spans several folds."""


#: The primary source: a patient's stratum is taken from its photos where it has any.
PRIMARY_SOURCE = "pad_ufes_20"


def worst_diagnosis(diagnoses: Iterable[str]) -> str:
    """The most severe of ``diagnoses`` in the order :data:`SEVERITY`."""
    return min(diagnoses, key=SEVERITY.index)


def strata(rows: Iterable[ManifestRow]) -> dict[str, tuple[int, str]]:
    """patient_id -> stratum: ``(0, worst photo diagnosis)`` for a patient with photos in
    ``pad_ufes_20``, else ``(1, worst masked-photo diagnosis)``."""
    photo: dict[str, list[str]] = defaultdict(list)
    other: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        (photo if row.source == PRIMARY_SOURCE else other)[row.patient_id].append(row.diagnosis)
    out = {pid: (0, worst_diagnosis(dxs)) for pid, dxs in photo.items()}
    for pid, dxs in other.items():
        out.setdefault(pid, (1, worst_diagnosis(dxs)))
    return out


def _base_fold(row: ManifestRow) -> int | None:
    """The fold a row gets regardless of the draw, or None for a PAD train row."""
    if row.source == SERVICE_SOURCE:
        return row.fold  # fixed at export by service_split
    if row.split == "test":
        return TEST_FOLD
    if row.source not in FOLD_SOURCES:
        return EXTERNAL_FOLD
    return None


def _patient_groups(rows: Sequence[ManifestRow]) -> dict[str, str]:
    """patient_id -> group id: the smallest patient_id among the patients linked by shared files."""
    parent: dict[str, str] = {r.patient_id: r.patient_id for r in rows}

    def find(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    first_owner: dict[str, str] = {}
    for r in rows:
        if not r.sha256:
            continue
        other = first_owner.setdefault(r.sha256, r.patient_id)
        a, b = find(other), find(r.patient_id)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {p: find(p) for p in parent}


def fold_of_patient(rows: Sequence[ManifestRow], k: int = 5, seed: int = 0) -> dict[str, int]:
    """patient_id -> fold (0..k-1) for the PAD train patients of ``rows``."""
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k}")
    train = [r for r in rows if _base_fold(r) is None]
    group_of = _patient_groups(train)
    n_rows: dict[str, int] = defaultdict(int)
    for r in train:
        n_rows[group_of[r.patient_id]] += 1
    stratum_of = strata(r.replace(patient_id=group_of[r.patient_id]) for r in train)
    rng = np.random.default_rng(seed)
    fold_rows = [0] * k
    group_fold: dict[str, int] = {}
    for stratum in sorted(set(stratum_of.values()), key=lambda t: (t[0], SEVERITY.index(t[1]))):
        gids = sorted(g for g, s in stratum_of.items() if s == stratum)
        shuffled = [gids[i] for i in rng.permutation(len(gids))]
        shuffled.sort(key=lambda g: -n_rows[g])  # stable: ties keep the shuffled order
        in_fold = [0] * k
        for gid in shuffled:
            fold = min(range(k), key=lambda f: (in_fold[f], fold_rows[f], f))
            group_fold[gid] = fold
            in_fold[fold] += 1
            fold_rows[fold] += n_rows[gid]
    return {p: group_fold[g] for p, g in group_of.items()}


def assign_folds(rows: Sequence[ManifestRow], k: int = 5, seed: int = 0) -> list[ManifestRow]:
    """New rows (same order) with ``fold`` set: 0..k-1 for PAD train rows (grouped by patient,
    stratified by the patient's most severe diagnosis), -1 for test rows, -2 for external rows.
    Pure: the input rows are not changed, and the same (rows, k, seed) give the same folds,
    whatever the order of ``rows``."""
    rows = list(rows)
    folds = fold_of_patient(rows, k=k, seed=seed)
    out = []
    for row in rows:
        base = _base_fold(row)
        fold = folds[row.patient_id] if base is None else base
        out.append(row if row.fold == fold else row.replace(fold=fold))
    return out


#: share of the service's patients held out as its own test split (``service_split``)
SERVICE_TEST_SHARE = 0.2


def service_split(patient_key: str, *, k: int = 5, test_share: float = SERVICE_TEST_SHARE) -> tuple[str, int]:
    """(split, fold) of a patient of the service's own labelled photos, from its pseudonymous key alone.

    A hash, not a draw over the export: a patient keeps its split and fold in every export however the
    export grows (a patient tested on once is never trained on later), and all of a patient's photos
    share them. ``test_share`` of the patients are ``test`` (fold -1); the others get folds 0..k-1.
    """
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k}")
    if not 0 <= test_share < 1:
        raise ValueError(f"test_share must be in [0, 1), got {test_share}")
    digest = hashlib.sha256(f"dermatriage-service-split:{patient_key}".encode()).digest()
    if int.from_bytes(digest[:8], "big") / 2**64 < test_share:
        return "test", TEST_FOLD
    return "train", int.from_bytes(digest[8:16], "big") % k


def assert_no_leakage(
    rows: Iterable[ManifestRow], *, split_of_patient: Mapping[str, str] | None = None
) -> None:
    """Raise :class:`LeakageError` (listing every problem) where the rows leak.

    Checks: no patient in two folds (which includes a patient that is partly test, partly
    external or train); no row of a test patient with split ``train`` or a fold >= 0; every test
    row has fold -1 and every train row a fold >= 0 or -2 (none left unassigned); no file
    content (sha256) both in train and test or in two folds; and, where ``split_of_patient`` (the
    fixed split.csv) is given, every PAD row has its patient's split there.
    """
    rows = list(rows)
    problems: list[str] = []
    folds: dict[str, set[int]] = defaultdict(set)
    splits: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        folds[row.patient_id].add(row.fold)
        splits[row.patient_id].add(row.split)
        if row.split == "test" and row.fold != TEST_FOLD:
            problems.append(f"test row {row.image_id} has fold {row.fold}")
        if row.split == "train" and not (row.fold >= 0 or row.fold == EXTERNAL_FOLD):
            problems.append(f"train row {row.image_id} has fold {row.fold}")
        if row.fold == UNASSIGNED_FOLD:
            problems.append(f"row {row.image_id} has no fold assigned")
        if split_of_patient is not None and row.source in FOLD_SOURCES:
            expected = split_of_patient.get(row.patient_id)
            if expected is None:
                problems.append(f"patient {row.patient_id} of row {row.image_id} is not in the fixed split")
            elif expected != row.split:
                problems.append(
                    f"row {row.image_id} has split {row.split}, its patient {row.patient_id} is {expected}"
                )
    for pid in sorted(folds):
        if len(folds[pid]) > 1:
            problems.append(f"patient {pid} is in several folds: {sorted(folds[pid])}")
        if "test" in splits[pid] and "train" in splits[pid]:
            problems.append(f"test patient {pid} has rows with split train")
    by_content: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for row in rows:
        if row.sha256:
            by_content[row.sha256].add((row.split, row.fold))
    for sha, places in sorted(by_content.items()):
        if len(places) > 1:
            problems.append(f"identical file content {sha[:12]}.. in several splits/folds: {sorted(places)}")
    if problems:
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise LeakageError(f"{len(problems)} leakage problem(s):\n  {shown}{more}")
