"""What a person reads: named people through the real API (app factory) and the UI's result card."""

from __future__ import annotations

import re
from html import escape

import numpy as np
import pytest

from tests.helpers import patient
from webapp import features, wording
from webapp.ui import formatting

SYMPTOMATIC_SMOKER_62 = patient(
    AGE=62, GENDER=1, SMOKING=1, FATIGUE=1, WHEEZING=1, COUGHING=1, SHORTNESS_OF_BREATH=1, CHEST_PAIN=1
)
SMOKER_70 = patient(AGE=70, GENDER=1, SMOKING=1, COUGHING=1, WHEEZING=1, CHEST_PAIN=1)
NO_SYMPTOMS_25 = patient(AGE=25, GENDER=0)
NO_SYMPTOMS_25_MAN = patient(AGE=25, GENDER=1)
EVERY_ANSWER_YES = {**{name: 1 for name in features.FEATURES}, "AGE": 70}

NEVER_SAID = ["low risk", "does not point", "100%", " 0%", "estimated probability", "probability of "]


@pytest.fixture
def metadata(client):
    return client.get("/metadata").get_json()


def predict(client, body):
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def gave(body: dict) -> set[str]:
    """The answers that differ from the reference person's, i.e. what this person actually said."""
    return {name for name in features.FEATURES if body[name] != features.REFERENCE[name]}


def expected_factors(body: dict, metadata: dict) -> set[str]:
    """What the person gave, less any answer the served model gives no weight (e.g. GENDER at 0)."""
    weights = metadata["evaluation"]["weights"]
    return {name for name in gave(body) if weights[name] != 0}


def assert_reads_safely(body: dict, metadata: dict) -> None:
    text = body["message"].lower()
    for phrase in NEVER_SAID:
        assert phrase.lower() not in text, phrase
    band = {b["level"]: b for b in metadata["risk_bands"]}[body["risk_level"]]
    assert body["message"].startswith(f"{band['title']} (screening score {body['score_display']}).")
    assert body["score_display"] not in ("0%", "100%")
    assert_score_is_in_band(body["score_display"], band)
    assert "it is not your chance of having lung cancer" in body["message"]
    assert "not a diagnosis" in body["message"]


def assert_score_is_in_band(score: str, band: dict) -> None:
    """The shown score never contradicts the band's shown range after rounding."""
    value = {">99%": 100, "<1%": 0}.get(score)
    value = int(score.rstrip("%")) if value is None else value
    bounds = [int(n) for n in re.findall(r"\d+", band["score_range"])]
    if band["level"] == "low":
        assert value < bounds[0]
    elif band["level"] == "moderate":
        assert bounds[0] <= value <= bounds[1]
    else:
        assert value >= bounds[0]


def card_of(body: dict, metadata: dict) -> str:
    return formatting.result_card(body, metadata)


def test_the_62_year_old_symptomatic_smoker_is_flagged_and_sent_to_a_doctor(client, metadata):
    body = predict(client, SYMPTOMATIC_SMOKER_62)
    assert_reads_safely(body, metadata)
    assert body["prediction"] == 1 and body["risk_level"] in ("moderate", "high")
    assert body["see_a_doctor_about"] == ["COUGHING", "WHEEZING", "SHORTNESS OF BREATH", "CHEST PAIN"]
    assert "a cough, wheezing, shortness of breath and chest pain" in body["message"]
    assert "Whatever the score, please see a doctor" in body["message"]
    assert "it does not come from the model" in body["message"]
    assert {f["feature"] for f in body["factors"]} == expected_factors(SYMPTOMATIC_SMOKER_62, metadata)
    assert {f["direction"] for f in body["factors"]} == {"raises"}
    texts = [f["text"] for f in body["factors"]]
    assert {"Coughing: raises the score", "Smoking: raises the score", "Age 62: raises the score"} <= set(
        texts
    )
    assert body["factors_reference"] == "a 25-year-old woman who answered no to every question"

    html = card_of(body, metadata)
    assert wording.BAND_TITLES[body["risk_level"]] in html and body["score_display"] in html
    assert 'id="lr-doctor"' in html and 'id="lr-raises"' in html and 'id="lr-lowers"' not in html
    assert html.index("Fatigue: raises") < html.index("Chest pain: raises")  # most important first


