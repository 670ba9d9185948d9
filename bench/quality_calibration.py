"""Calibrate ``model.quality_checks`` on real phone photos (PAD-UFES-20, train patients only).

Every train-patient photo is scored untouched ("clean") and with synthetic defects applied with fixed
seeds, each at a moderate and a severe level. For each check the script prints its pass rate on the
clean photos, its fail rate on its own defect, the ROC AUC of its score separating clean from defect,
and how often its instruction comes first; then the overall accept rate and how well lesion_framing
finds the lesion in the photos that have a lesion mask.

    python bench/quality_calibration.py [--data-dir ../shared/data] [--workers 2] [--limit N]

(default data dir: $DERMATRIAGE_DATA_DIR or /work/shared/data). Runs in about 1-2 minutes on 2 cores.

RESULTS (filled in below after tuning)
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.quality_checks import (  # noqa: E402
    CHECK_NAMES,
    CHECKS_VERSION,
    INSTRUCTIONS,
    SEGMENT_LONG_SIDE,
    THRESHOLDS,
    assess_quality,
    find_lesion,
)

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


def load_photos(data_dir: Path) -> list[Photo]:
    root = data_dir / "pad_ufes_20"
    with open(root / "split.csv", newline="") as f:
        split = {r["patient_id"]: r["split"] for r in csv.DictReader(f)}
    with open(root / "lesion_masked.csv", newline="") as f:
        masks = {
            r["img_id"]: root / r["file"] for r in csv.DictReader(f) if r["full_photo_in_images"] == "yes"
        }
    photos = []
    with open(root / "metadata.csv", newline="") as f:
        for r in csv.DictReader(f):
            if split.get(r["patient_id"]) != "train":
                continue
            photos.append(
                Photo(
                    img_id=r["img_id"],
                    path=root / r["file"],
                    original_size=(int(r["orig_width"]), int(r["orig_height"])),
                    fitzpatrick=r["fitspatrick"] or "?",
                    mask_path=masks.get(r["img_id"]),
                )
            )
    return photos


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


def defocus(rgb, rng, level):
    sigma = {"moderate": 0.005, "severe": 0.008}[level] * max(rgb.shape[:2])
    return jpeg(cv2.GaussianBlur(rgb, (0, 0), sigma))


def motion(rgb, rng, level):
    length = {"moderate": 0.02, "severe": 0.03}[level] * max(rgb.shape[:2])
    n = int(np.ceil(length / 2))
    kernel = np.zeros((2 * n + 1, 2 * n + 1), np.float32)
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    for t in np.linspace(-length / 2, length / 2, int(4 * length)):
        kernel[int(round(n + t * s)), int(round(n + t * c))] = 1.0
    kernel /= kernel.sum()
    return jpeg(cv2.filter2D(rgb, -1, kernel, borderType=cv2.BORDER_REFLECT))


def dark(rgb, rng, level):
    gain, gamma = {"moderate": (0.45, 1.3), "severe": (0.3, 1.5)}[level]
    out = 255.0 * gain * (rgb / 255.0) ** gamma
    return jpeg(add_noise(out, rng, 2.0))


def bright(rgb, rng, level):
    gain, offset = {"moderate": (1.5, 30), "severe": (1.9, 50)}[level]
    return jpeg(np.clip(rgb * gain + offset, 0, 255).astype(np.uint8))


def glare(rgb, rng, level):
    """Specular highlights: one flash spot plus scattered small shiny spots in the central region."""
    h, w = rgb.shape[:2]
    target = {"moderate": 0.012, "severe": 0.03}[level] * h * w
    layer = np.zeros((h, w), np.float32)
    radii = [np.sqrt(target * 0.5 / np.pi)] + list(
        rng.uniform(0.2, 0.5, 12) * np.sqrt(target * 0.5 / np.pi)
    )
    drawn = 0.0
    for r in radii:
        if drawn >= target:
            break
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        ax = max(1, int(r * rng.uniform(0.8, 1.3)))
        ay = max(1, int(r * r / ax))
        cv2.ellipse(layer, (int(cx), int(cy)), (ax, ay), rng.uniform(0, 180), 0, 360, 1.0, -1)
        drawn += np.pi * ax * ay
    soft = cv2.GaussianBlur(layer, (0, 0), max(1.0, 0.004 * max(h, w)))
    alpha = np.clip(soft * 1.6, 0, 1)[..., None]
    out = rgb * (1 - alpha) + np.array([255.0, 251.0, 242.0]) * alpha
    return jpeg(np.clip(out, 0, 255).astype(np.uint8))


_CASTS = {
    "blue": {"moderate": (0.75, 0.92, 1.35), "severe": (0.6, 0.88, 1.7)},
    "green": {"moderate": (0.8, 1.18, 0.8), "severe": (0.68, 1.3, 0.68)},
    "orange": {"moderate": (1.25, 1.0, 0.6), "severe": (1.4, 1.0, 0.42)},
}


def cast(rgb, rng, level):
    """White-balance error: per-channel gains in linear light (blue, green or orange lamp)."""
    kind = ("blue", "green", "orange")[int(rng.integers(3))]
    gains = np.array(_CASTS[kind][level])
    gains = gains / (gains @ np.array([0.2126, 0.7152, 0.0722]))
    lin = (rgb / 255.0) ** 2.2 * gains
    return jpeg((np.clip(lin, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8))


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
        palette = np.array([[40, 70, 140], [60, 120, 90], [120, 130, 140], [30, 40, 60], [150, 170, 200]], float)
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


def _skin_canvas(rgb: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """More skin like the photo's: its border colour with mild shading, plus the fine texture of the
    corner with the least lesion, mirror-tiled."""
    h, w = rgb.shape[:2]
    hh, ww = h // 3, w // 3
    corners = [(0, 0), (0, w - ww), (h - hh, 0), (h - hh, w - ww)]
    if mask is not None:
        key = [mask[y : y + hh, x : x + ww].mean() for y, x in corners]
    else:
        ref = np.median(rgb.reshape(-1, 3), axis=0)
        key = [np.abs(np.median(rgb[y : y + hh, x : x + ww].reshape(-1, 3), axis=0) - ref).sum() for y, x in corners]
    y, x = corners[int(np.argmin(key))]
    patch = rgb[y : y + hh, x : x + ww].astype(np.float32)
    texture = patch - cv2.GaussianBlur(patch, (0, 0), max(1.0, 0.05 * min(hh, ww)))
    row = np.concatenate([texture, texture[:, ::-1]], axis=1)
    tile = np.concatenate([row, row[::-1]], axis=0)
    reps = (int(np.ceil(h / tile.shape[0])) + 1, int(np.ceil(w / tile.shape[1])) + 1, 1)
    texture = np.tile(tile, reps)[:h, :w]
    border = max(2, min(h, w) // 8)
    ring = np.ones((h, w), bool)
    ring[border:-border, border:-border] = False
    base = np.median(rgb[ring], axis=0).astype(np.float32)
    shade = 1.0 + 0.12 * (_smooth_field(rng, h, w, max(h, w) / 3) - 0.5)
    return base * shade[..., None] + texture


def tiny(rgb, rng, level, mask=None):
    """Zoom out: the photo shrunk (about the middle) on a canvas of matching skin."""
    h, w = rgb.shape[:2]
    scale = {"moderate": 0.4, "severe": 0.25}[level]
    canvas = _skin_canvas(rgb, mask, rng)
    sh, sw = max(2, int(h * scale)), max(2, int(w * scale))
    small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    y0 = (h - sh) // 2 + int(rng.integers(-h // 20, h // 20 + 1))
    x0 = (w - sw) // 2 + int(rng.integers(-w // 20, w // 20 + 1))
    alpha = np.zeros((h, w), np.float32)
    alpha[y0 + sh // 8 : y0 + sh - sh // 8, x0 + sw // 8 : x0 + sw - sw // 8] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, 0.06 * min(sh, sw)))
    alpha[y0 + sh // 4 : y0 + sh - sh // 4, x0 + sw // 4 : x0 + sw - sw // 4] = 1
    placed = canvas.copy()
    placed[y0 : y0 + sh, x0 : x0 + sw] = small
    out = canvas * (1 - alpha[..., None]) + placed * alpha[..., None]
    return jpeg(np.clip(out, 0, 255).astype(np.uint8))


def off_centre(rgb, rng, level, mask=None):
    """Zoomed in with the lesion to one side: a half-size crop whose edge lies 15 % of the crop from the
    lesion's centre (moderate) or through it (severe: half the lesion cut off), enlarged back."""
    h, w = rgb.shape[:2]
    if mask is not None and mask.any():
        ys, xs = np.nonzero(mask)
        cy, cx = ys.mean(), xs.mean()
    else:
        cy, cx = h / 2, w / 2
    ch, cw = h // 2, w // 2
    at = {"moderate": 0.15, "severe": 0.0}[level]
    # a side the crop can reach: the lesion's own half of the frame
    feasible = [0 if cx <= w / 2 else 1, 2 if cy <= h / 2 else 3]
    side = feasible[int(rng.integers(2))]
    jitter = rng.uniform(-0.15, 0.15)
    if side in (0, 1):  # lesion at the left / right edge
        x0 = cx - at * cw if side == 0 else cx - (1 - at) * cw
        y0 = cy - ch / 2 + jitter * ch
    else:  # at the top / bottom edge
        y0 = cy - at * ch if side == 2 else cy - (1 - at) * ch
        x0 = cx - cw / 2 + jitter * cw
    x0 = int(np.clip(round(x0), 0, w - cw))
    y0 = int(np.clip(round(y0), 0, h - ch))
    crop = rgb[y0 : y0 + ch, x0 : x0 + cw]
    return jpeg(cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC))


