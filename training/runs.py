"""The frame of a training run, the same for both pipelines: the manifest and its hashes (overall, per
source and per split), one MLflow run with the training tags, the run's folder and its exported model,
provenance, the thresholds in the contract, the resolved config, the registered model version and the
summary."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from data_pipelines.build import build_manifest, training_rows
from data_pipelines.manifest import manifest_hash
from data_pipelines.provenance import BY_SOURCE, OVERALL, data_provenance, hash_tags
from model.contract import ModelContract
from training import tracking

#: the run's artifact folder registered as the model: ONNX, contract, model card
MODEL_FOLDER = "model"


@dataclass(frozen=True)
class RunResult:
    run_id: str
    model_version: str
    out_dir: Path
    onnx_path: Path
    metrics: dict[str, float]


@dataclass(frozen=True)
class RunData:
    """The data of a run (the manifest's rows, and a label export's where the config names one): the
    hash of them all and, per source and split, counts and hashes (``data_pipelines.provenance``)."""

    hash: str
    by_source: dict[str, Any]

    def provenance(self) -> dict[str, Any]:
        """As the contract's provenance records it."""
        return {OVERALL: self.hash, BY_SOURCE: self.by_source}


def prepared_manifest(cfg: Any, *, progress: bool) -> RunData:
    """Build the manifest when there is none yet; returns the run's data, hashed."""
    if not cfg.manifest.exists():
        build_manifest(cfg.data_dir, cfg.manifest, progress=progress)
    rows = training_rows(cfg.manifest, label_export=getattr(cfg, "label_export", None))
    return RunData(manifest_hash(rows), data_provenance(rows))


@dataclass(frozen=True)
class Run:
    """One training run in progress: its config, MLflow id, tags and data; where it writes."""

    cfg: Any  # a training config (training.config.RunConfig)
    run_id: str
    tags: Mapping[str, str]
    data: RunData

    @property
    def data_hash(self) -> str:
        return self.data.hash

    @property
    def smoke(self) -> bool:
        """A smoke run: logged apart, never registered."""
        return bool(getattr(self.cfg, "smoke", False))

    @property
    def out_dir(self) -> Path:
        return self.cfg.output_dir / self.run_id

    @property
    def model_dir(self) -> Path:
        return self.out_dir / MODEL_FOLDER

    @property
    def onnx_path(self) -> Path:
        return self.model_dir / f"{self.cfg.name}.onnx"

    @property
    def version(self) -> str:
        """The exported model's version, as serving reports it."""
        return f"{self.cfg.name}-{self.run_id[:8]}"

    def export_path(self) -> Path:
        """The ONNX file to export to (its folder created)."""
        self.model_dir.mkdir(parents=True, exist_ok=True)
        return self.onnx_path

    def provenance(self, **details: Any) -> dict[str, Any]:
        """What the exported contract records of its run: code, data (overall, per source and split),
        seed, ``details``, config."""
        return {
            "run_id": self.run_id,
            "git_sha": self.tags["git_sha"],
            **self.data.provenance(),
            "seed": self.cfg.seed,
            **details,
            "config": self.cfg.to_dict(),
        }

    def save_thresholds(self, contract: ModelContract, thresholds: dict[str, float]) -> ModelContract:
        """The contract with the operating thresholds chosen on validation, saved next to the model."""
        contract = replace(contract, thresholds=thresholds)
        contract.save(self.onnx_path.with_suffix(".json"))
        return contract

    def log_config(self) -> None:
        self.cfg.save(self.out_dir / "config.yaml")
        tracking.log_artifact(self.out_dir / "config.yaml")

    def register(self, metrics: dict[str, float]) -> RunResult:
        """Log the model folder, register it as a new version (never a smoke run's: its version is
        ``""``), write the summary."""
        for path in sorted(self.model_dir.iterdir()):
            tracking.log_artifact(path, MODEL_FOLDER)
        model_version = ""
        if not self.smoke:
            model_version = tracking.register(
                self.run_id,
                name=self.cfg.registered_model,
                artifact_folder=MODEL_FOLDER,
                tags={"manifest_hash": self.data_hash, "git_sha": self.tags["git_sha"]},
            )
        summary = {"run_id": self.run_id, "model_version": model_version, "metrics": metrics}
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
        return RunResult(self.run_id, model_version, self.out_dir, self.onnx_path, metrics)


def experiment_name(cfg: Any) -> str:
    """``dermatriage-<name>``, or ``dermatriage-<name>-smoke`` for a smoke run."""
    return f"dermatriage-{cfg.name}" + ("-smoke" if getattr(cfg, "smoke", False) else "")


@contextlib.contextmanager
def start(cfg: Any, data: RunData) -> Iterator[Run]:
    """The MLflow run of a training run (experiment :func:`experiment_name`, config as parameters;
    tagged with the data's hashes: ``manifest_hash``, ``manifest_hash_<source>[_<split>]``)."""
    tags = tracking.training_tags(task=cfg.name, seed=cfg.seed, manifest_hash=data.hash)
    tags |= hash_tags(data.by_source)
    with tracking.run(
        experiment_name(cfg), run_name=f"{cfg.name}-seed{cfg.seed}", config=cfg.to_dict(), tags=tags
    ) as run_id:
        yield Run(cfg, run_id, tags, data)
