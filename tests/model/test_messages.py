"""The patient-facing message catalogue: complete in every locale, consistent, and covering every text the
code sends to a patient today (quality instructions, triage advice, refused uploads)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import model
from data_pipelines.degrade.spec import Defect
from model import features
from model.contract import ModelContract
from model.decode.errors import CorruptImage, PhotoDecodeError, TooManyPixels, UnsupportedFormat
from model.intake import PhotoLimits, PhotoRejected, ingest_photo
from model.messages import (
    CATALOGUE,
    CHECK_MESSAGE_IDS,
    DEFAULT_LOCALE,
    DEFECT_MESSAGE_IDS,
    LOCALES,
    MESSAGE_IDS,
    es,
    message,
    message_id_for,
    placeholders,
    resolve_locale,
    translate,
)
from model.quality_checks import report
from model.quality_verdict import CHECK_DEFECT, DEFECTS
from model.questionnaire import Questionnaire
from model.triage.red_flags import EMERGENCY_ADVICE, RED_FLAG_RULES, TIER_PATIENT_ADVICE, URGENT_ADVICE

TRANSLATED = tuple(locale for locale in LOCALES if locale != DEFAULT_LOCALE)
ID = re.compile(r"^[a-z]+(\.[a-z][a-z0-9_]*)+$")


# --- the catalogue itself ---


def test_locales() -> None:
    assert LOCALES == ("en", "es", "pt-BR")
    assert DEFAULT_LOCALE == "en"
    assert tuple(CATALOGUE) == LOCALES
    assert tuple(CATALOGUE["en"]) == MESSAGE_IDS


@pytest.mark.parametrize("message_id", MESSAGE_IDS)
def test_ids_are_stable_dotted_names(message_id: str) -> None:
    assert ID.match(message_id), message_id


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_has_exactly_every_id(locale: str) -> None:
    assert set(CATALOGUE[locale]) == set(MESSAGE_IDS)


@pytest.mark.parametrize("locale", LOCALES)
def test_texts_are_clean_sentences(locale: str) -> None:
    for message_id, text in CATALOGUE[locale].items():
        assert text.strip() == text and text, (locale, message_id)
        assert "  " not in text and "\n" not in text, (locale, message_id)
        assert text.endswith("."), (locale, message_id)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_differ_from_english(locale: str) -> None:
    same = [i for i in MESSAGE_IDS if CATALOGUE[locale][i] == CATALOGUE["en"][i]]
    assert same == []


@pytest.mark.parametrize("locale", LOCALES)
def test_texts_are_unique_within_a_locale(locale: str) -> None:
    texts = list(CATALOGUE[locale].values())
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_placeholders_match_english(locale: str) -> None:
    for message_id in MESSAGE_IDS:
        english = placeholders(CATALOGUE["en"][message_id])
        assert all(name.isidentifier() for name in english), message_id
        assert sorted(placeholders(CATALOGUE[locale][message_id])) == sorted(english), message_id


def test_quality_instructions_are_short() -> None:
    for message_id in MESSAGE_IDS:
        if message_id.startswith("quality."):
            assert len(message(message_id).split()) <= 25, message_id


def test_advice_keeps_its_clinical_content_in_every_locale() -> None:
    # the urgency (now), where to go and the warning signs must survive translation
    assert "emergencia" in message("advice.emergency", "es") and "ahora" in message("advice.emergency", "es")
    assert "emergência" in message("advice.emergency", "pt-BR")
    assert "agora" in message("advice.emergency", "pt-BR")
    assert "dermatólogo" in message("advice.urgent", "es")
    assert "dermatologista" in message("advice.urgent", "pt-BR")
    for word in ("fiebre", "dolor", "ampollas", "boca", "ojos", "genitales"):
        assert word in message("advice.urgent", "es"), word
    for word in ("febre", "dor", "bolhas", "boca", "olhos", "genitais"):
        assert word in message("advice.urgent", "pt-BR"), word


# --- API ---


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("en", "en"),
        ("EN-gb", "en"),
        ("es", "es"),
        ("es-MX", "es"),
        ("es_419", "es"),
        ("ES", "es"),
        ("pt", "pt-BR"),
        ("pt-br", "pt-BR"),
        ("pt_BR", "pt-BR"),
        ("pt-BR", "pt-BR"),
        ("pt-PT", "pt-BR"),
        (" pt-BR ", "pt-BR"),
        ("fr", "en"),
        ("de-DE", "en"),
        ("zh-Hant-TW", "en"),
        ("english", "en"),
        ("-", "en"),
    ],
)
def test_resolve_locale(tag: str | None, locale: str) -> None:
    assert resolve_locale(tag) == locale


def test_message_by_id_and_locale_tag() -> None:
    assert message("advice.emergency") == EMERGENCY_ADVICE
    assert message("advice.emergency", "en") == EMERGENCY_ADVICE
    assert message("quality.glare", "pt_br") == CATALOGUE["pt-BR"]["quality.glare"]
    assert message("quality.glare", "es-AR") == CATALOGUE["es"]["quality.glare"]
    assert message("quality.glare", "fr") == CATALOGUE["en"]["quality.glare"]
    with pytest.raises(KeyError):
        message("quality.no_such_thing", "es")


def test_message_fills_placeholders() -> None:
    text = message("upload.too_many_pixels", "es", max_megapixels=50)
    assert "50 megapíxeles" in text and "{" not in text
    with pytest.raises(KeyError):
        message("upload.too_many_pixels", "es")  # never a raw placeholder to a patient


def test_message_falls_back_to_english_for_a_missing_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(es.MESSAGES, "quality.noise")
    assert message("quality.noise", "es") == CATALOGUE["en"]["quality.noise"]


def test_english_texts_are_unique_for_the_reverse_lookup() -> None:
    texts = list(CATALOGUE["en"].values())
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("message_id", MESSAGE_IDS)
def test_translate_round_trip(message_id: str) -> None:
    english = CATALOGUE["en"][message_id]
    assert message_id_for(english) == message_id
    assert translate(english, "en") == english
    assert translate(english, None) == english
    for locale in TRANSLATED:
        assert translate(english, locale) == CATALOGUE[locale][message_id]


def test_translate_carries_placeholder_values() -> None:
    english = message("upload.too_many_pixels", max_megapixels="0.5")
    assert message_id_for(english) == "upload.too_many_pixels"
    assert translate(english, "pt-BR") == message("upload.too_many_pixels", "pt-BR", max_megapixels="0.5")


def test_translate_leaves_other_texts_alone() -> None:
    assert (
        translate("Something the catalogue does not know.", "es") == "Something the catalogue does not know."
    )
    assert message_id_for("Something the catalogue does not know.") is None
    assert message_id_for(CATALOGUE["es"]["advice.urgent"]) is None  # only English is looked up
    assert translate(CATALOGUE["es"]["advice.urgent"], "pt-BR") == CATALOGUE["es"]["advice.urgent"]


# --- every patient-facing text in the code today is in the catalogue ---


def test_triage_advice_is_in_the_catalogue_verbatim() -> None:
    assert message_id_for(EMERGENCY_ADVICE) == "advice.emergency"
    assert message_id_for(URGENT_ADVICE) == "advice.urgent"
    for advice in TIER_PATIENT_ADVICE.values():
        assert (message_id_for(advice) or "").startswith("advice."), advice
    for rule in RED_FLAG_RULES:
        if rule.patient_advice is not None:
            assert (message_id_for(rule.patient_advice) or "").startswith("advice."), rule.id


def test_every_quality_defect_has_a_message() -> None:
    # the learned model's defects, in its output order, then "skin_present" (the classical check's own)
    assert list(DEFECT_MESSAGE_IDS) == [*Defect, "skin_present"]
    contract = ModelContract.load(Path(model.__file__).parent / "artifacts" / "quality.json")
    assert set(contract.outputs["defects"].labels) <= set(DEFECT_MESSAGE_IDS)
    assert set(DEFECTS) <= set(DEFECT_MESSAGE_IDS)
    assert set(CHECK_DEFECT.values()) <= set(DEFECT_MESSAGE_IDS)
    assert set(DEFECT_MESSAGE_IDS.values()) <= set(MESSAGE_IDS)


def test_every_quality_check_has_a_message() -> None:
    assert set(report.INSTRUCTIONS) <= set(CHECK_MESSAGE_IDS)
    assert set(report.IMPORTANCE) - {"lesion_framing"} <= set(CHECK_MESSAGE_IDS)
    assert set(CHECK_MESSAGE_IDS.values()) <= set(MESSAGE_IDS)
    for check, message_id in CHECK_MESSAGE_IDS.items():  # a check and its defect say the same thing
        assert DEFECT_MESSAGE_IDS[CHECK_DEFECT[check]] == message_id, check
    # the framing check chooses one of two texts per photo
    assert message_id_for(report.INSTRUCTION_MOVE_CLOSER) == "quality.framing.move_closer"
    assert message_id_for(report.INSTRUCTION_CENTRE) == "quality.framing.centre"


def test_every_refused_upload_fix_is_in_the_catalogue() -> None:
    fixes = {
        PhotoDecodeError.code: PhotoDecodeError.default_fix,
        UnsupportedFormat.code: UnsupportedFormat.default_fix,
        CorruptImage.code: CorruptImage.default_fix,
    }
    too_many = TooManyPixels(10_000, 10_000, 50_000_000)
    fixes[too_many.code] = too_many.fix
    limits = PhotoLimits(max_bytes=64)
    for data in (b"", b"x" * 65, b"not an image at all"):
        with pytest.raises(PhotoRejected) as refused:
            ingest_photo(data, filename="a.jpg", limits=limits)
        fixes[refused.value.code] = refused.value.fix
    assert set(fixes) == {
        "photo_error",
        "unsupported_format",
        "corrupt_image",
        "too_many_pixels",
        "empty_file",
        "photo_too_large",
    }
    for code, fix in fixes.items():
        assert message_id_for(fix) == f"upload.{code}", code
        assert translate(fix, "es") != fix and "{" not in translate(fix, "es")


# --- the questionnaire's language ---


def test_questionnaire_language_is_optional_and_validated() -> None:
    assert Questionnaire(jurisdiction="BR-SP").language is None
    for tag in ("pt-BR", "es", "pt_br", "en-GB", "zh-Hant-TW"):
        assert Questionnaire(jurisdiction="BR-SP", language=tag).language == tag
    for bad in ("", "pt BR", "pt-BR\n", "español", "x" * 36, "<script>"):
        with pytest.raises(ValidationError):
            Questionnaire(jurisdiction="BR-SP", language=bad)
    q = Questionnaire.model_validate_json('{"jurisdiction": "MX", "language": "es-MX"}')
    assert resolve_locale(q.language) == "es"


def test_questionnaire_language_is_not_a_model_feature() -> None:
    answers = {"jurisdiction": "BR-SP", "age": 64, "fever": True, "body_site": "face"}
    plain = features.encode(Questionnaire.model_validate(answers))
    for tag in ("es", "pt-BR", "fr"):
        assert np.array_equal(
            features.encode(Questionnaire.model_validate({**answers, "language": tag})), plain
        )
    assert not any("language" in name for name in features.FEATURE_NAMES)
