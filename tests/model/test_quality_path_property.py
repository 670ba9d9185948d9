"""Property: whatever decodable image a patient sends, of any size, mode or aspect ratio, the whole quality
path (intake, modality, classical checks, learned quality model, verdict) answers with a verdict and never
raises. Hypothesis draws the images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from model.intake import PhotoLimits, PhotoRejected, ingest_photo
from model.loading import ARTIFACTS
from model.quality_model import QualityModel
from model.questionnaire import Questionnaire
from model.triage.engine import TriageEngine

MODES = ("RGB", "L", "RGBA", "LA", "P", "CMYK", "I;16", "1")


@pytest.fixture(scope="module")
def engines() -> tuple[TriageEngine, TriageEngine]:
    return TriageEngine(), TriageEngine(quality_model=QualityModel(ARTIFACTS / "quality.onnx"))


@st.composite
def images(draw) -> bytes:
    w = draw(st.one_of(st.integers(1, 16), st.integers(17, 400), st.sampled_from([2000, 3000])))
    h = draw(st.one_of(st.integers(1, 16), st.integers(17, 400)))
    if w * h > 2_000_000:
        h = max(1, 2_000_000 // w)
    mode = draw(st.sampled_from(MODES))
    fmt = draw(st.sampled_from(["PNG", "JPEG"]))
    kind = draw(st.sampled_from(["noise", "flat", "gradient"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "noise":
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif kind == "flat":
        rgb = np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (h, w, 3)).copy()
    else:
        ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
        rgb = ramp.astype(np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    if (fmt == "JPEG" and mode not in ("RGB", "L", "CMYK")) or (fmt == "PNG" and mode == "CMYK"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=images(), language=st.sampled_from([None, "es", "pt-BR", "xx"]))
def test_no_exception_escapes_the_quality_path(engines, data, language):
    try:
        photo = ingest_photo(data, filename="drawn", limits=PhotoLimits())
    except PhotoRejected:
        return  # refused at intake with a 4xx and a fix: not the quality path's business
    questionnaire = Questionnaire(jurisdiction="US", language=language)
    for engine in engines:
        assessment = engine.assess_photo(photo, questionnaire)
        quality = assessment.quality
        assert quality.verdict in ("accept", "retake")
        assert 0.0 <= quality.score <= 1.0 and (quality.score >= 0.5) == (quality.verdict == "accept")
        assert len(quality.instructions) <= 2 and len(quality.defects) == len(quality.instructions)
        assert quality.readable or quality.verdict == "retake"
        decision = engine.decide(questionnaire, [assessment])
        assert decision.retake_required == (not quality.readable)
        if min(photo.width, photo.height) < 64:
            assert not quality.readable and quality.defects[0] == "low_resolution"
