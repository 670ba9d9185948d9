"""``dermatriage report RUN_ID``: a training run's evaluation notebook, executed and exported as one
HTML file next to the run (and attached to its MLflow run when the tracking store has that run).

The notebooks, ``notebooks/urgency_evaluation.ipynb`` and ``notebooks/quality_evaluation.ipynb``, take
a run by model kind and run id (their "parameters" cell: ``KIND``, ``RUN_ID``, ``RUNS_DIR``) and find
its folder with :func:`locate_run`, which says what to do when there is none: never "the newest
folder".

Light at import (the notebooks and ``training.cli`` import it): yaml, nbclient, nbconvert and mlflow
load only inside the functions that need them.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

#: the model kinds a run can be of (a training config's ``name``), each with its notebook
KINDS = ("urgency", "quality")
#: where the notebooks are; they run with this folder as their working directory
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
#: the report's file name in the run folder
REPORT_NAME = "report.html"


class RunNotFound(LookupError):
    """No usable run folder for a kind and run id; the message says what to do."""


def default_runs_dir() -> Path:
    """The training configs' default ``output_dir``: ``var/runs`` of the repository."""
    from training.config import REPO_ROOT

    return REPO_ROOT / "var" / "runs"


def notebook_path(kind: str) -> Path:
    return NOTEBOOKS_DIR / f"{kind}_evaluation.ipynb"


