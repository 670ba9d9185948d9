"""Obstruction: something between the phone and the lesion: a finger, hair strands, or clothing.

The finger and the clothing enter from a border towards the lesion and advance until they cover the
drawn share of the lesion (mild: they stay at the border)."""

from __future__ import annotations

import cv2
import numpy as np

from data_pipelines.degrade._common import draw, lesion_box, skin_colour, smooth_field
from data_pipelines.degrade.spec import Severity

S = Severity
#: Share of the lesion covered by the finger or the fabric (mild: see MILD_DEPTH).
LESION_COVER = {S.moderate: (0.25, 0.45), S.severe: (0.6, 0.9)}
#: Mild: how far (fraction of L) the object enters from the border, covering at most MILD_MAX_COVER.
MILD_DEPTH = (0.07, 0.14)
MILD_MAX_COVER = 0.1
#: Number of hair strands (moderate and severe ones crossing the lesion).
HAIRS = {S.mild: (3, 6), S.moderate: (14, 22), S.severe: (40, 60)}
FABRICS = np.array(
    [
        [40, 60, 105],
        [225, 225, 220],
        [25, 25, 30],
        [150, 35, 40],
        [120, 125, 130],
        [55, 95, 60],
        [200, 170, 120],
    ],
    np.float32,
)


def _entry(rng, lesion, shape):
    """A border point and the unit direction from it towards the lesion (with a little angle jitter)."""
    h, w = shape
    cx, cy, *_ = lesion_box(lesion)
    side = ("left", "right", "top", "bottom")[int(rng.integers(4))]
    along = float(rng.uniform(0.25, 0.75))
    bx, by = {
        "left": (0, along * h),
        "right": (w - 1, along * h),
        "top": (along * w, 0),
        "bottom": (along * w, h - 1),
    }[side]
    angle = np.arctan2(cy - by, cx - bx) + rng.uniform(-0.15, 0.15)
    return side, np.array([bx, by], np.float32), np.array([np.cos(angle), np.sin(angle)], np.float32)


def _finger_shape(shape, start, direction, depth, width):
    h, w = shape
    tip = start + direction * depth
    back = start - direction * 2 * max(h, w)
    m = np.zeros((h, w), np.uint8)
    cv2.line(m, tuple(int(v) for v in back), tuple(int(v) for v in tip), 1, max(1, int(width)), cv2.LINE_8)
    cv2.circle(m, tuple(int(v) for v in tip), max(1, int(width / 2)), 1, -1)
    return m.astype(np.float32)


def _fabric_shape(shape, start, direction, depth, wave):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    along = (xx - start[0]) * direction[0] + (yy - start[1]) * direction[1]
    across = -(xx - start[0]) * direction[1] + (yy - start[1]) * direction[0]
    edge = depth + wave[0] * max(h, w) * np.sin(across / max(h, w) * wave[1] + wave[2])
    return (along < edge).astype(np.float32)


