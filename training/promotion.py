"""What promoting either model shares: the candidate (the newest version unless one is named), the
decision logged as a run of its own in ``dermatriage-promotions`` and tagged on the candidate's
version, the ``champion`` alias, and the model folder bundled into ``model/artifacts/`` for serving.
What makes a candidate good enough is each model's own rule (``training.urgency.promote``,
``training.quality.promote``).

Two rules are shared. The bundled model is always the baseline: when the registry has no champion,
:func:`import_bundled` registers what ``model/artifacts/`` serves (with its card's test figures) as a
version holding the ``champion`` alias, so a fresh store never makes the first candidate champion
unopposed. And a run made with smoke settings (``limit`` set, fewer bootstrap resamples or epochs
than :data:`PROMOTION_FLOORS`) is refused whatever its figures (:func:`smoke_reasons`)."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.contract import ModelContract
from training import tracking
from training.config import REPO_ROOT
from training.runs import MODEL_FOLDER

BUNDLE_DIR = REPO_ROOT / "model" / "artifacts"
PROMOTIONS = "dermatriage-promotions"
#: the experiment whose runs hold bundled models imported into the registry
BUNDLED = "dermatriage-bundled"
#: the tag (on the import run and the model version) naming the bundled contract version imported
BUNDLED_TAG = "bundled"

#: The least a run must have done to be promoted, per model kind; a run below any floor (or with
#: ``limit`` set) is a smoke run and is refused. ``epochs``: training epochs of the run;
#: ``n_bootstrap``: bootstrap resamples of its test intervals (the urgency config's default, the
#: ``evaluate quality --bootstrap`` default): fewer make intervals too rough to compare.
PROMOTION_FLOORS: dict[str, dict[str, int]] = {
    "urgency": {"epochs": 4, "n_bootstrap": 2000},
    "quality": {"epochs": 4, "n_bootstrap": 1000},
}


def smoke_reasons(settings: Mapping[str, Any], floors: Mapping[str, int]) -> list[str]:
    """Why a run with these ``settings`` (``limit``, ``epochs``, ``n_bootstrap``, …) is a smoke run
    that may not be promoted; empty when it is not. ``floors``: the least of each setting."""
    reasons = []
    limit = settings.get("limit")
    if limit not in (None, "None", "", 0):
        reasons.append(
            f"a smoke run: a limited run (limit={limit}, part of the data) is never promoted; "
            "train and evaluate without limit"
        )
    for key, floor in floors.items():
        value = settings.get(key)
        if value not in (None, "None") and int(value) < floor:
            reasons.append(
                f"a smoke run: {key}={value} is below the promotion floor {key} >= {floor} "
                "(training.promotion.PROMOTION_FLOORS)"
            )
    return reasons


_FIGURE = re.compile(r"^\s*(-?[0-9.]+)\s*(?:\(\s*(-?[0-9.]+)\s*[–-]\s*(-?[0-9.]+)\s*\))?")


def parse_figure(cell: str) -> tuple[float, float | None, float | None] | None:
    """``"0.915 (0.863–0.955)"`` -> (0.915, 0.863, 0.955); ``"0.9"`` -> (0.9, None, None); "—" -> None."""
    found = _FIGURE.match(cell)
    if not found:
        return None
    point, low, high = found.groups()
    return float(point), (float(low) if low else None), (float(high) if high else None)


def figure_metrics(key: str, cell: str) -> dict[str, float]:
    """``{key: point, key_ci_low: …, key_ci_high: …}`` of a card's table cell (nothing when blank)."""
    figure = parse_figure(cell)
    if figure is None:
        return {}
    point, low, high = figure
    out = {key: point}
    if low is not None and high is not None:
        out |= {f"{key}_ci_low": low, f"{key}_ci_high": high}
    return out


def import_bundled(
    name: str,
    bundle_dir: Path,
    *,
    files: tuple[str, ...],
    card_file: str,
    card_figures: Callable[[str], dict[str, float]],
) -> str | None:
    """Register the bundled model (``files`` of ``bundle_dir``; the first is the ONNX file, its contract
    beside it) as a new version of ``name`` holding the ``champion`` alias, with its card's test
    figures (``card_figures`` of ``card_file``'s text) logged on the import run in
    ``dermatriage-bundled``; returns the version, None when nothing is bundled. The bundle folder
    itself is only read."""
    onnx = bundle_dir / files[0]
    if not onnx.exists():
        return None
    contract_version = ModelContract.load(onnx.with_suffix(".json")).version
    card = bundle_dir / card_file
    metrics = card_figures(card.read_text()) if card.exists() else {}
    tags = {BUNDLED_TAG: contract_version, "task": name, "git_sha": tracking.git_sha()}
    config = {"model": name, "bundle_dir": str(bundle_dir), "contract_version": contract_version}
    with tracking.run(BUNDLED, run_name=f"import {contract_version}", config=config, tags=tags) as run_id:
        tracking.log_metrics(metrics)
        for file in files:
            if (bundle_dir / file).exists():
                tracking.log_artifact(bundle_dir / file, MODEL_FOLDER)
    version = tracking.register(run_id, name=name, artifact_folder=MODEL_FOLDER, tags=tags)
    tracking.tag_version(
        name, version, "promotion", f"imported: the bundled {contract_version}, the baseline"
    )
    tracking.set_champion(name, version)
    tracking.configure(PROMOTIONS)
    return version