LOW_RES = {"moderate": 400, "severe": 240}  # long side of a thumbnail / screenshot, 4:3


def low_res(rgb, rng, level):
    long_side = LOW_RES[level]
    h, w = rgb.shape[:2]
    s = long_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return jpeg(cv2.resize(rgb, size, interpolation=interp), 80)


DEFECTS = {
    "defocus": defocus,
    "motion": motion,
    "dark": dark,
    "bright": bright,
    "glare": glare,
    "cast": cast,
    "no_skin": no_skin,
    "tiny": tiny,
    "off_centre": off_centre,
    "low_res": low_res,
}


# ----------------------------------------------------------------------------------------------------
# evaluation


def _scores(report) -> dict:
    return {
        "scores": {n: c.score for n, c in report.checks.items()},
        "passed": {n: c.passed for n, c in report.checks.items()},
        "first": report.instructions[0] if report.instructions else None,
        "instructions": report.instructions,
        "verdict": report.verdict,
    }


def evaluate_photo(job: tuple[int, Photo]) -> dict:
    index, photo = job
    rgb = read_rgb(photo.path)
    mask = read_mask(photo.mask_path, rgb.shape[:2]) if photo.mask_path is not None else None
    out = {"img_id": photo.img_id, "fitzpatrick": photo.fitzpatrick}
    # clean: with the photo's real original size, and as if the original were a 12 MP phone photo
    out["clean"] = _scores(assess_quality(rgb, original_size=photo.original_size))
    out["clean_full_res"] = _scores(assess_quality(rgb, original_size=(3024, 3024)))
    full_res = (3024, 3024)
    for d_i, (name, fn) in enumerate(DEFECTS.items()):
        for l_i, level in enumerate(LEVELS):
            rng = np.random.default_rng([SEED, index, d_i, l_i])
            img = fn(rgb, rng, level, mask) if name in ("tiny", "off_centre") else fn(rgb, rng, level)
            size = (img.shape[1], img.shape[0]) if name == "low_res" else full_res
            out[f"{name}/{level}"] = _scores(assess_quality(img, original_size=size))
    if mask is not None:
        out["lesion"] = lesion_agreement(rgb, mask)
    return out


