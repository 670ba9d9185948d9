"""The data layer: raw PAD-UFES-20 / HAM10000 folders -> deterministic training manifest."""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

from data_pipelines.build import build_manifest, default_data_dir, summarize
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
from data_pipelines.sources import SourceError, ham10000, pad_ufes_20
from data_pipelines.splits import LeakageError, assert_no_leakage, assign_folds
from model.questionnaire import Questionnaire

DATA = default_data_dir()

FULL_COLUMNS = [
    "patient_id", "lesion_id", "smoke", "drink", "background_father", "background_mother", "age",
    "pesticide", "gender", "skin_cancer_history", "cancer_history", "has_piped_water",
    "has_sewage_system", "fitspatrick", "region", "diameter_1", "diameter_2", "diagnostic", "itch",
    "grew", "hurt", "changed", "bleed", "elevation", "img_id", "biopsed",
]  # fmt: skip
PHOTO_COLUMNS = FULL_COLUMNS + ["file", "orig_width", "orig_height", "width", "height"]
MASKED_COLUMNS = [
    "img_id", "file", "diagnostic", "patient_id", "lesion_id", "full_photo_in_images",
    "src_width", "src_height", "width", "height",
]  # fmt: skip
HAM_COLUMNS = ["image_id", "dx", "split", "file", "orig_width", "orig_height", "width", "height"]

# (patient, lesion, img number, diagnosis, split, has photo, has masked)
LESIONS = [
    ("PAT_1", "11", "101", "BCC", "train", True, True),
    ("PAT_1", "12", "102", "NEV", "train", True, False),
    ("PAT_2", "21", "201", "MEL", "test", True, True),
    ("PAT_2", "22", "202", "ACK", "test", False, True),
    ("PAT_3", "31", "301", "SCC", "train", False, True),
    ("PAT_4", "41", "401", "ACK", "train", True, False),
    ("PAT_5", "51", "501", "MEL", "train", True, True),
    ("PAT_6", "61", "601", "SCC", "train", True, False),
    ("PAT_7", "71", "701", "SEK", "train", True, True),
    ("PAT_8", "81", "801", "NEV", "train", True, False),
    ("PAT_9", "91", "901", "MEL", "train", True, False),
    ("PAT_10", "101", "1001", "SCC", "train", True, True),
    ("PAT_11", "111", "1101", "BCC", "test", True, False),
    ("PAT_12", "121", "1201", "NEV", "train", False, True),
]

FULL_ANSWERS = {  # PAT_46-like: every questionnaire column known
    "age": "55", "gender": "FEMALE", "region": "NECK", "itch": "True", "hurt": "False",
    "bleed": "True", "grew": "True", "changed": "False", "elevation": "True", "fitspatrick": "3.0",
    "skin_cancer_history": "True", "diameter_1": "6.0", "diameter_2": "7.5",
    "smoke": "False", "drink": "False", "background_father": "POMERANIA", "background_mother": "POMERANIA",
    "pesticide": "False", "cancer_history": "True", "has_piped_water": "True", "has_sewage_system": "True",
}  # fmt: skip
SPARSE_ANSWERS = {  # first-phase-like: many empty cells and UNK
    "age": "8", "gender": "", "region": "", "itch": "UNK", "hurt": "False", "bleed": "UNK",
    "grew": "UNK", "changed": "UNK", "elevation": "False", "fitspatrick": "", "skin_cancer_history": "",
    "diameter_1": "", "diameter_2": "",
}  # fmt: skip


def _answers(patient: str) -> dict[str, str]:
    return SPARSE_ANSWERS if patient in ("PAT_4", "PAT_12") else FULL_ANSWERS


def _full_record(patient: str, lesion: str, num: str, dx: str) -> dict[str, str]:
    rec = {c: "" for c in FULL_COLUMNS}
    rec.update(_answers(patient))
    rec.update(
        patient_id=patient,
        lesion_id=lesion,
        diagnostic=dx,
        img_id=f"{patient}_{lesion}_{num}.png",
        biopsed="True" if dx != "NEV" else "False",
    )
    return rec


def _write_csv(path: Path, columns: list[str], records: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)


