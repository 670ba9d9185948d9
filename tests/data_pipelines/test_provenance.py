"""Data provenance a data scientist can read: counts and hashes per source and split, and how data differ
from a champion's (also one whose contract predates per-source records); ``data build`` prints it."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from click.testing import CliRunner

from data_pipelines.manifest import ManifestRow, manifest_hash
from data_pipelines.provenance import (
    BY_SOURCE,
    COMPARED,
    OVERALL,
    compare_provenance,
    data_provenance,
    data_section,
    hash_tags,
)


def provenance(rows: list[ManifestRow]) -> dict:
    """As a contract records it."""
    return {OVERALL: manifest_hash(rows), BY_SOURCE: data_provenance(rows)}


def one_more(rows: list[ManifestRow], source: str = "pad_ufes_20", split: str = "train") -> list[ManifestRow]:
    """``rows`` and a copy of one of ``source``'s ``split`` rows, of a new patient."""
    base = next(r for r in rows if r.source == source and r.split == split)
    extra = base.replace(image_id=base.image_id + "_extra", patient_id=base.patient_id + "_extra")
    return [*rows, extra]


def test_counts_and_hashes_per_source_and_split(built):
    _, rows = built
    found = data_provenance(rows)
    assert list(found) == ["pad_ufes_20", "pad_ufes_20_masked", "ham10000"]  # manifest order
    by_pair = Counter((r.source, r.split) for r in rows)
    for source, record in found.items():
        of_source = [r for r in rows if r.source == source]
        assert record["rows"] == len(of_source)
        assert record["sha256"] == manifest_hash(of_source)
        assert sum(p["rows"] for p in record["splits"].values()) == record["rows"]
        for split, part in record["splits"].items():
            chosen = [r for r in of_source if r.split == split]
            assert part["rows"] == by_pair[(source, split)] == len(chosen)
            assert part["patients"] == len({r.patient_id for r in chosen})
            assert part["sha256"] == manifest_hash(chosen)
    assert set(found["ham10000"]["splits"]) == {"train"}
    tags = hash_tags(found)
    assert tags["manifest_hash_pad_ufes_20_test"] == found["pad_ufes_20"]["splits"]["test"]["sha256"]
    assert tags["manifest_hash_ham10000"] == found["ham10000"]["sha256"]


def test_identical_data_are_the_same(built):
    _, rows = built
    assert compare_provenance(provenance(rows), provenance(list(reversed(rows)))) == [
        f"the same data as the champion's (manifest sha256 `{manifest_hash(rows)[:12]}…`)"
    ]


def test_a_row_added_names_its_source_split_and_counts(built):
    _, rows = built
    champion = provenance(rows)
    mine = provenance(one_more(rows))
    n_train = sum(r.source == "pad_ufes_20" and r.split == "train" for r in rows)
    n_test = sum(r.source == "pad_ufes_20" and r.split == "test" for r in rows)
    patients = len({r.patient_id for r in rows if r.source == "pad_ufes_20" and r.split == "train"})

    lines = compare_provenance(mine, champion)
    assert lines[0].startswith("the data differ from the champion's")
    assert mine[OVERALL][:12] in lines[0] and champion[OVERALL][:12] in lines[0]
    (pad,) = [line for line in lines if line.startswith("pad_ufes_20:")]
    assert pad == (
        f"pad_ufes_20: differs from the champion's: train {n_train + 1} images (champion {n_train}), "
        f"{patients + 1} patients (champion {patients}), test {n_test} images (same)"
    )
    assert any(line.startswith("pad_ufes_20_masked: same as the champion's") for line in lines)
    assert any(line.startswith("ham10000: same as the champion's") for line in lines)


