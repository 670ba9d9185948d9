"""Image-quality checks for patient phone photos of skin lesions (pure numpy/OpenCV, no I/O, no state).

``assess_quality(rgb, original_size=...)`` says at once whether a dermatologist could judge a submitted
photo and, if not, what the patient should do differently. Every check gives a score in [0, 1] (higher
is better, rounded to 3 decimals) and passes when ``score >= threshold``; the verdict is "accept" only
if every check passes, else "retake".

Scale. All pixel checks run on one analysis image: the input resized so its long side is
``ANALYSIS_LONG_SIDE`` = 384 px (INTER_AREA when shrinking; a smaller input is enlarged with
INTER_LINEAR), so a photo sent at 1008 px or at 512 px gets nearly the same scores. 384 and not 512
because the calibration photos are mostly 300 px originals: sharpness thresholds calibrated on heavily
enlarged images would be lax for real phone photos. Glare runs on a 192 px copy, skin / lesion / colour
on a 128 px copy that is first brightened if dark (median luma raised to 0.5, gain <= 4), so that those
checks judge colours, not exposure (exposure has its own checks).

Checks, in the order of ``QualityReport.instructions`` (``IMPORTANCE``):

==============  =====  ===================================================================================
check           pass   what the score measures / the patient instruction when it fails
==============  =====  ===================================================================================
skin_present    >=0.5  share of the unclipped pixels inside an inclusive YCrCb skin model (Y 20-250,
                       Cr 129-180, Cb 75-133, Cr - Cb >= 6; covers Fitzpatrick I-VI), / 0.6: fails below
                       30 % skin. (Almost all clipped: not judged, overexposure fails instead.)
                       "Make sure the photo shows the skin around the spot, filling most of the picture."
lesion_framing  >=0.4  the lesion = the most salient, roundest, most central region whose CIELAB colour
                       differs from the skin (skin modelled by a quadratic shading surface). Score = min(
                       size: sqrt(area / 10 %), i.e. fails below 1.6 % of the frame;
                       position: min(1 - (centroid offset - 0.35) / 0.5, 1 - edge cut), offset 0 at the
                       centre and 1 at the frame edge, edge cut = lesion pixels on the frame edge /
                       equivalent diameter). No lesion found: 0. The instruction is the worse part's:
                       size  -> "Move closer so the spot fills about a third of the photo."
                       place -> "Centre the spot and keep all of it inside the frame."
focus_blur      >=0.5  edge sharpness in the central 70 %: at edge pixels (gradient ridge, 7x7 range above
                       max(0.02, half its 97th percentile), dominant in its window) |gradient| / 7x7
                       range, which is 0.5 for a perfect step and ~0.4/sigma for a Gaussian blur of sigma
                       px, whatever the contrast; 75th percentile per edge orientation (8 bins); score =
                       sharpest orientation / 0.5, so only blur in every direction (defocus) fails it.
                       "Hold the phone about 10-15 cm from the skin and tap the spot on the screen so the
                       camera focuses on it."
motion_blur     >=0.43 the same sharpness in the blurriest orientation (b) and the sharpest (s):
                       score = max(b / 0.5, b / s - 0.37), so it fails only when one direction is soft
                       (b < 0.215) *and* the softness is directional (b / s < 0.8).
                       "Hold the phone steady - rest your elbow on a table - and take the photo again."
underexposure   >=0.5  brightness = 0.5 x median + 0.5 x 99th percentile of luma (0-1), / 0.4: fails
                       below 0.2. Set low on purpose so that well-lit dark skin passes (a Fitzpatrick V-VI
                       tone of RGB (90, 60, 45) scores ~0.7).
                       "Move to a brighter place with even light, such as near a window during the day."
overexposure    >=0.5  1 - max(clipped share (any channel >= 250) / 0.5, (5th-percentile luma - 0.6) /
                       0.35): fails with >= 25 % clipped or when even the darkest parts are washed out.
                       "The photo is too bright: move out of direct sunlight or turn the flash off."
glare           >=0.5  area share of specular highlights: nearly clipped (V >= 245), white (S <= 70, every
                       channel >= 215) blobs >= 25 levels above their surroundings (white top-hat, disc of
                       15 % of the side), each <= 5 % of the frame; score = 1 - share / 1.4 %: fails from
                       0.7 % of the frame.
                       "Avoid shine on the skin: turn the flash off and tilt the phone slightly so lights
                       don't reflect."
colour_cast     >=0.5  CIELAB distance of the frame's median (a*, b*) outside the region of skin photos
                       in daylight (a* >= 0: not green; b* >= 0: not blue; chroma <= 38: not strongly
                       orange/yellow); score = 1 - distance / 6: fails beyond 3 units.
                       "Take the photo in daylight or white light; avoid coloured or yellow lamps."
resolution      >=0.3  log2(short side of the original photo / 128) / 3: fails below 238 px (a floor:
                       320x240 and the 300x300 PAD-UFES-20 photos pass, 200x150 thumbnails fail). Until
                       quality-checks-1 it failed below 446 px, which rejected 92 % of the PAD-UFES-20
                       photos dermatologists diagnosed from; whether a larger photo holds enough detail
                       (digital zoom, an enlarged thumbnail) is the learned quality model's call.
                       "Use your phone's main camera at full resolution, and send the photo itself rather
                       than a screenshot or a thumbnail."
==============  =====  ===================================================================================

Why this order: first what makes the photo useless whatever else is fixed (no skin in view, no usable
view of the spot), then sharpness (no processing can restore it), then light and colour, and resolution
last (a photo that is otherwise good is often still readable when small). Duplicates are dropped.

``QualityReport.score`` is the worst check after mapping each score piecewise-linearly so that 0 -> 0,
its threshold -> 0.5 and 1 -> 1 (a failing report is capped at 0.499): ``score >= 0.5`` exactly when
the verdict is "accept", and the score says how close the worst check is to its threshold.

Calibration: ``python bench/quality_calibration.py --data-dir ../shared/data`` on the 559 PAD-UFES-20
photos of train patients, each scored clean and with the defects of ``data_pipelines.degrade`` (moderate /
severe); quality-checks-2:

    check           thr  clean pass   defect   mod fail sev fail AUC mod AUC sev
    resolution      0.30  100.0% *    low_res    97.1%   100.0%   rule     rule
    focus_blur      0.50   97.7%      defocus   100.0%    99.5%   1.000    0.999
    motion_blur     0.43   97.3%      motion     90.2%    88.2%   0.989    0.983
    underexposure   0.50  100.0%      dark        4.3%    91.2%   0.997    1.000
    overexposure    0.50   99.3%      bright     84.1%    99.6%   0.987    0.999
    glare           0.50   98.9%      glare      99.3%    84.1%   0.997    0.992
    colour_cast     0.50   97.3%      cast       63.7%    88.2%   0.844    0.950
    skin_present    0.50   97.7%      no_skin    98.2%    97.3%   0.979    0.988
    lesion_framing  0.40   94.6%      tiny       20.4%    70.7%   0.812    0.951
                                      off_centre 83.0%    85.2%   0.940    0.959

Clean photos accepted: 84.4 % (resolution on the photos' own sizes). (*) The 300x300 PAD-UFES-20 photos
pass the resolution floor. The "moderate" darkening leaves light skin as bright as well-lit dark skin and
is not meant to fail. The checks alone are not the service's verdict when the learned quality model is
loaded: ``model.quality_verdict`` combines both (sharpness, glare, colour and framing checks then only
inform the instructions). ``assess_quality`` on a 1008x756 input: 8-12 ms median on one core.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

CHECKS_VERSION = "quality-checks-2"

ANALYSIS_LONG_SIDE = 384
SEGMENT_LONG_SIDE = 128
GLARE_LONG_SIDE = 192

CHECK_NAMES: tuple[str, ...] = (
    "resolution",
    "focus_blur",
    "motion_blur",
    "underexposure",
    "overexposure",
    "glare",
    "colour_cast",
    "skin_present",
    "lesion_framing",
)

#: Most important first: the order of ``QualityReport.instructions``.
IMPORTANCE: tuple[str, ...] = (
    "skin_present",
    "lesion_framing",
    "focus_blur",
    "motion_blur",
    "underexposure",
    "overexposure",
    "glare",
    "colour_cast",
    "resolution",
)

THRESHOLDS: dict[str, float] = {
    "resolution": 0.3,
    "focus_blur": 0.5,
    "motion_blur": 0.43,
    "underexposure": 0.5,
    "overexposure": 0.5,
    "glare": 0.5,
    "colour_cast": 0.5,
    "skin_present": 0.5,
    "lesion_framing": 0.4,
}

INSTRUCTIONS: dict[str, str] = {
    "resolution": (
        "Use your phone's main camera at full resolution, and send the photo itself rather than "
        "a screenshot or a thumbnail."
    ),
    "focus_blur": (
        "Hold the phone about 10\u201315 cm from the skin and tap the spot on the screen so the camera "
        "focuses on it."
    ),
    "motion_blur": "Hold the phone steady \u2014 rest your elbow on a table \u2014 and take the photo again.",
    "underexposure": "Move to a brighter place with even light, such as near a window during the day.",
    "overexposure": "The photo is too bright: move out of direct sunlight or turn the flash off.",
    "glare": (
        "Avoid shine on the skin: turn the flash off and tilt the phone slightly so lights don't reflect."
    ),
    "colour_cast": "Take the photo in daylight or white light; avoid coloured or yellow lamps.",
    "skin_present": "Make sure the photo shows the skin around the spot, filling most of the picture.",
}
INSTRUCTION_MOVE_CLOSER = "Move closer so the spot fills about a third of the photo."
INSTRUCTION_CENTRE = "Centre the spot and keep all of it inside the frame."


class Verdict(StrEnum):
    """Whether a dermatologist could judge the photo ("accept") or the patient must take it again."""

    accept = "accept"
    retake = "retake"


@dataclass(frozen=True)
class CheckResult:
    name: str
    score: float
    passed: bool
    threshold: float
    instruction: str | None


@dataclass(frozen=True)
class QualityReport:
    verdict: Verdict
    score: float
    checks: dict[str, CheckResult]
    instructions: list[str]


# ----------------------------------------------------------------------------------------------------
# helpers


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _resize_long_side(img: np.ndarray, long_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    if scale == 1.0:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(img, size, interpolation=interp)


def _normalise_brightness(rgb: np.ndarray) -> np.ndarray:
    """A dark image brightened (gain up to 4, so its median luma reaches 0.5), so that the colour-based
    checks (skin, lesion, colour cast) judge colours rather than exposure, which has its own check."""
    median = float(np.median(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))) / 255.0
    gain = min(4.0, 0.5 / max(median, 1e-3))
    if gain <= 1.0:
        return rgb
    return cv2.convertScaleAbs(rgb, alpha=gain)


def _central(a: np.ndarray, keep: float = 0.7) -> np.ndarray:
    h, w = a.shape[:2]
    dy, dx = int(h * (1 - keep) / 2), int(w * (1 - keep) / 2)
    return a[dy : h - dy, dx : w - dx]


# ----------------------------------------------------------------------------------------------------
# resolution


def resolution_score(original_size: tuple[int, int]) -> float:
    """log2(short side / 128 px) / 3: 0 at 128 px, 0.3 at 238 px, 0.41 at 300 px, 1 at >= 1024 px."""
    short = min(int(original_size[0]), int(original_size[1]))
    if short <= 0:
        return 0.0
    return _clip01(np.log2(short / 128.0) / 3.0)


# ----------------------------------------------------------------------------------------------------
# sharpness

_SHARP_WINDOW = 7
_N_ORIENT = 8


def directional_sharpness(gray: np.ndarray) -> tuple[float, float]:
    """(sharpest, blurriest) edge sharpness over 8 edge orientations, on the central 70 % of ``gray``.

    At each strong edge pixel (local maximum of the gradient, local range above max(0.02, half the
    97th percentile)) the sharpness is |gradient| / (max - min in a 7x7 window): 0.5 for an ideal step,
    about 0.4 / sigma for a step blurred by a Gaussian of sigma px, and independent of contrast, so dark
    or flat photos are not called blurred. Per orientation (structure-tensor orientation, 8 bins) the
    75th percentile is taken; orientations with fewer than 10 edge pixels are skipped.
    """
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) * 0.125
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) * 0.125
    mag = cv2.magnitude(gx, gy)
    kernel = np.ones((_SHARP_WINDOW, _SHARP_WINDOW), np.uint8)
    local_range = cv2.dilate(gray, kernel) - cv2.erode(gray, kernel)
    ox = cv2.GaussianBlur(gx * gx - gy * gy, (0, 0), 1.0)
    oy = cv2.GaussianBlur(2 * gx * gy, (0, 0), 1.0)
    mag, local_range, ox, oy = (_central(x) for x in (mag, local_range, ox, oy))
    rmin = max(0.02, 0.5 * float(np.percentile(local_range, 97)))
    is_peak = mag >= cv2.dilate(mag, np.ones((3, 3), np.uint8))
    # the dominant edge of its window, not flat skin next to a strong edge (e.g. beside a hair)
    dominant = mag >= 0.5 * cv2.dilate(mag, kernel)
    sel = (local_range > rmin) & is_peak & dominant & (mag > 0)
    if not sel.any():
        return 0.0, 0.0
    ratio = mag[sel] / local_range[sel]
    angle = (np.arctan2(oy[sel], ox[sel]) * 0.5) % np.pi
    bins = np.floor(angle / np.pi * _N_ORIENT + 0.5).astype(np.int64) % _N_ORIENT
    per_bin = [
        float(np.percentile(ratio[bins == b], 75)) for b in range(_N_ORIENT) if (bins == b).sum() >= 10
    ]
    if not per_bin:
        return 0.0, 0.0
    return max(per_bin), min(per_bin)


def focus_score(sharpest: float) -> float:
    return _clip01(sharpest / 0.5)


def motion_score(sharpest: float, blurriest: float) -> float:
    if sharpest <= 0:
        return 0.0
    return _clip01(max(blurriest / 0.5, blurriest / sharpest - 0.37))


# ----------------------------------------------------------------------------------------------------
# exposure, glare, colour


def _percentiles_u8(gray_u8: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Percentiles (0-100) of a uint8 image, as fractions of 255, from its histogram (fast)."""
    cdf = np.cumsum(cv2.calcHist([gray_u8], [0], None, [256], [0, 256]).ravel())
    cdf /= cdf[-1]
    return [float(np.searchsorted(cdf, q / 100.0)) / 255.0 for q in qs]


