"""Lesion localisation (``find_lesion``) and how well the photo frames it (size and position)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.quality_checks.imaging import (
    ANALYSIS_LONG_SIDE,
    SEGMENT_LONG_SIDE,
    clip01,
    normalise_brightness,
    resize_long_side,
)


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
    small = resize_long_side(resize_long_side(rgb, ANALYSIS_LONG_SIDE), SEGMENT_LONG_SIDE)
    return find_lesion(normalise_brightness(small))


def framing_scores(lesion: LesionRegion | None) -> tuple[float, float]:
    """(size score, position score) of the lesion; both 0 when none was found.

    size: sqrt(area / 10 %) (0.4 at 1.6 % of the frame); position: the lower of
    1 - (offset - 0.35) / 0.5 and 1 - cut (0.4 when the centroid is 65 % of the way to an edge or when
    the frame edge cuts a chord of 0.6 diameters off the lesion).
    """
    if lesion is None:
        return 0.0, 0.0
    size = clip01(np.sqrt(lesion.area / 0.10))
    position = clip01(min(1.0 - (lesion.offset - 0.35) / 0.5, 1.0 - lesion.cut))
    return size, position