def test_the_70_year_old_smoker_with_three_symptoms_is_not_reassured(client, metadata):
    body = predict(client, SMOKER_70)
    assert_reads_safely(body, metadata)
    assert body["see_a_doctor_about"] == ["COUGHING", "WHEEZING", "CHEST PAIN"]
    assert (
        "You reported a cough, wheezing and chest pain. Whatever the score, please see a doctor"
        in body["message"]
    )
    if body["risk_level"] == "low":
        assert body["message"].startswith("Not flagged by this screening model")
        assert "does not rule out lung cancer" in body["message"]
    assert {f["feature"] for f in body["factors"]} == expected_factors(SMOKER_70, metadata)
    assert all(f["direction"] == "raises" for f in body["factors"])
    assert body["factors"][0]["contribution"] == max(f["contribution"] for f in body["factors"])

    html = card_of(body, metadata)
    assert "Please see a doctor about your symptoms" in html
    assert "Not flagged" in html or "Flagged" in html
    assert "LOW" not in html and "low risk" not in html.lower()


@pytest.mark.parametrize("body", [NO_SYMPTOMS_25, NO_SYMPTOMS_25_MAN], ids=["woman", "man"])
def test_a_25_year_old_without_symptoms_is_not_flagged_and_gets_no_invented_reasons(client, metadata, body):
    answer = predict(client, body)
    assert_reads_safely(answer, metadata)
    assert answer["risk_level"] == "low" and answer["prediction"] == 0
    assert answer["message"].startswith("Not flagged by this screening model")
    assert answer["see_a_doctor_about"] == [] and "Whatever the score" not in answer["message"]
    assert {f["feature"] for f in answer["factors"]} == expected_factors(body, metadata)
    assert all(f["value"] != features.REFERENCE[f["feature"]] for f in answer["factors"])

    html = card_of(answer, metadata)
    assert 'id="lr-doctor"' not in html and "NOT FLAGGED" in html
    if not answer["factors"]:
        assert escape(wording.NO_FACTORS) in html


def test_every_answer_yes_is_flagged_strongly_without_showing_100_percent(client, metadata):
    body = predict(client, EVERY_ANSWER_YES)
    assert_reads_safely(body, metadata)
    assert body["risk_level"] == "high"
    assert body["score_display"] == (">99%" if body["probability"] >= 0.995 else body["score_display"])
    assert body["see_a_doctor_about"] == list(features.WARNING_SYMPTOMS)
    assert {f["feature"] for f in body["factors"]} == expected_factors(EVERY_ANSWER_YES, metadata)
    assert len(body["factors"]) >= 14 and all(f["direction"] == "raises" for f in body["factors"])
    sizes = [abs(f["contribution"]) for f in body["factors"]]
    assert sizes == sorted(sizes, reverse=True)

    html = card_of(body, metadata)
    assert "FLAGGED: STRONG" in html and "100%" not in html.replace('aria-valuemax="100"', "")


def test_no_answer_ever_reads_as_low_risk_or_contradicts_its_band(client, metadata):
    rng = np.random.default_rng(12)
    records = []
    for _ in range(300):
        record = {name: int(rng.integers(0, 2)) for name in features.FEATURES}
        record["AGE"] = int(rng.integers(18, 95))
        records.append(record)
    answers = client.post("/predict", json={"records": records}).get_json()["predictions"]
    for record, body in zip(records, answers, strict=False):
        assert_reads_safely(body, metadata)
        assert {f["feature"] for f in body["factors"]} <= gave(record)
        reported = [name for name in features.WARNING_SYMPTOMS if record[name] == 1]
        assert body["see_a_doctor_about"] == reported
        assert ("Whatever the score" in body["message"]) == bool(reported)


def test_metadata_publishes_the_reference_person_bands_and_figures(metadata):
    reference = metadata["reference_person"]
    assert reference["inputs"] == features.REFERENCE
    assert reference["description"] == "a 25-year-old woman who answered no to every question"
    assert [band["level"] for band in metadata["risk_bands"]] == ["low", "moderate", "high"]
    for band in metadata["risk_bands"]:
        assert band["title"] and band["score_range"] and "low risk" not in band["meaning"].lower()
        assert "does not point" not in band["meaning"]
    assert "not flagged" in metadata["outputs"]["risk_level"]
    assert metadata["warning_symptoms"]["features"] == list(features.WARNING_SYMPTOMS)
    assert "not your chance" in metadata["score_explanation"]


def test_what_the_levels_mean_uses_the_cards_tested_figures(metadata):
    html = formatting.bands_html(metadata)
    sensitivity = wording.whole_percent(metadata["metrics"]["sensitivity"]["mean"])
    false_alarms = 100 - wording.whole_percent(metadata["metrics"]["specificity"]["mean"])
    assert f"about {sensitivity} in 100 of those who had lung cancer" in html
    assert f"about {false_alarms} in 100 of those who did not have it" in html
    for band in metadata["risk_bands"]:
        assert band["title"] in html and band["score_range"] in html
    assert metadata["reference_person"]["description"] in html
