"""The reference profile of the training data: what the service's monitoring compares its own cases
with (``GET /v1/metrics/model``, drift). ``dermatriage data profile`` writes it to
``model/artifacts/reference_profile.json`` from the real manifest.

By default the rows profiled are PAD-UFES-20's smartphone photos of the ``train`` split: the photos the
urgency model learned from that are like what the service receives (phone photos; the masked copies and
the dermoscopic HAM10000 images are not what patients send; the test split is held out). The counting
rules are ``model.input_profile``'s, the same the service applies to its cases: a questionnaire once
per lesion (a manifest row repeats its lesion's answers on every photo), a photo once per image.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from data_pipelines.manifest import ManifestRow
from model import input_profile
from model.modality import Modality

#: the manifest's modalities as ``model.modality`` names them (what the service records per photo)
SERVICE_MODALITY: dict[str, str] = {
    "smartphone": Modality.clinical.value,
    "smartphone_masked": Modality.clinical.value,
    "dermoscopy": Modality.dermoscopic.value,
}
REFERENCE_SOURCES: tuple[str, ...] = ("pad_ufes_20",)
REFERENCE_SPLITS: tuple[str, ...] = ("train",)


def select_rows(
    rows: Iterable[ManifestRow],
    *,
    sources: tuple[str, ...] = REFERENCE_SOURCES,
    splits: tuple[str, ...] = REFERENCE_SPLITS,
) -> list[ManifestRow]:
    """The rows of ``sources`` in ``splits``, in the manifest's canonical order."""
    return sorted((r for r in rows if r.source in sources and r.split in splits), key=ManifestRow.sort_key)


def profile_rows(
    rows: Iterable[ManifestRow],
    *,
    sources: tuple[str, ...] = REFERENCE_SOURCES,
    splits: tuple[str, ...] = REFERENCE_SPLITS,
    manifest_sha256: str | None = None,
) -> dict[str, Any]:
    """Manifest rows -> the profile of the selected ones (a JSON-ready dict, deterministic: no clock).

    Raises ValueError when nothing is selected (a profile of nothing would silence every alert)."""
    chosen = select_rows(rows, sources=sources, splits=splits)
    if not chosen:
        raise ValueError(f"no manifest row of sources {list(sources)} in splits {list(splits)}")
    lesions: dict[tuple[str, str], dict[str, Any]] = {}
    for row in chosen:
        lesions.setdefault((row.source, row.lesion_id), row.questionnaire)
    figures = input_profile.profile(
        list(lesions.values()),
        long_sides=[input_profile.long_side(r.width, r.height) for r in chosen],
        modalities=[SERVICE_MODALITY.get(r.modality) for r in chosen],
    )
    return {
        "schema": input_profile.SCHEMA,
        "description": "Training data the urgency model learned from, as the service's monitoring counts "
        "its own cases (model/input_profile.py); written by `dermatriage data profile`.",
        "selection": {
            "sources": list(sources),
            "splits": list(splits),
            "manifest_sha256": manifest_sha256,
            "n_patients": len({(r.source, r.patient_id) for r in chosen}),
        },
        **figures,
    }
