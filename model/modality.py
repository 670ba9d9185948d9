"""What kind of image a submitted photo is (pure numpy/OpenCV, no I/O, no state).

``classify_modality(rgb)`` says whether an HxWx3 uint8 RGB image is a ``clinical`` photo (a phone photo
of skin), a ``dermoscopic`` one (taken through a dermatoscope) or ``not_skin`` (a document, screenshot,
pet, landscape, object, plain colour...). It returns a :class:`ModalityReading`: the kind, a confidence
in [0.5, 1], the rule that decided (``reason``) and every feature it measured (``scores``, rounded to 4
decimals, for audit). Version ``MODALITY_VERSION``.

Scale. Features are measured on one analysis image: the input reduced so its long side is
``ANALYSIS_LONG_SIDE`` = 128 px (area averaging; first an integer-factor reduction, OpenCV's fast path;
never enlarged), plus five 32x32 patches of the input at its own resolution (``native_flat``) and, only
when the image has many strong edges, a 256 px copy (``text``). Inputs whose short side is below
``TINY_SIDE`` = 16 px (1x1, 3x900, 2000x5) carry no structure to judge: they are ``clinical`` when at
least half of their pixels are skin-coloured (the YCrCb model below), else ``not_skin``, never
``dermoscopic``, with confidence <= 0.6 (reason ``tiny``). A greyscale (HxW, HxWx1) input is repeated
to three channels and an alpha channel dropped; anything not uint8 is refused (TypeError), an empty or
non-image shape too (ValueError).

Features (``scores``). The colour and texture ones use the analysis image's *content*: the whole frame,
or, when a dermatoscope field was found, the disc inside it (radius - 0.05), so that the black surround
never counts as a colour, an edge or a flat area.

==============  =========================================================================================
score           what it measures
==============  =========================================================================================
field_fit       the dermatoscope's round field. Reference luma = the 80th percentile within half a
                half-diagonal of the centre; "dark" = below min(100, 0.5 x reference). For nine centres
                (offsets 0, +-6 % of the frame) and radii 0.40-1.20 half-diagonals (1 reaches the
                corners), fit = min(dark share outside the circle, non-dark share of the ring 0.15 wide
                just inside it), over radii leaving >= 0.5 % of the frame outside; the best is kept
                (``field_radius``, ``field_dx``, ``field_dy``). Run only when at least three of the
                four 3x3 corner blocks hold a dark pixel (else 0).
field_outside   share of the frame outside that circle
field_contrast  (median luma of the ring [r-0.12, r-0.04] + 1) / (median luma beyond r+0.03 + 1)
field_corners   the least dark frame quadrant: dark share of its pixels outside the circle (quadrants
                with < 4 such pixels skipped; fewer than three left: 0)
field_spread    (90th - 10th percentile of luma beyond r+0.03) / reference: a field is a flat black;
                hair, clothes or a shadow in the corners are textured
field           1 when the field conditions below hold (then the content is the disc)
grey            share of pixels whose channels differ by <= 3 (on the brightened copy, see skin):
                greyscale images, white or black backgrounds of renderings, screenshots and documents
skin            share inside the inclusive YCrCb skin model of ``model.quality_checks`` (Y 20-250, Cr
                129-180, Cb 75-133, Cr - Cb >= 6; copied here so a change there moves nothing), on a copy
                brightened so the content's median luma reaches 0.5 (gain <= 4). Pixels clipped to
                white (max >= 250 and min >= 200) or with luma < 15 are left out of every colour score.
skinlike        share that is skin, or warm (CIELAB hue -50..105 deg with chroma <= 80: red, orange,
                brown, yellowish, pink), or near-neutral without a green/blue tint (chroma < 6, a* >= -2,
                b* >= -6): any colour a photo of skin takes under usual light and white balance
chroma_median   median CIELAB chroma
homog           share of pixels whose (a*, b*) lies within 12 of the median (a*, b*)
colour_spread2  sqrt of the 2nd eigenvalue of the content's RGB covariance (brightened copy, grey
                levels): ~0 for a flat colour, a two-colour gradient or a greyscale image; > 1.3 for
                every photo seen (their colours vary along at least two directions)
native_flat     share of exactly flat 3x3 neighbourhoods (all channels) in five 32x32 patches of the
                input at its own resolution (the centre and the four points 15 % of the frame off it,
                inside any field); clipped (>= 250) and black (<= 5) pixels left out. Photos carry noise;
                drawings, renderings and screenshots have flat areas.
fine_ratio      mean |luma - Gaussian(1 px)| / mean |Gaussian(1 px) - Gaussian(3 px)|: white noise has
                its energy at the finest scale (> 2.3), photos at coarser ones (<= 2.1)
edges           share of pixels with a Sobel gradient above 25 grey levels per pixel
text, glyphs    computed only when edges > 0.1: on a 256 px copy, the dark thin structure (black top-hat
                7x7 above 40 levels) cut into connected pieces; text = share of it in glyph-sized pieces
                (<= 12 px high, <= 30 px wide, >= 4 px), glyphs = their number per 10,000 px. Text is
                many small marks; hairs and skin lines are long strokes; a face has a handful of marks.
==============  =========================================================================================

Decision, first match wins (``reason`` in brackets):

1. ``not_skin`` when the content is not a photo of skin:
   [grey] grey > 0.5; [colour] skinlike < 0.6; [saturated] skin < 0.05 and chroma_median > 40 (strongly
   saturated and nowhere skin-coloured: a fundus photo, an orange); [graphic] native_flat > 0.3;
   [ramp] colour_spread2 < 1.0; [noise] fine_ratio > 2.2; [text] edges > 0.1, text > 0.55 and glyphs
   > 25; [edges] edges > 0.35; [clutter] no field, edges > 0.08 and homog < 0.7 (many edges between
   several colour groups: a scene, an object, a portrait); [clutter_in_field] edges > 0.08 and homog
   < 0.5 (inside a field a lesion with hair fills the view, so more evidence is asked).
2. ``dermoscopic`` [field] when a round field was found: field_fit > 0.6, field_outside > 0.005,
   field_contrast > 2, field_corners > 0.6 and field_spread < 0.3.
3. ``clinical`` [skin] otherwise.

Known limits. A dermatoscope image *without* a visible dark field edge (the lens image fills the sensor)
reads as ``clinical``: magnification, even light and a large lesion also occur in close-up phone photos
(most PAD-UFES-20 photos are such close-ups), and no cue we tried told them apart without calling far
more than 2 % of the phone photos dermoscopic. A close-up of a pet's fur (the scikit-image cat) reads as
``clinical``: its colours, edges and texture all lie within those of skin photos. A portrait where the
face fills less than about half of the frame reads as ``not_skin`` (clutter); a close-up of a face or a
hand as ``clinical``. JPEG quality 30 or lower makes smooth skin blocky and flat: 2 % of the train
photos then read as ``not_skin`` (graphic), none at quality 60.

Confidence: each threshold has a scale (``_RULES``, ``_FIELD``); margin = (feature - threshold) / scale in
the rule's direction, a conjunction's margin is its weakest condition's. A ``not_skin`` reading's margin
is that of the rule that matched; a ``clinical`` or ``dermoscopic`` reading's is the smallest margin by
which a not_skin rule was missed, and also, for ``dermoscopic``, the field's margin, for ``clinical``
how clearly the field failed. confidence = 0.5 + 0.5 x min(1, margin).

How the thresholds were chosen. HAM10000 (CC BY-NC) was *not* used to choose or tune anything. The
features come from how the instruments, skin, documents and renderings look; every threshold was then
set on (a) the 1,050 PAD-UFES-20 photos of train patients (clinical), (b) synthetic dermatoscope views
made from the 795 of them with a lesion mask (``bench/modality_eval.py``: magnified crop around the
lesion, shading divided out, glare inpainted, deeper colour; in 55 % a dark field outside a circle of
radius 0.5-0.95 with a soft or sharp edge, in 25 % only a radial fall-off of the light; gel bubbles,
ruler ticks and hairs sometimes) and (c) 196 non-skin images (the sample photos shipped by
scikit-image, scikit-learn and matplotlib, and synthetic documents, screenshots, charts, gradients, flat
colours, checkerboards, stripes, shapes and noise), each away from the train photos: grey max 0.31;
skinlike min 0.64; native_flat max 0.26; colour_spread2 min 1.32; fine_ratio max 2.09; edges max 0.13;
text max 0.38 (hair on a scalp); clutter: of the 3 train photos with edges > 0.08 the lowest homog is
0.77; saturated: one train photo (an extreme yellow cast, chroma 61) matches. The field conditions hold
for no train photo: the closest, hair in all four corners, has field_corners 0.69 but field_contrast 1.9
and field_spread 0.28; of the synthetic views with a field, 95 % have field_fit >= 0.86, field_contrast
>= 3.0 and field_corners >= 0.80.

Results: ``python bench/modality_eval.py --data-dir ../shared/data`` (modality-1; thresholds frozen before
HAM10000 was read, which happened once, for this table):

    set                        n    clinical dermoscopic    not_skin       right ms (med)
    pad_train               1050        1049           0           1       99.9%     1.62
    pad_test                 187         186           0           1       99.5%     1.64
    synth_derm circle        446          11         425          10       95.3%     3.01
    synth_derm falloff       198         193           0           5        0.0%     2.14
    synth_derm none          151         150           0           1        0.0%     2.13
    ham10000 (held out)      586         536          43           7        7.3%     1.39
    not_skin synthetic       168           0           0         168      100.0%     1.62
    not_skin package photos   28           1           0          27       96.4%     2.18
    persons (no target)        2           0           0           2           -     3.24

PAD-UFES-20 photos read as clinical: 99.9 % (train) and 99.5 % (test; target >= 98 %); non-skin images
read as not_skin: 99.5 % (195 / 196; target >= 95 %; the miss is the scikit-image cat). HAM10000 images
read as dermoscopic: 7.3 % (target >= 90 %: missed by 82.7 points). Only 16 % of these HAM10000 images
show dark corners at all (at least three dark 3x3 corner blocks); the rest are full-frame dermatoscope
views, which this classifier reads as clinical (see Known limits): the field edge that it relies on is
far rarer there than the 55 % assumed in the synthetic views. Cost: ``classify_modality`` on the photos
as stored (<= 512 px) median 1.4-3.0 ms per set, on train photos enlarged to a 1024 px long side median
2.1 ms (one core, this 2-core machine shared with other jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

MODALITY_VERSION = "modality-1"

ANALYSIS_LONG_SIDE = 128
TINY_SIDE = 16
NATIVE_PATCH = 32
TEXT_LONG_SIDE = 256
TEXT_EDGES = 0.1

# the dermatoscope field
DARK_MAX = 100.0
DARK_REL = 0.5
FIELD_MIN_OUTSIDE = 0.005
_BINS = 100  # radius histogram bins over [0, 1.2) half-diagonals
_RING = 0.15
_OFFSETS = tuple((dx, dy) for dx in (-0.06, 0.0, 0.06) for dy in (-0.06, 0.0, 0.06))

# colour models
HUE_MIN, HUE_MAX, CHROMA_MAX = -50.0, 105.0, 80.0
NEUTRAL_CHROMA = 6.0

#: not_skin rules: reason -> ((feature, "<" or ">", threshold, scale), ...); all conditions must hold
_RULES: dict[str, tuple[tuple[str, str, float, float], ...]] = {
    "grey": (("grey", ">", 0.5, 0.3),),
    "colour": (("skinlike", "<", 0.6, 0.2),),
    "saturated": (("skin", "<", 0.05, 0.05), ("chroma_median", ">", 40.0, 15.0)),
    "graphic": (("native_flat", ">", 0.3, 0.2),),
    "ramp": (("colour_spread2", "<", 1.0, 0.5),),
    "noise": (("fine_ratio", ">", 2.2, 0.5),),
    "text": (("edges", ">", TEXT_EDGES, 0.05), ("text", ">", 0.55, 0.15), ("glyphs", ">", 25.0, 10.0)),
    "edges": (("edges", ">", 0.35, 0.1),),
    "clutter": (("field", "<", 0.5, 0.5), ("edges", ">", 0.08, 0.04), ("homog", "<", 0.7, 0.15)),
    "clutter_in_field": (("edges", ">", 0.08, 0.04), ("homog", "<", 0.5, 0.15)),
}
#: the dermatoscope field: all must hold
_FIELD: tuple[tuple[str, str, float, float], ...] = (
    ("field_fit", ">", 0.6, 0.2),
    ("field_outside", ">", FIELD_MIN_OUTSIDE, 0.01),
    ("field_contrast", ">", 2.0, 2.0),
    ("field_corners", ">", 0.6, 0.2),
    ("field_spread", "<", 0.3, 0.15),
)


class Modality(StrEnum):
    clinical = "clinical"
    dermoscopic = "dermoscopic"
    not_skin = "not_skin"


@dataclass(frozen=True)
class ModalityReading:
    """The kind of one image, how sure (0.5-1), the rule that decided, and the measured features."""

    kind: Modality
    confidence: float
    reason: str
    scores: Mapping[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------
# image helpers


def _coerce(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 (a greyscale HxW or HxWx1 is repeated, an alpha channel dropped)."""
    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {a.dtype}")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[0] < 1 or a.shape[1] < 1 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an HxWx3 image, got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


