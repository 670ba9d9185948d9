"""Contact sheet of every defect x severity on one train-patient photo, to judge the severities by eye.

    python bench/degrade_sheet.py [--img-id PAT_..png] [--out /tmp/degrade_sheet.png] [--seed 0] [--cell 240]

Rows: the defects (data_pipelines.degrade.DEFECTS); columns: the clean photo, mild, moderate, severe.
A "sent_small" low_resolution result is drawn at its true size relative to the clean photo. With
--img-id '': the first train-patient photo (split.csv) that has a lesion mask. Test patients are never read.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_pipelines.degrade import DEFECTS, SEVERITIES, degraded_set, load_lesion_mask  # noqa: E402
from data_pipelines.locations import default_data_dir  # noqa: E402

DEFAULT_PHOTO = "PAT_1842_3615_850.png"  # a train patient's blue nevus with hair and skin texture


def train_photo(data_dir: Path, img_id: str | None) -> tuple[str, Path]:
    root = data_dir / "pad_ufes_20"
    with open(root / "split.csv", newline="") as f:
        train = {r["patient_id"] for r in csv.DictReader(f) if r["split"] == "train"}
    with open(root / "metadata.csv", newline="") as f:
        rows = sorted((r for r in csv.DictReader(f) if r["patient_id"] in train), key=lambda r: r["img_id"])
    for r in rows:
        if (not img_id and load_lesion_mask(r["img_id"], (8, 8), data_dir=data_dir) is not None) or (
            r["img_id"] == img_id
        ):
            return r["img_id"], root / r["file"]
    raise SystemExit(f"no train-patient photo {img_id or 'with a lesion mask'} in {root}")


def cell(rgb: np.ndarray, size: int, scale: float, label: str) -> np.ndarray:
    """The image at ``scale`` x ``size`` on a grey square, with a label."""
    out = np.full((size + 22, size, 3), 60, np.uint8)
    h, w = rgb.shape[:2]
    s = size * scale / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_NEAREST)
    y0, x0 = 22 + (size - nh) // 2, (size - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = small
    cv2.putText(out, label[:34], (3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def summary(params: dict) -> str:
    skip = {"upload_quality", "mask", "width", "height"}
    return " ".join(f"{v}" if isinstance(v, str) else f"{v:g}" for k, v in params.items() if k not in skip)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument(
        "--img-id", default=DEFAULT_PHOTO, help="a train-patient img_id; '' = the first with a mask"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/degrade_sheet.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", type=int, default=240)
    args = parser.parse_args(argv)
    img_id, path = train_photo(args.data_dir, args.img_id)
    rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    mask = load_lesion_mask(img_id, rgb.shape[:2], data_dir=args.data_dir)
    rows = {
        d: [cell(rgb, args.cell, 1.0, f"{d.value} ({'mask' if mask is not None else 'no mask'})")]
        for d in DEFECTS
    }
    for _, degraded in degraded_set([(img_id, rgb, mask)], seed=args.seed):
        d = degraded.degradation
        scale = max(degraded.rgb.shape[:2]) / max(rgb.shape[:2])
        rows[d.defect].append(cell(degraded.rgb, args.cell, scale, f"{d.severity.name}: {summary(d.params)}"))
    sheet = np.concatenate([np.concatenate(r, axis=1) for r in rows.values()], axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"{img_id}: {len(DEFECTS)} defects x {len(SEVERITIES)} severities -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
