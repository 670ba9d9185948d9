"""Defects of the light and the sensor: under-/overexposure, glare, low-light noise, colour cast.

Everything is done in linear light (sRGB decoded), as a camera would get it wrong."""

from __future__ import annotations

import cv2
import numpy as np

from data_pipelines.degrade._common import draw, lesion_box, smooth_field, to_linear, to_srgb
from data_pipelines.degrade.spec import Severity

S = Severity
#: Exposure gain in linear light (mild about -1.2 EV, moderate -2.6 EV, severe -4.4 EV).
UNDER_GAIN = {S.mild: (0.38, 0.5), S.moderate: (0.13, 0.19), S.severe: (0.04, 0.06)}
#: Sensor noise of the underexposed photo, luma std in 8-bit levels at mid-grey before darkening.
UNDER_NOISE = {S.mild: (1.5, 3.0), S.moderate: (4.0, 6.0), S.severe: (7.0, 10.0)}
#: Exposure gain and added veiling flare (linear light) of an overexposed photo.
OVER_GAIN = {S.mild: (1.6, 1.9), S.moderate: (2.4, 3.0), S.severe: (4.5, 6.0)}
OVER_FLARE = {S.mild: (0.0, 0.02), S.moderate: (0.03, 0.06), S.severe: (0.08, 0.14)}
#: Share of the frame whose specular core is saturated.
GLARE_AREA = {S.mild: (0.002, 0.005), S.moderate: (0.015, 0.025), S.severe: (0.05, 0.09)}
#: Low-light noise: luma std in 8-bit levels at mid-grey.
NOISE_SIGMA = {S.mild: (3.0, 5.0), S.moderate: (9.0, 13.0), S.severe: (18.0, 26.0)}
#: Colour cast strength: the largest per-channel log gain.
CAST_STRENGTH = {S.mild: (0.12, 0.2), S.moderate: (0.35, 0.5), S.severe: (0.7, 0.9)}
#: Directions of per-channel log gains (R, G, B) of lamps the white balance missed.
CASTS = {
    "warm_tungsten": (0.55, 0.0, -1.0),
    "cool_blue": (-0.6, -0.1, 1.0),
    "green_fluorescent": (-0.55, 1.0, -0.55),
    "magenta": (0.7, -1.0, 0.7),
}
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
_MID_SLOPE = 273.0  # 8-bit sRGB levels per unit of linear light at mid-grey (linear 0.216)


def sensor_noise(lin, rng, sigma_mid, *, chroma=0.7, read_share=0.25):
    """Photon (signal-dependent) plus read noise in linear light, luma and slightly blotchy chroma.

    ``sigma_mid``: luma std in 8-bit sRGB levels on a mid-grey area."""
    h, w = lin.shape[:2]
    s_lin = sigma_mid / _MID_SLOPE
    shot = (1 - read_share) * s_lin**2 / 0.216
    read = np.sqrt(read_share) * s_lin
    sigma = np.sqrt(shot * np.clip(lin, 0, None) + read**2)
    luma = rng.normal(0.0, 1.0, (h, w, 1)).astype(np.float32)
    blot = max(0.6, 0.0025 * max(h, w))
    colour = cv2.GaussianBlur(rng.normal(0.0, 1.0, (h, w, 3)).astype(np.float32), (0, 0), blot)
    colour *= 1.0 / max(1e-3, float(colour.std()))
    return lin + sigma * (luma + chroma * colour) / np.sqrt(1 + chroma**2)


def underexposure(rgb, rng, severity, lesion):
    """Too little light: the photo dark in linear light, with the sensor noise that comes with it."""
    gain = draw(rng, UNDER_GAIN, severity)
    gamma = float(rng.uniform(1.0, 1.15))
    sigma = draw(rng, UNDER_NOISE, severity)
    lin = gain * to_linear(rgb) ** gamma
    out = to_srgb(sensor_noise(lin, rng, sigma))
    return out, {"gain": round(gain, 4), "gamma": round(gamma, 3), "noise_sigma_mid": round(sigma, 2)}


def overexposure(rgb, rng, severity, lesion):
    """Too much light: linear gain plus veiling flare, highlights clipped and washed out."""
    gain = draw(rng, OVER_GAIN, severity)
    flare = draw(rng, OVER_FLARE, severity)
    out = to_srgb(to_linear(rgb) * gain + flare)
    return out, {"gain": round(gain, 3), "flare": round(flare, 4)}


