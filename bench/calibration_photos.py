"""The photos and the defects of ``bench/quality_calibration.py``: every train-patient photo of
PAD-UFES-20 with its lesion mask, and each defect at a moderate and a severe level (those of
``data_pipelines.degrade``, plus a scene with no skin in view). Fixed seeds."""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_pipelines.degrade import Defect, Severity, degrade  # noqa: E402

SEED = 20240611
LEVELS = ("moderate", "severe")

# defect name -> the check it targets
DEFECT_TARGET: dict[str, str] = {
    "defocus": "focus_blur",
    "motion": "motion_blur",
    "dark": "underexposure",
    "bright": "overexposure",
    "glare": "glare",
    "cast": "colour_cast",
    "no_skin": "skin_present",
    "tiny": "lesion_framing",
    "off_centre": "lesion_framing",
    "low_res": "resolution",
}


@dataclass
class Photo:
    img_id: str
    path: Path
    original_size: tuple[int, int]
    fitzpatrick: str
    mask_path: Path | None


# ----------------------------------------------------------------------------------------------------
# data


def pad_rows(data_dir: Path, split: str) -> list[tuple[dict[str, str], Path | None]]:
    """(metadata.csv row, its lesion mask or None) of the PAD-UFES-20 photos of ``split`` patients."""
    root = data_dir / "pad_ufes_20"
    with open(root / "split.csv", newline="") as f:
        of_patient = {r["patient_id"]: r["split"] for r in csv.DictReader(f)}
    with open(root / "lesion_masked.csv", newline="") as f:
        masks = {
            r["img_id"]: root / r["file"] for r in csv.DictReader(f) if r["full_photo_in_images"] == "yes"
        }
    with open(root / "metadata.csv", newline="") as f:
        return [
            (r, masks.get(r["img_id"])) for r in csv.DictReader(f) if of_patient.get(r["patient_id"]) == split
        ]


def load_photos(data_dir: Path) -> list[Photo]:
    root = data_dir / "pad_ufes_20"
    return [
        Photo(
            img_id=r["img_id"],
            path=root / r["file"],
            original_size=(int(r["orig_width"]), int(r["orig_height"])),
            fitzpatrick=r["fitspatrick"] or "?",
            mask_path=mask,
        )
        for r, mask in pad_rows(data_dir, "train")
    ]


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    m = cv2.imread(str(path), cv2.IMREAD_COLOR).max(axis=2) > 20
    return cv2.resize(m.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


# ----------------------------------------------------------------------------------------------------
# defects (all deterministic given rng)


def jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def add_noise(rgb: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    return np.clip(rgb + rng.normal(0.0, sigma, rgb.shape), 0, 255).astype(np.uint8)


# defects the quality model learns, from data_pipelines.degrade (moderate / severe), with the lesion mask
_FROM_DEGRADE: dict[str, tuple[Defect, str | None]] = {
    "defocus": (Defect.defocus_blur, None),
    "motion": (Defect.motion_blur, None),
    "dark": (Defect.underexposure, None),
    "bright": (Defect.overexposure, None),
    "glare": (Defect.glare, None),
    "cast": (Defect.colour_cast, None),
    "tiny": (Defect.framing, "too_far"),
    "off_centre": (Defect.framing, "out_of_frame"),
    "low_res": (Defect.low_resolution, "sent_small"),
}


def _degrader(name: str):
    defect, variant = _FROM_DEGRADE[name]

    def apply(rgb, rng, level, mask=None):
        return degrade(rgb, defect, Severity[level], rng, lesion_mask=mask, variant=variant).rgb

    apply.__name__ = name
    return apply


def _smooth_field(rng, h, w, scale):
    small = rng.normal(0, 1, (max(2, int(h / scale)), max(2, int(w / scale)))).astype(np.float32)
    f = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return (f - f.min()) / (np.ptp(f) + 1e-6)


def non_skin_scene(rng, h, w, source):
    """A photo of something that is not skin (cycled by rng): grey wall, textured fabric, paper, tinted."""
    kind = int(rng.integers(4))
    if kind == 0:  # grey wall with vignetting and noise
        base = rng.uniform(90, 200)
        yy, xx = np.mgrid[0:h, 0:w]
        vign = 1 - 0.3 * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) / 0.5)
        img = np.repeat((base * vign)[..., None], 3, axis=2) + rng.uniform(-6, 6, 3)
    elif kind == 1:  # textured fabric in blues / greens / greys
        palette = np.array(
            [[40, 70, 140], [60, 120, 90], [120, 130, 140], [30, 40, 60], [150, 170, 200]], float
        )
        t = _smooth_field(rng, h, w, 24)
        idx = np.clip((t * (len(palette) - 1)), 0, len(palette) - 1.001)
        lo = np.floor(idx).astype(int)
        frac = (idx - lo)[..., None]
        img = palette[lo] * (1 - frac) + palette[lo + 1] * frac
        weave = 12 * np.sin(np.mgrid[0:h, 0:w][1] * rng.uniform(0.5, 1.2))[..., None]
        img = img + weave
    elif kind == 2:  # paper with pen strokes
        img = np.full((h, w, 3), rng.uniform(200, 240), float)
        for _ in range(40):
            p1 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            p2 = (p1[0] + int(rng.uniform(-40, 40)), p1[1] + int(rng.uniform(-5, 5)))
            cv2.line(img, p1, p2, (30.0, 30.0, 90.0), 2)
    else:  # the photo's texture in a non-skin colour (a blue or green shirt, a grey surface)
        gray = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY).astype(float)
        tint = np.array([(0.45, 0.65, 1.1), (0.55, 0.95, 0.6), (0.8, 0.8, 0.8)][int(rng.integers(3))])
        img = gray[..., None] * tint
    return jpeg(add_noise(np.clip(img, 0, 255), rng, 3.0))


def no_skin(rgb, rng, level):
    h, w = rgb.shape[:2]
    scene = non_skin_scene(rng, h, w, rgb)
    if level == "severe":
        return scene
    # moderate: the skin only in one corner (a quarter of the frame)
    hh, ww = h // 2, w // 2
    out = scene.copy()
    y0, x0 = (0 if rng.random() < 0.5 else h - hh), (0 if rng.random() < 0.5 else w - ww)
    out[y0 : y0 + hh, x0 : x0 + ww] = cv2.resize(rgb, (ww, hh), interpolation=cv2.INTER_AREA)
    return out


DEFECTS = {name: _degrader(name) for name in _FROM_DEGRADE} | {"no_skin": no_skin}
