"""The test evaluation of an exported urgency model through the serving path: every view
(``training.urgency.views``), the tier under harmless changes, the out-of-domain images, and the
cross-validation members averaged (the teacher the served network stands in for) for comparison.
Also what a promotion compares: ``serving_figures`` judges any model file the same way."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model import features
from model.contract import Calibration
from model.loading import load_quality_model
from model.triage.engine import TriageEngine
from model.urgency_model import UrgencyModel
from training import tracking
from training.evaluation.metrics import malignancy_auc
from training.urgency import plots
from training.urgency.answers import MODEL_QUESTIONS, AnswerDistribution
from training.urgency.calibration import calibrated
from training.urgency.data import serving_tensors
from training.urgency.served import HARMLESS_CHANGES, Reading, flip_causes, read_served, tier_flip_rate
from training.urgency.trunk import top_log_probs
from training.urgency.views import ViewResult, answered_rows, judge_view, tier_agreement, view_answers


@dataclass
class ServedEvaluation:
    views: dict[str, ViewResult] = field(default_factory=dict)
    complete_draws: list[ViewResult] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)  # tier agreement as recorded vs each complete draw
    flips: dict[str, float] = field(default_factory=dict)
    #: per change: why the tier flipped (``served.flip_causes``)
    flip_causes: dict[str, dict[str, float]] = field(default_factory=dict)
    external: dict[str, float] = field(default_factory=dict)
    teacher_auc: float | None = None
    torch_vs_served: float | None = None  # max abs diff, trained network (torch) vs served readings

    def metrics(self, prefix: str = "test_") -> dict[str, float]:
        out: dict[str, float] = {}
        for result in self.views.values():
            out.update(result.metrics(prefix))
        # the as-recorded view under the names every run and promotion has used
        out.update(self.views["as_recorded"].report.metrics_dict(prefix=prefix))
        for name in ("malignancy_auc", "sensitivity_urgent", "specificity_urgent", "malignancy_ece"):
            values = [d.report.metrics[name].point for d in self.complete_draws]
            out[f"{prefix}complete_{name}_draws_min"] = float(np.nanmin(values))
            out[f"{prefix}complete_{name}_draws_max"] = float(np.nanmax(values))
        if self.agreement:
            out[f"{prefix}tier_agreement_recorded_complete"] = float(min(self.agreement))
        for name, rate in self.flips.items():
            out[f"{prefix}tier_flip_rate_{name}"] = rate
        for name, causes in self.flip_causes.items():
            for cause, share in causes.items():
                out[f"{prefix}tier_flip_rate_{name}_{cause}"] = share
        if self.flips:
            out[f"{prefix}tier_flip_rate"] = float(np.mean(list(self.flips.values())))
        out.update({f"external_{k}": v for k, v in self.external.items()})
        if self.teacher_auc is not None:
            out[f"{prefix}teacher_ensemble_malignancy_auc"] = self.teacher_auc
        if self.torch_vs_served is not None:
            out[f"{prefix}torch_vs_onnx_max_abs_diff"] = self.torch_vs_served
        return {k: v for k, v in out.items() if v == v}  # nan dropped

    def by_view(self) -> dict[str, list[ViewResult]]:
        """Each view's results: one, or one per draw for the complete view."""
        out = {name: [result] for name, result in self.views.items()}
        if self.complete_draws:
            out["complete"] = list(self.complete_draws)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "views": {name: r.report.to_dict(prefix="") for name, r in self.views.items()},
            "tiers": {name: r.tiers.__dict__ for name, r in self.views.items()},
            "complete_draws": [r.report.to_dict(prefix="") for r in self.complete_draws],
            "tier_agreement_recorded_complete": self.agreement,
            "tier_flip_rates": self.flips,
            "tier_flip_causes": self.flip_causes,
            "external": self.external,
            "teacher_ensemble_malignancy_auc": self.teacher_auc,
        }


def engine_for(onnx_path: Path, *, threads: int = 1) -> TriageEngine:
    """The engine serving runs with this urgency model and the bundled quality model."""
    quality = load_quality_model("bundled", cache_dir=Path("var/models"), threads=threads)
    return TriageEngine(urgency_model=UrgencyModel(onnx_path, threads=threads), quality_model=quality)


