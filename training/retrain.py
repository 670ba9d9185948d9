"""``dermatriage retrain urgency|quality``: a real retrain in one command.

    data build -> train -> evaluation on the test patients through the serving path -> the promotion
    decision (a dry run unless ``--promote``) -> a summary of where everything went.

Each step is the same function its own command runs (``data build``, ``train``, ``evaluate quality``,
``promote``); nothing here decides anything those do not. A smoke retrain (``--smoke``) runs every
step on a few photos; its run is never registered, so the decision is the smoke refusal itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from data_pipelines.build import build_manifest
from training import tracking
from training.promotion import BUNDLE_DIR, PROMOTION_FLOORS, smoke_reasons
from training.runs import RunResult, experiment_name

KINDS = ("urgency", "quality")
#: the seed of the quality model's test defects (as ``evaluate quality``'s default)
QUALITY_TEST_SEED = 2026


@dataclass
class Retrain:
    """What one retrain did and where it went: the lines of its summary."""

    kind: str
    smoke: bool
    promote: bool
    steps: list[tuple[str, str]] = field(default_factory=list)
    decision: str = ""
    promoted: bool = False
    refused: bool = False

    def add(self, what: str, where: str) -> None:
        self.steps.append((what, where))

    def summary(self) -> str:
        width = max(len(what) for what, _ in self.steps) if self.steps else 0
        lines = [f"retrain {self.kind}{' (smoke)' if self.smoke else ''}: summary"]
        lines += [f"  {what:<{width}}  {where}" for what, where in self.steps]
        lines += ["", self.decision]
        return "\n".join(lines)


def _step(echo: Callable[[str], None], number: int, title: str) -> None:
    echo(f"\n[{number}/4] {title}")


def run_retrain(
    kind: str,
    cfg: Any,
    *,
    promote: bool,
    smoke: bool,
    echo: Callable[[str], None] = print,
    bundle_dir: Path = BUNDLE_DIR,
    workers: int = 2,
    progress: bool = True,
) -> Retrain:
    """Retrain ``kind`` with ``cfg`` (a resolved training config). ``promote``: act on the decision
    (otherwise it is a dry run that changes nothing). Returns what happened; never raises for a
    refusal (the caller decides the exit status)."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}: expected one of {', '.join(KINDS)}")
    done = Retrain(kind=kind, smoke=smoke, promote=promote)

    _step(echo, 1, f"data build: {cfg.data_dir} -> {cfg.manifest}")
    built = build_manifest(cfg.data_dir, cfg.manifest, progress=progress)
    echo(f"manifest sha256 {built.hash}")
    for line in _data_vs_champion(kind, cfg, built, bundle_dir):
        echo(f"  {line}")
    done.add("manifest", f"{built.path} (sha256 {built.hash[:16]}…)")

    _step(echo, 2, f"train {kind}" + (" (smoke settings)" if smoke else ""))
    train = _trainer(kind)
    result: RunResult = train(cfg, progress=progress)
    done.add(
        "MLflow run", f"{result.run_id} in experiment {experiment_name(cfg)} ({tracking.tracking_uri()})"
    )
    done.add("run folder", str(result.out_dir))
    done.add("model", str(result.onnx_path))
    done.add(
        "registered",
        f"{cfg.registered_model} version {result.model_version}"
        if result.model_version
        else "no (a smoke run is never registered)",
    )

    _step(echo, 3, "evaluation on the test patients, through the serving path")
    if kind == "urgency":  # the training run itself read the test split once, in every view
        views = result.out_dir / "views.json"
        echo(f"the run evaluated every view: {views}")
        done.add("test views", str(views))
        for key in ("test_malignancy_auc", "test_sensitivity_urgent", "test_specificity_urgent"):
            if key in result.metrics:
                echo(f"  {key:28s} {result.metrics[key]:.3f}")
    else:
        folder = _quality_test_evaluation(cfg, result, workers=workers, progress=progress, echo=echo)
        done.add("test evaluation", str(folder))

    _step(echo, 4, "promotion decision" + ("" if promote else " (dry run: nothing changes)"))
    _decide(done, kind, cfg, result, bundle_dir=bundle_dir, progress=progress)
    done.add("report", f"dermatriage report {result.run_id}")
    return done


def _data_vs_champion(kind: str, cfg: Any, built: Any, bundle_dir: Path) -> list[str]:
    """How the data just built differ from the champion's (as ``data build`` prints it): the
    registry's champion of the run's registered model, else the model bundled in ``bundle_dir``."""
    from data_pipelines.manifest import read_manifest
    from data_pipelines.provenance import BY_SOURCE, OVERALL, data_provenance
    from training.description import champions_compared

    if kind == "urgency":
        from training.urgency.model_card import find_champion
    else:
        from training.quality.model_card import find_champion
    mine = {OVERALL: built.hash, BY_SOURCE: data_provenance(read_manifest(built.path))}
    find = partial(find_champion, cfg.registered_model, bundle_dir=bundle_dir)
    return champions_compared(mine, {kind: find})


def _trainer(kind: str) -> Callable[..., RunResult]:
    if kind == "urgency":
        from training.urgency.train import train
    else:
        from training.quality.train import train
    return train


def _quality_test_evaluation(
    cfg: Any, result: RunResult, *, workers: int, progress: bool, echo: Callable[[str], None]
) -> Path:
    """``evaluate quality`` of the new model on the test patients (limited as the run was)."""
    from training.quality.evaluate import TARGETS, run_evaluation, targets_met

    floors = PROMOTION_FLOORS["quality"]
    report, folder = run_evaluation(
        model_path=result.onnx_path,
        manifest=cfg.manifest,
        data_dir=cfg.data_dir,
        # where the report notebook looks: beside the runs folder, as evaluate quality writes it
        out_dir=cfg.output_dir.parent / "evaluations" / f"{cfg.name}-{result.run_id[:8]}-test",
        seed=QUALITY_TEST_SEED,
        n_boot=100 if cfg.limit else floors["n_bootstrap"],
        workers=workers,
        limit=cfg.limit,
        progress=progress,
        split="test",
    )
    for key, ok in targets_met(report.metrics).items():
        op, target = TARGETS[key]
        echo(f"  target {key} {op} {target}: {'met' if ok else 'NOT met'}")
    return folder


def _decide(
    done: Retrain, kind: str, cfg: Any, result: RunResult, *, bundle_dir: Path, progress: bool
) -> None:
    """The gate's decision on the new run (the smoke refusal for an unregistered smoke run)."""
    if not result.model_version:
        settings = {
            "limit": cfg.limit,
            "epochs": cfg.epochs,
            "n_bootstrap": getattr(cfg, "n_bootstrap", None),
        }
        reasons = smoke_reasons(settings, PROMOTION_FLOORS[kind]) or ["a smoke run"]
        done.refused = True
        done.decision = "\n".join(
            [f"{cfg.registered_model}: not promoted: the run is not registered (a smoke run)"]
            + [f"  {reason}" for reason in reasons]
        )
        return
    options = {"bundle_dir": bundle_dir, "dry_run": not done.promote}
    if kind == "urgency":
        from training.urgency.promote import promote

        decision = promote(cfg.registered_model, result.model_version, progress=progress, **options)
    else:
        from training.quality.promote import promote_quality

        decision = promote_quality(cfg.registered_model, result.model_version, **options)
    done.promoted, done.refused = decision.promoted, not decision.promoted
    done.decision = decision.summary()
    if decision.promoted and not done.promote:
        done.decision += (
            f"\nto promote it: dermatriage promote --name {cfg.registered_model} "
            f"--version {result.model_version}"
        )
