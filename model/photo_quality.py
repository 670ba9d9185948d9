"""One photo's quality as the service keeps it: the verdict, what is wrong (most important first) with
one instruction each, every classical check's score and the learned model's reading.

A typed value everywhere; JSON only where it is stored or sent (``to_json`` / ``from_json``, whose
shape is the API's ``QualityOut``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from model.quality_checks import QualityReport, Verdict
from model.quality_verdict import CHECK_DEFECT, ModelReading, QualityVerdict

#: decimals of the model's reading as stored and returned
READING_DECIMALS = 4


@dataclass(frozen=True)
class CheckScore:
    score: float
    passed: bool
    threshold: float


@dataclass(frozen=True)
class PhotoQuality:
    verdict: Verdict
    score: float
    #: what is wrong, most important first (one instruction each, in the same order)
    defects: tuple[str, ...] = ()
    instructions: tuple[str, ...] = ()
    checks: Mapping[str, CheckScore] = field(default_factory=lambda: MappingProxyType({}))
    #: the learned quality model's reading (None when the checks alone judged the photo)
    model: ModelReading | None = None
    #: the photo can be read at all: a dermatologist could judge it, though a better one may be asked
    readable: bool = True
    #: what kind of image it is (``model.modality``: clinical, dermoscopic, not_skin); None before
    #: modalities were told apart
    modality: str | None = None

    @property
    def usable(self) -> bool:
        """A dermatologist could judge the photo (it is readable); a retake may still be requested."""
        return self.readable

    @property
    def accepted(self) -> bool:
        """Good as it is: no retake asked."""
        return self.verdict is Verdict.accept

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.passed]

    @property
    def named_defects(self) -> list[str]:
        """The defects, or (for a value stored before defects were named) the failing checks' defects."""
        return list(self.defects) or [CHECK_DEFECT.get(n, n) for n in self.failed_checks]

    @classmethod
    def judged(
        cls,
        report: QualityReport,
        verdict: QualityVerdict,
        reading: ModelReading | None = None,
        *,
        modality: str | None = None,
    ) -> PhotoQuality:
        """The value of a photo judged now: the classical ``report``, the combined ``verdict`` and the
        model's ``reading`` (rounded as it is kept)."""
        if reading is not None:
            reading = ModelReading(
                version=reading.version,
                retake=round(reading.retake, READING_DECIMALS),
                defects={d: round(p, READING_DECIMALS) for d, p in reading.defects.items()},
            )
        return cls(
            verdict=Verdict(verdict.verdict),
            score=verdict.score,
            defects=tuple(verdict.defects),
            instructions=tuple(verdict.instructions),
            checks=MappingProxyType(
                {n: CheckScore(c.score, c.passed, c.threshold) for n, c in report.checks.items()}
            ),
            model=reading,
            readable=verdict.readable,
            modality=modality,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "readable": self.readable,
            "modality": self.modality,
            "score": self.score,
            "defects": list(self.defects),
            "instructions": list(self.instructions),
            "checks": {
                name: {"score": c.score, "passed": c.passed, "threshold": c.threshold}
                for name, c in self.checks.items()
            },
            "model": None
            if self.model is None
            else {
                "version": self.model.version,
                "retake": self.model.retake,
                "defects": dict(self.model.defects),
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PhotoQuality:
        model = data.get("model")
        verdict = Verdict(data["verdict"])
        return cls(
            verdict=verdict,
            # stored before the two questions were told apart: a retake then held the case back
            readable=bool(data.get("readable", verdict is Verdict.accept)),
            modality=data.get("modality"),
            score=float(data["score"]),
            defects=tuple(data.get("defects") or ()),
            instructions=tuple(data.get("instructions") or ()),
            checks=MappingProxyType(
                {
                    name: CheckScore(float(c["score"]), bool(c["passed"]), float(c["threshold"]))
                    for name, c in (data.get("checks") or {}).items()
                }
            ),
            model=None
            if model is None
            else ModelReading(
                version=model["version"], retake=float(model["retake"]), defects=dict(model["defects"])
            ),
        )


def _reading_json(reading: ModelReading) -> dict[str, Any]:
    return {"version": reading.version, "retake": reading.retake, "defects": dict(reading.defects)}