@dataclass(frozen=True)
class RunFolder:
    """One folder ``<runs dir>/<run id>`` a training run writes."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str | None:
        """The run's model kind: its saved config's ``name`` (or, before the config is saved, its
        exported contract's); None when the folder has neither."""
        import yaml

        config = self.path / "config.yaml"
        try:
            if config.is_file():
                data = yaml.safe_load(config.read_text())
                return str(data["name"]) if isinstance(data, dict) and data.get("name") else None
            for contract in sorted((self.path / "model").glob("*.json")):
                data = json.loads(contract.read_text())
                if isinstance(data, dict) and data.get("name"):
                    return str(data["name"])
        except (OSError, ValueError, yaml.YAMLError):  # a folder being written, or not a run's
            return None
        return None

    @property
    def summary(self) -> dict[str, Any] | None:
        """``summary.json`` (written when the run finished), or None."""
        path = self.path / "summary.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def line(self) -> str:
        """``<run id>  <when>  <registered version or smoke run>`` (or that it did not finish)."""
        summary = self.summary
        if summary is None:
            return f"  {self.run_id}  (did not finish: no summary.json)"
        when = datetime.fromtimestamp((self.path / "summary.json").stat().st_mtime)
        version = summary.get("model_version")
        registered = f"registered version {version}" if version else "not registered (smoke run)"
        return f"  {self.run_id}  {when:%Y-%m-%d %H:%M}  {registered}"


def runs_of_kind(kind: str, runs_dir: Path) -> list[RunFolder]:
    """The run folders of ``kind`` under ``runs_dir``, the most recently finished first."""
    found = [RunFolder(p) for p in runs_dir.iterdir() if p.is_dir()] if runs_dir.is_dir() else []

    def finished(run: RunFolder) -> float:
        summary = run.path / "summary.json"
        return summary.stat().st_mtime if summary.is_file() else run.path.stat().st_mtime

    return sorted((r for r in found if r.kind == kind), key=finished, reverse=True)


def available(kinds: tuple[str, ...], runs_dir: Path) -> str:
    """The runs of each of ``kinds`` in ``runs_dir`` as lines, or how to make one."""
    parts = []
    for kind in kinds:
        found = runs_of_kind(kind, runs_dir)
        if found:
            parts.append(
                f"The {kind} runs in {runs_dir}, newest first:\n" + "\n".join(r.line() for r in found)
            )
        else:
            parts.append(f"There is no {kind} run in {runs_dir}: train one with `dermatriage train {kind}`.")
    return "\n".join(parts)


def _a(kind: str) -> str:
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def find_run(run_id: str | None, runs_dir: Path, kind: str | None = None) -> RunFolder:
    """The finished run ``run_id`` under ``runs_dir``, of ``kind`` (None: either, read from the folder).
    :class:`RunNotFound`, saying what to do, when no run id is given (with the runs there), when the
    folder is missing, is of the other kind, or holds an unfinished run."""
    if kind is not None and kind not in KINDS:
        raise RunNotFound(f"unknown model kind {kind!r}: expected one of {', '.join(KINDS)}")
    kinds = (kind,) if kind else KINDS
    if not run_id:
        raise RunNotFound(
            "No run id given. Set RUN_ID in the parameters cell (or DERMATRIAGE_RUN_ID), or run "
            f"`dermatriage report RUN_ID`.\n{available(kinds, runs_dir)}"
        )
    run = RunFolder(runs_dir / run_id)
    if not run.path.is_dir():
        given = Path(run_id)
        if given.is_dir():  # a folder, not a run id
            raise RunNotFound(
                f"{run_id} is a folder: RUN_ID is the run id, its folder's name; here "
                f"`dermatriage report {given.resolve().name} --runs-dir {given.resolve().parent}`."
            )
        raise RunNotFound(
            f"No run folder {run.path}. A run's folder is <output_dir>/<run id> on the machine that "
            "trained it (the training config's output_dir, default var/runs): copy it here, or name "
            "the folder it is in (--runs-dir; in the notebook RUNS_DIR or DERMATRIAGE_RUNS_DIR).\n"
            f"{available(kinds, runs_dir)}"
        )
    found = run.kind
    if found is None:
        raise RunNotFound(
            f"{run.path} holds no readable config.yaml or exported model: it is not a training run."
        )
    if found not in KINDS:
        raise RunNotFound(f"Run {run_id} is of model kind {found!r}: reports exist for {', '.join(KINDS)}.")
    if kind is not None and found != kind:
        raise RunNotFound(
            f"Run {run_id} is {_a(found)} run, not {_a(kind)} run: use `dermatriage report {run_id}` "
            f"(the kind is read from the run) or notebooks/{found}_evaluation.ipynb."
        )
    if run.summary is None:
        raise RunNotFound(
            f"Run {run_id} did not finish (no summary.json in {run.path}): training failed or is "
            f"still running.\n{available((found,), runs_dir)}"
        )
    return run


def locate_run(kind: str, run_id: str | None, runs_dir: Path | str | None = None) -> Path:
    """The folder of the finished ``kind`` run ``run_id`` under ``runs_dir`` (default: ``var/runs``);
    :class:`RunNotFound` (see :func:`find_run`) otherwise. What the notebooks call."""
    return find_run(run_id, Path(runs_dir) if runs_dir else default_runs_dir(), kind).path


def parameters_cell(kind: str, run_id: str, runs_dir: Path) -> Any:
    """The cell that sets the notebook's parameters, as papermill injects it (tag
    ``injected-parameters``, after the cell tagged ``parameters``)."""
    import nbformat

    source = f"# Parameters\nKIND = {kind!r}\nRUN_ID = {run_id!r}\nRUNS_DIR = {str(runs_dir)!r}\n"
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})


def with_parameters(notebook: Any, kind: str, run_id: str, runs_dir: Path) -> Any:
    """``notebook`` with the parameters cell injected after its "parameters" cell (at the top when it
    has none)."""
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    at = tagged[0] + 1 if tagged else 0
    notebook.cells.insert(at, parameters_cell(kind, run_id, runs_dir))
    return notebook


