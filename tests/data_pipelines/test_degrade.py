"""Phone-photo degradations: valid output, determinism, severity ordering, labels, the degraded set."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from data_pipelines.degrade import (
    DEFECTS,
    SEVERITIES,
    VARIANTS,
    Defect,
    Degraded,
    Severity,
    degrade,
    degraded_set,
    load_lesion_mask,
    random_degradation,
    rng_for,
)
from tests.factories import skin_photo

SEEDS = range(4)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skin_photo((200, 160), seed=3)


@pytest.fixture(scope="module")
def mask(photo) -> np.ndarray:
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    dark = (grey < 0.7 * np.median(grey)).astype(np.uint8)
    return cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)) > 0


def run(photo, defect, severity, seed=0, mask=None, variant=None) -> Degraded:
    return degrade(photo, defect, severity, np.random.default_rng(seed), lesion_mask=mask, variant=variant)


def mean_over_seeds(measure, photo, defect, mask=None, variant=None) -> list[float]:
    return [
        float(np.mean([measure(run(photo, defect, s, seed, mask, variant)) for seed in SEEDS]))
        for s in SEVERITIES
    ]


def increasing(values) -> bool:
    return all(a < b for a, b in zip(values, values[1:], strict=False))


def decreasing(values) -> bool:
    return increasing([-v for v in values])


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def sharpness(d: Degraded) -> float:
    return float(cv2.Laplacian(luma(d.rgb), cv2.CV_32F).var())


# ----------------------------------------------------------------------------------------------------
# the interface


def test_defect_order_is_the_model_output_order():
    assert [d.value for d in DEFECTS] == [
        "defocus_blur",
        "motion_blur",
        "underexposure",
        "overexposure",
        "glare",
        "noise",
        "jpeg_compression",
        "low_resolution",
        "colour_cast",
        "framing",
        "obstruction",
    ]
    assert [int(s) for s in SEVERITIES] == [1, 2, 3]


@pytest.mark.parametrize("defect", DEFECTS)
def test_every_severity_gives_a_valid_photo_and_a_json_label(photo, mask, defect):
    for severity in SEVERITIES:
        for m in (None, mask):
            d = run(photo, defect, severity, mask=m)
            assert d.rgb.dtype == np.uint8 and d.rgb.ndim == 3 and d.rgb.shape[2] == 3
            assert d.degradation.defect == defect and d.degradation.severity == severity
            if d.degradation.params.get("variant") == "sent_small":
                assert d.rgb.shape[:2] == (d.degradation.params["height"], d.degradation.params["width"])
                assert d.rgb.shape[0] < photo.shape[0] and d.rgb.shape[1] < photo.shape[1]
            else:
                assert d.rgb.shape == photo.shape
            params = d.degradation.params
            assert params and json.loads(json.dumps(params)) == params
            assert all(isinstance(v, float | int | str) for v in params.values())
            assert params["mask"] == ("given" if m is not None else "assumed_central")
            assert json.dumps(d.degradation.to_json())


@pytest.mark.parametrize("defect", DEFECTS)
def test_same_seed_same_photo(photo, mask, defect):
    a, b = run(photo, defect, Severity.moderate, 7, mask), run(photo, defect, Severity.moderate, 7, mask)
    assert np.array_equal(a.rgb, b.rgb) and a.degradation == b.degradation


def test_parameters_are_drawn_not_fixed(photo):
    radii = {
        run(photo, Defect.defocus_blur, Severity.moderate, s).degradation.params["radius_frac"] for s in SEEDS
    }
    assert len(radii) == len(SEEDS)


def test_rejects_non_rgb_and_unknown_variants(photo):
    with pytest.raises(ValueError):
        degrade(photo[..., 0], Defect.noise, Severity.mild, np.random.default_rng(0))
    with pytest.raises(ValueError):
        run(photo, Defect.noise, Severity.mild, variant="finger")
    for defect, variants in VARIANTS.items():
        for variant in variants:
            params = run(photo, defect, Severity.mild, variant=variant).degradation.params
            assert variant in (params.get("variant"), params.get("kind"))


def test_sizes_are_relative_to_the_photo():
    small, large = skin_photo((200, 160), seed=1), skin_photo((600, 480), seed=1)

    def clipped(d):
        return float((d.rgb.min(axis=2) >= 245).mean())

    for s in SEVERITIES:
        a = np.mean([clipped(run(small, Defect.glare, s, seed)) for seed in SEEDS])
        b = np.mean([clipped(run(large, Defect.glare, s, seed)) for seed in SEEDS])
        assert 0.5 < a / b < 2.0


# ----------------------------------------------------------------------------------------------------
# severity is monotone in what the defect does


@pytest.mark.parametrize("defect", [Defect.defocus_blur, Defect.motion_blur])
def test_blur_loses_sharpness_with_severity(photo, defect):
    values = mean_over_seeds(sharpness, photo, defect)
    assert decreasing(values) and values[0] < sharpness(Degraded(photo, None))


def test_underexposure_darkens_with_severity(photo):
    values = mean_over_seeds(lambda d: luma(d.rgb).mean(), photo, Defect.underexposure)
    assert decreasing(values) and values[0] < 0.85 * luma(photo).mean() and values[2] < 40


def test_overexposure_clips_more_with_severity(photo):
    def clipped(d):
        return float((d.rgb.max(axis=2) >= 250).mean())

    values = mean_over_seeds(clipped, photo, Defect.overexposure)
    assert increasing(values) and values[2] > 0.8
    assert increasing(mean_over_seeds(lambda d: luma(d.rgb).mean(), photo, Defect.overexposure))


def test_glare_covers_more_with_severity(photo, mask):
    def white(d):
        return float((d.rgb.min(axis=2) >= 245).mean())

    values = mean_over_seeds(white, photo, Defect.glare, mask)
    assert increasing(values) and values[0] > 0 and values[2] > 0.03


def test_noise_grows_with_severity():
    grey = np.full((160, 200, 3), 128, np.uint8)

    def grain(d):
        return float((luma(d.rgb) - cv2.GaussianBlur(luma(d.rgb), (0, 0), 3)).std())

    values = mean_over_seeds(grain, grey, Defect.noise)
    assert increasing(values) and values[0] > 1 and values[2] > 8


def test_jpeg_artefacts_grow_with_severity():
    yy, xx = np.mgrid[0:160, 0:200].astype(np.float32)
    smooth = np.stack([120 + 60 * np.sin(xx / 23) * np.cos(yy / 31), 100 + xx / 4, 90 + yy / 3], axis=2)
    smooth = smooth.astype(np.uint8)

    def blockiness(d):
        g = luma(d.rgb)
        step = np.abs(np.diff(g, axis=1))
        return float(step[:, 7::8].mean() - step.mean())

    assert increasing(mean_over_seeds(blockiness, smooth, Defect.jpeg_compression))
    assert increasing(
        mean_over_seeds(
            lambda d: float(np.abs(d.rgb - smooth.astype(float)).mean()), smooth, Defect.jpeg_compression
        )
    )


def test_low_resolution_loses_pixels_or_detail(photo):
    sent_small = mean_over_seeds(
        lambda d: d.rgb.shape[0] * d.rgb.shape[1], photo, Defect.low_resolution, variant="sent_small"
    )
    assert decreasing(sent_small) and sent_small[0] < photo.shape[0] * photo.shape[1]
    assert decreasing(mean_over_seeds(sharpness, photo, Defect.low_resolution, variant="upscaled"))


def test_colour_cast_shifts_colour_more_with_severity(photo):
    def shift(d):
        lab = cv2.cvtColor(d.rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float).mean(axis=0)
        ref = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float).mean(axis=0)
        return float(np.hypot(*(lab[1:] - ref[1:])))

    for kind in VARIANTS[Defect.colour_cast]:
        values = mean_over_seeds(shift, photo, Defect.colour_cast, variant=kind)
        assert increasing(values) and values[2] > 10, kind


def test_framing_shrinks_or_cuts_the_lesion_more_with_severity(photo, mask):
    def lesion_area(d):
        grey = luma(d.rgb)
        return float((grey < 0.7 * np.median(grey)).mean())

    too_far = mean_over_seeds(lesion_area, photo, Defect.framing, mask, "too_far")
    assert decreasing(too_far) and too_far[0] < lesion_area(Degraded(photo, None))
    kept = mean_over_seeds(
        lambda d: d.degradation.params["lesion_kept"], photo, Defect.framing, mask, "out_of_frame"
    )
    assert decreasing(kept) and kept[0] > 0.8 and kept[2] < 0.35


@pytest.mark.parametrize("kind", VARIANTS[Defect.obstruction])
def test_obstruction_covers_more_of_the_lesion_with_severity(photo, mask, kind):
    def covered(d):
        changed = np.abs(d.rgb.astype(int) - photo.astype(int)).max(axis=2) > 40
        return float(changed[mask].mean())

    assert increasing(mean_over_seeds(covered, photo, Defect.obstruction, mask, kind))
    recorded = mean_over_seeds(
        lambda d: d.degradation.params["lesion_coverage"], photo, Defect.obstruction, mask, kind
    )
    assert increasing(recorded)
    if kind != "hair":
        assert recorded[0] <= 0.1 and recorded[2] >= 0.55


# ----------------------------------------------------------------------------------------------------
# sampling and the evaluation set


def test_random_degradation_leaves_some_clean_and_draws_every_defect(photo):
    rng = np.random.default_rng(0)
    assert random_degradation(photo, rng, p_clean=1.0) is None
    small = photo[::4, ::4].copy()
    drawn = [random_degradation(small, rng, p_clean=0.3, severities=(Severity.severe,)) for _ in range(200)]
    labels = [d.degradation for d in drawn if d is not None]
    assert 100 < len(labels) < 180
    assert {d.defect for d in labels} == set(DEFECTS) and {d.severity for d in labels} == {Severity.severe}


def test_degraded_set_enumerates_every_combination_deterministically(photo, mask):
    items = [("a", photo, mask), ("b", photo[::2, ::2].copy(), None)]
    first = list(degraded_set(items, seed=5))
    assert len(first) == 2 * len(DEFECTS) * len(SEVERITIES)
    combos = {(k, d.degradation.defect, d.degradation.severity) for k, d in first}
    assert len(combos) == len(first)
    again = list(degraded_set(items, seed=5))
    assert all(
        np.array_equal(x.rgb, y.rgb) and x.degradation == y.degradation
        for (_, x), (_, y) in zip(first, again, strict=True)
    )
    # each result depends only on (seed, key, defect, severity): a subset reproduces it
    only_b = list(degraded_set(items[1:], seed=5, defects=(Defect.noise,), severities=(Severity.mild,)))
    same = next(
        d
        for k, d in first
        if k == "b" and d.degradation.defect == Defect.noise and d.degradation.severity == 1
    )
    assert np.array_equal(only_b[0][1].rgb, same.rgb)
    other_seed = next(d for k, d in degraded_set(items[1:], seed=6, defects=(Defect.noise,), severities=(1,)))
    assert not np.array_equal(other_seed.rgb, same.rgb)


def test_seeds_are_stable_across_processes():
    # hashlib, not hash(): the same number in every process and Python version
    assert int(rng_for(0, "PAT_1_1_1.png", Defect.glare, Severity.severe).integers(1 << 30)) == STABLE_DRAW


STABLE_DRAW = 730355033


def test_load_lesion_mask_from_the_masked_photos(tmp_path):
    root = tmp_path / "pad_ufes_20"
    (root / "lesion_masked").mkdir(parents=True)
    masked = np.zeros((100, 100, 3), np.uint8)
    masked[30:60, 40:80] = (120, 80, 60)
    masked = cv2.GaussianBlur(masked, (3, 3), 0) + np.uint8(5)  # JPEG-like noise on the black
    cv2.imwrite(str(root / "lesion_masked" / "PAT_1_2_3.jpg"), masked)
    (root / "lesion_masked.csv").write_text(
        "img_id,file,full_photo_in_images\n"
        "PAT_1_2_3.png,lesion_masked/PAT_1_2_3.jpg,yes\n"
        "PAT_9_9_9.png,lesion_masked/PAT_9_9_9.jpg,no\n"
    )
    m = load_lesion_mask("PAT_1_2_3.png", (200, 200), data_dir=tmp_path)
    assert m is not None and m.shape == (200, 200) and m.dtype == bool
    assert abs(m.mean() - 0.12) < 0.03 and m[90, 120] and not m[10, 10]
    assert load_lesion_mask("PAT_9_9_9.png", (200, 200), data_dir=tmp_path) is None
    assert load_lesion_mask("PAT_0_0_0.png", (200, 200), data_dir=tmp_path) is None
