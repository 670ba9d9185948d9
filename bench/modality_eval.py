"""How ``model.modality.classify_modality`` reads each kind of image, and how fast.

    python bench/modality_eval.py [--data-dir ../shared/data] [--limit N] [--misses 10]

(default data dir: $DERMATRIAGE_DATA_DIR, else ../shared/data beside the repository.) Sets, each with the
modality it should get, and a confusion row per set:

  pad_train      PAD-UFES-20 phone photos of train patients (split.csv): clinical. Thresholds were set here.
  pad_test       PAD-UFES-20 photos of test patients: clinical. Held out.
  synth_derm     dermatoscope-like views made from the train photos with a lesion mask
                 (``synthetic_dermoscopy``), split by their field edge: circle (a dark field outside a
                 round edge), falloff (light falling off towards the corners only), none. Thresholds were
                 set here too.
  ham10000       586 dermoscopic images (ISIC 2018 Task 3 test set, HAM10000 sources): dermoscopic. Held
                 out, CC BY-NC: never used to choose or tune anything, read once for this report.
  not_skin       sample photos shipped by scikit-image / scikit-learn / matplotlib (those installed; the
                 two portraits are scored apart as "persons", a person being partly skin) and synthetic
                 documents, screenshots, charts, gradients, flat colours, checkerboards, stripes, shapes
                 and noise (fixed seed): not_skin.

Then the median time of ``classify_modality`` per image of each set (one thread, as stored: PAD <= 512
px, HAM 448x336), and on 100 train photos enlarged to a 1024 px long side (the size serving passes).
About a minute on one core; no test-patient photo is used for anything but its row.

Result (modality-1): the table is in ``model/modality.py``'s docstring.

Misread: pad_train PAT_1229_794_274 (an extreme yellow cast: saturated), pad_test PAT_793_1512_327 (a
nearly colourless photo: grey), the scikit-image cat (clinical). HAM10000 misses the 90 % target by
82.7 points: most of its images show no dark field edge (see model/modality.py, Known limits).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_photos import pad_rows, read_mask, read_rgb  # noqa: E402

from data_pipelines.locations import default_data_dir  # noqa: E402
from model.modality import Modality, classify_modality  # noqa: E402

SEED = 20261129


# ----------------------------------------------------------------------------------------------------
# data on disk


def pad_photos(data_dir: Path, split: str) -> list[tuple[str, Path, Path | None]]:
    """(img_id, photo, lesion mask or None) of the PAD-UFES-20 photos of ``split`` patients."""
    root = data_dir / "pad_ufes_20"
    return [(r["img_id"], root / r["file"], mask) for r, mask in pad_rows(data_dir, split)]


def ham_photos(data_dir: Path) -> list[tuple[str, Path]]:
    root = data_dir / "ham10000"
    with open(root / "labels.csv", newline="") as f:
        return [(r["image_id"], root / r["file"]) for r in csv.DictReader(f)]


# ----------------------------------------------------------------------------------------------------
# helpers


def jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def smooth_field(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth random field in [0, 1] (bicubic upsampling of cells x cells noise)."""
    small = rng.normal(0, 1, (max(2, cells), max(2, cells))).astype(np.float32)
    f = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return (f - f.min()) / (np.ptp(f) + 1e-6)


# ----------------------------------------------------------------------------------------------------
# synthetic dermoscopy-like views of PAD-UFES-20 photos (train patients only)


