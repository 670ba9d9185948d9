"""Framing: the lesion too far away (small in the frame) or partly out of the frame.

The lesion's place comes from its mask when there is one, else it is assumed near the centre."""

from __future__ import annotations

import cv2
import numpy as np

from data_pipelines.degrade._common import draw, lesion_box, smooth_field
from data_pipelines.degrade.spec import Severity

S = Severity
#: too_far: the photo shrunk to this share of its size on a canvas of matching skin.
TOO_FAR_SCALE = {S.mild: (0.68, 0.78), S.moderate: (0.42, 0.5), S.severe: (0.22, 0.3)}
#: out_of_frame: share of the lesion's extent (along the cut) left outside the frame.
CUT_FRACTION = {S.mild: (0.05, 0.15), S.moderate: (0.35, 0.5), S.severe: (0.75, 0.95)}
#: out_of_frame: the crop's size as a share of the frame (enlarged back to the frame).
CROP_ZOOM = (0.6, 0.8)


def skin_canvas(rgb: np.ndarray, lesion: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """More skin like the photo's (float RGB): its border colour with mild shading, plus the fine texture
    of the corner with the least lesion, mirror-tiled."""
    h, w = rgb.shape[:2]
    hh, ww = max(2, h // 3), max(2, w // 3)
    corners = [(0, 0), (0, w - ww), (h - hh, 0), (h - hh, w - ww)]
    y, x = corners[int(np.argmin([lesion[y : y + hh, x : x + ww].mean() for y, x in corners]))]
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
    shade = 1.0 + 0.12 * (smooth_field(rng, h, w, 3) - 0.5)
    return base * shade[..., None] + texture


def too_far(rgb, rng, severity, lesion):
    h, w = rgb.shape[:2]
    scale = draw(rng, TOO_FAR_SCALE, severity)
    canvas = skin_canvas(rgb, lesion, rng)
    sh, sw = max(2, int(h * scale)), max(2, int(w * scale))
    small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    y0 = int(np.clip((h - sh) // 2 + rng.integers(-h // 20, h // 20 + 1), 0, h - sh))
    x0 = int(np.clip((w - sw) // 2 + rng.integers(-w // 20, w // 20 + 1), 0, w - sw))
    alpha = np.zeros((h, w), np.float32)
    alpha[y0 + sh // 8 : y0 + sh - sh // 8, x0 + sw // 8 : x0 + sw - sw // 8] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, 0.06 * min(sh, sw)))
    alpha[y0 + sh // 4 : y0 + sh - sh // 4, x0 + sw // 4 : x0 + sw - sw // 4] = 1
    placed = canvas.copy()
    placed[y0 : y0 + sh, x0 : x0 + sw] = small
    out = canvas * (1 - alpha[..., None]) + placed * alpha[..., None]
    return out, {"variant": "too_far", "scale": round(scale, 4)}


def out_of_frame(rgb, rng, severity, lesion):
    """A zoomed-in crop whose edge cuts off ``cut_frac`` of the lesion's extent, enlarged back."""
    h, w = rgb.shape[:2]
    cut = draw(rng, CUT_FRACTION, severity)
    zoom = float(rng.uniform(*CROP_ZOOM))
    cx, cy, x0, y0, x1, y1 = lesion_box(lesion)
    # where each side's crop edge would lie, and the room left for the crop beyond it
    edges = {
        "left": (x0 + cut * (x1 - x0), w - (x0 + cut * (x1 - x0)), w),
        "right": (x1 - cut * (x1 - x0), x1 - cut * (x1 - x0), w),
        "top": (y0 + cut * (y1 - y0), h - (y0 + cut * (y1 - y0)), h),
        "bottom": (y1 - cut * (y1 - y0), y1 - cut * (y1 - y0), h),
    }
    room = {side: r / n for side, (_, r, n) in edges.items()}
    feasible = [s for s, r in room.items() if r >= 0.5]
    side = feasible[int(rng.integers(len(feasible)))] if feasible else max(room, key=room.__getitem__)
    frac = min(zoom, room[side])
    frac = max(frac, 0.3)
    cw, ch = max(4, int(round(frac * w))), max(4, int(round(frac * h)))
    edge = edges[side][0]
    jitter = float(rng.uniform(-0.15, 0.15))
    if side in ("left", "right"):
        cx0 = edge if side == "left" else edge - cw
        cy0 = cy - ch / 2 + jitter * ch
    else:
        cy0 = edge if side == "top" else edge - ch
        cx0 = cx - cw / 2 + jitter * cw
    cx0 = int(np.clip(round(cx0), 0, w - cw))
    cy0 = int(np.clip(round(cy0), 0, h - ch))
    crop = rgb[cy0 : cy0 + ch, cx0 : cx0 + cw]
    out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC)
    kept = float(lesion[cy0 : cy0 + ch, cx0 : cx0 + cw].sum() / max(1, lesion.sum()))
    params = {"variant": "out_of_frame", "cut_frac": round(cut, 4), "side": side, "zoom": round(frac, 4)}
    params["lesion_kept"] = round(kept, 4)
    return out, params


FRAMINGS = {"too_far": too_far, "out_of_frame": out_of_frame}


def framing(rgb, rng, severity, lesion, variant=None):
    """The lesion too far away (``too_far``) or cut by the frame (``out_of_frame``), chosen by the rng
    (or forced by ``variant``)."""
    drawn = "too_far" if rng.random() < 0.5 else "out_of_frame"
    return FRAMINGS[variant or drawn](rgb, rng, severity, lesion)
