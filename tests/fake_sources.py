"""A small fake data folder in the layout of ../shared/data (PAD-UFES-20, lesion-masked photos, HAM10000)."""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image

from data_pipelines.locations import default_data_dir

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


def full_record(patient: str, lesion: str, num: str, dx: str) -> dict[str, str]:
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


def write_jpeg(path: Path, size: tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = ((seed * 37) % 256, (seed * 91) % 256, (seed * 53 + 7) % 256)
    Image.new("RGB", size, color).save(path, "JPEG", quality=90)


def make_fake_data(root: Path) -> Path:
    """A tiny data dir with the real layout and column headers."""
    pad = root / "pad_ufes_20"
    full, photos, masked = [], [], []
    for i, (patient, lesion, num, dx, _split, has_photo, has_masked) in enumerate(LESIONS):
        rec = full_record(patient, lesion, num, dx)
        full.append(rec)
        stem = rec["img_id"][: -len(".png")]
        if has_photo:
            write_jpeg(pad / "images" / f"{stem}.jpg", (12, 8), i)
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
            write_jpeg(pad / "lesion_masked" / f"{stem}.jpg", (8, 8), 100 + i)
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
    full.append(full_record("PAT_13", "131", "1301", "BCC"))
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
        write_jpeg(ham / "images" / f"{image_id}.jpg", (16, 12), 200 + j)
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
