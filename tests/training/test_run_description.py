"""The run page tells the story: each training run's MLflow description (the tag ``mlflow.note.content``)
holds the headline table with the numbers the run logged beside the champion's (the bundled model while
the registry has none, then the registry's ``champion`` alias), the run's folder and its data per source
and split compared with the champion's; a smoke run's says first that it is one. The contract and the
model card record the per-source hashes."""

from __future__ import annotations

import json
import shutil

import pytest
from tiny_pipeline import make_dataset, tiny_config, tiny_run_settings

from data_pipelines.manifest import manifest_hash, read_manifest, write_manifest
from model.contract import ModelContract
from model.quality_network import QualityNetConfig
from model.quality_verdict import DEFECTS
from training import promotion, tracking
from training.description import DESCRIPTION_FILE
from training.quality.config import QualityTrainConfig
from training.quality.model_card import card_figures as quality_card_figures
from training.quality.train import train as train_quality
from training.urgency.model_card import card_figures as urgency_card_figures
from training.urgency.train import train

NAME = "tiny-urgency"
VIEWS = {
    "as_recorded": "(a) as recorded",
    "complete": "(b) complete",
    "photo_only": "(c) photo only",
    "answered_only": "(d) answered only",
}
METRICS = ("malignancy_auc", "sensitivity_urgent", "specificity_urgent", "malignancy_ece")


def cell(metrics: dict[str, float], key: str) -> str:
    """A figure as the table must show it: point (95 % interval)."""
    value = f"{metrics[key]:.3f}"
    if f"{key}_ci_low" in metrics:
        value += f" ({metrics[f'{key}_ci_low']:.3f}–{metrics[f'{key}_ci_high']:.3f})"
    return value


def table_row(text: str, start: str) -> list[str]:
    """The cells of the table row starting with ``start`` (e.g. ``| (a) as recorded | this run |``)."""
    (line,) = [line for line in text.splitlines() if line.startswith(start)]
    return [c.strip() for c in line.strip().strip("|").split("|")]


def view_rows(text: str, words: str) -> tuple[list[str], list[str], list[str]]:
    """A view's three rows: this run, the champion, the change."""
    lines = text.splitlines()
    (i,) = [n for n, line in enumerate(lines) if line.startswith(f"| {words} | this run |")]
    return tuple([c.strip() for c in line.strip().strip("|").split("|")] for line in lines[i : i + 3])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The bundled champions' contracts and cards (copies of model/artifacts/, no ONNX files needed)."""
    folder = tmp_path_factory.mktemp("artifacts")
    for name in ("urgency.json", "MODEL_CARD.md", "quality.json", "QUALITY_MODEL_CARD.md"):
        shutil.copy2(promotion.BUNDLE_DIR / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory, bundle):
    """A fresh tracking store of the module, the bundle above as model/artifacts/."""
    root = tmp_path_factory.mktemp("store")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setattr(promotion, "BUNDLE_DIR", bundle)
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def first(store, tmp_path_factory):
    """A tiny urgency run while the registry has no champion: compared with the bundled model."""
    root = tmp_path_factory.mktemp("first")
    make_dataset(root)
    return train(tiny_config(root), progress=False)


@pytest.fixture(scope="module")
def second(first, tmp_path_factory):
    """A smoke run after the first run became champion, on the same data and one more train photo."""
    tracking.set_champion(NAME, first.model_version)
    root = tmp_path_factory.mktemp("second")
    manifest = make_dataset(root)
    rows = read_manifest(manifest)
    base = next(r for r in rows if r.split == "train")
    (root / base.path).with_name("extra.jpg").write_bytes((root / base.path).read_bytes())
    extra = base.replace(
        image_id="extra",
        path=str((root / base.path).with_name("extra.jpg").relative_to(root)),
        patient_id="EXTRA",
    )
    write_manifest([*rows, extra], manifest)
    return train(tiny_config(root, smoke=True, limit=12, epochs=1), progress=False)


def test_the_description_holds_the_logged_numbers_and_the_bundled_champions(first, bundle):
    text = tracking.description(first.run_id)
    logged = tracking.run_metrics(first.run_id)
    shipped = urgency_card_figures((bundle / "MODEL_CARD.md").read_text())
    bundled = ModelContract.load(bundle / "urgency.json").version
    assert "smoke run" not in text.lower()
    assert (
        "| view | model | photos | malignancy AUC | sensitivity at URGENT | specificity at URGENT | ECE |"
        in text
    )
    for view, words in VIEWS.items():
        mine, champion, change = view_rows(text, words)
        keys = [f"test_{view}_{metric}" for metric in METRICS]
        assert mine[2:] == [str(int(logged[f"test_{view}_n_images"])), *(cell(logged, k) for k in keys)]
        assert champion[1:] == ["champion", str(int(shipped[f"test_{view}_n_images"]))] + [
            cell(shipped, k) for k in keys
        ]
        assert change[3:] == [f"{logged[k] - shipped[k]:+.3f}" for k in keys]
    assert (
        f"Champion: bundled {bundled} (bundled in {bundle}; the registry has no champion of {NAME})" in text
    )
    # the run's folder, its registration, its artifacts; the whole text as an artifact too
    assert f"- folder: `{first.out_dir.resolve()}`" in text
    assert f"registered as `{NAME}` version {first.model_version}" in text
    assert "`plots/`" in text and "`model/`" in text
    assert (first.out_dir / DESCRIPTION_FILE).read_text() == text
    # the bundled contract has only an overall hash: said so, with the counts its card holds
    assert "the champion recorded only an overall manifest sha256" in text
    assert f"trained on {int(shipped['n_train']):,} images" in text


