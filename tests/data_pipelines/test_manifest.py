"""The manifest: build, patient-grouped folds, leakage checks, the file and its hash, the real data."""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from fake_sources import DATA, write_jpeg

from data_pipelines.build import build_manifest, summarize
from data_pipelines.manifest import (
    COLUMNS,
    EXTERNAL_FOLD,
    TEST_FOLD,
    ManifestError,
    ManifestRow,
    canonical_csv_bytes,
    manifest_hash,
    read_manifest,
    write_manifest,
)
from data_pipelines.sources import SourceError, pad_ufes_20
from data_pipelines.splits import LeakageError, assert_no_leakage, assign_folds
from model.questionnaire import Questionnaire

# --- build, folds, leakage ------------------------------------------------------------------------


def test_build_manifest(built, fake_data: Path) -> None:
    result, rows = built
    assert result.hash == hashlib.sha256(result.path.read_bytes()).hexdigest() == manifest_hash(rows)
    assert manifest_hash(result.path) == result.hash
    assert result.counts == {
        "ham10000": {"train": 3},
        "pad_ufes_20": {"test": 2, "train": 9},
        "pad_ufes_20_masked": {"test": 2, "train": 6},
    }
    assert result.n_rows == len(rows) == 22
    by_id = {r.image_id: r for r in rows}
    photo = by_id["PAT_1_11_101"]
    assert photo.sha256 == hashlib.sha256((fake_data / photo.path).read_bytes()).hexdigest()
    assert (photo.width, photo.height) == (12, 8)
    assert (by_id["PAT_1_11_101_masked"].width, by_id["ISIC_0000001"].width) == (8, 16)
    assert [(r.source, r.image_id) for r in rows] == sorted((r.source, r.image_id) for r in rows)
    assert_no_leakage(rows, split_of_patient=pad_ufes_20.read_split(fake_data))
    text = summarize(rows)
    assert "pad_ufes_20_masked" in text and "fold" in text


def test_build_checks_image_size_against_csv(fake_data: Path, tmp_path: Path) -> None:
    write_jpeg(fake_data / "pad_ufes_20" / "images" / "PAT_1_11_101.jpg", (10, 10), 0)
    with pytest.raises(SourceError, match="10x10"):
        build_manifest(fake_data, tmp_path / "m.csv", progress=False)


def test_build_selected_sources(fake_data: Path, tmp_path: Path) -> None:
    result = build_manifest(fake_data, tmp_path / "m.csv", sources=("ham10000",), progress=False)
    assert result.counts == {"ham10000": {"train": 3}}


def test_folds_deterministic_patient_grouped_and_test_fold(built) -> None:
    _, rows = built
    again = assign_folds(rows, k=3, seed=0)
    assert [r.fold for r in again] == [r.fold for r in rows]
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert {r.image_id: r.fold for r in assign_folds(shuffled, k=3, seed=0)} == {
        r.image_id: r.fold for r in rows
    }
    folds_of = defaultdict(set)
    for r in rows:
        folds_of[r.patient_id].add(r.fold)
        if r.split == "test":
            assert r.fold == TEST_FOLD
        elif r.source == "ham10000":
            assert r.fold == EXTERNAL_FOLD
        else:
            assert 0 <= r.fold < 3
    assert all(len(f) == 1 for f in folds_of.values())
    # patients of the same stratum (worst photo diagnosis) spread over the folds
    for pair in [("PAT_5", "PAT_9"), ("PAT_6", "PAT_10")]:
        assert len({r.fold for r in rows if r.patient_id in pair}) == 2


def test_assign_folds_is_pure(built) -> None:
    _, rows = built
    before = [r.fold for r in rows]
    assign_folds(rows, k=2, seed=5)
    assert [r.fold for r in rows] == before
    template = next(r for r in rows if r.image_id == "PAT_8_81_801")
    many = rows + [
        template.replace(image_id=f"PAT_X{i}_1_1", patient_id=f"PAT_X{i}", sha256=f"{i:064x}")
        for i in range(8)
    ]
    draws = {tuple(r.fold for r in assign_folds(many, k=3, seed=s)) for s in range(6)}
    assert len(draws) > 1  # the seed matters


def test_identical_files_of_two_patients_share_a_fold(built) -> None:
    _, rows = built
    by_id = {r.image_id: r for r in rows}
    dup = by_id["PAT_7_71_701"].sha256
    rows = [r.replace(sha256=dup) if r.image_id == "PAT_8_81_801" else r for r in rows]
    for seed in range(5):
        folded = assign_folds(rows, k=3, seed=seed)
        assert len({r.fold for r in folded if r.patient_id in ("PAT_7", "PAT_8")}) == 1
        assert_no_leakage(folded)


def _plant(rows: list[ManifestRow], image_id: str, **changes) -> list[ManifestRow]:
    return [r.replace(**changes) if r.image_id == image_id else r for r in rows]