def lesion_agreement(rgb: np.ndarray, mask: np.ndarray) -> dict:
    from model.quality_checks import ANALYSIS_LONG_SIDE, _resize_long_side

    small = _resize_long_side(_resize_long_side(rgb, ANALYSIS_LONG_SIDE), SEGMENT_LONG_SIDE)
    found = find_lesion(small)
    truth = cv2.resize(mask.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    if found is None or not truth.any():
        return {"found": False, "iou": 0.0, "centroid_in_mask": False, "centroid_dist": 1.0,
                "area_true": float(truth.mean()), "area_found": 0.0}
    inter = (found.mask & truth).sum()
    union = (found.mask | truth).sum()
    ys, xs = np.nonzero(found.mask)
    ty, tx = np.nonzero(truth)
    h, w = truth.shape
    dist = np.hypot((xs.mean() - tx.mean()) / w, (ys.mean() - ty.mean()) / h)
    return {
        "found": True,
        "iou": float(inter / union),
        "centroid_in_mask": bool(truth[int(ys.mean()), int(xs.mean())]),
        "centroid_dist": float(dist),
        "area_true": float(truth.mean()),
        "area_found": float(found.area),
    }


def roc_auc(clean: np.ndarray, defect: np.ndarray) -> float:
    """P(score of a clean photo > score of a defective one), ties counting half."""
    clean, defect = np.asarray(clean, float), np.asarray(defect, float)
    if clean.size == 0 or defect.size == 0:
        return float("nan")
    gt = (clean[:, None] > defect[None, :]).mean()
    eq = (clean[:, None] == defect[None, :]).mean()
    return float(gt + 0.5 * eq)


def summarise(results: list[dict]) -> str:
    lines = []
    n = len(results)
    lines.append(f"{CHECKS_VERSION}: {n} train-patient photos")
    header = (
        f"{'check':15s} {'thr':>5s} {'clean pass':>10s} {'defect':>11s} {'mod fail':>8s} {'sev fail':>8s} "
        f"{'AUC mod':>7s} {'AUC sev':>7s} {'1st instr sev':>13s}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for check in CHECK_NAMES:
        clean_key = "clean_full_res" if check != "resolution" else "clean"
        clean_scores = np.array([r[clean_key]["scores"][check] for r in results])
        clean_pass = np.mean([r[clean_key]["passed"][check] for r in results])
        defects = [d for d, t in DEFECT_TARGET.items() if t == check]
        for j, defect in enumerate(defects):
            row = []
            for level in LEVELS:
                key = f"{defect}/{level}"
                fails = np.mean([not r[key]["passed"][check] for r in results])
                auc = roc_auc(clean_scores, [r[key]["scores"][check] for r in results])
                row.append((fails, auc))
            sev = f"{defect}/severe"
            own = {INSTRUCTIONS.get(check)} if check != "lesion_framing" else None
            if own is None:
                first = np.mean([not r[sev]["passed"][check] and r[sev]["first"] is not None
                                 and ("Move closer" in r[sev]["first"] or "Centre the spot" in r[sev]["first"])
                                 for r in results])
            else:
                first = np.mean([r[sev]["first"] in own for r in results])
            name = check if j == 0 else ""
            cp = f"{clean_pass:10.1%}" if j == 0 else " " * 10
            thr = f"{THRESHOLDS[check]:5.2f}" if j == 0 else " " * 5
            lines.append(
                f"{name:15s} {thr} {cp} {defect:>11s} {row[0][0]:8.1%} {row[1][0]:8.1%} "
                f"{row[0][1]:7.3f} {row[1][1]:7.3f} {first:13.1%}"
            )
    lines.append("")
    acc_full = np.mean([r["clean_full_res"]["verdict"] == "accept" for r in results])
    acc_meta = np.mean([r["clean"]["verdict"] == "accept" for r in results])
    res_pass = np.mean([r["clean"]["passed"]["resolution"] for r in results])
    lines.append(f"clean photos accepted (original_size as a 12 MP phone photo): {acc_full:.1%}")
    lines.append(
        f"clean photos accepted (original_size from metadata.csv): {acc_meta:.1%} "
        f"(resolution passes {res_pass:.1%}: most PAD-UFES-20 originals are 300x300 crops)"
    )
    fails_by_check = {c: np.mean([not r["clean_full_res"]["passed"][c] for r in results]) for c in CHECK_NAMES}
    lines.append("clean-photo fail rate per check: " + ", ".join(f"{c} {v:.1%}" for c, v in fails_by_check.items()))
    # lesion localisation against the lesion masks
    les = [r["lesion"] for r in results if "lesion" in r]
    if les:
        found = np.mean([x["found"] for x in les])
        iou = np.median([x["iou"] for x in les])
        inside = np.mean([x["centroid_in_mask"] for x in les])
        near = np.mean([x["centroid_dist"] < 0.1 for x in les])
        lines.append(
            f"lesion localisation vs {len(les)} lesion masks: found {found:.1%}, median IoU {iou:.2f}, "
            f"centroid inside the mask {inside:.1%}, centroid within 10 % of the frame {near:.1%}"
        )
    # by Fitzpatrick type (skin_present and underexposure on clean photos)
    by_type: dict[str, list[dict]] = {}
    for r in results:
        by_type.setdefault(r["fitzpatrick"], []).append(r)
    parts = []
    for t in sorted(by_type):
        rs = by_type[t]
        acc = np.mean([r["clean_full_res"]["verdict"] == "accept" for r in rs])
        skin = np.mean([r["clean_full_res"]["passed"]["skin_present"] for r in rs])
        parts.append(f"{t}: n={len(rs)} accept {acc:.0%} skin {skin:.0%}")
    lines.append("by Fitzpatrick type (clean): " + "; ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("DERMATRIAGE_DATA_DIR", "/work/shared/data"))
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos (quick look)")
    args = parser.parse_args(argv)
    photos = load_photos(args.data_dir)
    if args.limit:
        photos = photos[: args.limit]
    jobs = list(enumerate(photos))
    if args.workers > 1:
        with Pool(args.workers) as pool:
            results = list(tqdm(pool.imap(evaluate_photo, jobs, chunksize=4), total=len(jobs), desc="photos"))
    else:
        results = [evaluate_photo(j) for j in tqdm(jobs, desc="photos")]
    print(summarise(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
