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
#: the run tag MLflow shows as the run's description, at the top of its page (markdown)
DESCRIPTION_TAG = "mlflow.note.content"
#: the default store's database (no server): ``var/mlflow/mlflow.db``, its artifacts beside it
DEFAULT_STORE = REPO_ROOT / "var" / "mlflow" / "mlflow.db"


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    DEFAULT_STORE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_STORE}"


def has_store() -> bool:
    """Whether there is a store to read: ``MLFLOW_TRACKING_URI`` set, or the default database made."""
    return bool(os.environ.get("MLFLOW_TRACKING_URI")) or DEFAULT_STORE.exists()


def artifact_root(uri: str) -> str | None:
    """Where a new experiment's artifacts go: ``$DERMATRIAGE_MLFLOW_ARTIFACTS``, else beside a local
    SQLite store (``<the database's folder>/artifacts``, so the default store keeps everything under
    ``var/mlflow/``), else None: a tracking server has its own artifact store. Never MLflow's own
    default, ``./mlruns`` in whatever folder the command was started from."""
    override = os.environ.get("DERMATRIAGE_MLFLOW_ARTIFACTS")
    if override:
        return Path(override).resolve().as_uri()
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        return (database.resolve().parent / "artifacts").as_uri()
    return None


def configure(experiment: str) -> str:
    """Point mlflow at the store and the experiment; returns the experiment id."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    found = client().get_experiment_by_name(experiment)
    if found is not None:
        mlflow.set_experiment(experiment)
        return found.experiment_id
    root = artifact_root(uri)  # one folder per experiment under the store's artifacts
    location = f"{root}/{experiment}" if root else None
    experiment_id = client().create_experiment(experiment, artifact_location=location)
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


def log_artifact_to(run_id: str, path: Path, folder: str | None = None) -> str | None:
    """Attach ``path`` to the existing run ``run_id`` (a report made after the run ended); None when
    attached, else why not: no store (a local one is never created here), no such run in it, or the
    store did not answer (one try, a short timeout: a missing server costs seconds, not minutes)."""
    if not has_store():
        return "no tracking store (MLFLOW_TRACKING_URI unset and no var/mlflow/mlflow.db)"
    uri = tracking_uri()
    quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    unset = [key for key in quick if key not in os.environ]
    os.environ.update({key: quick[key] for key in unset})
    try:
        store = client()
        try:
            store.get_run(run_id)
        except mlflow.exceptions.MlflowException:
            return f"no run {run_id} in the tracking store {uri}"
        store.log_artifact(run_id, str(path), artifact_path=folder)
        return None
    except Exception as exc:  # noqa: BLE001 - an unreachable store is reported, never fatal
        return f"the tracking store {uri} did not take it ({type(exc).__name__}: {exc})"
    finally:
        for key in unset:
            os.environ.pop(key, None)


def log_dict(data: dict, name: str) -> None:
    mlflow.log_dict(data, name)


def set_description(run_id: str, markdown: str) -> None:
    """The run's description: the note the MLflow UI shows at the top of the run's page."""
    client().set_tag(run_id, DESCRIPTION_TAG, markdown)


def artifact_names(run_id: str) -> list[str]:
    """The run's top-level artifacts (a folder with a trailing ``/``)."""
    return [a.path + ("/" if a.is_dir else "") for a in client().list_artifacts(run_id)]


def description(run_id: str) -> str:
    return client().get_run(run_id).data.tags.get(DESCRIPTION_TAG, "")


def register(run_id: str, *, name: str, artifact_folder: str, tags: dict[str, str]) -> str:
    """Register the run's model folder as a new version of ``name``; returns the version."""
    store = client()
    with contextlib.suppress(mlflow.exceptions.MlflowException):
        store.create_registered_model(name)
    version = store.create_model_version(name, f"runs:/{run_id}/{artifact_folder}", run_id=run_id, tags=tags)
    return str(version.version)


def client() -> MlflowClient:
    """A client of this project's store (never MLflow's default ``./mlflow.db`` in the current folder,
    even before :func:`configure`)."""
    uri = tracking_uri()
    return MlflowClient(uri, registry_uri=uri)


def newest_version(name: str) -> str:
    """The highest version number registered under ``name``; ValueError when there is none."""
    versions = client().search_model_versions(f"name='{name}'")
    if not versions:
        raise ValueError(f"no versions of {name!r} are registered")
    return str(max(int(v.version) for v in versions))


def tag_version(name: str, version: str, key: str, value: str) -> None:
    client().set_model_version_tag(name, version, key, value)


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
        return client().get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None


def set_champion(name: str, version: str) -> None:
    client().set_registered_model_alias(name, CHAMPION, version)


def run_metrics(run_id: str) -> dict[str, float]:
    return dict(client().get_run(run_id).data.metrics)


def download(run_id: str, artifact_path: str, dest: Path) -> Path:
    """A run's artifact from this project's store (named explicitly, as :func:`client` does)."""
    path = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=artifact_path, dst_path=str(dest), tracking_uri=tracking_uri()
    )
    return Path(path)


def download_if_any(run_id: str, artifact_path: str, dest: Path) -> Path | None:
    """:func:`download`, or None when the run has no such artifact."""
    try:
        return download(run_id, artifact_path, dest)
    except (mlflow.exceptions.MlflowException, OSError):
        return None