def test_leakage_check_catches_planted_leaks(built, fake_data: Path) -> None:
    _, rows = built
    split_map = pad_ufes_20.read_split(fake_data)
    assert_no_leakage(rows, split_of_patient=split_map)
    by_id = {r.image_id: r for r in rows}
    other_fold = (by_id["PAT_1_11_101"].fold + 1) % 3
    # one photo of a train patient moved to another fold
    with pytest.raises(LeakageError, match="PAT_1 is in several folds"):
        assert_no_leakage(_plant(rows, "PAT_1_12_102", fold=other_fold))
    # a masked photo of a test patient relabelled as train
    with pytest.raises(LeakageError, match="test patient PAT_2 has rows with split train"):
        assert_no_leakage(_plant(rows, "PAT_2_22_202_masked", split="train", fold=0))
    # a test row given a fold
    with pytest.raises(LeakageError, match="test row PAT_11_111_1101 has fold 1"):
        assert_no_leakage(_plant(rows, "PAT_11_111_1101", fold=1))
    # a whole test patient flipped to train: only the fixed split can tell
    flipped = [r.replace(split="train", fold=0) if r.patient_id == "PAT_11" else r for r in rows]
    assert_no_leakage(flipped)
    with pytest.raises(LeakageError, match="PAT_11 is test"):
        assert_no_leakage(flipped, split_of_patient=split_map)
    # a test photo's bytes also present under a train patient
    with pytest.raises(LeakageError, match="identical file content"):
        assert_no_leakage(_plant(rows, "PAT_4_41_401", sha256=by_id["PAT_2_21_201"].sha256))
    # train rows without a fold
    with pytest.raises(LeakageError, match="has no fold"):
        assert_no_leakage([r.replace(fold=-9) for r in rows])


# --- manifest file --------------------------------------------------------------------------------


def test_manifest_round_trip_and_deterministic_bytes(built, tmp_path: Path) -> None:
    result, rows = built
    assert rows == read_manifest(write_manifest(rows, tmp_path / "again.csv"))
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    write_manifest(shuffled, tmp_path / "shuffled.csv")
    assert (tmp_path / "shuffled.csv").read_bytes() == result.path.read_bytes()
    assert canonical_csv_bytes(shuffled) == result.path.read_bytes()
    header, first = result.path.read_text().splitlines()[:2]
    assert header == ",".join(COLUMNS)
    r0 = rows[0]
    assert first.startswith(f"{r0.image_id},{r0.path},{r0.sha256},")
    text = result.path.read_text()
    assert '"{""age"":55,""bleeding"":true,""body_site"":""neck"",' in text  # canonical JSON, sorted keys


def test_manifest_hash_changes_when_a_row_changes(built) -> None:
    result, rows = built
    assert manifest_hash(rows) == manifest_hash(list(reversed(rows))) == result.hash
    target = next(r for r in rows if r.image_id == "PAT_1_11_101")
    changes = [
        {"questionnaire": target.questionnaire | {"age": 56}},
        {"fold": (target.fold + 1) % 3},
        {"sha256": "0" * 64},
        {"biopsied": None},
    ]
    hashes = {result.hash}
    for change in changes:
        hashes.add(manifest_hash(_plant(rows, "PAT_1_11_101", **change)))
    assert len(hashes) == len(changes) + 1
    assert manifest_hash(rows[:-1]) != result.hash


def test_write_manifest_rejects_bad_rows(built, tmp_path: Path) -> None:
    _, rows = built
    with pytest.raises(ManifestError, match="duplicate image_id"):
        write_manifest(rows + [rows[0]], tmp_path / "m.csv")
    bad = [
        {"sha256": ""},
        {"malignant": False},  # contradicts BCC
        {"questionnaire": {"jurisdiction": "BR-ES"}},
        {"questionnaire": {"itch": None}},
        {"questionnaire": {"fitzpatrick": 9}},
        {"split": "val"},
        {"path": "/abs/x.jpg"},
    ]
    for change in bad:
        with pytest.raises(ManifestError):
            write_manifest(_plant(rows, "PAT_1_11_101", **change), tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


# --- the real data --------------------------------------------------------------------------------


@pytest.mark.skipif(not (DATA / "pad_ufes_20/split.csv").exists(), reason="real data not present")
def test_real_pad_manifest(tmp_path: Path) -> None:
    result = build_manifest(
        DATA, tmp_path / "manifest.csv", sources=("pad_ufes_20", "pad_ufes_20_masked"), progress=False
    )
    rows = read_manifest(result.path)
    photos = [r for r in rows if r.source == "pad_ufes_20"]
    masked = [r for r in rows if r.source == "pad_ufes_20_masked"]
    assert len(photos) == 1237 and len(masked) == 1650  # 746 from the first source, 491 added (PROVENANCE.md)
    test_photos = [r for r in photos if r.split == "test"]
    assert len(test_photos) == 187
    expected = {"BCC": 55, "NEV": 46, "SEK": 35, "ACK": 34, "MEL": 10, "SCC": 7}
    assert Counter(r.diagnosis for r in test_photos) == expected
    assert len({r.patient_id for r in test_photos}) == 146
    assert sum(r.split == "test" for r in masked) == 194
    split_map = pad_ufes_20.read_split(DATA)
    assert sum(s == "test" for s in split_map.values()) == 146
    assert_no_leakage(rows, split_of_patient=split_map)
    for r in rows:
        Questionnaire(**r.questionnaire, jurisdiction="BR-ES")
    # every fold has MEL and SCC photos
    for fold in range(5):
        dxs = {r.diagnosis for r in photos if r.fold == fold}
        assert {"MEL", "SCC"} <= dxs