def test_the_contract_tags_and_card_record_the_data_per_source_and_split(first):
    contract = ModelContract.load(first.onnx_path.with_suffix(".json"))
    rows = read_manifest(contract.provenance["config"]["manifest"])
    by_source = contract.provenance["data_by_source"]
    assert contract.provenance["manifest_hash"] == manifest_hash(rows)
    assert list(by_source) == ["pad_ufes_20"]
    for split in ("train", "test"):
        chosen = [r for r in rows if r.split == split]
        part = by_source["pad_ufes_20"]["splits"][split]
        assert (part["rows"], part["sha256"]) == (len(chosen), manifest_hash(chosen))
    tags = tracking.client().get_run(first.run_id).data.tags
    assert tags["manifest_hash_pad_ufes_20"] == by_source["pad_ufes_20"]["sha256"]
    assert tags["manifest_hash_pad_ufes_20_test"] == by_source["pad_ufes_20"]["splits"]["test"]["sha256"]
    card = first.onnx_path.with_name("MODEL_CARD.md").read_text()
    test_hash = by_source["pad_ufes_20"]["splits"]["test"]["sha256"]
    assert f"| pad_ufes_20 | test | {len([r for r in rows if r.split == 'test'])} |" in card
    assert f"`{test_hash[:16]}…`" in card
    assert contract.provenance["data_vs_champion"]["champion"].startswith("bundled urgency-")
    assert "the champion recorded only an overall manifest sha256" in card


def test_a_smoke_run_says_so_and_compares_with_the_registry_champion(first, second):
    text = tracking.description(second.run_id)
    assert text.splitlines()[0].startswith(
        "**A smoke run: never registered, never promoted** (limit=12, epochs=1"
    )
    assert "not registered (a smoke run)" in text and second.model_version == ""
    assert f"Champion: version {first.model_version} (the registry's `champion` alias of {NAME})" in text
    champion = tracking.run_metrics(first.run_id)
    mine = tracking.run_metrics(second.run_id)
    _, theirs, change = view_rows(text, VIEWS["as_recorded"])
    assert theirs[3] == cell(champion, "test_as_recorded_malignancy_auc")
    assert (
        change[3]
        == f"{mine['test_as_recorded_malignancy_auc'] - champion['test_as_recorded_malignancy_auc']:+.3f}"
    )
    # the data: one more train photo of one more patient; the test split the same
    first_data = ModelContract.load(first.onnx_path.with_suffix(".json")).provenance["data_by_source"]
    train_rows = first_data["pad_ufes_20"]["splits"]["train"]["rows"]
    test_rows = first_data["pad_ufes_20"]["splits"]["test"]["rows"]
    assert (
        f"- pad_ufes_20: differs from the champion's: train {train_rows + 1} images (champion {train_rows}), "
        f"{train_rows + 1} patients (champion {train_rows}), test {test_rows} images (same)"
    ) in text
    assert f"Compared with the champion (version {first.model_version}) when trained:" in text


def test_a_quality_run_shows_validation_figures_beside_the_champions(store, bundle, tmp_path):
    make_dataset(tmp_path, per_class=4)
    cfg = QualityTrainConfig(
        network=QualityNetConfig(
            defects=DEFECTS, backbone="test_efficientnet", pretrained=False, image_size=64, frozen_blocks=1
        ),
        workers=1,
        registered_model="tiny-quality",
        smoke=True,
        limit=12,
        **{**tiny_run_settings(tmp_path), "epochs": 1},
    )
    result = train_quality(cfg, progress=False)
    text = tracking.description(result.run_id)
    logged = tracking.run_metrics(result.run_id)
    shipped = quality_card_figures((bundle / "QUALITY_MODEL_CARD.md").read_text())
    assert text.startswith("**A smoke run: never registered, never promoted**")
    assert "| figure | this run: validation | champion: validation | champion: test | target |" in text
    for key, target in (
        ("retake_auc", ">= 0.95"),
        ("false_retake", "<= 0.1"),
        ("first_instruction", ">= 0.85"),
    ):
        (row,) = [line for line in text.splitlines() if line.startswith("| ") and f"| {target} |" in line]
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert cells[1:4] == [
            cell(logged, f"validation_{key}"),
            cell(shipped, f"validation_{key}"),
            cell(shipped, f"test_{key}"),
        ]
    provenance = json.loads(result.onnx_path.with_suffix(".json").read_text())["provenance"]
    n_train = sum(r.split == "train" for r in read_manifest(cfg.manifest))
    assert provenance["data_by_source"]["pad_ufes_20"]["splits"]["train"]["rows"] == n_train
    assert f"| pad_ufes_20 | train | {n_train} |" in text
    card = (result.out_dir / "model" / "QUALITY_MODEL_CARD.md").read_text()
    assert f"| pad_ufes_20 | train | {n_train} |" in card
    assert "the champion recorded only an overall manifest sha256" in card