def serving_figures(
    cfg, onnx_path: Path, split, distribution: AnswerDistribution, *, progress: bool = True
) -> ServedEvaluation:
    """Views (a) as recorded, (b) complete (``cfg.complete_draws`` draws), (c) photo only and (d)
    answered only of the test photos, read by ``onnx_path`` through the serving path, judged at the
    model's own thresholds."""
    engine = engine_for(onnx_path, threads=cfg.threads)
    thresholds = engine.urgency_model.model.contract.thresholds
    labels, malignant = cfg.network.labels, cfg.network.malignant
    rows = split.test
    result = ServedEvaluation()

    def judge(view: str, readings: Sequence[Reading], view_rows=rows, seed: int = 0) -> ViewResult:
        return judge_view(
            view,
            view_rows,
            readings,
            thresholds,
            labels=labels,
            malignant=malignant,
            n_boot=cfg.n_bootstrap,
            seed=seed,
        )

    def read(answers, desc: str, change=None) -> list[Reading]:
        return read_served(engine, rows, answers, cfg.data_dir, change=change, desc=desc, progress=progress)

    recorded = read(view_answers(rows, "as_recorded", distribution), "as recorded")
    result.views["as_recorded"] = judge("as_recorded", recorded)
    for draw in range(cfg.complete_draws):
        answers = view_answers(rows, "complete", distribution, seed=cfg.seed + 1000 + draw)
        readings = read(answers, f"complete, draw {draw + 1}")
        result.complete_draws.append(judge("complete", readings, seed=cfg.seed + draw))
        result.agreement.append(tier_agreement(recorded, readings))
    result.views["complete"] = result.complete_draws[0]
    result.views["photo_only"] = judge(
        "photo_only", read(view_answers(rows, "photo_only", distribution), "photo only")
    )
    kept = answered_rows(rows)
    if kept:
        result.views["answered_only"] = judge(
            "answered_only", [recorded[i] for i in kept], view_rows=[rows[i] for i in kept]
        )
    if cfg.harmless_changes:
        for name, change in HARMLESS_CHANGES.items():
            changed = read(view_answers(rows, "as_recorded", distribution), name, change)
            result.flips[name] = tier_flip_rate(recorded, changed)
            result.flip_causes[name] = flip_causes(recorded, changed, thresholds["urgent"])
    if split.external:
        ext = read_served(
            engine,
            split.external,
            [r.questionnaire for r in split.external],
            cfg.data_dir,
            desc="external",
            progress=progress,
        )
        y = np.asarray([r.malignant for r in split.external], dtype=int)
        p = np.asarray([x.malignancy for x in ext])
        result.external = {
            "n": float(len(ext)),
            "malignancy_auc": malignancy_auc(y, p) if 0 < y.sum() < len(y) else float("nan"),
            "flagged_urgent": float(np.mean([x.tier.severity >= 2 for x in ext])),
            "sensitivity_urgent": float(np.mean(p[y == 1] >= thresholds["urgent"]))
            if y.any()
            else float("nan"),
        }
    return result


def evaluate_served(
    cfg,
    onnx_path: Path,
    split,
    distribution,
    thresholds: Mapping[str, float],
    *,
    net,
    members,
    calibration: Calibration,
    trunk,
) -> ServedEvaluation:
    """``serving_figures`` of the run's model; the trained network (torch) on the same test photos
    as recorded, which the served readings must equal; and the cross-validation members' average
    (the teacher, not served) for comparison."""
    result = serving_figures(cfg, onnx_path, split, distribution)
    rows = split.test
    malignant = cfg.network.malignant_indices
    fmaps = trunk.of(serving_tensors(rows, cfg.image_roots(), cfg.network.image_input(), desc="test photos"))
    q = features.encode_many([r.questionnaire for r in rows], reads=MODEL_QUESTIONS)
    probs, _ = calibrated(top_log_probs(net, fmaps, q), malignant, calibration)
    served = np.asarray([x.diagnosis for x in result.views["as_recorded"].readings])
    result.torch_vs_served = float(np.abs(probs - served).max()) if len(served) else None
    teacher = np.mean(
        [calibrated(top_log_probs(m, fmaps, q), malignant, calibration)[1] for m in members], axis=0
    )
    y = np.asarray([r.malignant for r in rows], dtype=int)
    result.teacher_auc = malignancy_auc(y, teacher) if 0 < y.sum() < len(y) else None
    return result


def log_evaluation(
    out_dir: Path, served: ServedEvaluation, thresholds: Mapping[str, float], report_file: str
) -> None:
    """Plots, predictions and reports of the test views, logged to the run."""
    folder = out_dir / "plots"
    folder.mkdir(exist_ok=True)
    recorded = served.views["as_recorded"]
    paths = [
        plots.views_roc_plot(served.views, thresholds, folder / "test_roc.png"),
        plots.views_calibration_plot(served.views, folder / "test_calibration.png"),
        plots.confusion_matrix_plot(recorded.predictions, folder / "test_confusion_matrix.png"),
        plots.subgroup_plot(recorded.report, "fitzpatrick", folder / "test_by_fitzpatrick.png"),
        plots.subgroup_plot(recorded.report, "body_site", folder / "test_by_body_site.png"),
    ]
    for path in paths:
        tracking.log_artifact(path, "plots")
    recorded.predictions.to_csv(out_dir / "test_predictions.csv")
    tracking.log_artifact(out_dir / "test_predictions.csv", "predictions")
    markdown = "\n\n".join(
        r.report.to_markdown(f"Test split, {name.replace('_', ' ')}") for name, r in served.views.items()
    )
    (out_dir / "evaluation.md").write_text(markdown)
    (out_dir / report_file).write_text(recorded.report.to_json(prefix="test_"))
    (out_dir / "views.json").write_text(json.dumps(served.to_json(), indent=1, default=float))
    for name in ("evaluation.md", report_file, "views.json"):
        tracking.log_artifact(out_dir / name)
