"""``dermatriage report RUN_ID``: the run's evaluation notebook (urgency or quality, read from the run's
folder) executed and exported as one HTML file with its figures and plots, attached to the MLflow run;
a run of the other kind, an unknown run and a failing cell are refused with a message saying which."""

from __future__ import annotations

import json
import re
import shutil

import nbformat
import pytest
from click.testing import CliRunner
from tiny_pipeline import make_dataset, tiny_config, tiny_run_settings

from model.quality_network import QualityNetConfig
from model.quality_verdict import DEFECTS
from training import tracking
from training.cli import train
from training.quality.config import QualityTrainConfig
from training.quality.evaluate import run_evaluation
from training.report import REPORT_NAME, notebook_path, report

IMAGE = re.compile(r"<img[^>]*src=\"data:image/png;base64,")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny urgency run and one tiny quality run, trained through ``dermatriage train`` into
    ``<root>/runs`` (tracked in a throw-away store), and a test evaluation of the quality model where
    ``dermatriage evaluate quality`` would put it beside the runs (``<root>/evaluations``)."""
    root = tmp_path_factory.mktemp("report")
    make_dataset(root, per_class=4)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    tiny_config(root, epochs=1).save(root / "urgency.yaml")
    QualityTrainConfig(
        network=QualityNetConfig(
            defects=DEFECTS, backbone="test_efficientnet", pretrained=False, image_size=64, frozen_blocks=1
        ),
        pool_per_photo=2,
        workers=1,
        registered_model="tiny-quality",
        **{**tiny_run_settings(root), "epochs": 1},
    ).save(root / "quality.yaml")
    found = {}
    for kind in ("urgency", "quality"):
        result = CliRunner().invoke(train, [kind, "--config", str(root / f"{kind}.yaml")])
        assert result.exit_code == 0, result.output
        # the training command ends with the report command of its run
        (line,) = [x for x in result.output.splitlines() if x.startswith("report: ")]
        match = re.fullmatch(r"report: dermatriage report (\w+) --runs-dir (\S+)", line)
        assert match and match[2] == str(root / "runs"), line
        found[kind] = match[1]
    version = json.loads((root / "runs" / found["quality"] / "model" / "quality.json").read_text())["version"]
    run_evaluation(
        model_path=root / "runs" / found["quality"] / "model" / "quality.onnx",
        manifest=root / "manifest.csv",
        data_dir=root,
        out_dir=root / "evaluations" / f"{version}-test",
        seed=5,
        n_boot=20,
        workers=1,
        limit=3,
        progress=False,
    )
    yield root, found
    mp.undo()


def invoke(root, *args):
    return CliRunner().invoke(report, [*args, "--runs-dir", str(root / "runs")])


def code_cells(kind: str) -> list[str]:
    """The sources of the code cells the report runs: the notebook's, the injected parameters second."""
    notebook = nbformat.read(notebook_path(kind), as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    return [cells[0], "# Parameters", *cells[1:]]


def test_an_urgency_report_holds_the_run_its_figures_and_plots(runs):
    root, found = runs
    run_id = found["urgency"]
    folder = root / "runs" / run_id
    result = invoke(root, run_id)
    assert result.exit_code == 0, result.output
    out = folder / REPORT_NAME
    assert f"report: {out}" in result.output  # where the HTML went, next to the run
    n = len(code_cells("urgency"))
    assert f"cell {n}/{n}" in result.stderr  # the progress bar went through every cell
    html = out.read_text()
    assert f"Urgency run {run_id}" in html and f"urgency run {run_id}" in html
    summary = json.loads((folder / "summary.json").read_text())["metrics"]
    assert "Malignancy ROC AUC" in html and f"{summary['test_malignancy_auc']:.3f}" in html
    assert "The views side by side" in html and "as recorded" in html
    # the views chart, the run's five plots and the two galleries of worst errors, embedded
    assert len(IMAGE.findall(html)) >= 8
    for png in (folder / "plots").glob("*.png"):
        assert png.stem in html
    assert f"attached to MLflow run {run_id}" in result.output
    assert REPORT_NAME in [a.path for a in tracking.client().list_artifacts(run_id)]


def test_a_quality_report_holds_its_validation_figures_plots_and_evaluation(runs, tmp_path):
    root, found = runs
    run_id = found["quality"]
    folder = root / "runs" / run_id
    out = tmp_path / "quality.html"
    result = invoke(root, run_id, "--kind", "quality", "--out", str(out), "--no-log")
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.output and "attached" not in result.output
    assert not (folder / REPORT_NAME).exists()  # --out, not the run's folder
    html = out.read_text()
    assert f"Quality run {run_id}" in html and f"quality run {run_id}" in html
    m = json.loads((folder / "summary.json").read_text())["metrics"]
    for key, label in (
        ("retake_auc", "retake ROC AUC, moderate/severe vs untouched (service)"),
        ("false_retake", "false-retake rate on untouched photos (service)"),
        ("first_instruction", "first instruction names the applied defect (moderate/severe)"),
    ):
        assert re.search(rf"{re.escape(label)}</td>\s*<td>{m['validation_' + key]:.3f}<", html), key
    for defect in DEFECTS:  # each defect's row with its validation AUC
        assert re.search(rf"<td>{defect}</td>\s*<td>{m[f'validation_auc_{defect}']:.3f}", html), defect
    # the test evaluation beside the runs: its figures with their 95% intervals and its three plots
    evaluation = next((root / "evaluations").iterdir())
    e = json.loads((evaluation / "quality_evaluation.json").read_text())["metrics"]
    low, high = e["retake_auc_model_ci_low"], e["retake_auc_model_ci_high"]
    assert f"{e['retake_auc_model']:.3f} ({low:.3f}–{high:.3f})" in html
    for png in evaluation.glob("*.png"):
        assert png.stem in html
    for png in folder.rglob("*.png"):  # any plot the run wrote in its folder
        assert str(png.relative_to(folder)) in html
    assert len(IMAGE.findall(html)) >= 4  # the per-defect AUC chart and the evaluation's plots
    assert "Model card: quality" in html


@pytest.mark.parametrize(("kind", "other"), [("urgency", "quality"), ("quality", "urgency")])
def test_a_run_of_the_other_kind_is_refused(runs, kind, other):
    root, found = runs
    result = invoke(root, found[kind], "--kind", other)
    assert result.exit_code == 1
    article = {"urgency": "an", "quality": "a"}
    assert (
        f"Run {found[kind]} is {article[kind]} {kind} run, not {article[other]} {other} run" in result.output
    )
    assert f"dermatriage report {found[kind]}" in result.output
    assert "executing" not in result.output  # refused before the notebook runs


def test_an_unknown_run_is_refused_with_the_runs_there(runs):
    root, found = runs
    result = invoke(root, "0123abc")
    assert result.exit_code == 1
    assert f"No run folder {root / 'runs' / '0123abc'}" in result.output
    assert "--runs-dir" in result.output
    for kind, run_id in found.items():
        assert f"The {kind} runs in {root / 'runs'}, newest first:" in result.output
        assert f"  {run_id}  " in result.output
    # the kind given: only that kind's runs
    result = invoke(root, "0123abc", "--kind", "quality")
    assert (
        result.exit_code == 1 and found["quality"] in result.output and found["urgency"] not in result.output
    )


def test_an_unfinished_run_is_refused(runs):
    root, found = runs
    folder = root / "runs" / "unfinished"
    shutil.copytree(root / "runs" / found["urgency"], folder)
    (folder / "summary.json").unlink()
    try:
        result = invoke(root, "unfinished")
        assert result.exit_code == 1
        assert "Run unfinished did not finish (no summary.json" in result.output
    finally:
        shutil.rmtree(folder)


def test_a_failing_cell_exits_non_zero_naming_its_error(runs):
    root, found = runs
    folder = root / "runs" / "broken"
    shutil.copytree(root / "runs" / found["urgency"], folder)
    (folder / REPORT_NAME).unlink(missing_ok=True)
    (folder / "views.json").unlink()  # what the views cell reads
    try:
        result = invoke(root, "broken", "--no-log")
        assert result.exit_code == 1
        cells = code_cells("urgency")
        number = 1 + next(i for i, source in enumerate(cells) if "views.json" in source)
        assert f"Error: cell {number}/{len(cells)} failed: FileNotFoundError:" in result.output
        assert "views.json" in result.output
        assert not (folder / REPORT_NAME).exists()
    finally:
        shutil.rmtree(folder)
