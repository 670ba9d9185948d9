"""What promoting either model shares: the candidate (the newest version unless one is named), the
decision logged as a run of its own in ``dermatriage-promotions`` and tagged on the candidate's
version, the ``champion`` alias, and the model folder bundled into ``model/artifacts/`` for serving.
What makes a candidate good enough is each model's own rule (``training.urgency.promote``,
``training.quality.promote``)."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training import tracking
from training.config import REPO_ROOT
from training.runs import MODEL_FOLDER

BUNDLE_DIR = REPO_ROOT / "model" / "artifacts"
PROMOTIONS = "dermatriage-promotions"


@dataclass(frozen=True)
class PromotionResult:
    name: str
    candidate: str
    promoted: bool
    reasons: tuple[str, ...]
    bundled_to: Path | None

    def headline(self) -> str:
        return f"{self.name} version {self.candidate}: " + (
            "PROMOTED to champion" if self.promoted else "not promoted"
        )

    def details(self) -> list[str]:
        """Lines after the reasons (a comparison table, …)."""
        return []

    def summary(self) -> str:
        lines = [self.headline(), *(f"  {r}" for r in self.reasons), *self.details()]
        if self.bundled_to:
            lines.append(f"champion bundled into {self.bundled_to}")
        return "\n".join(lines)


def candidate(name: str, version: str | None) -> tuple[str, Any]:
    """Point MLflow at the promotions experiment; ``(version, model version)`` of the candidate:
    ``version``, or the newest registered."""
    tracking.configure(PROMOTIONS)
    if version is None:
        version = tracking.newest_version(name)
    return version, tracking.client().get_model_version(name, version)


def record(
    name: str,
    version: str,
    *,
    promoted: bool,
    reasons: tuple[str, ...] | list[str],
    params: dict[str, str],
    text: str,
    artifact: str,
) -> None:
    """Log the decision as a run of its own, tag it on the candidate, move the alias when promoted."""
    tracking.log_decision(
        f"promote {name} v{version}",
        params={"model": name, "candidate_version": version, **params},
        metrics={"promoted": float(promoted)},
        text=text,
        artifact=artifact,
    )
    verdict = "promoted" if promoted else "rejected"
    tracking.tag_version(name, version, "promotion", verdict + ": " + "; ".join(reasons)[:4000])
    if promoted:
        tracking.set_champion(name, version)


def copy_model_folder(
    run_id: str, workdir: Path, bundle_dir: Path, *, suffixes: Collection[str] | None = None
) -> Path:
    """Copy the files of a run's model folder (only those ending in ``suffixes`` when given) into
    ``bundle_dir``, where serving finds them; returns ``bundle_dir``."""
    folder = tracking.download(run_id, MODEL_FOLDER, workdir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        if suffixes is None or path.suffix in suffixes:
            shutil.copy2(path, bundle_dir / path.name)
    return bundle_dir
