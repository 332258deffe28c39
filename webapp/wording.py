"""Every sentence a person reads about a result, in the reader's language.

The words themselves live in the catalogues (`webapp/i18n/en.json` and `fr.json`, keys
`wording.*`); this module only picks templates and fills named fields, so a translation never
touches code. Every function takes the reader's language (`en` or `fr`, English by default).
The words are written for a worried person reading alone: they must neither reassure someone
with symptoms nor read as a diagnosis. Band codes (`low`, `moderate`, `high`) are machine values
kept for existing clients; people read titles.

The module-level constants are the English texts, for code and tests that name them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from webapp import features, i18n

LEVELS = ("low", "moderate", "high")
WARNING_SYMPTOM_KEYS = features.WARNING_SYMPTOMS
ANSWER_FEATURES = (features.GENDER, *features.BINARY_FEATURES)


def text(key: str, lang: str = i18n.DEFAULT, **params) -> str:
    """The `wording.<key>` sentence in `lang`."""
    return i18n.text(lang, "wording." + key, **params)


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_")


def _english(key: str) -> str:
    return text(key)


# -- the English texts under their historical names ----------------------------------------

BAND_TITLES = {level: _english(f"band_title.{level}") for level in LEVELS}
BAND_PILLS = {level: _english(f"band_pill.{level}") for level in LEVELS}
BAND_MEANINGS = {level: _english(f"band_meaning.{level}") for level in LEVELS}
BAND_RANGES = {level: _english(f"band_range.{level}") for level in LEVELS}
SCORE_NAME = _english("score_name")
PERCENT = _english("percent")
ABOVE_99 = _english("above_99")
BELOW_1 = _english("below_1")
SCORE_EXPLANATION = _english("score_explanation")
MESSAGE_HEADLINE = _english("message_headline")
MESSAGE_NEXT_STEP = {level: _english(f"next_step.{level}") for level in LEVELS}
MESSAGE_LOW, MESSAGE_MODERATE, MESSAGE_HIGH = (MESSAGE_NEXT_STEP[level] for level in LEVELS)
DISCLAIMER = _english("disclaimer")
SYMPTOM_PHRASES = {name: _english(f"symptom.{_slug(name)}") for name in WARNING_SYMPTOM_KEYS}
DOCTOR_RULE_ONE = _english("doctor_rule_one")
DOCTOR_RULE_MANY = _english("doctor_rule_many")
DOCTOR_URGENT = _english("doctor_urgent")
DOCTOR_RULE_SOURCE = _english("doctor_rule_source")
LIST_AND = _english("list_and")
LIST_COMMA = _english("list_comma")
REFERENCE_DESCRIPTION = _english("reference_description")
UI_FACTORS_INTRO = _english("ui_factors_intro")
DIRECTIONS = {direction: _english(f"direction.{direction}") for direction in ("raises", "lowers")}
FACTOR_TEXT = _english("factor_text")
FACTORS_RAISE_HEADING = _english("factors_raise_heading")
FACTORS_LOWER_HEADING = _english("factors_lower_heading")
NO_FACTORS = _english("no_factors")
AGE_ANSWER = _english("age_answer")
ANSWERS = {name: _english(f"answer.{_slug(name)}") for name in ANSWER_FEATURES}
ODD_WEIGHTS = _english("odd_weights")
SIGNS_HELD = _english("signs_held")
PERFORMANCE = _english("performance")
PERFORMANCE_GENDER = _english("performance_gender")
PURPOSE = _english("purpose")
UI_SCORE_CAPTION = _english("ui_score_caption")
UI_DISCLAIMER = _english("ui_disclaimer")
UI_DOCTOR_HEADING = _english("ui_doctor_heading")
UI_FACTORS_HEADING = _english("ui_factors_heading")
UI_WARNINGS_HEADING = _english("ui_warnings_heading")
UI_META = _english("ui_meta")
UI_BANDS_PENDING = _english("ui_bands_pending")
UI_BANDS_HEADER = tuple(_english(f"ui_bands_header.{column}") for column in ("result", "score", "meaning"))
UI_BANDS_OUTCOME = _english("ui_bands_outcome")
UI_REFERENCE = _english("ui_reference")


# -- assembling them ---------------------------------------------------------------------------


def band_title(level: str, lang: str = i18n.DEFAULT) -> str:
    return text(f"band_title.{level}", lang)


def band_pill(level: str, lang: str = i18n.DEFAULT) -> str:
    return text(f"band_pill.{level}", lang)


def band_meaning(level: str, lang: str = i18n.DEFAULT) -> str:
    return text(f"band_meaning.{level}", lang)


def join(items: Sequence[str], lang: str = i18n.DEFAULT) -> str:
    """'a, b and c' ('a, b et c')."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return text("list_comma", lang).join(items[:-1]) + text("list_and", lang) + items[-1]


