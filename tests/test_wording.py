"""The wording catalogue's arithmetic: shown scores stay inside their band and never read 0% or 100%."""

from __future__ import annotations

import numpy as np
import pytest

from webapp import wording

THRESHOLD, HIGH = 0.6373, 0.9082
BANDS = {"low": (0.0, THRESHOLD, False), "moderate": (THRESHOLD, HIGH, False), "high": (HIGH, 1.0, True)}


def band_of(p: float) -> str:
    return "low" if p < THRESHOLD else "moderate" if p < HIGH else "high"


@pytest.mark.parametrize(
    "p, shown",
    [
        (0.0, "<1%"),
        (0.0049, "<1%"),
        (0.005, "1%"),
        (0.6349, "63%"),
        (0.6372, "63%"),
        (0.6373, "64%"),
        (0.9081, "90%"),
        (0.9082, "91%"),
        (0.9949, "99%"),
        (0.995, ">99%"),
        (1.0, ">99%"),
    ],
)
def test_scores_show_as_whole_percents_kept_in_their_band(p, shown):
    assert wording.score_text(p, *BANDS[band_of(p)]) == shown


def test_no_score_shows_another_bands_range():
    for p in np.linspace(0, 1, 20001):
        level = band_of(p)
        shown = wording.score_text(p, *BANDS[level])
        value = {">99%": 100, "<1%": 0}.get(shown, None)
        value = int(shown.rstrip("%")) if value is None else value
        low, high = wording.band_percent_limits(*BANDS[level])
        assert low <= value <= high and shown not in ("0%", "100%")


def test_band_ranges_read_as_whole_percents_that_do_not_overlap():
    assert [wording.band_range_text(level, *BANDS[level]) for level in BANDS] == [
        "score under 64%",
        "score 64% to 90%",
        "score 91% and above",
    ]


@pytest.mark.parametrize(
    "symptoms, expected",
    [
        ([], ""),
        (["CHEST PAIN"], "You reported chest pain. Whatever the score, please see a doctor about it,"),
        (
            ["COUGHING", "WHEEZING"],
            (
                "You reported a cough and wheezing. Whatever the score, please see a "
                "doctor about these symptoms,"
            ),
        ),
    ],
)
def test_the_doctor_rule_names_the_reported_symptoms_and_says_it_is_not_the_model(symptoms, expected):
    advice = wording.doctor_advice(symptoms)
    assert advice.startswith(expected)
    assert ("does not come from the model" in advice) == bool(symptoms)


def test_every_band_and_answer_has_words():
    assert set(wording.BAND_TITLES) == set(wording.BAND_MEANINGS) == set(wording.BAND_PILLS) == set(BANDS)
    for text in (*wording.BAND_TITLES.values(), *wording.BAND_MEANINGS.values()):
        assert "low risk" not in text.lower() and "does not point" not in text
