"""Tests for model.modality on small synthetic images made here (no dataset files)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from model.modality import ANALYSIS_LONG_SIDE, TINY_SIDE, Modality, ModalityReading, classify_modality

LIGHT_SKIN = (205, 160, 135)
DARK_SKIN = (110, 75, 55)
BROWN_LESION = (110, 70, 50)


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), sigma)


def skin_photo(skin=LIGHT_SKIN, *, size=(300, 400), seed=0) -> np.ndarray:
    """A phone-like close-up: skin with uneven light, pores and sensor noise, a mottled brown lesion
    covering about 6 % of the frame, and two hairs. size = (height, width)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shading = 0.85 + 0.25 * (xx / w) - 0.1 * ((yy / h - 0.4) ** 2)
    img = np.asarray(skin, np.float32) * shading[..., None]
    img += 12.0 * _noise(rng, (h, w), 1.2)[..., None]
    radius = np.hypot((xx - 0.52 * w) / (0.14 * w), (yy - 0.48 * h) / (0.12 * h))
    inside = cv2.GaussianBlur((radius <= 1.0).astype(np.float32), (0, 0), 1.0)[..., None]
    lesion = np.asarray(BROWN_LESION, np.float32) * (1.0 + 0.3 * _noise(rng, (h, w), 3.0)[..., None])
    img = img * (1 - inside) + lesion * inside
    for _ in range(2):
        p1 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        p2 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        cv2.line(img, p1, p2, tuple(0.5 * np.asarray(skin, float)), 1, cv2.LINE_AA)
    img += rng.normal(0, 2.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def dermoscopy_view(*, size=(336, 448), field_radius=0.8, seed=1) -> np.ndarray:
    """A dermatoscope-like image: evenly lit pinkish skin, a large mottled brown lesion (a third of the
    frame's short side across) with a darker network, and a near-black surround outside a circle of
    ``field_radius`` half-diagonals."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.asarray((215, 160, 150), np.float32) * np.ones((h, w, 1), np.float32)
    img += 8.0 * _noise(rng, (h, w), 1.5)[..., None]
    radius = np.hypot(xx - 0.5 * w, yy - 0.5 * h) / (0.3 * h)
    inside = cv2.GaussianBlur((radius <= 1.0).astype(np.float32), (0, 0), 2.0)[..., None]
    network = (np.sin(xx / 3.0) * np.sin(yy / 3.0) > 0.3).astype(np.float32)[..., None]
    lesion = (
        np.asarray((130, 85, 65), np.float32)
        * (1.0 - 0.25 * network)
        * (1.0 + 0.2 * _noise(rng, (h, w), 4.0)[..., None])
    )
    img = img * (1 - inside) + lesion * inside
    r = np.hypot(xx - w / 2, yy - h / 2) / np.hypot(w / 2, h / 2)
    edge = np.clip((field_radius - r) / 0.02 + 0.5, 0.0, 1.0)[..., None]
    img = img * edge + 12.0 * (1 - edge)
    img += rng.normal(0, 1.5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def document(*, size=(400, 300)) -> np.ndarray:
    """A white page with lines of black text."""
    h, w = size
    img = np.full((h, w, 3), 245, np.uint8)
    for i, y in enumerate(range(30, h - 20, 18)):
        cv2.putText(
            img, f"Invoice {i} total amount due", (15, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1
        )
    return img


# ----------------------------------------------------------------------------------------------------
# the three kinds


def test_skin_photo_is_clinical() -> None:
    for skin in (LIGHT_SKIN, DARK_SKIN):
        reading = classify_modality(skin_photo(skin))
        assert reading.kind == Modality.clinical, reading
        assert reading.reason == "skin"
        assert reading.scores["field"] == 0.0


def test_dermoscopy_disc_with_dark_surround_is_dermoscopic() -> None:
    for radius in (0.62, 0.8, 0.95):  # a small disc, a cut circle, only the corners dark
        reading = classify_modality(dermoscopy_view(field_radius=radius))
        assert reading.kind == Modality.dermoscopic, (radius, reading)
        assert reading.reason == "field"
        assert reading.scores["field_radius"] == pytest.approx(radius, abs=0.06)


def test_the_same_view_without_its_field_is_not_dermoscopic() -> None:
    """The field edge is what makes it dermoscopic here: filled with skin, it reads as a close-up."""
    reading = classify_modality(dermoscopy_view(field_radius=1.3))
    assert reading.kind == Modality.clinical, reading


def test_dark_corners_of_a_phone_photo_are_not_a_field() -> None:
    """Dark clothing in two corners, or a shadow across one side, is no dermatoscope field."""
    photo = skin_photo()
    photo[:60, :80] = 15
    photo[-50:, -90:] = 20
    assert classify_modality(photo).kind == Modality.clinical
    shadow = skin_photo().astype(np.float32)
    shadow[:, :120] *= 0.3
    assert classify_modality(shadow.astype(np.uint8)).kind == Modality.clinical


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(document(), id="document"),
        pytest.param(np.full((240, 320, 3), (205, 160, 135), np.uint8), id="flat-skin-colour"),
        pytest.param(np.full((240, 320, 3), (40, 90, 200), np.uint8), id="flat-blue"),
        pytest.param(
            np.linspace(np.array([230, 180, 150]), np.array([150, 100, 80]), 320)[None]
            .repeat(240, axis=0)
            .astype(np.uint8),
            id="skin-tone-gradient",
        ),
        pytest.param(
            np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8), id="colour-noise"
        ),
        pytest.param(
            np.kron((np.indices((8, 8)).sum(axis=0) % 2), np.ones((30, 40)))[..., None]
            .repeat(3, axis=2)
            .astype(np.uint8)
            * 255,
            id="checkerboard",
        ),
        pytest.param(
            cv2.cvtColor(skin_photo(), cv2.COLOR_RGB2GRAY)[..., None].repeat(3, axis=2), id="greyscale"
        ),
    ],
)
def test_what_is_not_a_skin_photo_is_not_skin(image: np.ndarray) -> None:
    reading = classify_modality(image)
    assert reading.kind == Modality.not_skin, reading


def test_a_skin_photo_in_green_is_not_skin() -> None:
    """Texture alone does not make skin: the same photo with its colours turned green is not_skin."""
    green = skin_photo()[..., [1, 0, 2]]
    assert classify_modality(green).kind == Modality.not_skin


# ----------------------------------------------------------------------------------------------------
# any size, any shape


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (1, 7), (3, 900), (900, 3), (2000, 5), (5, 2000), (15, 15), (16, 16), (17, 3000), (40, 30)],
)
def test_any_shape_gives_a_reading(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    for image in (
        np.zeros((*shape, 3), np.uint8),
        np.full((*shape, 3), 255, np.uint8),
        rng.integers(0, 256, (*shape, 3), dtype=np.uint8),
        cv2.resize(skin_photo(), (shape[1], shape[0]), interpolation=cv2.INTER_AREA),
    ):
        reading = classify_modality(image)
        assert isinstance(reading.kind, Modality)
        assert 0.5 <= reading.confidence <= 1.0
        assert all(np.isfinite(v) for v in reading.scores.values())


def test_tiny_images_go_by_colour() -> None:
    tiny_skin = np.full((4, 4, 3), LIGHT_SKIN, np.uint8)
    reading = classify_modality(tiny_skin)
    assert (reading.kind, reading.reason) == (Modality.clinical, "tiny")
    assert reading.confidence <= 0.6
    assert classify_modality(np.full((1, 1, 3), (30, 200, 60), np.uint8)).kind == Modality.not_skin
    sliver = cv2.resize(skin_photo(), (2000, TINY_SIDE - 1), interpolation=cv2.INTER_AREA)
    assert classify_modality(sliver).kind == Modality.clinical


def test_size_does_not_change_the_reading() -> None:
    photo, view = skin_photo(size=(600, 800)), dermoscopy_view(size=(672, 896))
    for long_side in (ANALYSIS_LONG_SIDE, 256, 1024):
        for image, kind in ((photo, Modality.clinical), (view, Modality.dermoscopic)):
            h, w = image.shape[:2]
            scale = long_side / max(h, w)
            resized = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            assert classify_modality(resized).kind == kind, long_side


def test_greyscale_and_alpha_inputs_are_accepted() -> None:
    gray = cv2.cvtColor(skin_photo(), cv2.COLOR_RGB2GRAY)
    assert classify_modality(gray).kind == Modality.not_skin
    rgba = np.concatenate([skin_photo(), np.full((300, 400, 1), 255, np.uint8)], axis=2)
    assert classify_modality(rgba).kind == Modality.clinical


@pytest.mark.parametrize(
    ("image", "error"),
    [
        (np.zeros((10, 10, 3), np.float32), TypeError),
        (np.zeros((0, 10, 3), np.uint8), ValueError),
        (np.zeros((10, 10, 2), np.uint8), ValueError),
        (np.zeros((2, 10, 10, 3), np.uint8), ValueError),
    ],
)
def test_what_is_not_an_image_is_refused(image: np.ndarray, error: type[Exception]) -> None:
    with pytest.raises(error):
        classify_modality(image)


# ----------------------------------------------------------------------------------------------------
# a pure function


def test_deterministic_and_leaves_its_input_alone() -> None:
    image = dermoscopy_view()
    before = image.copy()
    first, second = classify_modality(image), classify_modality(image.copy())
    assert first == second
    np.testing.assert_array_equal(image, before)


def test_reading_is_frozen_and_audit_friendly() -> None:
    reading = classify_modality(skin_photo())
    assert isinstance(reading, ModalityReading)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.kind = Modality.not_skin  # type: ignore[misc]
    assert Modality.dermoscopic == "dermoscopic" and str(Modality.not_skin) == "not_skin"
    for name in ("skin", "skinlike", "grey", "edges", "native_flat", "field_fit", "field_corners"):
        assert name in reading.scores
        assert round(reading.scores[name], 4) == reading.scores[name]


def test_confidence_falls_towards_a_threshold() -> None:
    """A photo with a blue sheet over its left 30 % sits near the skin-colour threshold (70 % skin-like,
    threshold 60 %): still clinical, but less sure than the plain photo."""
    plain = classify_modality(skin_photo())
    covered = skin_photo()
    covered[:, :120] = (40, 90, 200)
    half = classify_modality(covered)
    assert half.kind == Modality.clinical
    assert half.confidence < plain.confidence - 0.1