def bundled_name(version: Any) -> str | None:
    """``"bundled <contract version>"`` for a model version imported from the bundle, else None."""
    tag = (getattr(version, "tags", None) or {}).get(BUNDLED_TAG)
    return f"bundled {tag}" if tag else None


def champion_label(version: Any) -> str:
    """How a registered model version is named in decisions: ``bundled <version>`` or ``version <n>``."""
    return bundled_name(version) or f"version {version.version}"


@dataclass(frozen=True)
class Champion:
    """What a new run is compared with: the registry's ``champion`` alias or, with none there, what
    ``model/artifacts/`` serves. ``figures``: its logged metrics (a bundled model's: its card's test
    figures, under the names a run logs them); ``provenance``: its contract's."""

    label: str  # "version 3", "bundled urgency-0d6afedc"
    #: where it was found, in words
    where: str
    provenance: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    #: the registry champion's run (its model folder is that run's); None for the bundled model
    run_id: str | None = None

    def heading(self) -> str:
        return f"{self.label} ({self.where})"


def find_champion(
    name: str,
    bundle_dir: Path | None = None,
    *,
    files: tuple[str, ...],
    card_file: str,
    card_figures: Callable[[str], dict[str, float]],
    figures: Callable[[Any], dict[str, float]] | None = None,
    registry: bool = True,
) -> Champion | None:
    """The champion of ``name``: the registry's alias (its run's metrics, or ``figures`` of the model
    version, and its contract), else the bundled model of ``bundle_dir`` (default
    :data:`BUNDLE_DIR`; ``files`` and ``card_file`` as for :func:`import_bundled`: its contract and
    its card's figures); None when there is neither. Only reads: nothing is imported or logged.
    ``registry=False``: the bundle only (no store to ask)."""
    contract_file = Path(files[0]).with_suffix(".json").name
    version = tracking.champion(name) if registry else None
    if version is not None:
        found = figures(version) if figures else tracking.run_metrics(version.run_id)
        provenance: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as tmp:
            path = tracking.download_if_any(version.run_id, f"{MODEL_FOLDER}/{contract_file}", Path(tmp))
            if path is not None:
                provenance = dict(ModelContract.load(path).provenance)
        where = f"the registry's `{tracking.CHAMPION}` alias of {name}"
        return Champion(champion_label(version), where, provenance, dict(found), version.run_id)
    bundle_dir = bundle_dir or BUNDLE_DIR
    contract = bundle_dir / contract_file
    if not contract.exists():
        return None
    card = bundle_dir / card_file
    loaded = ModelContract.load(contract)
    where = f"bundled in {bundle_dir}; the registry has no champion of {name}"
    return Champion(
        f"bundled {loaded.version}",
        where,
        dict(loaded.provenance),
        card_figures(card.read_text()) if card.exists() else {},
    )


@dataclass(frozen=True)
class PromotionResult:
    name: str
    candidate: str
    promoted: bool
    reasons: tuple[str, ...]
    bundled_to: Path | None
    #: a dry run: the decision only; nothing logged, tagged, aliased or bundled
    dry_run: bool = False

    def headline(self) -> str:
        if self.dry_run:
            verdict = "DRY RUN, would be PROMOTED" if self.promoted else "DRY RUN, would NOT be promoted"
            return f"{self.name} version {self.candidate}: {verdict} (nothing changed)"
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
    ``version``, or the newest registered by a training run (an imported bundled model is never one)."""
    tracking.configure(PROMOTIONS)
    if version is None:
        trained = [
            int(v.version)
            for v in tracking.client().search_model_versions(f"name='{name}'")
            if not v.tags.get(BUNDLED_TAG)
        ]
        if not trained:
            raise ValueError(
                f"no trained versions of {name!r} are registered (the bundled model is no candidate)"
            )
        version = str(max(trained))
    found = tracking.client().get_model_version(name, version)
    if bundled_name(found):
        raise ValueError(
            f"{name} version {version} is the bundled model imported as the baseline, not a candidate"
        )
    return version, found


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
