"""HAM10000 / ISIC 2018 Task 3 test images (dermoscopy): an EXTERNAL source for pre-training.

LICENSE: non-commercial. HAM10000 and the ISIC 2018 challenge data are CC BY-NC 4.0 (some
mirrors list CC BY-NC-SA 4.0); treat them as CC BY-NC-SA 4.0: attribution (Tschandl et al.,
Sci. Data 5, 180161, 2018; Codella et al., arXiv:1902.03368), no commercial use, derivatives
under the same terms. A model trained on these rows must not ship in a commercial product
without legal clearance; a training config that must stay commercial-clean drops
``source == "ham10000"``.

Layout read (relative to ``<data_dir>/ham10000/``)
    * ``labels.csv``: image_id, dx, split, file, orig_width, orig_height, width, height (586);
    * ``HAM10000_metadata.csv`` (optional): used only to look up a lesion_id for an image that
      is in the HAM10000 training metadata (none of the 586 test images is);
    * ``ISIC2018_Task3_Test_GroundTruth_dx.csv`` (optional): every dx is cross-checked with it.

Rows (source ``ham10000``, modality ``dermoscopy``)
    * image_id = the ISIC id (``ISIC_0034526``), path ``ham10000/images/<id>.jpg``.
    * patient_id / lesion_id: the ISIC 2018 test images carry no patient or lesion id. Both are
      set to the image_id (each image its own group); where the image is in HAM10000_metadata.csv
      both are its ``lesion_id`` (HAM10000 has no patient ids; the lesion is the finest known
      group). The ``ISIC_`` / ``HAM_`` ids cannot collide with PAD's ``PAT_`` ids.
    * diagnosis: mel->MEL, bcc->BCC, akiec->ACK, nv->NEV, bkl->SEK, df->DF, vasc->VASC.
      ``source_diagnosis`` keeps the HAM code.
      - akiec is "actinic keratosis / intraepithelial carcinoma (Bowen's disease)": a mix of a
        pre-malignant lesion and an SCC in situ that HAM does not separate. It is mapped to ACK
        (its majority, and PAD's closest class), so ``malignant`` is False for it, consistent with
        ``malignant = diagnosis in {BCC, SCC, MEL}``. Note PAD files Bowen's disease under SCC:
        the two sources disagree on Bowen's, so a malignancy head may want to mask
        ``source_diagnosis == "akiec"`` rows (the data README's urgency suggestion counts akiec
        as malignant).
      - bkl ("benign keratosis-like": seborrheic keratosis, solar lentigo, lichen-planus-like
        keratosis) is mapped to SEK, its closest PAD class; it is broader than SEK.
      - df and vasc are not among the six classes: kept as DF / VASC (benign) for a config to drop.
    * biopsied: None (the test set's dx_type is not available here).
    * questionnaire: {} (the test images carry no age / sex / site here).
    * split ``train`` with fold ``EXTERNAL_FOLD`` (-2): not PAD patients, never in the PAD test
      split or PAD validation folds; usable for pre-training only. The source's own split
      (``isic2018_task3_test``) is the ISIC challenge's and has no meaning for this project.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from data_pipelines.manifest import EXTERNAL_FOLD, MODALITY_OF_SOURCE, ManifestRow, is_malignant
from data_pipelines.sources.common import SourceError, read_csv

SUBDIR = "ham10000"
SOURCE = "ham10000"

DX_TO_DIAGNOSIS: dict[str, str] = {
    "mel": "MEL",
    "bcc": "BCC",
    "akiec": "ACK",
    "nv": "NEV",
    "bkl": "SEK",
    "df": "DF",
    "vasc": "VASC",
}


def _optional_map(path: Path, key: str, value: str) -> dict[str, str]:
    if not path.is_file():
        return {}
    return {rec[key].strip(): rec[value].strip() for rec in read_csv(path, (key, value))}


def rows(data_dir: Path) -> list[ManifestRow]:
    data_dir = Path(data_dir)
    base = data_dir / SUBDIR
    labels = read_csv(base / "labels.csv", ("image_id", "dx", "file", "width", "height"))
    lesion_of = _optional_map(base / "HAM10000_metadata.csv", "image_id", "lesion_id")
    truth = _optional_map(base / "ISIC2018_Task3_Test_GroundTruth_dx.csv", "image_id", "dx")
    out = []
    for rec in labels:
        image_id = rec["image_id"].strip()
        dx = rec["dx"].strip().lower()
        if dx not in DX_TO_DIAGNOSIS:
            raise SourceError(f"ham10000 {image_id!r}: unknown dx {rec['dx']!r}")
        if image_id in truth and truth[image_id].lower() != dx:
            raise SourceError(f"ham10000 {image_id!r}: dx {dx!r} != ground truth {truth[image_id]!r}")
        rel = PurePosixPath(rec["file"].strip())
        if rel.is_absolute() or ".." in rel.parts:
            raise SourceError(f"ham10000 {image_id!r}: bad file {rec['file']!r}")
        path = f"{SUBDIR}/{rel.as_posix()}"
        if not (data_dir / path).is_file():
            raise SourceError(f"ham10000 {image_id!r}: missing image {data_dir / path}")
        try:
            width, height = int(rec["width"]), int(rec["height"])
        except ValueError:
            raise SourceError(f"ham10000 {image_id!r}: bad width/height") from None
        group = lesion_of.get(image_id) or image_id
        diagnosis = DX_TO_DIAGNOSIS[dx]
        out.append(
            ManifestRow(
                image_id=image_id,
                path=path,
                sha256="",
                source=SOURCE,
                modality=MODALITY_OF_SOURCE[SOURCE],
                patient_id=group,
                lesion_id=group,
                diagnosis=diagnosis,
                source_diagnosis=dx,
                malignant=is_malignant(diagnosis),
                biopsied=None,
                questionnaire={},
                split="train",
                fold=EXTERNAL_FOLD,
                width=width,
                height=height,
            )
        )
    return out
