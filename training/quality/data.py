"""Quality-model data: real phone photos (PAD-UFES-20) with realistic defects drawn by
``data_pipelines.degrade``, rendered the way serving sees them.

Photos are read through the serving decoder (``decode_reduced`` of the file's bytes). Every rendered
sample — clean or degraded — has been through a phone's JPEG round trip (``degrade`` does it; clean
photos get ``upload``), so a fresh round trip is no cue. A sample keeps the model's input (the whole
frame at the network's size, uint8) and, for evaluation sets, the classical checks' report on the full
degraded photo (what ``model.quality_model.QualityModel.assess`` computes in serving).

A limited evaluation set (``limit``: a training run's validation with ``limit`` set) is a
deterministic subset of the full one that takes the cells (untouched, each defect at each severity) in
turn, so the untouched photos and every defect appear from ``min_limit()`` images on
(:func:`stratified_pairs`); its samples are the full set's, drawn with the same generators.

Rendering runs in worker processes (fork; the photos are inherited, not pickled), deterministic:
each sample's generator is ``rng_for(seed, key, defect, severity)`` (evaluation sets) or seeded from
``(seed, key, draw)`` (the training pool), so the order and the number of workers change nothing.
"""

from __future__ import annotations

import math
import multiprocessing as mp
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_pipelines.degrade import (
    DEFECTS,
    SEVERITIES,
    Defect,
    Severity,
    degrade,
    load_lesion_mask,
    random_degradation,
    seeded_rng,
    upload,
)
from data_pipelines.manifest import ManifestRow
from model.decode import DEFAULT_TARGET_LONG_SIDE, decode_reduced
from model.modality import classify_modality
from model.model_input import RESIZERS
from model.quality_checks import QualityReport, assess_quality

CLEAN = "clean"


@dataclass(frozen=True)
class Photo:
    key: str  # image id
    patient_id: str
    rgb: np.ndarray  # as serving decodes it
    mask: np.ndarray | None  # the lesion, where a lesion-masked photo exists


@dataclass(frozen=True)
class Sample:
    key: str
    patient_id: str
    defect: str  # a Defect value, or "clean"
    severity: int  # 0 clean, 1 mild, 2 moderate, 3 severe
    image: np.ndarray  # S x S x 3 uint8: the model's input before normalization
    params: dict
    report: QualityReport | None = None  # the classical checks (evaluation sets only)
    modality: str | None = None  # ``model.modality``'s kind (evaluation sets only)
    size: tuple[int, int] | None = None  # (width, height) of the photo as it would be sent

    @property
    def retake(self) -> bool:
        """Ground truth: a moderate or severe defect makes the photo one to retake."""
        return self.severity >= int(Severity.moderate)


def load_photos(
    rows: Sequence[ManifestRow], data_dir: Path, *, desc: str, progress: bool = True
) -> list[Photo]:
    photos = []
    for row in tqdm(rows, desc=desc, unit="photo", leave=False, disable=not progress):
        decoded = decode_reduced(
            (data_dir / row.path).read_bytes(), target_long_side=DEFAULT_TARGET_LONG_SIDE
        )
        mask = load_lesion_mask(row.image_id, decoded.rgb.shape[:2], data_dir=data_dir)
        photos.append(Photo(key=row.image_id, patient_id=row.patient_id, rgb=decoded.rgb, mask=mask))
    return photos


def _model_input(rgb: np.ndarray, size: int, resize: str) -> np.ndarray:
    return np.ascontiguousarray(RESIZERS[resize](rgb, size))


_PHOTOS: list[Photo] = []  # set in the parent before forking


def _render(task: tuple) -> Sample:
    index, defect, severity, rng_parts, size, resize, with_checks = task
    photo = _PHOTOS[index]
    rng = seeded_rng(*rng_parts)
    if defect is None:  # a random draw for the training pool
        degraded = random_degradation(photo.rgb, rng, lesion_mask=photo.mask, p_clean=float(severity))
    elif defect == CLEAN:
        degraded = None
    else:
        degraded = degrade(photo.rgb, Defect(defect), Severity(severity), rng, lesion_mask=photo.mask)
    if degraded is None:
        rgb, quality = upload(photo.rgb, rng) if defect is None else (photo.rgb, None)
        name, sev, params = CLEAN, 0, {"upload_quality": quality} if quality else {}
    else:
        rgb, d = degraded.rgb, degraded.degradation
        name, sev, params = d.defect.value, int(d.severity), dict(d.params)
    sent = (rgb.shape[1], rgb.shape[0])
    report = assess_quality(rgb, original_size=sent) if with_checks else None
    modality = classify_modality(rgb).kind.value if with_checks else None
    image = _model_input(rgb, size, resize)
    return Sample(photo.key, photo.patient_id, name, sev, image, params, report, modality, sent)


