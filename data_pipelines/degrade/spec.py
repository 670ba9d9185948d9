"""What a degradation is: the defect, its severity and the parameters drawn for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import numpy as np


class Defect(StrEnum):
    """Phone-photo defects. The order is the order of the quality model's per-defect outputs:
    append new members at the end, never reorder."""

    defocus_blur = "defocus_blur"
    motion_blur = "motion_blur"
    underexposure = "underexposure"
    overexposure = "overexposure"
    glare = "glare"
    noise = "noise"
    jpeg_compression = "jpeg_compression"
    low_resolution = "low_resolution"
    colour_cast = "colour_cast"
    framing = "framing"
    obstruction = "obstruction"


class Severity(IntEnum):
    """mild: a dermatologist could still judge the photo; moderate: clearly impaired, the patient
    should retake; severe: unusable."""

    mild = 1
    moderate = 2
    severe = 3


DEFECTS: tuple[Defect, ...] = tuple(Defect)
SEVERITIES: tuple[Severity, ...] = tuple(Severity)


@dataclass(frozen=True)
class Degradation:
    defect: Defect
    severity: Severity
    #: The drawn parameters (JSON-serialisable scalars), e.g. {"radius_frac": 0.011, "upload_quality": 91}.
    params: dict[str, float | int | str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"defect": str(self.defect), "severity": self.severity.name, "params": dict(self.params)}


@dataclass(frozen=True)
class Degraded:
    #: HxWx3 uint8 RGB; the input's size except for low_resolution's "sent_small" variant.
    rgb: np.ndarray
    degradation: Degradation