def glare(rgb, rng, severity, lesion):
    """Specular highlights / flash hotspot: one irregular saturated spot with a soft falloff plus small
    shiny specks around it, on the lesion (moist, scaly, raised) or somewhere central; sometimes an
    elongated streak (a lamp's reflection)."""
    h, w = rgb.shape[:2]
    long_side = max(h, w)
    area = draw(rng, GLARE_AREA, severity)
    on_lesion = bool(rng.random() < 0.6)
    if on_lesion:
        cx, cy, x0, y0, x1, y1 = lesion_box(lesion)
        spread = 0.3 * max(x1 - x0, y1 - y0, 0.1 * long_side)
        cx, cy = cx + rng.normal(0, spread / 2), cy + rng.normal(0, spread / 2)
    else:
        cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
        spread = 0.12 * long_side
    streak = bool(rng.random() < 0.3)
    target = area * h * w
    main_r = np.sqrt(target * 0.6 / np.pi)
    aspect = rng.uniform(4.0, 8.0) if streak else rng.uniform(1.0, 1.8)
    axes = (max(1, int(main_r * np.sqrt(aspect))), max(1, int(main_r / np.sqrt(aspect))))
    core = np.zeros((h, w), np.float32)
    cv2.ellipse(core, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
    # ragged outline: the shape of the shiny surface, not a drawn ellipse
    edge = max(1.0, 0.25 * main_r)
    core = cv2.GaussianBlur(core, (0, 0), edge) + 0.35 * (
        smooth_field(rng, h, w, long_side / (2 * edge)) - 0.5
    )
    core = (core > 0.5).astype(np.float32)
    for _ in range(60):  # small shiny specks around it until the target area is reached
        if core.sum() >= target:
            break
        r = max(1.0, float(rng.uniform(0.004, 0.012)) * long_side)
        px, py = cx + rng.normal(0, spread), cy + rng.normal(0, spread)
        e = rng.uniform(1.0, 2.2)
        spot = (max(1, int(r * e)), max(1, int(r / e)))
        cv2.ellipse(
            core, (int(px), int(py)), spot, rng.uniform(0, 180), 0, 360, float(rng.uniform(0.6, 1.0)), -1
        )
    soft = cv2.GaussianBlur(core, (0, 0), max(0.8, 0.004 * long_side))
    halo = cv2.GaussianBlur(core, (0, 0), max(2.0, 0.04 * long_side))
    halo *= 1.0 / max(1e-6, float(halo.max()))
    light = np.array([1.0, 0.99, 0.96], np.float32)  # flash / lamp, slightly warm
    out = to_linear(rgb) + (2.5 * soft + float(rng.uniform(0.1, 0.3)) * halo)[..., None] * light
    params = {"area_frac": round(area, 5), "on_lesion": int(on_lesion), "streak": int(streak)}
    return to_srgb(out), params


def noise(rgb, rng, severity, lesion):
    """Low-light sensor noise at nearly normal brightness (the phone raised the ISO), luma and chroma;
    sometimes the phone's denoising smears part of it."""
    sigma = draw(rng, NOISE_SIGMA, severity)
    gain = float(rng.uniform(0.85, 1.0))
    out = to_srgb(sensor_noise(gain * to_linear(rgb), rng, sigma, chroma=float(rng.uniform(0.5, 0.9))))
    denoise = bool(rng.random() < 0.4)
    if denoise:
        d = max(3, int(0.012 * max(rgb.shape[:2])) | 1)
        out = cv2.bilateralFilter(out, d, sigmaColor=1.2 * sigma, sigmaSpace=d / 2)
    return out, {"sigma_mid": round(sigma, 2), "gain": round(gain, 3), "denoise": int(denoise)}


def colour_cast(rgb, rng, severity, lesion, variant=None):
    """A lamp the white balance missed: per-channel gains in linear light at constant luminance."""
    kind = variant or list(CASTS)[int(rng.integers(len(CASTS)))]
    strength = draw(rng, CAST_STRENGTH, severity)
    gains = np.exp(strength * np.array(CASTS[kind], np.float32))
    gains /= float(gains @ _LUMA)
    out = to_srgb(to_linear(rgb) * gains)
    params = {"kind": kind, "strength": round(strength, 4)}
    params.update({f"gain_{c}": round(float(g), 4) for c, g in zip("rgb", gains, strict=True)})
    return out, params