def underexposure_score(gray_u8: np.ndarray) -> float:
    """Brightness 0.5 x median + 0.5 x 99th percentile of luma; score = brightness / 0.4."""
    p50, p99 = _percentiles_u8(gray_u8, (50, 99))
    return _clip01((0.5 * p50 + 0.5 * p99) / 0.4)


def overexposure_score(rgb: np.ndarray, gray_u8: np.ndarray) -> float:
    """1 - max(clipped share / 0.5, (5th-percentile luma - 0.6) / 0.35)."""
    brightest = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    clipped = float(np.count_nonzero(brightest >= 250)) / brightest.size
    (p5,) = _percentiles_u8(gray_u8, (5,))
    return _clip01(1.0 - max(clipped / 0.5, (p5 - 0.6) / 0.35))


def glare_fraction(rgb: np.ndarray) -> float:
    """Area share of specular highlights: nearly clipped (V >= 245), nearly white (S <= 70, every
    channel >= 215) blobs standing >= 25 levels above their surroundings (white top-hat with a disc of
    15 % of the long side), each at most 5 % of the frame (larger ones are overexposure)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    v = hsv[..., 2]
    k = max(3, round(max(v.shape) * 0.15)) | 1
    tophat = cv2.morphologyEx(v, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    near_white = np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]) >= 215
    cand = ((v >= 245) & (hsv[..., 1] <= 70) & (tophat >= 25) & near_white).astype(np.uint8)
    if not cand.any():
        return 0.0
    _, _, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return float(areas[areas <= 0.05 * cand.size].sum()) / cand.size


def glare_score(fraction: float) -> float:
    return _clip01(1.0 - fraction / 0.014)


def colour_cast_score(lab: np.ndarray) -> float:
    """How far the frame's median CIELAB chroma (a*, b*) lies outside the region of skin photos in
    daylight: a* >= 0 (not green), b* >= 0 (not blue), chroma <= 38 (not strongly orange/yellow).
    score = 1 - excess / 6 (CIELAB units), so it fails beyond 3 units outside."""
    a = float(np.median(lab[..., 1]))
    b = float(np.median(lab[..., 2]))
    excess = max(float(np.hypot(max(-a, 0.0), max(-b, 0.0))), float(np.hypot(a, b)) - 38.0, 0.0)
    return _clip01(1.0 - excess / 6.0)


# ----------------------------------------------------------------------------------------------------
# skin


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Inclusive skin-colour model in YCrCb (covers Fitzpatrick I-VI): boolean HxW."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycc[..., 0], ycc[..., 1].astype(np.int16), ycc[..., 2].astype(np.int16)
    return (y >= 20) & (y <= 250) & (cr >= 129) & (cr <= 180) & (cb >= 75) & (cb <= 133) & (cr - cb >= 6)


def skin_fraction(rgb: np.ndarray, unnormalised: np.ndarray | None = None) -> float:
    """Share of skin-coloured pixels among those that are not clipped (any channel >= 250 in
    ``unnormalised``, default ``rgb``): clipped pixels have lost their colour, and overexposure is its own
    check. When fewer than 10 % of the pixels keep their colour, skin cannot be judged and 1.0 is
    returned (the photo fails overexposure instead)."""
    base = rgb if unnormalised is None else unnormalised
    valid = np.maximum(np.maximum(base[..., 0], base[..., 1]), base[..., 2]) < 250
    n_valid = int(np.count_nonzero(valid))
    if n_valid < 0.1 * valid.size:
        return 1.0
    return float(np.count_nonzero(skin_mask(rgb) & valid)) / n_valid


def skin_score(fraction: float) -> float:
    return _clip01(fraction / 0.6)


# ----------------------------------------------------------------------------------------------------
# lesion localisation and framing


@dataclass(frozen=True)
class LesionRegion:
    """The lesion found by ``find_lesion`` (on the SEGMENT_LONG_SIDE image)."""

    mask: np.ndarray  # bool HxW
    area: float  # share of the frame
    offset: float  # max(|dx|, |dy|) of the centroid, 0 = centre, 1 = frame edge
    cut: float  # lesion pixels on the frame edge / equivalent diameter (about 1 when half is cut off)


def _otsu(values: np.ndarray, bins: int = 64) -> float:
    hist, edges = np.histogram(values, bins)
    p = hist / max(1, hist.sum())
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (m0[-1] * w0 - m0) ** 2 / (w0 * (1.0 - w0))
    return float(centres[int(np.argmax(np.nan_to_num(between)))])


def find_lesion(rgb_small: np.ndarray) -> LesionRegion | None:
    """The most salient compact region, preferring the centre, whose colour differs from the skin.

    Skin = the 60 % of pixels closest to the median colour; a quadratic surface fitted to their L*, a*,
    b* models the skin with its shading. Pixels farther than max(Otsu, median + 2 MAD of the skin, 5)
    from it (L* differences counted half: shading is mostly lightness) form candidate regions; the one
    with the most excess contrast, weighted by roundness (minor/major axis) and a Gaussian centre
    prior (sigma 0.2 of the frame), is the lesion, holes filled.
    """
    h, w = rgb_small.shape[:2]
    lab = cv2.cvtColor(rgb_small.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2Lab)
    lab = cv2.GaussianBlur(lab, (0, 0), 1.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xn, yn = (xx + 0.5) / w - 0.5, (yy + 0.5) / h - 0.5
    flat = lab.reshape(-1, 3)
    dist = np.linalg.norm(flat - np.median(flat, axis=0), axis=1)
    skin = dist <= np.quantile(dist, 0.6)
    design = np.stack([np.ones_like(xn), xn, yn, xn * xn, yn * yn, xn * yn], axis=-1).reshape(-1, 6)
    fit = design[skin]
    coef = np.linalg.solve(fit.T @ fit + 1e-6 * np.eye(6, dtype=np.float32), fit.T @ flat[skin])
    diff = flat - design @ coef
    diff[:, 0] *= 0.5
    dist = np.linalg.norm(diff, axis=1)
    skin = dist <= np.quantile(dist, 0.6)
    med = float(np.median(dist[skin]))
    mad = 1.4826 * float(np.median(np.abs(dist[skin] - med)))
    thresh = max(_otsu(dist), med + 2.0 * mad, 5.0)
    dist = dist.reshape(h, w)
    binary = (dist > thresh).astype(np.uint8)
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, ker)
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, ker)
    n, labels, stats, cents = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return None
    lab_flat = labels.ravel()
    count = np.bincount(lab_flat, minlength=n)[1:].astype(np.float64)
    excess = np.bincount(lab_flat, weights=(dist - thresh).clip(0).ravel(), minlength=n)[1:]
    # roundness from second moments: sqrt(minor / major eigenvalue of the pixel covariance)
    sx, sy = (np.bincount(lab_flat, weights=v.ravel(), minlength=n)[1:] / count for v in (xx, yy))
    sxx, syy, sxy = (
        np.bincount(lab_flat, weights=v.ravel(), minlength=n)[1:] / count for v in (xx * xx, yy * yy, xx * yy)
    )
    cxx, cyy, cxy = sxx - sx * sx + 0.25, syy - sy * sy + 0.25, sxy - sx * sy
    half_trace, root = 0.5 * (cxx + cyy), np.sqrt(0.25 * (cxx - cyy) ** 2 + cxy**2)
    roundness = np.sqrt(np.maximum(half_trace - root, 0.0) / (half_trace + root))
    cx, cy = cents[1:, 0] / w - 0.5, cents[1:, 1] / h - 0.5
    area = count / (h * w)
    weight = excess * roundness * np.exp(-(cx**2 + cy**2) / (2 * 0.2**2)) * (area >= 0.001)
    if not weight.any():
        return None
    best = int(np.argmax(weight))
    # fill holes: flood the outside from a zero frame; what the flood does not reach is inside
    flood = np.zeros((h + 2, w + 2), np.uint8)
    flood[1:-1, 1:-1] = labels == best + 1
    cv2.floodFill(flood, None, (0, 0), 2)
    m = flood[1:-1, 1:-1] != 2
    ys, xs = np.nonzero(m)
    offset = float(max(abs(xs.mean() + 0.5 - w / 2) / (w / 2), abs(ys.mean() + 0.5 - h / 2) / (h / 2)))
    edge = int(m[0].sum() + m[-1].sum() + m[1:-1, 0].sum() + m[1:-1, -1].sum())
    diameter = 2.0 * np.sqrt(m.sum() / np.pi)
    return LesionRegion(mask=m, area=float(m.mean()), offset=offset, cut=float(edge / diameter))


def locate_lesion(rgb: np.ndarray) -> LesionRegion | None:
    """``find_lesion`` as ``assess_quality`` runs it: on the analysis image reduced to SEGMENT_LONG_SIDE,
    brightness-normalised. The returned mask is at that reduced size."""
    small = _resize_long_side(_resize_long_side(rgb, ANALYSIS_LONG_SIDE), SEGMENT_LONG_SIDE)
    return find_lesion(_normalise_brightness(small))


def framing_scores(lesion: LesionRegion | None) -> tuple[float, float]:
    """(size score, position score) of the lesion; both 0 when none was found.

    size: sqrt(area / 10 %) (0.4 at 1.6 % of the frame); position: the lower of
    1 - (offset - 0.35) / 0.5 and 1 - cut (0.4 when the centroid is 65 % of the way to an edge or when
    the frame edge cuts a chord of 0.6 diameters off the lesion).
    """
    if lesion is None:
        return 0.0, 0.0
    size = _clip01(np.sqrt(lesion.area / 0.10))
    position = _clip01(min(1.0 - (lesion.offset - 0.35) / 0.5, 1.0 - lesion.cut))
    return size, position


# ----------------------------------------------------------------------------------------------------
# the report


def _result(name: str, score: float, instruction: str | None = None) -> CheckResult:
    score = round(_clip01(score), 3)
    threshold = THRESHOLDS[name]
    passed = score >= threshold
    text = None if passed else (instruction or INSTRUCTIONS[name])
    return CheckResult(name=name, score=score, passed=passed, threshold=threshold, instruction=text)


def _overall(checks: dict[str, CheckResult]) -> float:
    worst = 1.0
    for c in checks.values():
        t = c.threshold
        q = 0.5 * c.score / t if c.score < t else 0.5 + 0.5 * (c.score - t) / (1.0 - t)
        worst = min(worst, q)
    if any(not c.passed for c in checks.values()):
        worst = min(worst, 0.499)
    return round(worst, 3)


def assess_quality(rgb: np.ndarray, *, original_size: tuple[int, int]) -> QualityReport:
    """rgb: HxWx3 uint8 RGB, already EXIF-oriented, reduced so its long side is <= ~1024 px
    (may be smaller, e.g. 512x512). original_size: (width, height) of the full-size photo."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("rgb must be an HxWx3 uint8 array")
    if min(rgb.shape[:2]) < 8:
        raise ValueError("image too small to assess")
    img = _resize_long_side(np.ascontiguousarray(rgb), ANALYSIS_LONG_SIDE)
    gray_u8 = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    gray = gray_u8.astype(np.float32) * (1.0 / 255.0)
    small = _resize_long_side(img, SEGMENT_LONG_SIDE)
    colours = _normalise_brightness(small)
    lab_small = cv2.cvtColor(colours.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2Lab)

    sharpest, blurriest = directional_sharpness(gray)
    lesion = find_lesion(colours)
    size, position = framing_scores(lesion)
    framing_text = INSTRUCTION_MOVE_CLOSER if size <= position else INSTRUCTION_CENTRE

    results = [
        _result("resolution", resolution_score(original_size)),
        _result("focus_blur", focus_score(sharpest)),
        _result("motion_blur", motion_score(sharpest, blurriest)),
        _result("underexposure", underexposure_score(gray_u8)),
        _result("overexposure", overexposure_score(img, gray_u8)),
        _result("glare", glare_score(glare_fraction(_resize_long_side(img, GLARE_LONG_SIDE)))),
        _result("colour_cast", colour_cast_score(lab_small)),
        _result("skin_present", skin_score(skin_fraction(colours, small))),
        _result("lesion_framing", min(size, position), framing_text),
    ]
    checks = {r.name: r for r in results}
    instructions: list[str] = []
    for name in IMPORTANCE:
        text = checks[name].instruction
        if text is not None and text not in instructions:
            instructions.append(text)
    verdict = Verdict.accept if all(r.passed for r in results) else Verdict.retake
    return QualityReport(verdict=verdict, score=_overall(checks), checks=checks, instructions=instructions)