def _jpeg(path: Path, size: tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = ((seed * 37) % 256, (seed * 91) % 256, (seed * 53 + 7) % 256)
    Image.new("RGB", size, color).save(path, "JPEG", quality=90)


def make_fake_data(root: Path) -> Path:
    """A tiny data dir with the real layout and column headers."""
    pad = root / "pad_ufes_20"
    full, photos, masked = [], [], []
    for i, (patient, lesion, num, dx, _split, has_photo, has_masked) in enumerate(LESIONS):
        rec = _full_record(patient, lesion, num, dx)
        full.append(rec)
        stem = rec["img_id"][: -len(".png")]
        if has_photo:
            _jpeg(pad / "images" / f"{stem}.jpg", (12, 8), i)
            photos.append(
                rec
                | {
                    "file": f"images/{stem}.jpg",
                    "orig_width": "120",
                    "orig_height": "80",
                    "width": "12",
                    "height": "8",
                }
            )
        if has_masked:
            _jpeg(pad / "lesion_masked" / f"{stem}.jpg", (8, 8), 100 + i)
            masked.append(
                {
                    "img_id": rec["img_id"],
                    "file": f"lesion_masked/{stem}.jpg",
                    "diagnostic": dx,
                    "patient_id": patient,
                    "lesion_id": lesion,
                    "full_photo_in_images": "yes" if has_photo else "no",
                    "src_width": "80",
                    "src_height": "80",
                    "width": "8",
                    "height": "8",
                }
            )
    # a metadata_full row with neither photo nor masked photo, as in the real data
    full.append(_full_record("PAT_13", "131", "1301", "BCC"))
    _write_csv(pad / "metadata_full.csv", FULL_COLUMNS, full)
    _write_csv(pad / "metadata.csv", PHOTO_COLUMNS, photos)
    _write_csv(pad / "lesion_masked.csv", MASKED_COLUMNS, masked)
    split = {p: s for p, _, _, _, s, _, _ in LESIONS} | {"PAT_13": "train"}
    _write_csv(
        pad / "split.csv", ["patient_id", "split"], [{"patient_id": p, "split": s} for p, s in split.items()]
    )
    ham = root / "ham10000"
    labels = []
    for j, (image_id, dx) in enumerate(
        [("ISIC_0000001", "mel"), ("ISIC_0000002", "akiec"), ("ISIC_0000003", "df")]
    ):
        _jpeg(ham / "images" / f"{image_id}.jpg", (16, 12), 200 + j)
        labels.append(
            {
                "image_id": image_id,
                "dx": dx,
                "split": "isic2018_task3_test",
                "file": f"images/{image_id}.jpg",
                "orig_width": "600",
                "orig_height": "450",
                "width": "16",
                "height": "12",
            }
        )
    _write_csv(ham / "labels.csv", HAM_COLUMNS, labels)
    return root


@pytest.fixture
def fake_data(tmp_path: Path) -> Path:
    return make_fake_data(tmp_path / "data")


@pytest.fixture
def built(fake_data: Path, tmp_path: Path):
    result = build_manifest(fake_data, tmp_path / "out" / "manifest.csv", k_folds=3, progress=False)
    return result, read_manifest(result.path)


# --- questionnaire mapping ------------------------------------------------------------------------


def _pad_record(**answers: str) -> dict[str, str]:
    return _full_record("PAT_1", "11", "101", "BCC") | answers


def test_questionnaire_full_row_maps_every_column() -> None:
    q = pad_ufes_20.map_questionnaire(_pad_record())
    assert q == {
        "age": 55,
        "sex": "female",
        "body_site": "neck",
        "itch": True,
        "pain": False,
        "bleeding": True,
        "grew": True,
        "changed": False,
        "elevated": True,
        "fitzpatrick": 3,
        "skin_cancer_history": True,
        "size_mm": 7.5,
    }
    assert type(q["age"]) is int and type(q["fitzpatrick"]) is int and type(q["size_mm"]) is float
    Questionnaire(**q, jurisdiction="BR-ES")


def test_questionnaire_unknowns_are_omitted_and_false_is_kept() -> None:
    q = pad_ufes_20.map_questionnaire(_pad_record(**SPARSE_ANSWERS))
    assert q == {"age": 8, "pain": False, "elevated": False}
    parsed = Questionnaire(**q, jurisdiction="BR-ES")
    assert parsed.itch is None and parsed.pain is False and parsed.sex is None and parsed.body_site is None


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"gender": "MALE"}, {"sex": "male"}),
        ({"region": "FOREARM"}, {"body_site": "forearm"}),
        ({"region": "UNK"}, {"body_site": None}),
        ({"itch": "false"}, {"itch": False}),
        ({"hurt": "UNK", "bleed": ""}, {"pain": None, "bleeding": None}),
        ({"fitspatrick": "1.0"}, {"fitzpatrick": 1}),
        ({"age": "73.0"}, {"age": 73}),
        ({"age": ""}, {"age": None}),
        ({"diameter_1": "", "diameter_2": "4.0"}, {"size_mm": 4.0}),
        ({"diameter_1": "UNK", "diameter_2": ""}, {"size_mm": None}),
        ({"diameter_1": "0.0", "diameter_2": "0.0"}, {"size_mm": 0.0}),
    ],
)
def test_questionnaire_single_columns(answers: dict[str, str], expected: dict[str, object]) -> None:
    q = pad_ufes_20.map_questionnaire(_pad_record(**answers))
    for field, value in expected.items():
        if value is None:
            assert field not in q
        else:
            assert q[field] == value and type(q[field]) is type(value)


def test_every_pad_region_maps_to_a_body_site() -> None:
    for region, site in pad_ufes_20.REGION_TO_BODY_SITE.items():
        q = pad_ufes_20.map_questionnaire(_pad_record(region=region))
        assert Questionnaire(**q, jurisdiction="BR-ES").body_site.value == site


