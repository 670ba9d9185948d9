"""Judge the whole quality path (classical checks + learned model, combined as serving combines them)
on photos with known defects.

    dermatriage evaluate quality [--model bundled|PATH|models:/NAME@champion] [--limit N]

Test set: every PAD-UFES-20 photo of a test patient untouched, and with every defect at every severity
(``data_pipelines.degrade``, fixed seed). Figures, each with a 95 % patient-level bootstrap interval:

* retake ROC AUC: the service's quality score (``1 - score``) separating moderate/severe defects from
  untouched photos (also for the model alone and the classical checks alone, for comparison);
* false-retake rate: untouched photos sent back;
* first instruction names the defect: among moderate/severe photos, how often the first defect the
  service names (and so its first instruction) is the one applied (an accepted photo counts as a miss);
* per defect: ROC AUC of its output (that defect at moderate/severe vs untouched), detection rate and
  first-instruction rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_pipelines.manifest import manifest_hash, read_manifest
from model.quality_model import QualityModel
from training import tracking
from training.config import PHOTOS
from training.evaluation.bootstrap import clusters_of, percentile_interval, resampled
from training.evaluation.metrics import auc_weighted, weighted_rate
from training.quality.data import CLEAN, Sample, evaluation_set, load_photos
from training.quality.plots import defect_confusion_plot, detection_plot, roc_plot
from training.quality.scored import Scored, score

TARGETS = {"retake_auc": (">=", 0.95), "false_retake": ("<=", 0.10), "first_instruction": (">=", 0.85)}


@dataclass
class QualityEvaluation:
    metrics: dict[str, float] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)  # per defect

    def to_markdown(self, title: str) -> str:
        m = self.metrics

        def fmt(key: str) -> str:
            v = m.get(key, float("nan"))
            lo, hi = m.get(f"{key}_ci_low"), m.get(f"{key}_ci_high")
            return f"{v:.3f}" + (f" ({lo:.3f}–{hi:.3f})" if lo is not None else "")

        lines = [
            f"## {title}",
            "",
            f"{int(m['n_photos'])} photos, {int(m['n_samples'])} samples "
            "(untouched + every defect x severity)",
            "",
            "| figure | value (95 % CI) | target |",
            "| --- | --- | --- |",
        ]
        for key, label in (
            ("retake_auc", "retake ROC AUC, moderate/severe vs untouched (service)"),
            ("false_retake", "false-retake rate on untouched photos (service)"),
            ("first_instruction", "first instruction names the applied defect (moderate/severe)"),
            ("detection_moderate_severe", "moderate/severe photos sent back"),
            ("detection_mild", "mild photos sent back"),
            ("retake_auc_model", "retake ROC AUC, the model alone"),
            ("retake_auc_classical", "retake ROC AUC, the classical checks alone"),
            ("false_retake_classical", "false-retake rate, the classical checks alone"),
        ):
            target = TARGETS.get(key)
            lines.append(f"| {label} | {fmt(key)} | {'' if target is None else ' '.join(map(str, target))} |")
        lines += [
            "",
            "| defect | AUC vs untouched | sent back (mod/sev) | first instruction (mod/sev) "
            "| sent back (mild) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['defect']} | {r['auc']:.3f} | {r['detection']:.1%} | {r['first']:.1%} "
                f"| {r['mild']:.1%} |"
            )
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps({"metrics": self.metrics, "defects": self.rows}, indent=2, sort_keys=True)


def _headline(s: Scored, W: np.ndarray) -> dict[str, np.ndarray]:
    clean = s.defect == CLEAN
    bad = s.severity >= 2
    both = clean | bad
    return {
        "retake_auc": auc_weighted(bad[both], s.score[both], W[:, both]),
        "retake_auc_model": auc_weighted(bad[both], s.model[both], W[:, both]),
        "retake_auc_classical": auc_weighted(bad[both], s.classical[both], W[:, both]),
        "false_retake": weighted_rate(clean, s.retake, W),
        "false_retake_classical": weighted_rate(clean, s.classical > 0.5, W),
        "first_instruction": weighted_rate(bad, s.first == s.defect, W),
        "detection_moderate_severe": weighted_rate(bad, s.retake, W),
        "detection_mild": weighted_rate(s.severity == 1, s.retake, W),
    }


def evaluate_scored(s: Scored, *, n_boot: int, seed: int) -> QualityEvaluation:
    ones = np.ones((1, len(s.defect)))
    point = {k: float(v[0]) for k, v in _headline(s, ones).items()}
    metrics: dict[str, float] = dict(point)
    if n_boot:
        n_patients, cluster = clusters_of(s.patients)
        values = resampled(lambda W: _headline(s, W), n_patients, cluster, n=n_boot, seed=seed)
        for k, v in values.items():
            interval = percentile_interval(v, point[k], 0.05, n_boot)
            metrics[f"{k}_ci_low"], metrics[f"{k}_ci_high"] = interval.low, interval.high
    clean = s.defect == CLEAN
    rows = []
    for j, d in enumerate(s.defects):
        bad = (s.defect == d) & (s.severity >= 2)
        mild = (s.defect == d) & (s.severity == 1)
        both = clean | bad
        row = {
            "defect": d,
            "auc": float(auc_weighted(bad[both], s.defect_scores[both, j], ones[:, both])[0]),
            "detection": float(s.retake[bad].mean()) if bad.any() else float("nan"),
            "first": float((s.first[bad] == d).mean()) if bad.any() else float("nan"),
            "mild": float(s.retake[mild].mean()) if mild.any() else float("nan"),
        }
        rows.append(row)
        metrics.update({f"{k}_{d}": v for k, v in row.items() if k != "defect"})
    metrics["n_samples"] = float(len(s.defect))
    metrics["n_photos"] = float(clean.sum())
    return QualityEvaluation(metrics=metrics, rows=rows)


def score_samples(
    samples: list[Sample], model: QualityModel, *, n_boot: int, seed: int, progress: bool = True
) -> QualityEvaluation:
    return evaluate_scored(score(samples, model, progress=progress), n_boot=n_boot, seed=seed)


def meets(value: float, op: str, target: float) -> bool:
    """``value`` reaches ``target`` in the direction ``op`` (``">="`` or ``"<="``)."""
    return value >= target if op == ">=" else value <= target


def targets_met(metrics: dict[str, float]) -> dict[str, bool]:
    return {k: meets(metrics[k], op, t) for k, (op, t) in TARGETS.items() if k in metrics}


def run_evaluation(
    *,
    model_path: Path,
    manifest: Path,
    data_dir: Path,
    out_dir: Path,
    seed: int,
    n_boot: int,
    workers: int,
    limit: int | None = None,
    progress: bool = True,
    split: str = "test",
) -> tuple[QualityEvaluation, Path]:
    """The test split (or the model's own validation fold of train patients, ``split="validation"``,
    to refresh its validation figures) through the whole quality path; writes report, plots; logs an
    MLflow run."""
    model = QualityModel(model_path)
    rows = [r for r in read_manifest(manifest) if r.source == PHOTOS]
    if split == "test":
        rows = [r for r in rows if r.split == "test"]
    elif split == "validation":
        fold = model.model.contract.provenance["config"]["validation_fold"]
        rows = [r for r in rows if r.split == "train" and r.fold == fold]
    else:
        raise ValueError(f"split {split!r}: expected test or validation")
    rows = rows[:limit] if limit else rows
    photos = load_photos(rows, data_dir, desc=f"{split} photos", progress=progress)
    spec = model.model.contract.image
    samples = evaluation_set(
        photos,
        seed=seed,
        size=spec.size,
        resize=spec.resize,
        workers=workers,
        desc=f"{split} set (defects drawn)",
        progress=progress,
    )
    scored = score(samples, model, progress=progress)
    report = evaluate_scored(scored, n_boot=n_boot, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "quality_evaluation.md").write_text(
        report.to_markdown(f"Quality path {model.version}, {split} photos")
    )
    (out_dir / "quality_evaluation.json").write_text(report.to_json())
    plots = [
        roc_plot(scored, out_dir / "quality_roc.png"),
        defect_confusion_plot(scored, out_dir / "quality_first_defect_confusion.png"),
        detection_plot(scored, out_dir / "quality_detection_by_severity.png"),
    ]
    tags = {
        "model_version": model.version,
        "manifest_hash": manifest_hash(manifest),
        "git_sha": tracking.git_sha(),
    }
    config = {"model": str(model_path), "seed": seed, "n_boot": n_boot, "limit": limit, "split": split}
    with tracking.run(
        "dermatriage-quality-evaluation", run_name=f"evaluate-{model.version}", config=config, tags=tags
    ):
        tracking.log_metrics({f"{split}_{k}": v for k, v in report.metrics.items() if np.isfinite(v)})
        for path in [out_dir / "quality_evaluation.md", out_dir / "quality_evaluation.json", *plots]:
            tracking.log_artifact(path)
    return report, out_dir
