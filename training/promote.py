"""Promotion: move the ``champion`` alias to a candidate only when it is no worse than the current
champion on the test split (malignancy AUC and sensitivity at its urgent threshold, see
``training.evaluate.compare``), log the comparison either way, and bundle the champion for serving.

Every decision is an MLflow run of its own in the experiment ``dermatriage-promotions`` (candidate,
champion, the comparison table, the decision), and is tagged on the candidate's model version.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow

from training import tracking
from training.config import REPO_ROOT
from training.evaluate import EvaluationReport, compare
from training.train import MODEL_FOLDER, REPORT_FILE

BUNDLE_DIR = REPO_ROOT / "model" / "artifacts"


@dataclass(frozen=True)
class Promotion:
    name: str
    candidate: str
    champion_before: str | None
    promoted: bool
    reasons: tuple[str, ...]
    table: str
    bundled_to: Path | None

    def summary(self) -> str:
        head = (
            f"{self.name} version {self.candidate}: "
            + ("PROMOTED to champion" if self.promoted else "not promoted")
            + (
                f" (champion was version {self.champion_before})"
                if self.champion_before
                else " (no champion yet)"
            )
        )
        lines = [head, *[f"  {r}" for r in self.reasons]]
        if self.table:
            lines += ["", self.table]
        if self.bundled_to:
            lines.append(f"champion bundled into {self.bundled_to}")
        return "\n".join(lines)


def _report(run_id: str, workdir: Path) -> EvaluationReport:
    path = tracking.download(run_id, REPORT_FILE, workdir / run_id)
    return EvaluationReport.from_dict(json.loads(path.read_text()), prefix="test_")


def promote(
    name: str,
    version: str | None = None,
    *,
    bundle: bool = True,
    bundle_dir: Path = BUNDLE_DIR,
    auc_tolerance: float | None = None,
) -> Promotion:
    tracking.configure("dermatriage-promotions")
    client = tracking.client()
    if version is None:
        versions = client.search_model_versions(f"name='{name}'")
        if not versions:
            raise ValueError(f"no versions of {name!r} are registered")
        version = str(max(int(v.version) for v in versions))
    candidate = client.get_model_version(name, version)
    champion = tracking.champion(name)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cand_report = _report(candidate.run_id, workdir)
        if champion is None:
            promoted, reasons, table = True, ("no champion yet: the first candidate becomes champion",), ""
        elif champion.version == candidate.version:
            promoted, reasons, table = True, ("the candidate is the champion already",), ""
        else:
            kwargs = {} if auc_tolerance is None else {"auc_tolerance": auc_tolerance}
            comparison = compare(cand_report, _report(champion.run_id, workdir), **kwargs)
            promoted, reasons, table = comparison.no_worse, comparison.reasons, comparison.to_markdown()

        with mlflow.start_run(run_name=f"promote {name} v{version}"):
            mlflow.log_params(
                {
                    "model": name,
                    "candidate_version": version,
                    "champion_version": str(champion.version) if champion else "none",
                }
            )
            mlflow.log_metrics({"promoted": float(promoted)})
            mlflow.log_text("\n".join([*reasons, "", table]), "comparison.md")
        client.set_model_version_tag(
            name,
            version,
            "promotion",
            ("promoted" if promoted else "rejected") + ": " + "; ".join(reasons)[:4000],
        )
        if promoted:
            tracking.set_champion(name, version)

        bundled = None
        if bundle:
            winner = candidate if promoted else champion
            if winner is not None:
                bundled = _bundle(winner.run_id, workdir, bundle_dir)
    return Promotion(
        name=name,
        candidate=version,
        champion_before=str(champion.version) if champion else None,
        promoted=promoted,
        reasons=tuple(reasons),
        table=table,
        bundled_to=bundled,
    )


def _bundle(run_id: str, workdir: Path, bundle_dir: Path) -> Path:
    """Copy the champion's ONNX, contract and model card where serving finds them."""
    folder = tracking.download(run_id, MODEL_FOLDER, workdir / "bundle")
    bundle_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        shutil.copy2(path, bundle_dir / path.name)
    return bundle_dir