@pytest.mark.parametrize(
    "answers",
    [
        {"region": "KNEE"},
        {"gender": "X"},
        {"itch": "maybe"},
        {"fitspatrick": "7.0"},
        {"fitspatrick": "2.5"},
        {"age": "abc"},
        {"age": "130"},
        {"diameter_1": "nan"},
    ],
)
def test_questionnaire_rejects_unknown_vocabulary(answers: dict[str, str]) -> None:
    with pytest.raises(SourceError):
        pad_ufes_20.map_questionnaire(_pad_record(**answers))


# --- PAD rows -------------------------------------------------------------------------------------


def test_photo_rows_ids_paths_split(fake_data: Path) -> None:
    rows = {r.image_id: r for r in pad_ufes_20.photo_rows(fake_data)}
    assert len(rows) == sum(1 for lesion in LESIONS if lesion[5])
    r = rows["PAT_1_11_101"]
    assert r.path == "pad_ufes_20/images/PAT_1_11_101.jpg"
    assert (r.source, r.modality, r.patient_id, r.lesion_id) == ("pad_ufes_20", "smartphone", "PAT_1", "11")
    assert (r.diagnosis, r.malignant, r.biopsied, r.split) == ("BCC", True, True, "train")
    assert rows["PAT_1_12_102"].malignant is False and rows["PAT_1_12_102"].biopsied is False
    assert rows["PAT_2_21_201"].split == "test" and rows["PAT_2_21_201"].fold == TEST_FOLD
    assert rows["PAT_11_111_1101"].split == "test"
    assert rows["PAT_4_41_401"].questionnaire == {"age": 8, "pain": False, "elevated": False}
    for row in rows.values():
        Questionnaire(**row.questionnaire, jurisdiction="BR-ES")


def test_patient_missing_from_split_csv_is_an_error(fake_data: Path) -> None:
    split_csv = fake_data / "pad_ufes_20" / "split.csv"
    lines = [ln for ln in split_csv.read_text().splitlines() if not ln.startswith("PAT_5,")]
    split_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match="PAT_5"):
        pad_ufes_20.photo_rows(fake_data)


def test_bad_split_value_is_an_error(fake_data: Path) -> None:
    split_csv = fake_data / "pad_ufes_20" / "split.csv"
    split_csv.write_text(split_csv.read_text().replace("PAT_5,train", "PAT_5,val"))
    with pytest.raises(SourceError, match="PAT_5"):
        pad_ufes_20.read_split(fake_data)


def test_masked_rows_share_patient_split_and_questionnaire(fake_data: Path) -> None:
    photos = {r.image_id: r for r in pad_ufes_20.photo_rows(fake_data)}
    masked = {r.image_id: r for r in pad_ufes_20.masked_rows(fake_data)}
    assert len(masked) == sum(1 for lesion in LESIONS if lesion[6])
    m = masked["PAT_2_21_201_masked"]
    p = photos["PAT_2_21_201"]
    assert m.path == "pad_ufes_20/lesion_masked/PAT_2_21_201.jpg"
    assert (m.source, m.modality) == ("pad_ufes_20_masked", "smartphone_masked")
    assert (m.patient_id, m.lesion_id, m.diagnosis, m.split, m.fold) == (
        p.patient_id,
        p.lesion_id,
        p.diagnosis,
        "test",
        TEST_FOLD,
    )
    assert m.questionnaire == p.questionnaire
    # a masked photo whose original photo is not in images/: questionnaire from metadata_full.csv
    only_masked = masked["PAT_2_22_202_masked"]
    assert only_masked.split == "test" and only_masked.diagnosis == "ACK"
    assert masked["PAT_12_121_1201_masked"].questionnaire == {"age": 8, "pain": False, "elevated": False}


def test_masked_row_disagreeing_with_metadata_full_is_an_error(fake_data: Path) -> None:
    path = fake_data / "pad_ufes_20" / "lesion_masked.csv"
    path.write_text(path.read_text().replace("PAT_3_31_301.jpg,SCC,PAT_3,", "PAT_3_31_301.jpg,SCC,PAT_4,"))
    with pytest.raises(SourceError, match="patient_id"):
        pad_ufes_20.masked_rows(fake_data)


def test_ham_rows(fake_data: Path) -> None:
    rows = {r.image_id: r for r in ham10000.rows(fake_data)}
    mel, akiec, df = rows["ISIC_0000001"], rows["ISIC_0000002"], rows["ISIC_0000003"]
    assert (mel.diagnosis, mel.malignant, mel.source_diagnosis) == ("MEL", True, "mel")
    assert (akiec.diagnosis, akiec.malignant, akiec.source_diagnosis) == ("ACK", False, "akiec")
    assert df.diagnosis == "DF" and df.malignant is False
    for r in rows.values():
        assert r.patient_id == r.lesion_id == r.image_id
        assert (r.modality, r.split, r.fold, r.questionnaire, r.biopsied) == (
            "dermoscopy",
            "train",
            EXTERNAL_FOLD,
            {},
            None,
        )
        assert r.path == f"ham10000/images/{r.image_id}.jpg"


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
    _jpeg(fake_data / "pad_ufes_20" / "images" / "PAT_1_11_101.jpg", (10, 10), 0)
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
