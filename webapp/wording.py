"""Every sentence a person reads about a result: one catalogue for the API, /metadata and the UI.

A translation replaces the strings here and nothing else; the code that assembles them only
picks templates and fills named fields. The words are written for a worried person reading
alone: they must neither reassure someone with symptoms nor read as a diagnosis. Band codes
(`low`, `moderate`, `high`) are machine values kept for existing clients; people read titles.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

# -- bands: a short title, what it means, and the score range as people read it ----------------

BAND_TITLES = {
    "low": "Not flagged by this screening model",
    "moderate": "Flagged by this screening model",
    "high": "Flagged by this screening model, strongly",
}
BAND_PILLS = {"low": "NOT FLAGGED", "moderate": "FLAGGED", "high": "FLAGGED: STRONG"}
BAND_MEANINGS = {
    "low": "The answers did not reach this model's screening threshold. That is all it says: it "
           "does not rule out lung cancer or any other illness, and the model misses some people "
           "who have lung cancer. Symptoms that worry you, last or get worse still deserve a doctor.",
    "moderate": "The answers reached this model's screening threshold: they resemble those of "
                "survey respondents who had lung cancer. This is not a diagnosis: outside the survey, "
                "most people who are flagged do not have lung cancer. It is a good reason to talk "
                "with a doctor, who can decide whether any test is needed.",
    "high": "The answers closely resemble those of survey respondents who had lung cancer. This is "
            "not a diagnosis, and the survey held far more people with lung cancer than everyday "
            "life does, so the score overstates how likely it is. Please make an appointment "
            "with a doctor soon to talk about it.",
}
BAND_RANGES = {
    "low": "score under {upper}",
    "moderate": "score {lower} to {upper_inclusive}",
    "high": "score {lower} and above",
}

# -- the score ------------------------------------------------------------------------------

SCORE_NAME = "screening score"
PERCENT = "{value}%"
ABOVE_99 = ">99%"
BELOW_1 = "<1%"
SCORE_EXPLANATION = ("The score comes from a model trained on an online survey in which "
                     "{survey_share} of respondents had lung cancer, far more than among people "
                     "in general. It ranks answers; it is not your chance of having lung cancer.")

# -- the API's one-paragraph message --------------------------------------------------------

MESSAGE_HEADLINE = "{title} (screening score {score})."
MESSAGE_LOW = "This does not rule out lung cancer or any other illness."
MESSAGE_MODERATE = "This is not a diagnosis: please talk with a doctor about it."
MESSAGE_HIGH = "This is not a diagnosis: please make an appointment with a doctor soon to talk about it."
MESSAGE_NEXT_STEP = {"low": MESSAGE_LOW, "moderate": MESSAGE_MODERATE, "high": MESSAGE_HIGH}
DISCLAIMER = "This is a screening aid, not a diagnosis."

# -- the rule outside the model: warning symptoms mean a doctor, whatever the score ------------

SYMPTOM_PHRASES = {
    "COUGHING": "a cough",
    "WHEEZING": "wheezing",
    "SHORTNESS OF BREATH": "shortness of breath",
    "CHEST PAIN": "chest pain",
    "SWALLOWING DIFFICULTY": "difficulty swallowing",
}
DOCTOR_RULE_ONE = ("You reported {symptoms}. Whatever the score, please see a doctor about it, "
                   "promptly if it lasts more than three weeks or gets worse.")
DOCTOR_RULE_MANY = ("You reported {symptoms}. Whatever the score, please see a doctor about "
                    "these symptoms, promptly if they last more than three weeks or get worse.")
DOCTOR_URGENT = ("Coughing up blood, severe chest pain or sudden breathlessness need medical help "
                 "at once.")
DOCTOR_RULE_SOURCE = ("This advice is a rule for everyone who reports these symptoms; it does not "
                      "come from the model.")
LIST_AND = " and "
LIST_COMMA = ", "

# -- explanations: what in the person's own answers moved the score ------------------------

REFERENCE_DESCRIPTION = "a {age}-year-old woman who answered no to every question"
UI_FACTORS_INTRO = "Compared with {reference}, these of your answers moved the score:"
DIRECTIONS = {"raises": "raises the score", "lowers": "lowers the score"}
FACTOR_TEXT = "{answer}: {direction}"
FACTORS_RAISE_HEADING = "What raises the score"
FACTORS_LOWER_HEADING = "What lowers the score"
NO_FACTORS = "None of these answers moved the score away from the reference person's score."
AGE_ANSWER = "Age {age}"
ANSWERS = {
    "GENDER": "Being a man",
    "SMOKING": "Smoking",
    "ALCOHOL CONSUMING": "Drinking alcohol",
    "PEER_PRESSURE": "Feeling peer pressure",
    "YELLOW_FINGERS": "Yellow fingers",
    "ANXIETY": "Anxiety",
    "FATIGUE": "Fatigue",
    "ALLERGY": "Allergy",
    "WHEEZING": "Wheezing",
    "COUGHING": "Coughing",
    "SHORTNESS OF BREATH": "Shortness of breath",
    "SWALLOWING DIFFICULTY": "Difficulty swallowing",
    "CHEST PAIN": "Chest pain",
    "CHRONIC DISEASE": "A chronic disease",
}
ODD_WEIGHTS = ("Some answers weigh more than medicine would expect: allergy, drinking alcohol and "
               "feeling peer pressure each move the score more than smoking does. The model learned "
               "from who answered one online survey, not from what causes lung cancer.")
SIGNS_HELD = ("The model is held so that age, smoking, being a man, drinking alcohol, a chronic "
              "disease and every symptom can only raise the score, never lower it.")

# -- "what the levels mean": the tested figures, in words ------------------------------------

PERFORMANCE = ("Tested on survey respondents it had not seen, the model flagged about "
               "{sensitivity} in 100 of those who had lung cancer (so it missed about {missed}) "
               "and also flagged about {false_alarms} in 100 of those who did not have it.")
PERFORMANCE_GENDER = ("False alarms are more common for men than for women: about {men} in 100 "
                      "men without lung cancer were flagged, against {women} in 100 women.")
PURPOSE = ("What the score is for: suggesting who might talk with a doctor about lung cancer. "
           "What it is not: a diagnosis, a probability of having lung cancer, or a reason to "
           "ignore symptoms.")
UI_SCORE_CAPTION = "screening score (not a probability of having lung cancer)"


def join(items: Sequence[str]) -> str:
    """'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return LIST_COMMA.join(items[:-1]) + LIST_AND + items[-1]