def test_same_counts_other_content_new_and_gone_sources(built):
    _, rows = built
    champion = provenance(rows)
    test_row = next(r for r in rows if r.source == "pad_ufes_20" and r.split == "test")
    relabelled = [r.replace(diagnosis="SEK", malignant=False) if r is test_row else r for r in rows]
    lines = compare_provenance(provenance(relabelled), champion)
    (pad,) = [line for line in lines if line.startswith("pad_ufes_20:")]
    assert "test " in pad and "as many as the champion's but not the same" in pad
    assert "train " in pad and "(same)" in pad  # the train split did not change

    without_ham = [r for r in rows if r.source != "ham10000"]
    lines = compare_provenance(provenance(without_ham), champion)
    assert any(line.startswith("ham10000: only the champion had it (train ") for line in lines)
    lines = compare_provenance(champion, provenance(without_ham))
    assert any(line.startswith("ham10000: new, the champion had none (train ") for line in lines)


def test_a_champion_with_only_an_overall_hash(built):
    _, rows = built
    mine = provenance(rows)
    older = {OVERALL: manifest_hash(rows[1:]), "train_rows_by_source": {"pad_ufes_20": 9}}
    lines = compare_provenance(mine, older, {"trained on": 1711, "test": 187})
    assert "recorded only an overall manifest sha256" in lines[0]
    assert older[OVERALL][:12] in lines[0] and mine[OVERALL][:12] in lines[0]
    assert "the champion was trained on pad_ufes_20 9 images" in lines
    assert "the champion's counts: trained on 1,711 images, test 187 images" in lines
    # the same overall hash is still recognised
    assert compare_provenance(mine, {OVERALL: mine[OVERALL]})[0].startswith("the same data")
    assert "unknown" in compare_provenance(mine, {})[0]


def test_data_section_renders_the_record_and_the_comparison(built):
    _, rows = built
    record = provenance(rows)
    compared = {"champion": "version 3", "lines": compare_provenance(provenance(one_more(rows)), record)}
    text = "\n".join(data_section({**record, COMPARED: compared}))
    pad = record[BY_SOURCE]["pad_ufes_20"]
    test = pad["splits"]["test"]
    assert f"| pad_ufes_20 | all | {pad['rows']} | {pad['patients']} | `{pad['sha256'][:16]}…` |" in text
    assert f"| pad_ufes_20 | test | {test['rows']} | {test['patients']} | `{test['sha256'][:16]}…` |" in text
    assert "Compared with the champion (version 3) when trained:" in text
    assert f"- {compared['lines'][1]}" in text
    # an older contract: the overall hash only
    assert data_section({OVERALL: "ab" * 32}) == [
        f"- manifest sha256 `{'ab' * 32}` (every row the run read)."
    ]


@pytest.fixture
def bundle_with_older_champion(built, tmp_path, monkeypatch):
    """A bundle folder whose urgency contract records the built data less one row (per source) and
    whose quality contract records only an overall hash; a fresh, empty tracking store."""
    pytest.importorskip("mlflow")
    from training import promotion

    _, rows = built
    real = promotion.BUNDLE_DIR
    folder = tmp_path / "artifacts"
    folder.mkdir()
    urgency = json.loads((real / "urgency.json").read_text())
    urgency["provenance"] = provenance([r for r in rows if r.image_id != rows[0].image_id])
    (folder / "urgency.json").write_text(json.dumps(urgency))
    shutil.copy2(real / "quality.json", folder / "quality.json")
    monkeypatch.setattr(promotion, "BUNDLE_DIR", folder)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return rows[0]


def test_data_build_prints_the_comparison_with_the_champions(fake_data, tmp_path, bundle_with_older_champion):
    from training.cli import data

    dropped = bundle_with_older_champion
    out = tmp_path / "manifest.csv"
    result = CliRunner().invoke(
        data, ["build", "--data-dir", str(fake_data), "--out", str(out), "--folds", "3"]
    )
    assert result.exit_code == 0, result.output
    text = result.output.split("compared with the champions' data:", 1)[1]
    urgency, quality = text.split("quality champion")
    assert "urgency champion bundled urgency-" in urgency and "the registry has no champion" in urgency
    assert f"{dropped.source}: differs from the champion's: {dropped.split} " in urgency
    assert "recorded only an overall manifest sha256" in quality
