"""The urgency evaluation notebook runs top to bottom against a tiny model's run, chosen by model kind
and run id (interactively: DERMATRIAGE_RUN_ID, DERMATRIAGE_RUNS_DIR); without a run id, or for a run
of the other kind, it stops saying what to do, never opening some other run. (The quality notebook
and the HTML export: test_report.py.)"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tiny_pipeline import make_dataset, tiny_config

from training.report import NOTEBOOKS_DIR, RunNotFound, locate_run, notebook_path
from training.urgency.train import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebook")
    make_dataset(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    yield train(tiny_config(root, epochs=1), progress=False)
    mp.undo()


def execute(kind: str, monkeypatch, **env: str):
    """The ``kind`` notebook executed as someone opening it would, its parameters from ``env``."""
    for name in ("DERMATRIAGE_REPORT_KIND", "DERMATRIAGE_RUN_ID", "DERMATRIAGE_RUNS_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(notebook_path(kind), as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}
    ).execute()
    return notebook


def test_the_parameters_cell_is_tagged_for_papermill():
    for kind in ("urgency", "quality"):
        notebook = nbformat.read(notebook_path(kind), as_version=4)
        (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert all(name in cell.source for name in ("KIND", "RUN_ID", "RUNS_DIR"))


def test_the_urgency_notebook_executes_for_the_run_named(run, monkeypatch):
    notebook = execute(
        "urgency",
        monkeypatch,
        DERMATRIAGE_RUN_ID=run.run_id,
        DERMATRIAGE_RUNS_DIR=str(run.out_dir.parent),
    )
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "Malignancy ROC AUC" in text and f"urgency run {run.run_id}" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # the run's plots and the two error galleries


def test_without_a_run_id_it_stops_listing_the_runs_of_its_kind(run, monkeypatch):
    with pytest.raises(CellExecutionError) as failed:
        execute("urgency", monkeypatch, DERMATRIAGE_RUNS_DIR=str(run.out_dir.parent))
    assert failed.value.ename == "RunNotFound"
    assert "No run id given" in failed.value.evalue
    assert f"The urgency runs in {run.out_dir.parent}, newest first:" in failed.value.evalue
    assert run.run_id in failed.value.evalue


def test_a_run_of_the_other_kind_is_never_opened(run):
    """What the notebooks call to find their run (no kernel needed to see it refuse)."""
    with pytest.raises(RunNotFound, match=f"Run {run.run_id} is an urgency run, not a quality run"):
        locate_run("quality", run.run_id, run.out_dir.parent)
    assert locate_run("urgency", run.run_id, run.out_dir.parent) == run.out_dir
