"""Every text sent to a patient, by stable message id, in each supported locale (pure, no I/O).

The English texts (``model.messages.en``) are the source; ``es`` and ``pt_br`` translate every id.
Ids are grouped by what they answer:

* ``quality.*``: what to do differently when a photo must be taken again (one action each);
  ``DEFECT_MESSAGE_IDS`` and ``CHECK_MESSAGE_IDS`` name the one for each defect / classical check.
  ``quality.not_skin`` (the photo shows no skin at all) and ``quality.unreadable`` (the photo cannot be
  read at all) have no check of their own yet.
* ``advice.*``: the advice a triage tier carries (``model.triage.red_flags``: clinically reviewed, so
  the English is verbatim). Every red-flag rule's ``patient_advice`` is one of these.
* ``upload.*``: what to do about a refused upload, one per refusal ``code`` (``model.intake``).

A text may hold ``{name}`` placeholders (the same in every locale): ``message`` fills them from its
keyword arguments; ``translate`` and ``message_id_for`` also recognise an English text with them filled in.

``resolve_locale`` maps a patient's language tag (``Questionnaire.language``) to a supported locale,
English when the language is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Formatter
from types import MappingProxyType

from model.messages import en, es, pt_br

LOCALES: tuple[str, ...] = ("en", "es", "pt-BR")
DEFAULT_LOCALE = "en"

#: locale -> message id -> text (read-only)
CATALOGUE: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "en": MappingProxyType(en.MESSAGES),
        "es": MappingProxyType(es.MESSAGES),
        "pt-BR": MappingProxyType(pt_br.MESSAGES),
    }
)

#: every message id, in the order of the English catalogue
MESSAGE_IDS: tuple[str, ...] = tuple(en.MESSAGES)

#: defect (``model.quality_verdict``: the learned model's defects, and "skin_present") -> message id.
#: "framing" is the check's choice when it made one (``quality.framing.move_closer`` or
#: ``quality.framing.centre``), else moving closer.
DEFECT_MESSAGE_IDS: Mapping[str, str] = MappingProxyType(
    {
        "defocus_blur": "quality.defocus_blur",
        "motion_blur": "quality.motion_blur",
        "underexposure": "quality.underexposure",
        "overexposure": "quality.overexposure",
        "glare": "quality.glare",
        "noise": "quality.noise",
        "jpeg_compression": "quality.jpeg_compression",
        "low_resolution": "quality.low_resolution",
        "colour_cast": "quality.colour_cast",
        "framing": "quality.framing.move_closer",
        "obstruction": "quality.obstruction",
        "skin_present": "quality.no_skin",
    }
)

#: classical check (``model.quality_checks``) -> message id. "lesion_framing" is not here: the check
#: chooses ``quality.framing.move_closer`` or ``quality.framing.centre`` for each photo.
CHECK_MESSAGE_IDS: Mapping[str, str] = MappingProxyType(
    {
        "resolution": "quality.low_resolution",
        "focus_blur": "quality.defocus_blur",
        "motion_blur": "quality.motion_blur",
        "underexposure": "quality.underexposure",
        "overexposure": "quality.overexposure",
        "glare": "quality.glare",
        "colour_cast": "quality.colour_cast",
        "skin_present": "quality.no_skin",
    }
)

#: primary language subtag -> locale
_LANGUAGES: dict[str, str] = {"en": "en", "es": "es", "pt": "pt-BR"}


def resolve_locale(tag: str | None) -> str:
    """A language tag (BCP 47-ish, any case, ``-`` or ``_``) -> one of ``LOCALES``.

    Only the language counts: "pt", "pt-br", "pt_BR" and "pt-PT" -> "pt-BR"; "es-MX" -> "es";
    "en-GB" -> "en"; anything else (None, empty, an unsupported language) -> ``DEFAULT_LOCALE``."""
    if not isinstance(tag, str):
        return DEFAULT_LOCALE
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return _LANGUAGES.get(primary, DEFAULT_LOCALE)


def placeholders(text: str) -> tuple[str, ...]:
    """The ``{name}`` placeholders of a text, in order."""
    return tuple(field for _, field, _, _ in Formatter().parse(text) if field is not None)


def message(message_id: str, locale: str | None = None, **values: object) -> str:
    """The text of ``message_id`` in ``locale`` (any tag ``resolve_locale`` takes; English when the
    locale lacks the id), its placeholders filled from ``values``. KeyError for an unknown id or a
    placeholder without a value."""
    text = _text(message_id, locale)
    return text.format(**values) if placeholders(text) else text


def _text(message_id: str, locale: str | None) -> str:
    english = CATALOGUE[DEFAULT_LOCALE]
    if message_id not in english:
        raise KeyError(f"unknown message id {message_id!r}")
    return CATALOGUE[resolve_locale(locale)].get(message_id) or english[message_id]


def _pattern(template: str) -> re.Pattern[str]:
    """An English template -> a regex matching it with its placeholders filled in."""
    parts: list[str] = []
    seen: set[str] = set()
    for literal, field, _, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+?)")
            seen.add(field)
    return re.compile("".join(parts), re.DOTALL)


def _index() -> tuple[dict[str, str], tuple[tuple[re.Pattern[str], str], ...]]:
    by_text: dict[str, str] = {}
    for message_id, text in CATALOGUE[DEFAULT_LOCALE].items():
        if text in by_text:
            raise ValueError(f"messages {by_text[text]!r} and {message_id!r} have the same English text")
        by_text[text] = message_id
    templates = tuple(
        (_pattern(text), message_id)
        for message_id, text in CATALOGUE[DEFAULT_LOCALE].items()
        if placeholders(text)
    )
    return by_text, templates


_BY_ENGLISH, _TEMPLATES = _index()


def _lookup(english_text: str) -> tuple[str, dict[str, str]] | None:
    if english_text in _BY_ENGLISH:
        return _BY_ENGLISH[english_text], {}
    for pattern, message_id in _TEMPLATES:
        match = pattern.fullmatch(english_text)
        if match:
            return message_id, match.groupdict()
    return None


def message_id_for(english_text: str) -> str | None:
    """The id of an English catalogue text (a template's text with its placeholders filled in counts),
    or None."""
    found = _lookup(english_text)
    return None if found is None else found[0]


def translate(english_text: str, locale: str | None) -> str:
    """An English catalogue text in ``locale`` (placeholder values carried over; a template itself gives
    the locale's template); any other text is returned unchanged."""
    found = _lookup(english_text)
    if found is None:
        return english_text
    message_id, values = found
    text = _text(message_id, locale)
    return text.format(**values) if values else text


__all__ = [
    "CATALOGUE",
    "CHECK_MESSAGE_IDS",
    "DEFAULT_LOCALE",
    "DEFECT_MESSAGE_IDS",
    "LOCALES",
    "MESSAGE_IDS",
    "message",
    "message_id_for",
    "placeholders",
    "resolve_locale",
    "translate",
]