class CellFailed(Exception):
    """A cell of the notebook raised: which one, its error and its traceback (plain text)."""

    def __init__(self, number: int, total: int, ename: str, evalue: str, traceback: str) -> None:
        super().__init__(f"cell {number}/{total} failed: {ename}: {evalue}")
        self.number, self.total, self.ename, self.evalue, self.traceback = (
            number,
            total,
            ename,
            evalue,
            traceback,
        )


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def execute(notebook: Any, *, timeout: int, progress: bool = True) -> Any:
    """Run every code cell of ``notebook`` in a python3 kernel, working directory ``notebooks/``, with a
    progress bar (cell i/n); :class:`CellFailed` on the first cell that raises, runs past ``timeout``
    seconds or kills the kernel."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm import tqdm

    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()]
    number = {index: n for n, index in enumerate(code, start=1)}
    bar = tqdm(total=len(code), desc="notebook", unit="cell", disable=not progress)
    current = [0]  # the number of the cell running

    def started(cell: Any, cell_index: int) -> None:
        current[0] = number.get(cell_index, 0)
        bar.set_description(f"cell {current[0]}/{len(code)}")

    def executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        bar.update(1)

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
        on_cell_execute=started,
        on_cell_executed=executed,
    )
    try:  # the kernel's own start-up chatter (not the cells' output) kept off the terminal
        client.execute(stderr=subprocess.DEVNULL)
    except CellExecutionError as exc:
        raise CellFailed(current[0], len(code), exc.ename, exc.evalue, _ANSI.sub("", str(exc))) from exc
    except CellTimeoutError as exc:
        why = f"it ran past the timeout of {timeout} s"
        raise CellFailed(current[0], len(code), "CellTimeoutError", why, str(exc)) from exc
    except DeadKernelError as exc:
        raise CellFailed(current[0], len(code), "DeadKernelError", str(exc), str(exc)) from exc
    finally:
        bar.close()
    return notebook


def to_html(notebook: Any, title: str) -> str:
    """The executed notebook as one self-contained HTML page (images embedded) for a reader: the
    text, tables and plots, without the code (the notebook itself holds it)."""
    from nbconvert import HTMLExporter

    notebook.metadata["title"] = title
    exporter = HTMLExporter(embed_images=True, exclude_input=True, exclude_input_prompt=True)
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(notebook)
    return body


@click.command("report")
@click.argument("run_id")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="The run's model kind (default: read from its folder); a run of the other kind is refused.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"The HTML file (default: {REPORT_NAME} in the run's folder).",
)
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The folder of the run folders: the training config's output_dir (default: var/runs).",
)
@click.option("--timeout", default=600, show_default=True, help="Seconds one notebook cell may run.")
@click.option(
    "--log/--no-log",
    default=True,
    show_default=True,
    help="Attach the HTML to the MLflow run when the tracking store has that run.",
)
def report(
    run_id: str, kind: str | None, out: Path | None, runs_dir: Path | None, timeout: int, log: bool
) -> None:
    """Execute the evaluation notebook of the training run RUN_ID (urgency or quality) and export it
    as one HTML file: its figures, tables and plots. Exits 1 when a cell fails, naming its error."""
    try:
        import nbformat
    except ImportError as exc:
        raise click.ClickException(
            f"{exc.name} is missing: install the training extra, pip install -e '.[training]'"
        ) from exc
    runs_dir = (runs_dir or default_runs_dir()).resolve()  # the notebook runs in notebooks/
    try:
        run = find_run(run_id, runs_dir, kind)
    except RunNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    kind = str(run.kind)
    run_dir = run.path
    out = out or run_dir / REPORT_NAME
    notebook = with_parameters(nbformat.read(notebook_path(kind), as_version=4), kind, run_id, runs_dir)
    click.echo(f"{kind} run {run_id}: executing {notebook_path(kind).relative_to(NOTEBOOKS_DIR.parent)}")
    try:
        execute(notebook, timeout=timeout)
    except CellFailed as exc:
        click.echo(exc.traceback, err=True)
        raise click.ClickException(f"{exc} (no report written)") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_html(notebook, f"{kind.capitalize()} run {run_id}"), encoding="utf-8")
    click.echo(f"report: {out}")
    if log:
        from training import tracking

        why_not = tracking.log_artifact_to(run_id, out)
        click.echo(f"  attached to MLflow run {run_id}" if why_not is None else f"  not attached: {why_not}")
