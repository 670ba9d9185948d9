"""Promotion of an urgency model: move the ``champion`` alias to a candidate only when it is no
worse than the current champion on the test split (malignancy AUC and sensitivity at its urgent
threshold, see ``training.evaluation.comparison.compare``), log the comparison either way, and
bundle the champion (ONNX, contract, model card) for serving.

Every decision is an MLflow run of its own in the experiment ``dermatriage-promotions`` (candidate,
champion, the comparison table, the decision), and is tagged on the candidate's model version
(:mod:`training.promotion`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from training import promotion, tracking
from training.evaluation.comparison import compare
from training.evaluation.report import EvaluationReport
from training.promotion import BUNDLE_DIR, PromotionResult
from training.urgency.train import REPORT_FILE


@dataclass(frozen=True)
class Promotion(PromotionResult):
    champion_before: str | None = None
    table: str = ""

    def headline(self) -> str:
        before = self.champion_before
        return super().headline() + (f" (champion was version {before})" if before else " (no champion yet)")

    def details(self) -> list[str]:
        return ["", self.table] if self.table else []


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
    version, candidate = promotion.candidate(name, version)
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

        promotion.record(
            name,
            version,
            promoted=promoted,
            reasons=reasons,
            params={"champion_version": str(champion.version) if champion else "none"},
            text="\n".join([*reasons, "", table]),
            artifact="comparison.md",
        )

        bundled = None
        if bundle:
            winner = candidate if promoted else champion
            if winner is not None:
                bundled = promotion.copy_model_folder(winner.run_id, workdir / "bundle", bundle_dir)
    return Promotion(
        name=name,
        candidate=version,
        champion_before=str(champion.version) if champion else None,
        promoted=promoted,
        reasons=tuple(reasons),
        table=table,
        bundled_to=bundled,
    )