def whole_percent(p: float) -> int:
    """Round half up (Python's round() would send 0.5% to 0)."""
    return math.floor(p * 100 + 0.5)


def band_percent_limits(lower: float, upper: float, top: bool) -> tuple[int, int]:
    """The whole percents a score in [lower, upper) may show, so that it never shows another band's."""
    low = math.ceil(round(lower * 100, 9))
    high = 100 if top else math.ceil(round(upper * 100, 9)) - 1
    return low, high


def score_text(p: float, lower: float, upper: float, top: bool) -> str:
    """The score as shown: whole percent, kept inside its band's displayed range, never 0% or 100%."""
    low, high = band_percent_limits(lower, upper, top)
    value = min(max(whole_percent(p), low), high)
    if value >= 100:
        return ABOVE_99
    if value <= 0:
        return BELOW_1
    return PERCENT.format(value=value)


def band_range_text(level: str, lower: float, upper: float, top: bool) -> str:
    low, high = band_percent_limits(lower, upper, top)
    return BAND_RANGES[level].format(
        lower=PERCENT.format(value=low), upper=PERCENT.format(value=high + 1),
        upper_inclusive=PERCENT.format(value=high))


def answer(feature: str, value: float) -> str:
    """The person's own answer, named in plain words ("Coughing", "Age 62")."""
    return AGE_ANSWER.format(age=f"{value:g}") if feature == "AGE" else ANSWERS[feature]


def factor_text(feature: str, value: float, direction: str) -> str:
    return FACTOR_TEXT.format(answer=answer(feature, value), direction=DIRECTIONS[direction])


def doctor_advice(symptoms: Sequence[str]) -> str:
    """The rule outside the model, for the warning symptoms a person reported ('' for none)."""
    if not symptoms:
        return ""
    template = DOCTOR_RULE_ONE if len(symptoms) == 1 else DOCTOR_RULE_MANY
    named = template.format(symptoms=join([SYMPTOM_PHRASES[name] for name in symptoms]))
    return f"{named} {DOCTOR_URGENT} {DOCTOR_RULE_SOURCE}"


def score_explanation(survey_share: float) -> str:
    return SCORE_EXPLANATION.format(survey_share=PERCENT.format(value=whole_percent(survey_share)))


def message(level: str, score: str, symptoms: Sequence[str], survey_share: float) -> str:
    """The API's message: band title and score, next step, the symptom rule, what the score is."""
    parts = [MESSAGE_HEADLINE.format(title=BAND_TITLES[level], score=score), MESSAGE_NEXT_STEP[level],
             doctor_advice(symptoms), score_explanation(survey_share), DISCLAIMER]
    return " ".join(part for part in parts if part)


def reference_description(age: float) -> str:
    return REFERENCE_DESCRIPTION.format(age=f"{age:g}")


# -- the UI's result card and "what the levels mean" -----------------------------------------

UI_DISCLAIMER = ("This is a screening aid built on a small self-reported survey, not a diagnosis. "
                 "Whatever the result, see a doctor about symptoms that worry you.")
UI_INTRO = ("# Lung cancer screening score\nAnswer 15 questions about age, habits and symptoms to "
            "see whether a model trained on a public survey flags your answers, and which of your "
            "answers moved its score.")
UI_DOCTOR_HEADING = "Please see a doctor about your symptoms"
UI_FACTORS_HEADING = "What in your answers moved the score"
UI_WARNINGS_HEADING = "Please note"
UI_META = "Model {model} · request {request}"
UI_BANDS_PENDING = "The bands will show here once the API answers."
UI_BANDS_HEADER = ("Result", "Score", "What it means")
UI_BANDS_OUTCOME = ("In the survey, about {share} in 100 respondents scoring here had lung cancer "
                    "(the survey held far more people with lung cancer than everyday life).")
UI_REFERENCE = "Explanations compare your answers with {reference}, whose score is {score}."
UI_LEVELS_ACCORDION = "What the results mean"


def performance(metrics: dict, by_group: dict) -> str:
    """The nested figures of the card in words, for "what the levels mean"."""
    sensitivity = whole_percent(metrics["sensitivity"]["mean"])
    specificity = whole_percent(metrics["specificity"]["mean"])
    text = PERFORMANCE.format(sensitivity=sensitivity, missed=100 - sensitivity,
                              false_alarms=100 - specificity)
    men, women = by_group.get("men", {}).get("specificity"), by_group.get("women", {}).get("specificity")
    if men is not None and women is not None and men < women:
        text += " " + PERFORMANCE_GENDER.format(men=100 - whole_percent(men), women=100 - whole_percent(women))
    return text