def whole_percent(p: float) -> int:
    """Round half up (Python's round() would send 0.5% to 0)."""
    return math.floor(p * 100 + 0.5)


def band_percent_limits(lower: float, upper: float, top: bool) -> tuple[int, int]:
    """The whole percents a score in [lower, upper) may show, so that it never shows another band's."""
    low = math.ceil(round(lower * 100, 9))
    high = 100 if top else math.ceil(round(upper * 100, 9)) - 1
    return low, high


def percent(value: int, lang: str = i18n.DEFAULT) -> str:
    return text("percent", lang, value=value)


def score_text(p: float, lower: float, upper: float, top: bool, lang: str = i18n.DEFAULT) -> str:
    """The score as shown: whole percent, kept inside its band's displayed range, never 0% or 100%."""
    low, high = band_percent_limits(lower, upper, top)
    return percent_text(min(max(whole_percent(p), low), high), lang)


def percent_text(value: int, lang: str = i18n.DEFAULT) -> str:
    """A whole percent as a score shows it: '>99%' and '<1%' at the ends."""
    if value >= 100:
        return text("above_99", lang)
    if value <= 0:
        return text("below_1", lang)
    return percent(value, lang)


def band_range_text(level: str, lower: float, upper: float, top: bool, lang: str = i18n.DEFAULT) -> str:
    low, high = band_percent_limits(lower, upper, top)
    return text(
        f"band_range.{level}",
        lang,
        lower=percent(low, lang),
        upper=percent(high + 1, lang),
        upper_inclusive=percent(high, lang),
    )


def answer(feature: str, value: float, lang: str = i18n.DEFAULT) -> str:
    """The person's own answer, named in plain words ("Coughing", "Age 62")."""
    if feature == "AGE":
        return text("age_answer", lang, age=f"{value:g}")
    return text(f"answer.{_slug(feature)}", lang)


def factor_text(feature: str, value: float, direction: str, lang: str = i18n.DEFAULT) -> str:
    return text(
        "factor_text",
        lang,
        answer=answer(feature, value, lang),
        direction=text(f"direction.{direction}", lang),
    )


def doctor_advice(symptoms: Sequence[str], lang: str = i18n.DEFAULT) -> str:
    """The rule outside the model, for the warning symptoms a person reported ('' for none)."""
    if not symptoms:
        return ""
    template = "doctor_rule_one" if len(symptoms) == 1 else "doctor_rule_many"
    phrases = [text(f"symptom.{_slug(name)}", lang) for name in symptoms]
    named = text(template, lang, symptoms=join(phrases, lang))
    return f"{named} {text('doctor_urgent', lang)} {text('doctor_rule_source', lang)}"


def score_explanation(survey_share: float, lang: str = i18n.DEFAULT) -> str:
    return text("score_explanation", lang, survey_share=percent(whole_percent(survey_share), lang))


def message(
    level: str, score: str, symptoms: Sequence[str], survey_share: float, lang: str = i18n.DEFAULT
) -> str:
    """The API's message: band title and score, next step, the symptom rule, what the score is."""
    parts = [
        text("message_headline", lang, title=band_title(level, lang), score=score),
        text(f"next_step.{level}", lang),
        doctor_advice(symptoms, lang),
        score_explanation(survey_share, lang),
        text("disclaimer", lang),
    ]
    return " ".join(part for part in parts if part)


def reference_description(age: float, lang: str = i18n.DEFAULT) -> str:
    return text("reference_description", lang, age=f"{age:g}")


def performance(metrics: dict, by_group: dict, lang: str = i18n.DEFAULT) -> str:
    """The nested figures of the card in words, for "what the levels mean"."""
    sensitivity = whole_percent(metrics["sensitivity"]["mean"])
    specificity = whole_percent(metrics["specificity"]["mean"])
    result = text(
        "performance", lang, sensitivity=sensitivity, missed=100 - sensitivity, false_alarms=100 - specificity
    )
    men, women = by_group.get("men", {}).get("specificity"), by_group.get("women", {}).get("specificity")
    if men is not None and women is not None and men < women:
        result += " " + text(
            "performance_gender", lang, men=100 - whole_percent(men), women=100 - whole_percent(women)
        )
    return result
