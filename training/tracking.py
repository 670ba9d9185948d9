"""The only module that imports mlflow: runs, parameters, metrics, artifacts and the registry.

Default store: local, no server: ``sqlite:///var/mlflow/mlflow.db`` with artifacts under
``var/mlflow/artifacts`` (the model registry needs a database store). ``MLFLOW_TRACKING_URI``
points elsewhere (a tracking server, another database).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from training.config import REPO_ROOT

CHAMPION = "champion"


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    store = REPO_ROOT / "var" / "mlflow"
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def configure(experiment: str) -> str:
    """Point mlflow at the store and the experiment; returns the experiment id."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        mlflow.set_experiment(experiment)
        return found.experiment_id
    artifacts = None
    if uri.startswith("sqlite:") and not os.environ.get("MLFLOW_TRACKING_URI"):
        artifacts = (REPO_ROOT / "var" / "mlflow" / "artifacts").as_uri()
    experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
    mlflow.set_experiment(experiment)
    return experiment_id


def git_sha() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    else:
        out[prefix] = value


def training_tags(*, task: str, seed: int, manifest_hash: str) -> dict[str, str]:
    """The tags every training run carries: what code, what data, what seed."""
    return {"git_sha": git_sha(), "manifest_hash": manifest_hash, "seed": str(seed), "task": task}


@contextlib.contextmanager
def run(experiment: str, *, run_name: str, config: dict[str, Any], tags: dict[str, str]) -> Iterator[str]:
    """An MLflow run with the resolved config as parameters; yields the run id."""
    configure(experiment)
    with mlflow.start_run(run_name=run_name) as active:
        params: dict[str, Any] = {}
        _flatten("", config, params)
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.set_tags(tags)
        yield active.info.run_id


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)


def log_artifact(path: Path, folder: str | None = None) -> None:
    mlflow.log_artifact(str(path), artifact_path=folder)


def log_dict(data: dict, name: str) -> None:
    mlflow.log_dict(data, name)


def register(run_id: str, *, name: str, artifact_folder: str, tags: dict[str, str]) -> str:
    """Register the run's model folder as a new version of ``name``; returns the version."""
    client = MlflowClient()
    with contextlib.suppress(mlflow.exceptions.MlflowException):
        client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run_id}/{artifact_folder}", run_id=run_id, tags=tags)
    return str(version.version)


def client() -> MlflowClient:
    return MlflowClient()


def newest_version(name: str) -> str:
    """The highest version number registered under ``name``; ValueError when there is none."""
    versions = MlflowClient().search_model_versions(f"name='{name}'")
    if not versions:
        raise ValueError(f"no versions of {name!r} are registered")
    return str(max(int(v.version) for v in versions))


def tag_version(name: str, version: str, key: str, value: str) -> None:
    MlflowClient().set_model_version_tag(name, version, key, value)


def log_decision(
    run_name: str, *, params: dict[str, str], metrics: dict[str, float], text: str, artifact: str
) -> None:
    """A run of its own (in the configured experiment) holding a decision: parameters, metrics and
    the decision's text as the artifact ``artifact``."""
    with mlflow.start_run(run_name=run_name):
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.log_text(text, artifact)


def champion(name: str):
    """The model version holding the champion alias, or None."""
    try:
        return MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None


def set_champion(name: str, version: str) -> None:
    MlflowClient().set_registered_model_alias(name, CHAMPION, version)


def run_metrics(run_id: str) -> dict[str, float]:
    return dict(MlflowClient().get_run(run_id).data.metrics)


def download(run_id: str, artifact_path: str, dest: Path) -> Path:
    return Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=str(dest))
    )