def _advance(shape_fn, lesion, severity, rng, long_side):
    """The depth at which the shape covers the drawn share of the lesion (bisection at low resolution)."""
    small_scale = min(1.0, 160 / long_side)
    size = (max(4, int(lesion.shape[1] * small_scale)), max(4, int(lesion.shape[0] * small_scale)))
    small = cv2.resize(lesion.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    total = max(1, int(small.sum()))

    def cover(depth):
        return float((shape_fn((size[1], size[0]), depth * small_scale)[small] > 0).sum() / total)

    if severity == S.mild:
        depth = float(rng.uniform(*MILD_DEPTH)) * long_side
        if cover(depth) <= MILD_MAX_COVER:
            return depth
        target = MILD_MAX_COVER / 2
    else:
        target = draw(rng, LESION_COVER, severity)
    lo, hi = 0.0, 2.0 * long_side
    for _ in range(14):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cover(mid) < target else (lo, mid)
    return hi


def _shadow(out, alpha, direction, long_side, strength):
    shift = direction * 0.02 * long_side
    m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    cast = cv2.warpAffine(alpha, m, (alpha.shape[1], alpha.shape[0]))
    cast = cv2.GaussianBlur(cast, (0, 0), max(1.0, 0.02 * long_side))
    return out * (1 - strength * cast)[..., None]


def finger(rgb, rng, severity, lesion):
    h, w = rgb.shape[:2]
    long_side = max(h, w)
    side, start, direction = _entry(rng, lesion, (h, w))
    width = float(rng.uniform(0.25, 0.4)) * long_side
    depth = _advance(
        lambda s, d: _finger_shape(s, start * s[0] / h, direction, d, width * s[0] / h),
        lesion,
        severity,
        rng,
        long_side,
    )
    alpha = _finger_shape((h, w), start, direction, depth, width)
    # cylinder shading across the finger, skin colour a little redder, out of focus (close to the lens)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    across = (-(xx - start[0]) * direction[1] + (yy - start[1]) * direction[0]) / (width / 2)
    shade = 0.55 + 0.5 * np.sqrt(np.clip(1 - across**2, 0, 1))
    tone = skin_colour(rgb, lesion) * np.array([1.04, 0.95, 0.93], np.float32) * float(rng.uniform(0.85, 1.1))
    colour = tone * shade[..., None]
    nail = bool(rng.random() < 0.5)
    if nail:
        tip = start + direction * depth
        centre = tip - direction * 0.32 * width
        nail_mask = np.zeros((h, w), np.float32)
        ang = float(np.degrees(np.arctan2(direction[1], direction[0])))
        axes = (max(1, int(0.3 * width)), max(1, int(0.27 * width)))
        cv2.ellipse(nail_mask, tuple(int(v) for v in centre), axes, ang, 0, 360, 1.0, -1)
        nail_colour = (0.5 * tone + 0.5 * np.array([235, 205, 195], np.float32)) * shade[..., None]
        nail_mask *= alpha
        colour = colour * (1 - nail_mask[..., None]) + nail_colour * nail_mask[..., None]
    blur = float(rng.uniform(0.01, 0.025)) * long_side
    soft = cv2.GaussianBlur(alpha, (0, 0), blur)
    colour = cv2.GaussianBlur(colour * alpha[..., None], (0, 0), blur) / np.maximum(soft, 1e-3)[..., None]
    out = _shadow(rgb.astype(np.float32), alpha, direction, long_side, 0.35)
    out = out * (1 - soft[..., None]) + colour * soft[..., None]
    return (
        out,
        alpha > 0.5,
        {"kind": "finger", "side": side, "width_frac": round(width / long_side, 4), "nail": int(nail)},
    )


def hair(rgb, rng, severity, lesion):
    h, w = rgb.shape[:2]
    long_side = max(h, w)
    lo, hi = HAIRS[severity]
    count = int(rng.integers(lo, hi + 1))
    cx, cy, x0, y0, x1, y1 = lesion_box(lesion)
    scale = 4  # drawn at 4x and averaged down: anti-aliased thin strands
    layer = np.zeros((h * scale, w * scale), np.float32)
    thick = max(1, int(round(float(rng.uniform(0.003, 0.006)) * long_side * scale)))
    flow = float(rng.uniform(0, np.pi))  # hair on a body site grows in roughly one direction
    for _ in range(count):
        if severity == S.mild:
            mid = rng.uniform(0, 1, 2) * (w, h)
        else:
            mid = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        length = float(rng.uniform(0.3, 0.9)) * long_side
        angle = flow + float(rng.normal(0, 0.3))
        d = np.array([np.cos(angle), np.sin(angle)])
        p = np.array([-d[1], d[0]])
        t = np.linspace(-0.5, 0.5, 24)[:, None]
        bend = float(rng.uniform(-0.25, 0.25))
        pts = mid + length * (t * d + bend * (4 * t**2 - 1) * p)
        cv2.polylines(layer, [np.round(pts * scale).astype(np.int32)], False, 1.0, thick, cv2.LINE_AA)
    alpha = cv2.resize(layer, (w, h), interpolation=cv2.INTER_AREA) * float(rng.uniform(0.75, 0.95))
    colour = np.array([35, 25, 20], np.float32) * float(rng.uniform(0.6, 1.6))
    out = rgb.astype(np.float32) * (1 - alpha[..., None]) + colour * alpha[..., None]
    return (
        out,
        alpha > 0.3,
        {"kind": "hair", "strands": count, "thickness_frac": round(thick / scale / long_side, 5)},
    )


def fabric(rgb, rng, severity, lesion):
    h, w = rgb.shape[:2]
    long_side = max(h, w)
    side, start, direction = _entry(rng, lesion, (h, w))
    wave = (float(rng.uniform(0.005, 0.02)), float(rng.uniform(3, 9)), float(rng.uniform(0, 6.28)))
    depth = _advance(
        lambda s, d: _fabric_shape(s, start * s[0] / h, direction, d, wave), lesion, severity, rng, long_side
    )
    alpha = _fabric_shape((h, w), start, direction, depth, wave)
    base = FABRICS[int(rng.integers(len(FABRICS)))] * float(rng.uniform(0.85, 1.15))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(2.5, float(rng.uniform(0.008, 0.016)) * long_side)
    ang = float(rng.uniform(0, np.pi))
    u, v = xx * np.cos(ang) + yy * np.sin(ang), -xx * np.sin(ang) + yy * np.cos(ang)
    weave = 0.12 * np.sin(2 * np.pi * u / period) * np.sign(np.sin(np.pi * v / period))
    weave += 0.05 * rng.normal(0.0, 1.0, (h, w)).astype(np.float32)
    folds = 0.75 + 0.4 * smooth_field(rng, h, w, 4)
    colour = base * (folds + weave)[..., None] + 10 * smooth_field(rng, h, w, long_side / 3)[..., None]
    soft = cv2.GaussianBlur(alpha, (0, 0), max(0.7, 0.004 * long_side))
    out = _shadow(rgb.astype(np.float32), alpha, direction, long_side, 0.4)
    out = out * (1 - soft[..., None]) + colour * soft[..., None]
    return out, alpha > 0.5, {"kind": "fabric", "side": side}


OBSTACLES = {"finger": finger, "hair": hair, "fabric": fabric}


def obstruction(rgb, rng, severity, lesion, variant=None):
    """A finger, hair strands or a clothing edge in front of the lesion; records the covered shares."""
    drawn = list(OBSTACLES)[int(rng.integers(len(OBSTACLES)))]
    kind = variant or drawn
    out, covered, params = OBSTACLES[kind](rgb, rng, severity, lesion)
    params["lesion_coverage"] = round(float(covered[lesion].mean()), 4)
    params["frame_coverage"] = round(float(covered.mean()), 4)
    return out, params
