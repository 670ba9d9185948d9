"""Realistic phone-photo defects for the learned image-quality model.

``degrade(rgb, defect, severity, rng)`` applies one defect at one severity with parameters drawn from
``rng`` (ranges per severity, sizes as fractions of the long side). Every result except
``jpeg_compression`` ends with the phone's own JPEG round trip (quality 85-95, recorded as
``upload_quality``): pass clean training photos through ``upload`` too, so that a fresh JPEG round trip
is no cue. Pure numpy + OpenCV: serving, tests and bench import it without the training extra.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from data_pipelines.degrade._common import lesion_region, to_uint8, upload
from data_pipelines.degrade.framing import FRAMINGS, framing
from data_pipelines.degrade.light import CASTS, colour_cast, glare, noise, overexposure, underexposure
from data_pipelines.degrade.masks import load_lesion_mask, read_lesion_mask
from data_pipelines.degrade.obstruction import OBSTACLES, obstruction
from data_pipelines.degrade.optics import defocus_blur, jpeg_compression, low_resolution, motion_blur
from data_pipelines.degrade.spec import DEFECTS, SEVERITIES, Defect, Degradation, Degraded, Severity

__all__ = [
    "DEFECTS",
    "SEVERITIES",
    "VARIANTS",
    "Defect",
    "Degradation",
    "Degraded",
    "Severity",
    "degrade",
    "degraded_set",
    "load_lesion_mask",
    "random_degradation",
    "read_lesion_mask",
    "rng_for",
    "seeded_rng",
    "upload",
]

Apply = Callable[..., tuple[np.ndarray, dict]]
#: Defects that come in kinds: the kind is drawn from the rng, or forced with degrade(..., variant=...).
VARIANTS: dict[Defect, tuple[str, ...]] = {
    Defect.low_resolution: ("sent_small", "upscaled"),
    Defect.colour_cast: tuple(CASTS),
    Defect.framing: tuple(FRAMINGS),
    Defect.obstruction: tuple(OBSTACLES),
}
_APPLY: dict[Defect, Apply] = {
    Defect.defocus_blur: defocus_blur,
    Defect.motion_blur: motion_blur,
    Defect.underexposure: underexposure,
    Defect.overexposure: overexposure,
    Defect.glare: glare,
    Defect.noise: noise,
    Defect.jpeg_compression: jpeg_compression,
    Defect.low_resolution: low_resolution,
    Defect.colour_cast: colour_cast,
    Defect.framing: framing,
    Defect.obstruction: obstruction,
}


def degrade(
    rgb: np.ndarray,
    defect: Defect,
    severity: Severity,
    rng: np.random.Generator,
    *,
    lesion_mask: np.ndarray | None = None,
    variant: str | None = None,
) -> Degraded:
    """``defect`` at ``severity`` on an HxWx3 uint8 RGB photo. Same size out, except low_resolution's
    ``sent_small`` variant (the small photo is the one sent). ``lesion_mask``: HxW bool (any size; it
    is resized), used by glare, framing and obstruction; without it the lesion is assumed central.
    ``variant``: force one of ``VARIANTS[defect]`` (the rng still draws the same numbers)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {rgb.dtype} {rgb.shape}")
    defect, severity = Defect(defect), Severity(severity)
    lesion = lesion_region(lesion_mask, rgb.shape[:2])
    if variant is None:
        out, params = _APPLY[defect](rgb, rng, severity, lesion)
    elif variant in VARIANTS.get(defect, ()):
        out, params = _APPLY[defect](rgb, rng, severity, lesion, variant=variant)
    else:
        raise ValueError(f"{defect} has no variant {variant!r} (variants: {VARIANTS.get(defect, ())})")
    out = to_uint8(out)
    if defect != Defect.jpeg_compression:
        out, params["upload_quality"] = upload(out, rng)
    params["mask"] = "given" if lesion_mask is not None and lesion_mask.any() else "assumed_central"
    params = {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
    return Degraded(rgb=out, degradation=Degradation(defect, severity, params))


def random_degradation(
    rgb: np.ndarray,
    rng: np.random.Generator,
    *,
    lesion_mask: np.ndarray | None = None,
    p_clean: float = 0.3,
    severities: Sequence[Severity] = SEVERITIES,
    defects: Sequence[Defect] = DEFECTS,
) -> Degraded | None:
    """With probability ``p_clean`` None (leave the photo clean); else a defect drawn uniformly from
    ``defects`` at a severity drawn uniformly from ``severities``."""
    if rng.random() < p_clean:
        return None
    defect = defects[int(rng.integers(len(defects)))]
    severity = severities[int(rng.integers(len(severities)))]
    return degrade(rgb, defect, severity, rng, lesion_mask=lesion_mask)


def seeded_rng(seed: int, key: str, *parts: object) -> np.random.Generator:
    """A generator seeded from (seed, key, parts...), stable across processes and runs."""
    digest = hashlib.sha256("\x1f".join([key, *map(str, parts)]).encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([int(seed), *words]))


def rng_for(seed: int, key: str, defect: Defect, severity: Severity) -> np.random.Generator:
    """The generator of one (photo, defect, severity) of an evaluation set."""
    return seeded_rng(seed, key, Defect(defect).value, int(severity))


def degraded_set(
    items: Iterable[tuple[str, np.ndarray, np.ndarray | None]],
    *,
    seed: int,
    severities: Sequence[Severity] = SEVERITIES,
    defects: Sequence[Defect] = DEFECTS,
) -> Iterator[tuple[str, Degraded]]:
    """Every defect x severity of every (key, rgb, lesion mask or None): deterministic, each with its own
    generator from ``rng_for(seed, key, defect, severity)`` (so a subset or a new order changes nothing)."""
    for key, rgb, mask in items:
        for defect in defects:
            for severity in severities:
                rng = rng_for(seed, key, defect, severity)
                yield key, degrade(rgb, defect, severity, rng, lesion_mask=mask)
