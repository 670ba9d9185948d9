"""Find and load a model from a spec (``Settings.urgency_model``, ``quality_model``, the training CLI):
``bundled`` (``model/artifacts/``), ``none``, a path, or an MLflow registry URI."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TypeVar

from model.quality_model import QualityModel
from model.urgency_model import UrgencyModel

log = logging.getLogger("dermatriage")
M = TypeVar("M", UrgencyModel, QualityModel)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BUNDLED = ARTIFACTS / "urgency.onnx"


class ModelUnavailable(RuntimeError):
    pass


def resolve_model_path(spec: str, *, cache_dir: Path, bundled: str = "urgency") -> Path | None:
    """'none' -> None; 'bundled' -> model/artifacts/<bundled>.onnx (None when absent); a registry URI;
    a path."""
    if spec == "none":
        return None
    if spec == "bundled":
        path = ARTIFACTS / f"{bundled}.onnx"
        return path if path.exists() else None
    if spec.startswith("models:/"):
        return _from_registry(spec, cache_dir)
    path = Path(spec)
    if not path.exists():
        raise ModelUnavailable(f"{bundled} model {path} does not exist")
    return path


def _from_registry(uri: str, cache_dir: Path) -> Path:
    try:
        import mlflow  # only when a registry model is configured: the serving install does not need it
    except ImportError as exc:
        raise ModelUnavailable(f"{uri} needs mlflow installed (pip install mlflow; no torch needed)") from exc
    dest = cache_dir / uri.removeprefix("models:/").replace("/", "_").replace("@", "_")
    dest.mkdir(parents=True, exist_ok=True)
    store = os.environ.get("MLFLOW_TRACKING_URI")
    if store:  # the store the deployment names, for the registry and the run behind the version
        mlflow.set_tracking_uri(store)
        mlflow.set_registry_uri(store)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))
    found = sorted(local.rglob("*.onnx"))
    if len(found) != 1:
        raise ModelUnavailable(f"{uri}: expected one .onnx in the model folder, found {len(found)}")
    return found[0]


def _load(kind: type[M], spec: str, *, bundled: str, cache_dir: Path, threads: int, without: str) -> M | None:
    path = resolve_model_path(spec, cache_dir=cache_dir, bundled=bundled)
    if path is None:
        log.warning("no %s model loaded (%s): %s", bundled, spec, without)
        return None
    model = kind(path, threads=threads)
    log.info("%s model %s loaded from %s", bundled, model.version, path)
    return model


def load_urgency_model(spec: str, *, cache_dir: Path, threads: int) -> UrgencyModel | None:
    without = "triage uses the red-flag rules only"
    return _load(UrgencyModel, spec, bundled="urgency", cache_dir=cache_dir, threads=threads, without=without)


def load_quality_model(spec: str, *, cache_dir: Path, threads: int) -> QualityModel | None:
    without = "photos are judged by the classical checks alone"
    return _load(QualityModel, spec, bundled="quality", cache_dir=cache_dir, threads=threads, without=without)
