"""``dermatriage data …``, ``dermatriage train …``, ``dermatriage evaluate …``, ``dermatriage
promote``: the data scientists' commands, added to the ``dermatriage`` group by :func:`register`.

Heavy imports (torch, mlflow) happen inside the commands, lazily on purpose (start-up cost), so the
serving install's ``dermatriage`` still starts without them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

#: the repository: default config files are found from any working folder
REPO = Path(__file__).resolve().parents[1]
#: each training pipeline's config class (in its ``config`` module)
CONFIG_CLASS = {"training.urgency": "TrainConfig", "training.quality": "QualityTrainConfig"}


def _need_training_extra(exc: ImportError) -> click.ClickException:
    return click.ClickException(
        f"{exc.name} is missing: install the training extra, pip install -e '.[training]'"
    )


class TrainCommand(click.Command):
    """A training command whose ``--help`` ends with every config key, its default and its meaning,
    generated from the config dataclass (imported only when the help is shown)."""

    pipeline: str = ""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        try:
            from training.config_help import config_keys

            cls = _lazy(f"{self.pipeline}.config:{CONFIG_CLASS[self.pipeline]}")
        except click.ClickException as exc:
            formatter.write_paragraph()
            formatter.write_text(f"(config keys: {exc.message})")
            return
        title = "Config keys and the config class's defaults (the --config YAML may set others)"
        with formatter.section(title):
            formatter.write_dl(
                [(f"{key} = {default}", meaning) for key, default, meaning in config_keys(cls)]
            )
        smoke = " ".join(cls.smoke_overrides)
        with formatter.section("--smoke sets (before your OVERRIDES)"):
            formatter.write_text(smoke)


def _train_command(group: click.Group, name: str, pipeline: str) -> Callable[[Callable[..., Any]], Any]:
    """``group``'s training command ``name`` for ``pipeline`` (its help lists the config's keys)."""
    cls = type(f"{name.capitalize()}TrainCommand", (TrainCommand,), {"pipeline": pipeline})
    return group.command(name, cls=cls)


def _config_and_overrides(default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--config`` (a YAML file, ``default``) and the ``key=value`` OVERRIDES of a training command."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.argument("overrides", nargs=-1)(command)
        return click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, exists=True),
            default=REPO / default,
            show_default=True,
        )(command)

    return decorate


def _lazy(spec: str) -> Any:
    """``"package.module:name"`` -> that object, imported only now (torch and mlflow load only when a
    command that needs them runs)."""
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise _need_training_extra(exc) from exc


def _train(
    pipeline: str,
    config_path: Path,
    overrides: tuple[str, ...],
    figures: Callable[[dict[str, float]], list[str]],
    smoke: bool = False,
) -> Any:
    """Load the config, train, echo the run and its ``figures(metrics)``; returns the run's result.
    ``pipeline``: the package whose ``config`` module names its config class and whose ``train``
    module has ``train(config)``."""
    config_class = _lazy(f"{pipeline}.config:{CONFIG_CLASS[pipeline]}")
    run_training = _lazy(f"{pipeline}.train:train")
    if smoke:  # the smoke settings first: the command's own overrides win
        overrides = (*config_class.smoke_overrides, *overrides)
    try:
        cfg = config_class.load(config_path, overrides)
    except ValueError as exc:  # an unknown key, a value out of range: say what to fix
        raise click.UsageError(str(exc)) from exc
    result = run_training(cfg)
    if result.model_version:
        click.echo(
            f"run {result.run_id}, registered as {cfg.registered_model} version {result.model_version}"
        )
    else:
        click.echo(
            f"smoke run {result.run_id} in experiment dermatriage-{cfg.name}-smoke (not registered, "
            "never promoted)"
        )
    for line in figures(result.metrics):
        click.echo(line)
    click.echo(f"outputs in {result.out_dir}")
    from training.report import default_runs_dir

    runs_dir = result.out_dir.parent  # the config's output_dir
    where = "" if runs_dir == default_runs_dir() else f" --runs-dir {runs_dir}"
    click.echo(f"report: dermatriage report {result.run_id}{where}")
    return result


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
    # lazy, for start-up cost (as every import inside a command here)
    from data_pipelines.build import build_manifest, summarize
    from data_pipelines.locations import default_data_dir
    from data_pipelines.manifest import SOURCES, read_manifest

    result = build_manifest(
        data_dir or default_data_dir(),
        out,
        sources=sources or tuple(SOURCES),
        k_folds=folds,
        seed=seed,
        progress=True,
    )
    rows = read_manifest(result.path)
    click.echo(summarize(rows))
    click.echo(f"manifest {result.path}\nsha256 {result.hash}")
    try:  # the champions' data: only with the training extra (mlflow)
        from data_pipelines.provenance import BY_SOURCE, OVERALL, data_provenance
        from training.description import champions_compared
        from training.quality.model_card import find_champion as quality_champion
        from training.urgency.model_card import find_champion as urgency_champion
    except ImportError:
        click.echo("(install the training extra to compare these data with the champions')")
        return
    click.echo("\ncompared with the champions' data:")
    mine = {OVERALL: result.hash, BY_SOURCE: data_provenance(rows)}
    for line in champions_compared(mine, {"urgency": urgency_champion, "quality": quality_champion}):
        click.echo(f"  {line}")


@data.command("profile")
@click.option(
    "--manifest", type=click.Path(path_type=Path), default=Path("var/data/manifest.csv"), show_default=True
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("model/artifacts/reference_profile.json"),
    show_default=True,
)
@click.option("--source", "sources", multiple=True, help="Rows of these sources (default: pad_ufes_20).")
@click.option("--split", "splits", multiple=True, help="Rows of these splits (default: train).")
def data_profile(manifest: Path, out: Path, sources: tuple[str, ...], splits: tuple[str, ...]) -> None:
    """Profile the training data (answer rates, Fitzpatrick mix, photo size, modality): the reference
    the service's model monitoring compares its own cases with."""
    import json

    from data_pipelines.manifest import manifest_hash, read_manifest
    from data_pipelines.profile import REFERENCE_SOURCES, REFERENCE_SPLITS, profile_rows

    rows = read_manifest(manifest)
    found = profile_rows(
        rows,
        sources=sources or REFERENCE_SOURCES,
        splits=splits or REFERENCE_SPLITS,
        manifest_sha256=manifest_hash(rows),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    click.echo(f"{found['n_lesions']} lesions, {found['n_photos']} photos -> {out}")


@click.group()
def train() -> None:
    """Train a model (one tracked MLflow run)."""


_SMOKE_HELP = (
    "A smoke run: the whole pipeline on a few photos for one epoch, logged to the experiment "
    "dermatriage-<name>-smoke, never registered (see the settings below)."
)


@_train_command(train, "urgency", "training.urgency")
@click.option("--smoke", is_flag=True, help=_SMOKE_HELP)
@_config_and_overrides("training/configs/urgency.yaml")
def train_urgency(smoke: bool, config_path: Path, overrides: tuple[str, ...]) -> None:
    """Train the urgency model. OVERRIDES are key=value pairs, e.g. epochs=5 network.fusion=metablock
    (every key, its default and its meaning: below)."""

    def figures(m: dict[str, float]) -> list[str]:
        keys = (
            "test_malignancy_auc",
            "test_balanced_accuracy",
            "test_sensitivity_urgent",
            "test_specificity_urgent",
        )
        return [
            f"  {key:28s} {m[key]:.3f} (95% CI {m.get(key + '_ci_low', float('nan')):.3f}–"
            f"{m.get(key + '_ci_high', float('nan')):.3f})"
            for key in keys
            if key in m
        ]

    _train("training.urgency", config_path, overrides, figures, smoke)


@_train_command(train, "quality", "training.quality")
@click.option("--smoke", is_flag=True, help=_SMOKE_HELP)
@_config_and_overrides("training/configs/quality.yaml")
def train_quality(smoke: bool, config_path: Path, overrides: tuple[str, ...]) -> None:
    """Train the image-quality model on degraded photos of train patients. OVERRIDES: key=value (every
    key, its default and its meaning: below)."""

    def figures(m: dict[str, float]) -> list[str]:
        return [
            f"  validation_{key:24s} {m.get('validation_' + key, float('nan')):.3f}"
            for key in ("retake_auc", "false_retake", "first_instruction")
        ]

    result = _train("training.quality", config_path, overrides, figures, smoke)
    if result.model_version:
        click.echo(f"next: dermatriage evaluate quality --model {result.onnx_path}")


def _model_option(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--model``: which ``kind`` model file an evaluation reads."""
    return click.option(
        "--model",
        "model_spec",
        default="bundled",
        show_default=True,
        help=f"'bundled' (model/artifacts/{kind}.onnx), a path to an .onnx, or models:/NAME@ALIAS or "
        "models:/NAME/VERSION.",
    )


def _model_path(spec: str, kind: str) -> Path:
    """The model file ``spec`` names (a registry URI resolved in this project's MLflow store)."""
    from model.loading import resolve_model_path

    if spec.startswith("models:/"):
        from training import tracking

        tracking.configure(f"dermatriage-{kind}-evaluation")  # the registry of this project's store
    path = resolve_model_path(spec, cache_dir=Path("var/models"), bundled=kind)
    if path is None:
        raise click.ClickException(f"no {kind} model at {spec!r}")
    return path


@click.group()
def evaluate() -> None:
    """Evaluate a model on the held-out test patients (one tracked MLflow run)."""


@evaluate.command("urgency")
@_model_option("urgency")
@click.option("--changes/--no-changes", default=True, show_default=True, help="Tier under harmless changes.")
@_config_and_overrides("training/configs/urgency.yaml")
def evaluate_urgency(model_spec: str, changes: bool, config_path: Path, overrides: tuple[str, ...]) -> None:
    """An urgency model read through the serving path on the test photos: views (a)-(d), the tier's
    agreement between (a) and (b), and its flips under harmless phone changes with their causes.
    OVERRIDES (key=value) change the config's data, e.g. data_dir=/data."""
    try:  # lazy, for start-up cost: torch and mlflow load only when this command runs
        from dataclasses import replace

        from model.contract import ModelContract
        from training.urgency.config import TrainConfig
        from training.urgency.model_card import served_lines
        from training.urgency.promote import figures_of
    except ImportError as exc:
        raise _need_training_extra(exc) from exc
    path = _model_path(model_spec, "urgency")
    cfg = replace(TrainConfig.load(config_path, overrides), harmless_changes=changes, external_sources=())
    (served,) = figures_of(cfg, [path])
    contract = ModelContract.load(path.with_suffix(".json"))
    click.echo(f"{contract.version}: the {len(served.views['as_recorded'].readings)} test photos as served")
    click.echo("\n".join(served_lines(served, contract.thresholds)))


@evaluate.command("quality")
@_model_option("quality")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Raw data (default: ../shared/data)."
)
@click.option(
    "--manifest", type=click.Path(path_type=Path), default=Path("var/data/manifest.csv"), show_default=True
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Default: var/evaluations/<version>."
)
@click.option("--seed", default=2026, show_default=True, help="Seed of the test defects.")
@click.option(
    "--bootstrap", "n_boot", default=1000, show_default=True, help="Bootstrap resamples (patients)."
)
@click.option("--workers", default=2, show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N photos (smoke runs).")
@click.option(
    "--split",
    type=click.Choice(["test", "validation"]),
    default="test",
    show_default=True,
    help="test: the test patients; validation: the model's own validation fold (train patients).",
)
def evaluate_quality(
    model_spec: str,
    data_dir: Path | None,
    manifest: Path,
    out: Path | None,
    seed: int,
    n_boot: int,
    workers: int,
    limit: int | None,
    split: str,
) -> None:
    """The whole quality path (checks + model) on every test photo untouched and with every defect."""
    try:  # lazy, for start-up cost: torch and mlflow load only when this command runs
        from data_pipelines.build import build_manifest
        from data_pipelines.locations import default_data_dir
        from model.quality_model import QualityModel
        from training.quality.evaluate import TARGETS, run_evaluation, targets_met
    except ImportError as exc:
        raise _need_training_extra(exc) from exc
    data_dir = data_dir or default_data_dir()
    if not manifest.exists():
        build_manifest(data_dir, manifest, progress=True)
    path = _model_path(model_spec, "quality")
    version = QualityModel(path).version
    report, folder = run_evaluation(
        model_path=path,
        manifest=manifest,
        data_dir=data_dir,
        out_dir=out or Path("var/evaluations") / f"{version}-{split}",
        seed=seed,
        n_boot=n_boot,
        workers=workers,
        limit=limit,
        split=split,
    )
    click.echo(report.to_markdown(f"Quality path {version}, {split} photos"))
    for key, ok in targets_met(report.metrics).items():
        op, target = TARGETS[key]
        click.echo(f"  target {key} {op} {target}: {'met' if ok else 'NOT met'}")
    click.echo(f"report and plots in {folder}")


def _bundle_dir_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--bundle-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="The bundled models serving reads (default: model/artifacts/).",
    )(command)


@click.command()
@click.option("--name", default="dermatriage-urgency", show_default=True, help="Registered model.")
@click.option("--version", default=None, help="Candidate version (default: the newest).")
@click.option(
    "--bundle/--no-bundle",
    default=True,
    show_default=True,
    help="Copy a promoted candidate into model/artifacts/ for serving (nothing is copied otherwise).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the decision only: no import, no logged decision, no tag, no alias, no file written.",
)
@_bundle_dir_option
@click.option(
    "--override-gate",
    "override",
    default=None,
    metavar="REASON",
    help="Promote even if the gate refuses, for this written reason (who and why); the refusal, its "
    "table and the reason are logged with the decision. Never for a smoke run.",
)
@click.argument("overrides", nargs=-1)
def promote(
    name: str,
    version: str | None,
    bundle: bool,
    dry_run: bool,
    bundle_dir: Path | None,
    override: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Make a candidate the champion if it is at least as safe as the champion; logs the decision.
    Exits 1 when the candidate is refused (also in a dry run).

    The bundled model is always the baseline: with no champion in the registry it is imported first
    (as 'dermatriage models import-bundled'). Smoke runs (limit set, fewer epochs or bootstrap
    resamples than training.promotion.PROMOTION_FLOORS) are refused. model/artifacts/ changes only
    when a candidate is promoted.

    Urgency models: both are read through the serving path on the test photos (as recorded, with every
    question answered, photo only); refused if sensitivity at URGENT drops on any view, complete-view
    specificity drops, or a Fitzpatrick group with >= 10 malignant photos loses > 0.05 sensitivity.
    OVERRIDES (key=value) change the candidate's logged config, e.g. data_dir=/data on this machine.
    A person may promote a refused candidate with --override-gate "REASON"; the reason is logged.
    Quality models (--name dermatriage-quality) need a test evaluation ('dermatriage evaluate quality')
    meeting the targets and no worse than the champion's."""
    try:  # lazy, for start-up cost: mlflow loads only when this command runs
        from training.promotion import BUNDLE_DIR
        from training.quality.promote import promote_quality
        from training.urgency.promote import promote as run_promotion
    except ImportError as exc:
        raise _need_training_extra(exc) from exc
    options = {
        "bundle": bundle,
        "bundle_dir": bundle_dir or BUNDLE_DIR,
        "override": override,
        "dry_run": dry_run,
    }
    try:
        if "quality" in name:  # the quality model is judged by its test evaluation's targets
            result = promote_quality(name, version, **options)
        else:
            result = run_promotion(name, version, overrides=overrides, **options)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.summary())
    if not result.promoted:
        raise click.ClickException(
            f"{name} version {result.candidate} {'would be' if dry_run else 'was'} refused: "
            + "; ".join(result.reasons)
        )


@click.command()
@click.argument("kind", type=click.Choice(["urgency", "quality"]))
@click.option(
    "--smoke", is_flag=True, help="Every step on a few photos (the train command's --smoke settings)."
)
@click.option(
    "--promote",
    "do_promote",
    is_flag=True,
    help="Act on the decision: make the run champion and bundle it if the gate accepts it (default: a dry "
    "run that changes nothing). With --promote a refusal exits 1.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Default: training/configs/<kind>.yaml.",
)
@_bundle_dir_option
@click.option("--workers", default=2, show_default=True, help="Processes drawing the quality test defects.")
@click.argument("overrides", nargs=-1)
def retrain(
    kind: str,
    smoke: bool,
    do_promote: bool,
    config_path: Path | None,
    bundle_dir: Path | None,
    workers: int,
    overrides: tuple[str, ...],
) -> None:
    """A real retrain in one command: data build -> train -> evaluation on the test patients through
    the serving path -> the promotion decision (a dry run unless --promote) -> where everything went.
    OVERRIDES: key=value, as for 'train' (they win over --smoke)."""
    pipeline = f"training.{kind}"
    config_class = _lazy(f"{pipeline}.config:{CONFIG_CLASS[pipeline]}")
    run_retrain = _lazy("training.retrain:run_retrain")
    bundle = _lazy("training.promotion:BUNDLE_DIR")
    if smoke:
        overrides = (*config_class.smoke_overrides, *overrides)
    try:
        cfg = config_class.load(config_path or REPO / f"training/configs/{kind}.yaml", overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    done = run_retrain(
        kind,
        cfg,
        promote=do_promote,
        smoke=smoke,
        echo=click.echo,
        bundle_dir=bundle_dir or bundle,
        workers=workers,
    )
    click.echo("\n" + done.summary())
    if do_promote and done.refused:
        raise click.ClickException(f"{cfg.registered_model}: the new run was refused (see above)")


@click.group()
def models() -> None:
    """The model registry: the bundled models and the champions."""


@models.command("import-bundled")
@click.option(
    "--name",
    "names",
    multiple=True,
    default=("dermatriage-urgency", "dermatriage-quality"),
    show_default=True,
    help="Registered models to import the bundled model of (repeatable).",
)
@_bundle_dir_option
@click.option("--force", is_flag=True, help="Import even when the registry has a champion already.")
def import_bundled(names: tuple[str, ...], bundle_dir: Path | None, force: bool) -> None:
    """Register the bundled models (model/artifacts/: ONNX, contract, card) in the MLflow registry with
    their cards' test figures and the 'champion' alias, so a new run is compared with what serving
    ships. Skipped for a model whose registry has a champion (unless --force)."""
    try:
        from training import tracking
        from training.promotion import BUNDLE_DIR, PROMOTIONS
        from training.quality.promote import import_bundled as import_quality
        from training.urgency.promote import import_bundled as import_urgency
    except ImportError as exc:
        raise _need_training_extra(exc) from exc
    tracking.configure(PROMOTIONS)
    for name in names:
        champion = tracking.champion(name)
        if champion is not None and not force:
            click.echo(f"{name}: champion is version {champion.version} already (--force to import anyway)")
            continue
        run_import = import_quality if "quality" in name else import_urgency
        version = run_import(name, bundle_dir or BUNDLE_DIR)
        if version is None:
            raise click.ClickException(f"{name}: nothing bundled in {bundle_dir or BUNDLE_DIR}")
        click.echo(f"{name}: the bundled model is version {version}, alias champion")


def register(main: click.Group) -> None:
    """Add the training commands to the ``dermatriage`` group (the data commands into the service's own
    ``data`` group, beside ``export-labels``)."""
    existing = main.commands.get(data.name)
    if isinstance(existing, click.Group):
        for command in data.commands.values():
            existing.add_command(command)
    else:
        main.add_command(data)
    main.add_command(train)
    main.add_command(promote)
    main.add_command(retrain)
    main.add_command(models)
    main.add_command(evaluate)
    from training.report import report  # light: nbclient, nbconvert and mlflow load when it runs

    main.add_command(report)
