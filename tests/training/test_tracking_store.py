"""One tracking store: the database and the artifacts together (``var/mlflow/`` by default, or beside
the SQLite file ``MLFLOW_TRACKING_URI`` names); nothing is written in the folder a command is started
from, nor at the repository root (MLflow's own defaults are ``./mlflow.db`` and ``./mlruns``)."""

from __future__ import annotations

from tiny_pipeline import make_dataset, tiny_config

from training import tracking
from training.config import REPO_ROOT
from training.urgency.train import train


def test_the_default_store_keeps_everything_under_var_mlflow(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DERMATRIAGE_MLFLOW_ARTIFACTS", raising=False)
    uri = tracking.tracking_uri()
    assert uri == f"sqlite:///{REPO_ROOT / 'var' / 'mlflow' / 'mlflow.db'}"
    assert tracking.artifact_root(uri) == (REPO_ROOT / "var" / "mlflow" / "artifacts").as_uri()


def test_artifacts_sit_beside_a_sqlite_store_and_a_server_keeps_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv("DERMATRIAGE_MLFLOW_ARTIFACTS", raising=False)
    assert (
        tracking.artifact_root(f"sqlite:///{tmp_path / 'a' / 'm.db'}")
        == (tmp_path / "a" / "artifacts").as_uri()
    )
    monkeypatch.chdir(tmp_path)
    assert tracking.artifact_root("sqlite:///rel/m.db") == (tmp_path / "rel" / "artifacts").as_uri()
    assert tracking.artifact_root("http://mlflow.internal:5000") is None
    monkeypatch.setenv("DERMATRIAGE_MLFLOW_ARTIFACTS", str(tmp_path / "elsewhere"))
    assert tracking.artifact_root("http://mlflow.internal:5000") == (tmp_path / "elsewhere").as_uri()


def test_a_run_started_from_another_folder_writes_only_into_its_store(tmp_path, monkeypatch):
    data = tmp_path / "data"
    make_dataset(data)
    store = tmp_path / "store"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    root_before = sorted(p.name for p in REPO_ROOT.iterdir())

    tracking.client().search_experiments()  # a client before any configure(): the same store
    run = train(tiny_config(data, epochs=1), progress=False)

    assert list(cwd.iterdir()) == []  # no ./mlruns, no ./mlflow.db
    assert sorted(p.name for p in REPO_ROOT.iterdir()) == root_before
    artifacts = store / "artifacts"
    found = {p.relative_to(artifacts).parts for p in artifacts.rglob("urgency.onnx")}
    assert ("dermatriage-urgency", run.run_id, "artifacts", "model", "urgency.onnx") in found
    experiment = tracking.client().get_experiment_by_name("dermatriage-urgency")
    assert experiment.artifact_location == f"{artifacts.as_uri()}/dermatriage-urgency"
    assert sorted(p.name for p in store.iterdir()) == ["artifacts", "mlflow.db"]
