"""The words people read, in English and French: one catalogue per language (`en.json`, `fr.json`).

    from webapp import i18n
    lang = i18n.negotiate(request.headers.get("Accept-Language"))   # "fr" or "en"
    i18n.text(lang, "ui.predict")                                    # "Prédire"
    i18n.text(lang, "batch.rows_scored", count=3)                    # placeholders: str.format

Keys are dotted names; both catalogues hold the same keys (a test checks it). Placeholders are
`{name}` (str.format). Strings the Gradio page translates itself (`gr.I18n`) hold no
placeholders: its front end formats them as ICU messages. Importable by every process: no
Flask, no Gradio.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "fr")
DEFAULT = "en"
#: Each language's name in itself, for the language switch.
NATIVE_NAMES = {"en": "English", "fr": "Français"}

_FOLDER = Path(__file__).parent


@cache
def catalog(lang: str) -> Mapping[str, str]:
    """The catalogue of one supported language (key -> text)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; one of {', '.join(LANGUAGES)}")
    with open(_FOLDER / f"{lang}.json", encoding="utf-8") as handle:
        return json.load(handle)


def text(lang: str, key: str, **params: Any) -> str:
    """The text of `key` in `lang` (English when the language is unknown), formatted with params."""
    entries = catalog(lang if lang in LANGUAGES else DEFAULT)
    template = entries[key]
    return template.format(**params) if params else template


def translator(lang: str):
    """`text` bound to one language: `_ = translator("fr"); _("ui.predict")`."""
    lang = lang if lang in LANGUAGES else DEFAULT
    return lambda key, **params: text(lang, key, **params)


def negotiate(accept_language: str | None, default: str = DEFAULT) -> str:
    """The supported language a client prefers, from an Accept-Language header or a tag.

    `fr-FR,fr;q=0.9,en;q=0.8` -> `fr`; `de-DE` -> the default; `*` -> the default. Ties keep
    the header's order.
    """
    if not accept_language:
        return default
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else default


#: Keys the Gradio front end translates itself (static text of the page).
GRADIO_PREFIXES = ("ui.", "feature.")


def gradio_translations() -> dict[str, dict[str, str]]:
    """The page's static keys per language, for `gr.I18n(**gradio_translations())`."""
    return {
        lang: {key: value for key, value in catalog(lang).items() if key.startswith(GRADIO_PREFIXES)}
        for lang in LANGUAGES
    }


def feature_key(name: str) -> str:
    """The catalogue key of an input's label: `CHEST PAIN` -> `feature.chest_pain`."""
    return "feature." + name.lower().replace(" ", "_")


def risk_name(lang: str, level: str) -> str:
    """A risk level's name in `lang` (`moderate` -> `modéré`); unknown levels as they are."""
    key = f"risk.{level}"
    return text(lang, key) if key in catalog(DEFAULT) else level


def label(lang: str, name: str) -> str:
    """An input's plain-language label in `lang` (the name itself for unknown inputs)."""
    key = feature_key(name)
    return text(lang, key) if key in catalog(DEFAULT) else name


# -- sentences built in English, translated afterwards ----------------------------------------
#
# Code that knows nothing about the reader (the model service, marshmallow's validation) writes
# its sentences from the English catalogue. As with gettext, where the English sentence is the
# message id, `localize` finds the English template a sentence was made from and writes the same
# sentence from the other language's template, with the same values (themselves localized: a
# message may hold the disclaimer).

#: Sentences written in the reader's language from the start (webapp.wording): never reverse-matched.
_NATIVE_PREFIXES = ("wording.", "ui.", "admin_")


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    found = []
    for key, template in catalog(DEFAULT).items():
        if key.startswith(_NATIVE_PREFIXES):
            continue
        regex, names, fixed = [], set(), 0
        for literal, field, _spec, _conversion in string.Formatter().parse(template):
            regex.append(re.escape(literal))
            fixed += len(literal)
            if field is None:
                continue
            regex.append(f"(?P={field})" if field in names else f"(?P<{field}>.+?)")
            names.add(field)
        if names:
            found.append((fixed, re.compile("".join(regex) + r"\Z", re.DOTALL), key))
    # The templates with the most fixed text first: the most specific wins.
    return tuple((pattern, key) for _, pattern, key in sorted(found, key=lambda item: -item[0]))


@cache
def _plain(lang: str) -> dict[str, str]:
    """English sentence -> the same sentence in `lang`, for templates without placeholders."""
    english = catalog(DEFAULT)
    return {
        value: catalog(lang)[key]
        for key, value in english.items()
        if "{" not in value and not key.startswith(_NATIVE_PREFIXES)
    }


def localize(sentence: Any, lang: str) -> Any:
    """`sentence` (or every string in a list or dict of them) in `lang`, when it was written from
    an English template; anything else is returned as it is."""
    if lang == DEFAULT or lang not in LANGUAGES:
        return sentence
    if isinstance(sentence, dict):
        return {key: localize(value, lang) for key, value in sentence.items()}
    if isinstance(sentence, (list, tuple)):
        return [localize(value, lang) for value in sentence]
    if not isinstance(sentence, str):
        return sentence
    plain = _plain(lang).get(sentence)
    if plain is not None:
        return plain
    for pattern, key in _patterns():
        match = pattern.match(sentence)
        if match:
            values = {name: localize(value, lang) for name, value in match.groupdict().items()}
            return catalog(lang)[key].format(**values)
    return sentence
