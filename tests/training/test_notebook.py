"""The evaluation notebook runs top to bottom against a tiny model's run."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient
from tiny_pipeline import make_dataset, tiny_config

from training.config import REPO_ROOT
from training.urgency.train import train


def test_evaluation_notebook_executes(tmp_path, monkeypatch):
    make_dataset(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = train(tiny_config(tmp_path, epochs=1), progress=False)
    monkeypatch.setenv("DERMATRIAGE_RUN_DIR", str(run.out_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(REPO_ROOT / "notebooks" / "evaluation.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO_ROOT / "notebooks")}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "Malignancy ROC AUC" in text and run.run_id in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # the run's plots and the two error galleries