def _run(
    photos: list[Photo], tasks: list[tuple], *, workers: int, desc: str, progress: bool = True
) -> list[Sample]:
    global _PHOTOS
    _PHOTOS = photos
    bar = {"desc": desc, "unit": "image", "leave": False, "disable": not progress}
    try:
        if workers <= 1:
            return [_render(t) for t in tqdm(tasks, **bar)]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            it = pool.map(_render, tasks, chunksize=16)
            return list(tqdm(it, total=len(tasks), **bar))
    finally:
        _PHOTOS = []


def training_pool(
    photos: list[Photo],
    *,
    seed: int,
    per_photo: int,
    p_clean: float,
    size: int,
    resize: str,
    workers: int,
    progress: bool = True,
) -> list[Sample]:
    """``per_photo`` random draws per photo (a random defect and severity, or clean)."""
    tasks = [
        (i, None, p_clean, (seed, p.key, "pool", k), size, resize, False)
        for i, p in enumerate(photos)
        for k in range(per_photo)
    ]
    return _run(photos, tasks, workers=workers, desc="training pool (defects drawn)", progress=progress)


def min_limit(defects: Sequence[Defect] = DEFECTS) -> int:
    """The fewest images of a limited evaluation set that still hold an untouched photo and every
    defect (at moderate, the retake boundary)."""
    return 1 + len(defects)


def limited_cells(defects: Sequence[Defect], severities: Sequence[Severity]) -> list[tuple[str, int]]:
    """The cells of an evaluation set in the order a limited one takes them: untouched, then every
    defect at moderate (the retake boundary), then at severe, then at mild."""
    order = sorted(severities, key=lambda s: (s < Severity.moderate, int(s)))
    return [(CLEAN, 0), *((Defect(d).value, int(s)) for s in order for d in defects)]


def stratified_pairs(n_photos: int, n_cells: int, limit: int) -> list[tuple[int, int]]:
    """``min(limit, n_photos * n_cells)`` distinct (photo, cell) pairs: the i-th is photo
    ``i % n_photos`` and cell ``(i + i // lcm(n_photos, n_cells)) % n_cells``, so the cells take turns
    (the first ``n_cells`` pairs are one of each; no cell has more than one more than another) and so do
    the photos (the first ``n_photos`` pairs are one photo each)."""
    if n_photos <= 0 or n_cells <= 0:
        return []
    period = math.lcm(n_photos, n_cells)
    return [(i % n_photos, (i + i // period) % n_cells) for i in range(min(limit, n_photos * n_cells))]


def evaluation_set(
    photos: list[Photo],
    *,
    seed: int,
    size: int,
    resize: str,
    workers: int,
    severities: Sequence[Severity] = SEVERITIES,
    defects: Sequence[Defect] = DEFECTS,
    desc: str = "evaluation set",
    limit: int | None = None,
    progress: bool = True,
) -> list[Sample]:
    """Every photo untouched (as sent: no extra round trip) and with every defect at every severity,
    each with the classical checks' report. ``limit``: at most this many images, the deterministic,
    stratified subset of :func:`stratified_pairs` over :func:`limited_cells` (at least
    :func:`min_limit`, so that every defect appears)."""
    if limit:
        if limit < min_limit(defects):
            raise ValueError(
                f"limit={limit}: a limited evaluation set needs at least {min_limit(defects)} images "
                f"(an untouched photo and each of the {len(defects)} defects)"
            )
        cells = limited_cells(defects, severities)
        chosen = [(p, *cells[c]) for p, c in stratified_pairs(len(photos), len(cells), limit)]
    else:
        chosen = [
            cell
            for i in range(len(photos))
            for cell in [(i, CLEAN, 0), *((i, Defect(d).value, int(s)) for d in defects for s in severities)]
        ]
    tasks: list[tuple] = []
    for i, defect, severity in chosen:
        key = photos[i].key
        if defect == CLEAN:  # untouched: no draws
            tasks.append((i, CLEAN, 0, (seed, key), size, resize, True))
        else:  # = rng_for(seed, key, defect, severity)
            tasks.append((i, defect, severity, (seed, key, defect, severity), size, resize, True))
    return _run(photos, tasks, workers=workers, desc=desc, progress=progress)


def targets(samples: Sequence[Sample], defects: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(retake N float32, defect severities N x D float32 in {0, 1/3, 2/3, 1})."""
    index = {d: i for i, d in enumerate(defects)}
    y_retake = np.asarray([s.retake for s in samples], np.float32)
    y_defects = np.zeros((len(samples), len(defects)), np.float32)
    for n, s in enumerate(samples):
        if s.defect != CLEAN:
            y_defects[n, index[s.defect]] = s.severity / 3.0
    return y_retake, y_defects