def reduce_image(rgb: np.ndarray, long_side: int = ANALYSIS_LONG_SIDE) -> np.ndarray:
    """Long side down to ``long_side`` by area averaging (never enlarged): an integer-factor reduction
    first (OpenCV's fast path; up to factor - 1 rows/columns at the bottom/right are dropped), then an
    area resize of what is left."""
    h, w = rgb.shape[:2]
    if max(h, w) <= long_side:
        return rgb
    k = max(h, w) // long_side
    if k >= 2 and min(h, w) >= k:
        hh, ww = (h // k) * k, (w // k) * k
        rgb = cv2.resize(rgb[:hh, :ww], (ww // k, hh // k), interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
    if max(h, w) <= long_side:
        return rgb
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """The inclusive YCrCb skin model of ``model.quality_checks`` (kept here so that a change there does
    not move these thresholds): boolean HxW."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycc[..., 0], ycc[..., 1].astype(np.int16), ycc[..., 2].astype(np.int16)
    return (y >= 20) & (y <= 250) & (cr >= 129) & (cr <= 180) & (cb >= 75) & (cb <= 133) & (cr - cb >= 6)


def _channel_max_min(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)


def _median_u8(values: np.ndarray) -> float:
    """Median of uint8 values from their histogram (fast)."""
    if values.size == 0:
        return 0.0
    cdf = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return float(np.searchsorted(cdf, (cdf[-1] + 1) // 2))


def _radius(h: int, w: int, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """Distance of each pixel centre from (0.5 + dx, 0.5 + dy) of the frame, in half-diagonals."""
    xs = (np.arange(w, dtype=np.float32) + 0.5 - w * (0.5 + dx))[None, :]
    ys = (np.arange(h, dtype=np.float32) + 0.5 - h * (0.5 + dy))[:, None]
    return np.sqrt(xs * xs + ys * ys) / np.float32(np.hypot(w / 2, h / 2))


# ----------------------------------------------------------------------------------------------------
# features


def _field(y: np.ndarray) -> dict[str, float]:
    """Fit 'dark outside a circle, bright just inside it' to the analysis image's luma (uint8)."""
    h, w = y.shape
    r0 = _radius(h, w)
    inner = y[r0 < 0.5]
    reference = float(np.percentile(inner, 80)) if inner.size else float(np.median(y))
    dark = y < min(DARK_MAX, DARK_REL * reference)
    out = {
        "field_fit": 0.0,
        "field_radius": 1.2,
        "field_dx": 0.0,
        "field_dy": 0.0,
        "field_outside": 0.0,
        "field_contrast": 1.0,
        "field_corners": 0.0,
        "field_spread": 1.0,
    }
    c = min(3, h, w)
    corner_blocks = (dark[:c, :c], dark[:c, -c:], dark[-c:, :c], dark[-c:, -c:])
    if sum(bool(b.any()) for b in corner_blocks) < 3:
        return out
    d = dark.ravel().astype(np.float64)
    k0 = int(0.4 * _BINS / 1.2)
    band = round(_RING * _BINS / 1.2)
    ks = np.arange(k0, _BINS)
    min_outside = max(4.0, FIELD_MIN_OUTSIDE * h * w)
    for dx, dy in _OFFSETS:
        idx = np.minimum((_radius(h, w, dx, dy) * (_BINS / 1.2)).astype(np.int32), _BINS - 1).ravel()
        tot = np.bincount(idx, minlength=_BINS).astype(np.float64)
        drk = np.bincount(idx, weights=d, minlength=_BINS)
        tot_out = tot[::-1].cumsum()[::-1][ks]
        drk_out = drk[::-1].cumsum()[::-1][ks]
        ctot = np.concatenate([[0.0], tot.cumsum()])
        cdrk = np.concatenate([[0.0], drk.cumsum()])
        ring_tot = ctot[ks] - ctot[ks - band]
        f_out = drk_out / np.maximum(tot_out, 1.0)
        f_ring = 1.0 - (cdrk[ks] - cdrk[ks - band]) / np.maximum(ring_tot, 1.0)
        fit = np.where((tot_out >= min_outside) & (ring_tot > 0), np.minimum(f_out, f_ring), 0.0)
        k = int(np.argmax(fit))
        if fit[k] > out["field_fit"]:
            out.update(
                field_fit=float(fit[k]),
                field_radius=float(ks[k] * 1.2 / _BINS),
                field_dx=dx,
                field_dy=dy,
                field_outside=float(tot_out[k] / (h * w)),
            )
    if out["field_fit"] <= 0.0:
        return out
    r = _radius(h, w, out["field_dx"], out["field_dy"])
    rad = out["field_radius"]
    ring = y[(r > rad - 0.12) & (r < rad - 0.04)]
    beyond = y[r > rad + 0.03]
    if ring.size and beyond.size:
        out["field_contrast"] = (_median_u8(ring) + 1.0) / (_median_u8(beyond) + 1.0)
        p10, p90 = np.percentile(beyond, (10, 90))
        out["field_spread"] = float(p90 - p10) / max(reference, 1.0)
    outside = r > rad
    shares = []
    for qy in (slice(0, h // 2), slice(h - h // 2, h)):
        for qx in (slice(0, w // 2), slice(w - w // 2, w)):
            o = outside[qy, qx]
            if o.sum() >= 4:
                shares.append(float(dark[qy, qx][o].mean()))
    out["field_corners"] = min(shares) if len(shares) >= 3 else 0.0
    return out


def _native_flat(rgb: np.ndarray) -> float:
    """Share of exactly flat 3x3 neighbourhoods (every channel) in five patches of the input at its own
    resolution; clipped (>= 250) and black (<= 5) pixels left out."""
    h, w = rgb.shape[:2]
    ph, pw = min(NATIVE_PATCH, h), min(NATIVE_PATCH, w)
    ker = np.ones((3, 3), np.uint8)
    flat = total = 0
    for fy, fx in ((0.5, 0.5), (0.35, 0.35), (0.35, 0.65), (0.65, 0.35), (0.65, 0.65)):
        y0 = int(np.clip(fy * h - ph / 2, 0, h - ph))
        x0 = int(np.clip(fx * w - pw / 2, 0, w - pw))
        p = rgb[y0 : y0 + ph, x0 : x0 + pw]
        spread, _ = _channel_max_min(cv2.subtract(cv2.dilate(p, ker), cv2.erode(p, ker)))
        mx, mn = _channel_max_min(p)
        ok = (mx < 250) & (mn > 5)
        flat += int(np.count_nonzero((spread == 0) & ok))
        total += int(np.count_nonzero(ok))
    return flat / total if total else 0.0


def _text(rgb: np.ndarray) -> tuple[float, float]:
    """Text-like marks on a TEXT_LONG_SIDE copy: the dark thin structure (black top-hat, 7x7, > 40 grey
    levels) in glyph-sized pieces (at most 12 px high and 30 px wide, at least 4 px). Returns (their
    share of that structure, their number per 10,000 px): text is many small marks; hairs and skin
    lines are long strokes, a face has a handful of small dark marks."""
    gray = cv2.cvtColor(reduce_image(rgb, TEXT_LONG_SIDE), cv2.COLOR_RGB2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
    marks = (cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel) > 40).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(marks, connectivity=8)
    if n <= 1:
        return 0.0, 0.0
    w, h, area = stats[1:, 2], stats[1:, 3], stats[1:, 4]
    glyph = (h <= 12) & (w <= 30) & (area >= 4)
    return float(area[glyph].sum()) / float(area.sum()), float(glyph.sum()) * 1e4 / gray.size


def measure(rgb: np.ndarray) -> dict[str, float]:
    """Every feature of the module docstring's table for one HxWx3 uint8 image (``classify_modality``
    calls it for short sides >= TINY_SIDE)."""
    small = reduce_image(rgb)
    h, w = small.shape[:2]
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    s = _field(gray)
    is_field = _holds(_FIELD, s)
    s["field"] = float(is_field)
    if is_field:
        r = _radius(h, w, s["field_dx"], s["field_dy"])
        content = r < s["field_radius"] - 0.05
        if np.count_nonzero(content) < 0.1 * content.size:
            content = r < s["field_radius"]
    else:
        content = np.ones((h, w), bool)

    # colour, on a copy brightened so that the content's median luma is at least 0.5
    gain = min(4.0, 127.5 / max(_median_u8(gray[content]), 1.0))
    norm = cv2.convertScaleAbs(small, alpha=gain) if gain > 1.0 else small
    mx, mn = _channel_max_min(small)
    nmx, nmn = _channel_max_min(norm)
    ok = content & ~((mx >= 250) & (mn >= 200)) & (gray >= 15)
    if np.count_nonzero(ok) < 0.1 * np.count_nonzero(content):
        ok = content
    n_ok = max(1, np.count_nonzero(ok))
    s["grey"] = np.count_nonzero(((nmx - nmn) <= 3) & ok) / n_ok
    lab = cv2.cvtColor(norm, cv2.COLOR_RGB2Lab)
    a_u8, b_u8 = lab[..., 1][ok], lab[..., 2][ok]
    a = a_u8.astype(np.float32) - 128.0
    b = b_u8.astype(np.float32) - 128.0
    chroma = np.sqrt(a * a + b * b)
    hue = np.degrees(np.arctan2(b, a))
    skin = skin_mask(norm)[ok]
    warm = (hue >= HUE_MIN) & (hue <= HUE_MAX) & (chroma <= CHROMA_MAX)
    neutral = (chroma < NEUTRAL_CHROMA) & (a >= -2.0) & (b >= -6.0)
    s["skin"] = np.count_nonzero(skin) / n_ok
    s["skinlike"] = np.count_nonzero(skin | warm | neutral) / n_ok
    s["chroma_median"] = _median_u8(np.minimum(chroma + 0.5, 255).astype(np.uint8))
    ma, mb = _median_u8(a_u8) - 128.0, _median_u8(b_u8) - 128.0
    s["homog"] = np.count_nonzero((a - ma) ** 2 + (b - mb) ** 2 < 144.0) / n_ok
    pix = norm[content].astype(np.float32)
    pix -= pix.mean(axis=0)
    cov = pix.T @ pix / max(1, len(pix) - 1)
    s["colour_spread2"] = float(np.sqrt(max(float(np.linalg.eigvalsh(cov)[1]), 0.0)))
    s["native_flat"] = _native_flat(rgb)

    # luma texture and structure
    y = gray.astype(np.float32)
    b1 = cv2.GaussianBlur(y, (0, 0), 1.0)
    b3 = cv2.GaussianBlur(y, (0, 0), 3.0)
    fine = float(np.abs(y - b1)[content].mean())
    mid = float(np.abs(b1 - b3)[content].mean())
    s["fine_ratio"] = fine / max(mid, 0.05)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3) * 0.125
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3) * 0.125
    inner = cv2.erode(content.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 if is_field else content
    n_inner = np.count_nonzero(inner)
    s["edges"] = np.count_nonzero(((gx * gx + gy * gy) > 625.0) & inner) / n_inner if n_inner else 0.0
    s["text"], s["glyphs"] = _text(rgb) if s["edges"] > TEXT_EDGES else (0.0, 0.0)
    return {k: float(v) for k, v in s.items()}


# ----------------------------------------------------------------------------------------------------
# decision


def _margin(feature: float, op: str, threshold: float, scale: float) -> float:
    """Signed distance past the threshold in the rule's direction, in scales (> 0: the condition holds)."""
    d = feature - threshold if op == ">" else threshold - feature
    return d / scale


def _holds(conditions: tuple[tuple[str, str, float, float], ...], s: Mapping[str, float]) -> bool:
    return _strength(conditions, s) > 0


def _strength(conditions: tuple[tuple[str, str, float, float], ...], s: Mapping[str, float]) -> float:
    """How firmly a conjunction holds (> 0, its weakest condition) or fails (< 0, its clearest failure)."""
    return min(_margin(s[f], op, t, sc) for f, op, t, sc in conditions)


def decide(s: Mapping[str, float]) -> tuple[Modality, float, str]:
    """(kind, confidence, reason) from ``measure``'s features (see the module docstring)."""
    strengths = {reason: _strength(conds, s) for reason, conds in _RULES.items()}
    for reason, strength in strengths.items():
        if strength > 0:
            return Modality.not_skin, 0.5 + 0.5 * min(1.0, strength), reason
    missed = min(-v for v in strengths.values())
    field_strength = _strength(_FIELD, s)
    if field_strength > 0:
        return Modality.dermoscopic, 0.5 + 0.5 * min(1.0, missed, field_strength), "field"
    return Modality.clinical, 0.5 + 0.5 * min(1.0, missed, -field_strength), "skin"


def classify_modality(rgb: np.ndarray) -> ModalityReading:
    """The modality of one HxWx3 uint8 RGB image of any size >= 1x1 (see the module docstring)."""
    img = _coerce(rgb)
    h, w = img.shape[:2]
    if min(h, w) < TINY_SIDE:
        share = float(np.count_nonzero(skin_mask(img))) / (h * w)
        kind = Modality.clinical if share >= 0.5 else Modality.not_skin
        confidence = 0.5 + min(0.1, abs(share - 0.5) * 0.2)
        return ModalityReading(kind, round(confidence, 3), "tiny", {"skin": round(share, 4)})
    scores = measure(img)
    kind, confidence, reason = decide(scores)
    return ModalityReading(kind, round(confidence, 3), reason, {k: round(v, 4) for k, v in scores.items()})
