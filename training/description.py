"""The story of a training run, at the top of its MLflow page: the run's description (the run tag
``mlflow.note.content``, markdown), also logged as the artifact ``description.md``.

It holds the headline table beside the champion's figures (each model's own: ``run_table`` in
``training.urgency.model_card`` — the test split through the serving path in every view — and in
``training.quality.model_card`` — the validation fold, with the champion's validation and test
figures), where the run's folder is, what it logged, and its data (per source and split, and how they
differ from the champion's: ``data_pipelines.provenance``). A smoke run's description starts by saying
it is one. The champion is the registry's ``champion`` alias of the run's registered model or, with
none there, the bundled model (``training.promotion.find_champion``). Everything but :func:`publish`
(which puts the text on the run) is a pure function of metrics and provenance dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from data_pipelines.provenance import compare_provenance, data_section
from training import tracking
from training.promotion import Champion
from training.runs import Run, RunResult

#: the artifact holding the whole description (the tag is cut at MLflow's limit on tag values)
DESCRIPTION_FILE = "description.md"
#: MLflow's limit on a tag value (longer values are cut)
TAG_LIMIT = 8000
#: the counts a champion's figures may hold (a run's metrics, a bundled card's): key -> words
COUNTS = {
    "n_train": "trained on",
    "n_out_of_fold": "out-of-fold",
    "n_test": "test",
    "n_train_photos": "trained on",
    "validation_n_photos": "validation",
    "test_n_photos": "test",
}


def figure(metrics: Mapping[str, float], key: str) -> str:
    """``0.915 (0.863–0.955)``, ``0.915`` without an interval, ``—`` when not logged."""
    value = metrics.get(key)
    if value is None or value != value:
        return "—"
    low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    return f"{value:.3f}" + (f" ({low:.3f}–{high:.3f})" if low is not None and high is not None else "")


def change(mine: Mapping[str, float], theirs: Mapping[str, float], key: str) -> str:
    """This run's point estimate minus the champion's, signed; ``—`` when either is missing."""
    a, b = mine.get(key), theirs.get(key)
    if a is None or b is None or a != a or b != b:
        return "—"
    return f"{a - b:+.3f}"


def count(metrics: Mapping[str, float], key: str) -> str:
    """A logged count, ``—`` when not logged."""
    value = metrics.get(key)
    return "—" if value is None else f"{int(value):,}"


def compared_with(provenance: Mapping[str, Any], champion: Champion) -> list[str]:
    """How data (``provenance``: a contract's, or its ``manifest_hash`` and ``data_by_source``) differ
    from the ``champion``'s, with the counts its figures hold where its contract has no per-source
    record."""
    counts = {words: champion.figures[key] for key, words in COUNTS.items() if key in champion.figures}
    return compare_provenance(provenance, champion.provenance, counts)


def data_vs_champion(provenance: Mapping[str, Any], champion: Champion | None) -> dict[str, Any] | None:
    """What a contract records of how its run's data differed from the champion's (None with no
    champion): ``{"champion": label, "lines": [...]}``."""
    if champion is None:
        return None
    return {"champion": champion.label, "lines": compared_with(provenance, champion)}


def champions_compared(
    provenance: Mapping[str, Any], finders: Mapping[str, Callable[..., Champion | None]]
) -> list[str]:
    """Per model kind, how data (``manifest_hash`` and ``data_by_source``) differ from its champion's:
    ``finders``: kind -> its ``find_champion`` (the registry's champion where there is a store, else
    the bundled model). What ``dermatriage data build`` prints."""
    registry = tracking.has_store()
    lines = []
    for kind, find in finders.items():
        champion = find(registry=registry)
        if champion is None:
            lines.append(f"{kind}: no champion (none in the registry, nothing bundled)")
            continue
        lines.append(f"{kind} champion {champion.heading()}:")
        lines += [f"  - {line}" for line in compared_with(provenance, champion)]
    return lines


def smoke_line(cfg: Any) -> str:
    settings = ", ".join(f"{k}={getattr(cfg, k)}" for k in ("limit", "epochs") if hasattr(cfg, k))
    return (
        f"**A smoke run: never registered, never promoted** ({settings}: part of the data and too little "
        "training to judge a model by; its figures only show the pipeline ran)."
    )


def run_description(
    *,
    title: str,
    table: Sequence[str],
    champion: Champion | None,
    champion_note: str,
    provenance: Mapping[str, Any],
    run_lines: Sequence[str],
    smoke: str | None = None,
) -> str:
    """The whole markdown: the smoke line (a smoke run), the headline table under ``title``, which
    champion it is compared with, the data (``provenance``: the contract's, with the comparison with
    the champion), and ``run_lines`` (folder, registration, artifacts)."""
    lines = [smoke, ""] if smoke else []
    lines += [f"### {title}", "", *table, ""]
    if champion is None:
        lines.append("No champion to compare with: the registry has none and nothing is bundled.")
    else:
        lines.append(f"Champion: {champion.heading()}. {champion_note}")
    lines += ["", "### Data", "", *data_section(provenance), "", "### Run", "", *run_lines, ""]
    return "\n".join(lines)


def run_lines(run: Run, model_version: str) -> list[str]:
    registered = (
        f"registered as `{run.cfg.registered_model}` version {model_version}"
        if model_version
        else "not registered (a smoke run)"
    )
    artifacts = ", ".join(f"`{name}`" for name in tracking.artifact_names(run.run_id))
    return [
        f"- folder: `{run.out_dir.resolve()}`",
        f"- {registered}; git `{run.tags['git_sha']}`, seed {run.cfg.seed}",
        f"- plots and full reports are this run's artifacts: {artifacts}",
    ]


def publish(
    run: Run,
    *,
    title: str,
    table: Sequence[str],
    champion: Champion | None,
    champion_note: str,
    provenance: Mapping[str, Any],
    model_version: str,
) -> str:
    """The run's description (:func:`run_description`, headed by :func:`smoke_line` for a smoke run),
    written to the run's folder, logged as :data:`DESCRIPTION_FILE` and set on the run (cut at
    MLflow's limit on a tag, with a pointer to the artifact); returns the text set."""
    text = run_description(
        title=title,
        table=table,
        champion=champion,
        champion_note=champion_note,
        provenance=provenance,
        run_lines=run_lines(run, model_version),
        smoke=smoke_line(run.cfg) if run.smoke else None,
    )
    path = run.out_dir / DESCRIPTION_FILE
    path.write_text(text)
    tracking.log_artifact(path)
    if len(text) > TAG_LIMIT:
        note = f"\n\n… cut here: the whole description is the artifact `{DESCRIPTION_FILE}`."
        text = text[: TAG_LIMIT - len(note)] + note
    tracking.set_description(run.run_id, text)
    return text


@dataclass(frozen=True)
class Story:
    """What one pipeline's run descriptions share: the headline table's title and the note on where
    its champion's figures come from."""

    title: str
    champion_note: str

    def register_and_publish(
        self,
        run: Run,
        metrics: dict[str, float],
        table: Sequence[str],
        champion: Champion | None,
        contract: Any,
    ) -> RunResult:
        """The run's end: its model registered (:meth:`Run.register`; never a smoke run's), then its
        description (``table`` beside the ``champion``, the exported ``contract``'s provenance)
        published naming the registered version."""
        result = run.register(metrics)
        publish(
            run,
            title=self.title,
            table=table,
            champion=champion,
            champion_note=self.champion_note,
            provenance=contract.provenance,
            model_version=result.model_version,
        )
        return result
