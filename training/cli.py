"""``dermatriage data …``, ``dermatriage train …``, ``dermatriage promote``: the data scientists'
commands. Heavy imports (torch, mlflow) happen inside the commands, so the serving install's
``dermatriage`` still starts without them."""

from __future__ import annotations

from pathlib import Path

import click


def _need_training_extra(exc: ImportError) -> click.ClickException:
    return click.ClickException(
        f"{exc.name} is missing: install the training extra, pip install -e '.[training]'"
    )


@click.group()
def data() -> None:
    """Raw data -> manifests."""


@data.command("build")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Raw data (default: $DERMATRIAGE_DATA_DIR or ../shared/data).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("var/data/manifest.csv"), show_default=True
)
@click.option("--folds", default=5, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--source", "sources", multiple=True, help="Only these sources (repeatable; default: all).")
def data_build(data_dir: Path | None, out: Path, folds: int, seed: int, sources: tuple[str, ...]) -> None:
    """Build the manifest of every source: one row per image, patient-grouped folds."""
    from data_pipelines.build import SOURCES, build_manifest, default_data_dir, summarize
    from data_pipelines.manifest import read_manifest

    result = build_manifest(
        data_dir or default_data_dir(),
        out,
        sources=sources or tuple(SOURCES),
        k_folds=folds,
        seed=seed,
        progress=True,
    )
    click.echo(summarize(read_manifest(result.path)))
    click.echo(f"manifest {result.path}\nsha256 {result.hash}")


@click.group()
def train() -> None:
    """Train a model (one tracked MLflow run)."""


@train.command("urgency")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True),
    default=Path("training/configs/urgency.yaml"),
    show_default=True,
)
@click.argument("overrides", nargs=-1)
def train_urgency(config_path: Path, overrides: tuple[str, ...]) -> None:
    """Train the urgency model. OVERRIDES are key=value pairs, e.g. epochs=5 network.fusion=metablock."""
    try:
        from training.config import TrainConfig
        from training.train import train as run_training
    except ImportError as exc:
        raise _need_training_extra(exc) from exc
    cfg = TrainConfig.load(config_path, overrides)
    result = run_training(cfg)
    m = result.metrics
    click.echo(f"run {result.run_id}, registered as {cfg.registered_model} version {result.model_version}")
    for key in (
        "test_malignancy_auc",
        "test_balanced_accuracy",
        "test_sensitivity_urgent",
        "test_specificity_urgent",
    ):
        if key in m:
            click.echo(
                f"  {key:28s} {m[key]:.3f} (95% CI {m.get(key + '_ci_low', float('nan')):.3f}–"
                f"{m.get(key + '_ci_high', float('nan')):.3f})"
            )
    click.echo(f"outputs in {result.out_dir}")


@click.command()
@click.option("--name", default="dermatriage-urgency", show_default=True, help="Registered model.")
@click.option("--version", default=None, help="Candidate version (default: the newest).")
@click.option(
    "--bundle/--no-bundle",
    default=True,
    show_default=True,
    help="Copy the champion into model/artifacts/ for serving.",
)
def promote(name: str, version: str | None, bundle: bool) -> None:
    """Make a candidate the champion if it is no worse on the test split; logs the comparison."""
    try:
        from training.promote import promote as run_promotion
    except ImportError as exc:
        raise _need_training_extra(exc) from exc
    result = run_promotion(name, version, bundle=bundle)
    click.echo(result.summary())


def register(main: click.Group) -> None:
    main.add_command(data)
    main.add_command(train)
    main.add_command(promote)