def synthetic_dermoscopy(
    rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, info: dict | None = None
) -> np.ndarray:
    """A dermatoscope's view made from a phone photo and its lesion mask.

    What a contact dermatoscope changes, from how the instrument works: magnification (the lesion's
    diameter becomes 30-75 % of the frame's short side, and nothing but skin is in view); even,
    centred ring-LED light (the photo's shading divided out, 60-100 %), no specular glare (polarised
    light or immersion gel: highlights inpainted); slightly deeper colour (saturation x1-1.3); and the
    round glass plate: in 55 % a dark field outside a circle (radius 0.5-0.95 of the half-diagonal, a
    soft or sharp edge, black to dark grey), in 25 % only a radial fall-off of the light towards the
    corners (to 45-85 %), none in 20 %. Extras: gel bubbles (12 %), ruler ticks on one
    side (6 %), 2-24 dark hairs 1-4 px across (25 %).
    Output 4:3 (70 %) or square, 300-600 px, JPEG q85-95.
    """
    h, w = rgb.shape[:2]
    ys, xs = np.nonzero(mask)
    if len(ys) < 9:
        cy, cx, diam = h / 2, w / 2, min(h, w) * 0.3
    else:
        cy, cx = ys.mean(), xs.mean()
        diam = 2.0 * np.sqrt(len(ys) / np.pi)
    aspect = 4 / 3 if rng.random() < 0.7 else 1.0
    fill = rng.uniform(0.3, 0.75)
    crop_h = min(diam / fill, h, w / aspect)
    crop_h = max(crop_h, min(h, w / aspect) * 0.25)
    crop_w = crop_h * aspect
    cx += rng.uniform(-0.08, 0.08) * crop_w
    cy += rng.uniform(-0.08, 0.08) * crop_h
    x0 = int(np.clip(cx - crop_w / 2, 0, w - crop_w))
    y0 = int(np.clip(cy - crop_h / 2, 0, h - crop_h))
    crop = rgb[y0 : y0 + int(crop_h), x0 : x0 + int(crop_w)]
    cmask = mask[y0 : y0 + int(crop_h), x0 : x0 + int(crop_w)]
    out_w = int(rng.uniform(300, 600))
    out_h = round(out_w / aspect)
    img = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    m = cv2.resize(cmask.astype(np.uint8), (out_w, out_h), interpolation=cv2.INTER_NEAREST) > 0
    # no glare: inpaint specular highlights
    glare = (img.min(axis=2) > 215).astype(np.uint8)
    if glare.any():
        glare = cv2.dilate(glare, np.ones((5, 5), np.uint8))
        img = cv2.inpaint(to_u8(img), glare, 5, cv2.INPAINT_TELEA).astype(np.float32)
    # even light: divide out the skin's shading (lesion replaced by the median skin first)
    luma = img.mean(axis=2)
    skin_level = float(np.median(luma[~m])) if (~m).any() else float(np.median(luma))
    filled = np.where(m, skin_level, luma).astype(np.float32)
    shade = cv2.GaussianBlur(filled, (0, 0), 0.2 * max(out_w, out_h)) / max(skin_level, 1.0)
    strength = rng.uniform(0.6, 1.0)
    img = img / np.clip(shade, 0.2, 5.0)[..., None] ** strength
    # deeper colour
    hsv = cv2.cvtColor(to_u8(img), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] *= rng.uniform(1.0, 1.3)
    img = cv2.cvtColor(to_u8(hsv), cv2.COLOR_HSV2RGB).astype(np.float32)
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    r = np.hypot(xx - out_w / 2, yy - out_h / 2) / np.hypot(out_w / 2, out_h / 2)
    if rng.random() < 0.12:  # gel bubbles: bright rims, darker inside
        for _ in range(int(rng.integers(1, 6))):
            c = (int(rng.uniform(0, out_w)), int(rng.uniform(0, out_h)))
            rad = int(rng.uniform(0.01, 0.06) * out_w)
            cv2.circle(img, c, rad, (235.0, 235.0, 235.0), max(1, rad // 5), cv2.LINE_AA)
    if rng.random() < 0.06:  # ruler ticks along one side
        y = int(out_h * rng.uniform(0.05, 0.15))
        for x in range(int(out_w * 0.1), int(out_w * 0.9), max(4, out_w // 40)):
            cv2.line(img, (x, y), (x, y + int(out_h * 0.04)), (40.0, 40.0, 40.0), 2)
    if rng.random() < 0.25:  # hairs: dark curved strands, magnified to 1-4 px across
        for _ in range(int(rng.integers(2, 25))):
            p0, p1, p2 = (rng.uniform(-0.1, 1.1, 2) * (out_w, out_h) for _ in range(3))
            t = np.linspace(0, 1, 40)[:, None]
            curve = (1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t**2 * p2
            shade = float(rng.uniform(20, 80))
            width = int(rng.integers(1, 5))
            cv2.polylines(
                img, [curve.astype(np.int32)], False, (shade, shade * 0.8, shade * 0.7), width, cv2.LINE_AA
            )
    u = rng.random()
    if info is not None:
        info["edge"] = "circle" if u < 0.55 else "falloff" if u < 0.8 else "none"
        info["fill"] = fill
    if u < 0.55:  # dark field outside the round glass plate
        radius = rng.uniform(0.5, 0.95)
        edge = rng.uniform(0.005, 0.06)
        inside = np.clip((radius - r) / edge + 0.5, 0, 1)[..., None]
        dark = rng.uniform(0, 45)
        img = img * inside + dark * (1 - inside)
    elif u < 0.8:  # radial fall-off only
        corner = rng.uniform(0.45, 0.85)
        img = img * (1 - (1 - corner) * r**2)[..., None]
    img = img + rng.normal(0, 1.5, img.shape)
    return jpeg(to_u8(img), int(rng.integers(85, 96)))


# ----------------------------------------------------------------------------------------------------
# images that are not skin: sample images shipped in installed packages, and synthetic ones


def package_images() -> list[tuple[str, np.ndarray, bool]]:
    """(name, rgb, is_person) of the sample photos shipped by scikit-image, scikit-learn and matplotlib
    (those installed). ``is_person``: a portrait, scored apart (a person is partly skin)."""
    out: list[tuple[str, np.ndarray, bool]] = []
    files: list[Path] = []
    try:
        import skimage.data

        files += sorted(Path(skimage.data.__file__).parent.glob("*.png"))
        files += sorted(Path(skimage.data.__file__).parent.glob("*.jpg"))
    except ImportError:
        pass
    try:
        import sklearn.datasets

        files += sorted((Path(sklearn.datasets.__file__).parent / "images").glob("*.jpg"))
    except ImportError:
        pass
    try:
        import matplotlib

        files += sorted((Path(matplotlib.__file__).parent / "mpl-data" / "sample_data").glob("*.[pj][np]g"))
    except ImportError:
        pass
    for path in files:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or path.stem in DUPLICATES:
            continue
        if img.dtype == np.uint16:
            img = (img >> 8).astype(np.uint8)
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
        elif img.shape[2] == 4:  # composite on white, as a viewer shows it
            alpha = img[..., 3:4].astype(np.float32) / 255.0
            img = to_u8(img[..., :3] * alpha + 255.0 * (1 - alpha))
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        else:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        out.append((path.stem, img, path.stem in PERSONS))
    return out


PERSONS = {"astronaut", "grace_hopper"}
DUPLICATES = {"motorcycle_right"}  # the left view's twin

_WORD_LIST = (
    "the of and to in is for that with on as by this be are from at or an it patient invoice total date "
    "page report please sign here amount due account number address name reference summary table figure"
)
WORDS = tuple(_WORD_LIST.split(" "))


def _text_lines(img, rng, x0, y0, x1, y1, colour, scale):
    y = y0
    while y < y1:
        x = x0
        line = []
        while True:
            word = WORDS[int(rng.integers(len(WORDS)))]
            (tw, th), _ = cv2.getTextSize(word + " ", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            if x + tw > x1:
                break
            line.append(word)
            x += tw
        cv2.putText(
            img, " ".join(line), (x0, int(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA
        )
        y += 30 * scale * rng.uniform(1.0, 1.6)


def synthetic_document(rng: np.random.Generator) -> np.ndarray:
    h, w = int(rng.uniform(500, 900)), int(rng.uniform(400, 700))
    paper = np.array([rng.uniform(225, 255), rng.uniform(220, 250), rng.uniform(200, 245)])
    img = to_u8(np.ones((h, w, 3), np.float32) * paper)
    scale = rng.uniform(0.4, 0.8)
    ink = tuple(float(v) for v in rng.uniform(0, 60, 3))
    _text_lines(img, rng, 30, 40, w - 30, h - 30, ink, scale)
    if rng.random() < 0.5:  # a table
        y = int(h * rng.uniform(0.3, 0.7))
        for i in range(4):
            cv2.line(img, (30, y + 25 * i), (w - 30, y + 25 * i), ink, 1)
    if rng.random() < 0.5:  # photographed: uneven light, tilt, noise
        img = img.astype(np.float32) * (0.75 + 0.25 * smooth_field(rng, h, w, 3))[..., None]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-8, 8), 1.0)
        desk = tuple(float(v) for v in rng.uniform(40, 160, 3))
        img = cv2.warpAffine(img, m, (w, h), borderValue=desk)
        img = img + rng.normal(0, 3, img.shape)
    return to_u8(img)


def synthetic_screenshot(rng: np.random.Generator) -> np.ndarray:
    h, w = (int(rng.uniform(600, 900)), int(rng.uniform(320, 450)))
    if rng.random() < 0.5:
        h, w = w * 2, h
    bg = rng.uniform(230, 255) if rng.random() < 0.7 else rng.uniform(15, 45)
    img = np.full((h, w, 3), round(bg), np.uint8)
    accent = tuple(float(v) for v in rng.uniform(0, 255, 3))
    text = (30.0, 30.0, 30.0) if bg > 128 else (225.0, 225.0, 225.0)
    cv2.rectangle(img, (0, 0), (w, int(h * 0.08)), accent, -1)
    y = int(h * 0.12)
    while y < h - 40:
        kind = rng.random()
        if kind < 0.3:  # a card with a coloured thumbnail
            cv2.rectangle(img, (10, y), (w - 10, y + 70), tuple(float(bg) - 12 for _ in range(3)), -1)
            cv2.rectangle(img, (18, y + 8), (72, y + 62), tuple(float(v) for v in rng.uniform(0, 255, 3)), -1)
            _text_lines(img, rng, 82, y + 25, w - 20, y + 60, text, 0.45)
            y += 80
        elif kind < 0.45:  # a button
            cv2.rectangle(img, (20, y), (int(w * 0.6), y + 36), accent, -1)
            cv2.putText(
                img, "Continue", (30, y + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255.0,) * 3, 1, cv2.LINE_AA
            )
            y += 50
        else:
            _text_lines(img, rng, 20, y + 15, w - 20, y + 60, text, 0.5)
            y += 65
    return to_u8(img)


def synthetic_pattern(rng: np.random.Generator, kind: str) -> np.ndarray:
    h, w = int(rng.uniform(200, 800)), int(rng.uniform(200, 800))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    if kind in ("flat_skin_tone", "gradient_skin_tone"):
        tones = np.array(
            [[224, 172, 150], [198, 134, 110], [160, 110, 80], [110, 70, 50], [240, 200, 180]], float
        )
        c1 = tones[int(rng.integers(len(tones)))] + rng.uniform(-10, 10, 3)
        c2 = c1 * rng.uniform(0.6, 0.95)
    if kind.startswith("flat"):
        img = np.ones((h, w, 3), np.float32) * c1
    elif kind.startswith("gradient"):
        if rng.random() < 0.5:
            a = rng.uniform(0, np.pi)
            t = (np.cos(a) * xx / w + np.sin(a) * yy / h) % 1.0
        else:
            t = np.clip(np.hypot(xx / w - 0.5, yy / h - 0.5) / 0.7, 0, 1)
        img = c1 * (1 - t[..., None]) + c2 * t[..., None]
    elif kind == "checkerboard":
        s = int(rng.uniform(8, 64))
        t = ((xx // s + yy // s) % 2)[..., None]
        img = c1 * t + c2 * (1 - t)
    elif kind == "stripes":
        s = rng.uniform(4, 40)
        t = (np.sin(xx / s + yy * rng.uniform(-1, 1) / s) > 0)[..., None]
        img = c1 * t + c2 * (1 - t)
    elif kind == "noise":
        if rng.random() < 0.5:
            img = rng.uniform(0, 255, (h, w, 3))
        else:
            img = np.repeat(rng.uniform(0, 255, (h, w, 1)), 3, axis=2) * rng.uniform(0.5, 1.0, 3)
    elif kind == "smooth_noise":
        img = np.stack([smooth_field(rng, h, w, int(rng.integers(3, 20))) for _ in range(3)], -1) * 255
    elif kind == "shapes":
        img = np.ones((h, w, 3), np.float32) * c1
        for _ in range(int(rng.integers(3, 15))):
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            col = tuple(float(v) for v in rng.uniform(0, 255, 3))
            if rng.random() < 0.5:
                cv2.circle(img, c, int(rng.uniform(5, 0.3 * w)), col, -1, cv2.LINE_AA)
            else:
                cv2.rectangle(
                    img, c, (c[0] + int(rng.uniform(10, 200)), c[1] + int(rng.uniform(10, 200))), col, -1
                )
    elif kind == "chart":
        img = np.full((h, w, 3), 255.0, np.float32)
        n = int(rng.integers(3, 10))
        for i in range(n):
            bh = int(rng.uniform(0.1, 0.8) * h)
            x0 = int(w * 0.1 + i * w * 0.8 / n)
            cv2.rectangle(
                img, (x0, h - 30 - bh), (x0 + int(w * 0.5 / n), h - 30), tuple(float(v) for v in c1), -1
            )
        cv2.line(img, (int(w * 0.08), h - 30), (w - 10, h - 30), (0.0, 0.0, 0.0), 2)
        cv2.line(img, (int(w * 0.08), 10), (int(w * 0.08), h - 30), (0.0, 0.0, 0.0), 2)
    else:
        raise ValueError(kind)
    return to_u8(img)


PATTERNS = (
    "flat",
    "flat_skin_tone",
    "gradient",
    "gradient_skin_tone",
    "checkerboard",
    "stripes",
    "noise",
    "smooth_noise",
    "shapes",
    "chart",
)


def synthetic_non_skin(seed: int = SEED, per_kind: int = 12) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(per_kind * 2):
        out.append((f"document_{i}", synthetic_document(rng)))
        out.append((f"screenshot_{i}", synthetic_screenshot(rng)))
    for kind in PATTERNS:
        for i in range(per_kind):
            img = synthetic_pattern(rng, kind)
            if rng.random() < 0.5:
                img = jpeg(img, int(rng.integers(70, 96)))
            out.append((f"{kind}_{i}", img))
    return out


# ----------------------------------------------------------------------------------------------------
# evaluation

KINDS = tuple(Modality)


def _timed(rgb: np.ndarray) -> tuple[Modality, float]:
    start = time.perf_counter()
    reading = classify_modality(rgb)
    return reading.kind, (time.perf_counter() - start) * 1000.0


class Tally:
    """Confusion row, timings and the misread images of one set."""

    def __init__(self, name: str, expected: Modality | None):
        self.name, self.expected = name, expected
        self.counts: Counter[Modality] = Counter()
        self.ms: list[float] = []
        self.misses: list[str] = []

    def add(self, image_id: str, rgb: np.ndarray) -> None:
        kind, ms = _timed(rgb)
        self.counts[kind] += 1
        self.ms.append(ms)
        if self.expected is not None and kind != self.expected:
            self.misses.append(f"{image_id}->{kind}")

    def row(self) -> str:
        n = sum(self.counts.values())
        cells = " ".join(f"{self.counts[k]:>11d}" for k in KINDS)
        if self.expected is None or n == 0:
            right = "          -"
        else:
            right = f"{100.0 * self.counts[self.expected] / n:>10.1f}%"
        ms = statistics.median(self.ms) if self.ms else float("nan")
        return f"{self.name:<22s} {n:>5d} {cells} {right} {ms:>8.2f}"


def evaluate(data_dir: Path, limit: int | None) -> list[Tally]:
    cv2.setNumThreads(1)
    tallies: list[Tally] = []

    def cut(items: list) -> list:
        return items[:limit] if limit else items

    for split in ("train", "test"):
        t = Tally(f"pad_{split}", Modality.clinical)
        for img_id, path, _ in tqdm(cut(pad_photos(data_dir, split)), desc=f"pad {split}", unit="photo"):
            t.add(img_id, read_rgb(path))
        tallies.append(t)

    rng = np.random.default_rng(SEED)
    derm = {edge: Tally(f"synth_derm {edge}", Modality.dermoscopic) for edge in ("circle", "falloff", "none")}
    masked = [p for p in pad_photos(data_dir, "train") if p[2] is not None]
    for img_id, path, mask_path in tqdm(cut(masked), desc="synthetic dermoscopy", unit="photo"):
        rgb = read_rgb(path)
        info: dict = {}
        view = synthetic_dermoscopy(rgb, read_mask(mask_path, rgb.shape[:2]), rng, info)
        derm[info["edge"]].add(img_id, view)
    tallies.extend(derm.values())

    ham = Tally("ham10000 (held out)", Modality.dermoscopic)
    for image_id, path in tqdm(cut(ham_photos(data_dir)), desc="ham10000", unit="image"):
        ham.add(image_id, read_rgb(path))
    tallies.append(ham)

    synthetic = Tally("not_skin synthetic", Modality.not_skin)
    for name, rgb in tqdm(cut(synthetic_non_skin()), desc="synthetic non-skin", unit="image"):
        synthetic.add(name, rgb)
    shipped = Tally("not_skin package photos", Modality.not_skin)
    persons = Tally("persons (no target)", None)
    for name, rgb, is_person in package_images():
        (persons if is_person else shipped).add(name, rgb)
    tallies.extend([synthetic, shipped, persons])
    return tallies


def serving_size_ms(data_dir: Path, n: int = 100) -> float:
    """Median ms of classify_modality on train photos enlarged to a 1024 px long side."""
    times = []
    for _, path, _ in pad_photos(data_dir, "train")[:n]:
        rgb = read_rgb(path)
        h, w = rgb.shape[:2]
        scale = 1024 / max(h, w)
        big = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        classify_modality(big)  # warm
        times.append(_timed(big)[1])
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--limit", type=int, default=None, help="at most N images per source (quick runs)")
    parser.add_argument("--misses", type=int, default=10, help="misread images listed per set")
    args = parser.parse_args()
    tallies = evaluate(args.data_dir, args.limit)
    head = " ".join(f"{k.value:>11s}" for k in KINDS)
    print(f"\n{'set':<22s} {'n':>5s} {head} {'right':>11s} {'ms (med)':>8s}")
    for t in tallies:
        print(t.row())
    both = [t for t in tallies if t.name.startswith("synth_derm")]
    n_derm = sum(sum(t.counts.values()) for t in both)
    if n_derm:
        right = sum(t.counts[Modality.dermoscopic] for t in both)
        print(f"{'synth_derm all':<22s} {n_derm:>5d} {'':>35s} {100.0 * right / n_derm:>10.1f}%")
    not_skin = [t for t in tallies if t.name.startswith("not_skin")]
    n_ns = sum(sum(t.counts.values()) for t in not_skin)
    if n_ns:
        right = sum(t.counts[Modality.not_skin] for t in not_skin)
        print(f"{'not_skin all':<22s} {n_ns:>5d} {'':>35s} {100.0 * right / n_ns:>10.1f}%")
    print(
        f"\nclassify_modality at a 1024 px long side (100 train photos, one thread): "
        f"median {serving_size_ms(args.data_dir):.2f} ms"
    )
    if args.misses:
        print("\nmisread (first few per set):")
        for t in tallies:
            if t.misses:
                print(f"  {t.name}: {len(t.misses)}: " + ", ".join(t.misses[: args.misses]))


if __name__ == "__main__":
    main()
