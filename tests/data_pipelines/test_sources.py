"""Source readers: the PAD-UFES-20 questionnaire mapped onto the intake fields, PAD and HAM10000 rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_sources import LESIONS, SPARSE_ANSWERS, full_record

from data_pipelines.manifest import EXTERNAL_FOLD, TEST_FOLD
from data_pipelines.sources import SourceError, ham10000, pad_ufes_20
from model.questionnaire import Questionnaire

# --- questionnaire mapping ------------------------------------------------------------------------


def _pad_record(**answers: str) -> dict[str, str]:
    return full_record("PAT_1", "11", "101", "BCC") | answers


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
