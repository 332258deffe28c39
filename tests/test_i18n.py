"""The catalogues, language negotiation, and the API and UI speaking the reader's language."""

from __future__ import annotations

import csv
import re
import string

import pytest

from tests.helpers import SYMPTOMATIC_OLDER_SMOKER, patient
from webapp import features, i18n, wording
from webapp.ui import batch, formatting
from webapp.ui.language import COOKIE, choose, localize_page


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_every_key_exists_in_both_languages():
    assert set(i18n.catalog("en")) == set(i18n.catalog("fr"))


@pytest.mark.parametrize("key", sorted(i18n.catalog("en")))
def test_both_languages_fill_the_same_placeholders(key):
    assert _fields(i18n.catalog("en")[key]) == _fields(i18n.catalog("fr")[key])


def test_every_input_has_a_label_in_both_languages():
    for lang in i18n.LANGUAGES:
        assert all(i18n.feature_key(name) in i18n.catalog(lang) for name in features.FEATURES)


def test_strings_the_gradio_page_translates_itself_hold_no_placeholder():
    # Its front end reads them as ICU messages: a brace would be an argument it does not have.
    for lang, entries in i18n.gradio_translations().items():
        assert [key for key, value in entries.items() if "{" in value] == [], lang


def test_the_age_help_states_the_training_range():
    for lang in i18n.LANGUAGES:
        assert f"{features.TRAIN_AGE_MIN} " in i18n.text(lang, "ui.age_info")
        assert f"{features.TRAIN_AGE_MAX}" in i18n.text(lang, "ui.age_info")


@pytest.mark.parametrize(
    "header, expected",
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("de-DE,de;q=0.9,fr;q=0.5,en;q=0.3", "fr"),
        ("de-DE", "en"),
        ("*", "en"),
        ("fr;q=0", "en"),
        ("FR-ca", "fr"),
        ("", "en"),
        (None, "en"),
        ("fr;q=abc,en", "en"),
    ],
)
def test_the_preferred_supported_language_is_chosen_from_accept_language(header, expected):
    assert i18n.negotiate(header) == expected


@pytest.mark.parametrize(
    "english, french",
    [
        ("Must be between 0 and 120.", "Doit être compris entre 0 et 120."),
        ("Missing data for required field.", "Champ obligatoire manquant."),
        ("Unknown field.", "Champ inconnu."),
        ("Invalid input: AGE, GENDER.", "Saisie invalide : AGE, GENDER."),
        ("Not from the catalogue.", "Not from the catalogue."),
    ],
)
def test_sentences_written_from_the_english_catalogue_are_localized(english, french):
    assert i18n.localize(english, "fr") == french
    assert i18n.localize(english, "en") == english


def test_localize_walks_details_and_leaves_keys_and_numbers_alone():
    details = {"AGE": ["Must be between 0 and 120."], "count": 3}
    assert i18n.localize(details, "fr") == {"AGE": ["Doit être compris entre 0 et 120."], "count": 3}


# -- the API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "set_by_view, expected",
    [
        ({}, [("Vary", "Accept-Language"), ("Content-Language", "fr")]),
        ({"Vary": ""}, [("Vary", "Accept-Language"), ("Content-Language", "fr")]),
        ({"Vary": "Origin"}, [("Vary", "Origin, Accept-Language"), ("Content-Language", "fr")]),
        ({"Vary": "accept-language"}, [("Vary", "accept-language"), ("Content-Language", "fr")]),
        ({"Content-Language": "en"}, [("Content-Language", "en"), ("Vary", "Accept-Language")]),
    ],
)
def test_every_answer_names_its_language_and_varies_on_accept_language_once(make_app, set_by_view, expected):
    app = make_app()

    @app.get("/with-headers")
    def with_headers():
        return {}, 200, set_by_view

    response = app.test_client().get("/with-headers", headers={"Accept-Language": "fr"})
    written = [(name, value) for name, value in response.headers if name in ("Vary", "Content-Language")]
    assert written == expected


def test_predict_answers_its_sentences_in_french_for_a_french_client(app):
    response = app.test_client().post(
        "/predict", json=SYMPTOMATIC_OLDER_SMOKER, headers={"Accept-Language": "fr-FR,fr;q=0.9"}
    )
    english = app.test_client().post("/predict", json=SYMPTOMATIC_OLDER_SMOKER).get_json()
    french = response.get_json()
    assert response.headers["Content-Language"] == "fr" and "Accept-Language" in response.headers["Vary"]
    assert set(french) == set(english)
    for code in ("prediction", "probability", "risk_level", "see_a_doctor_about"):  # codes stay
        assert french[code] == english[code]
    assert french["message"].startswith(wording.band_title(french["risk_level"], "fr"))
    assert "consultez un médecin" in french["message"] and "doctor" not in french["message"]
    assert [(f["feature"], f["direction"]) for f in french["factors"]] == [
        (f["feature"], f["direction"]) for f in english["factors"]
    ]
    assert [f["text"] for f in french["factors"]] == [
        wording.factor_text(f["feature"], f["value"], f["direction"], "fr") for f in french["factors"]
    ]
    assert french["factors_reference"] == wording.reference_description(25, "fr")


def test_validation_errors_name_fields_in_english_and_explain_in_french(app):
    response = app.test_client().post(
        "/predict", json={"AGE": 130, "GENDER": 2}, headers={"Accept-Language": "fr"}
    )
    error = response.get_json()["error"]
    assert response.status_code == 422 and error["code"] == "validation_error"
    assert error["details"]["AGE"] == ["Doit être compris entre 0 et 120."]
    assert error["details"]["GENDER"] == ["Doit valoir 1 (homme) ou 0 (femme)."]
    assert error["details"]["SMOKING"] == ["Champ obligatoire manquant."]
    assert error["message"].startswith("Saisie invalide : AGE, GENDER")


def test_a_warning_beyond_the_training_ages_is_in_french(app):
    body = (
        app.test_client().post("/predict", json=patient(AGE=95), headers={"Accept-Language": "fr"}).get_json()
    )
    assert body["warnings"] and all("hors de la plage" in warning for warning in body["warnings"])


def test_metadata_describes_the_risk_bands_in_the_clients_language(app):
    client = app.test_client()
    english = client.get("/metadata").get_json()
    french = client.get("/metadata", headers={"Accept-Language": "fr"}).get_json()
    assert [b["level"] for b in french["risk_bands"]] == [b["level"] for b in english["risk_bands"]]
    for band in french["risk_bands"]:
        assert band["title"] == wording.band_title(band["level"], "fr")
        assert band["meaning"] == wording.band_meaning(band["level"], "fr")
    assert french["purpose"] == wording.text("purpose", "fr") != english["purpose"]
    assert french["outputs"] == english["outputs"]  # field descriptions for developers stay English


def test_no_english_sentence_of_the_wording_reaches_a_french_reader(app):
    english_sentences = [
        value
        for key, value in i18n.catalog("en").items()
        if key.startswith("wording.")
        and "{" not in value
        and len(value) > 20
        and value != i18n.catalog("fr")[key]
    ]
    client = app.test_client()
    for body in (
        patient(AGE=age, SMOKING=smoke, COUGHING=smoke, CHEST_PAIN=smoke, WHEEZING=smoke)
        for age in (20, 45, 70, 95)
        for smoke in (0, 1)
    ):
        answer = client.post("/predict", json=body, headers={"Accept-Language": "fr"}).get_json()
        text = " ".join([answer["message"], *answer["warnings"], *(f["text"] for f in answer["factors"])])
        assert [s for s in english_sentences if s in text] == []


def test_the_prediction_log_keeps_what_the_person_read(app):
    app.test_client().post("/predict", json=SYMPTOMATIC_OLDER_SMOKER, headers={"Accept-Language": "fr"})
    entries = app.test_client().get("/api/logs").get_json()["logs"]
    assert entries and entries[0]["message"].startswith("Signalé")


# -- the UI's words ---------------------------------------------------------------------------


def test_the_batch_csv_is_titled_in_the_readers_language(tmp_path):
    row = {
        "line": 2,
        **{name: 0 for name in features.FEATURES},
        "probability": 0.5,
        "prediction": 0,
        "risk_level": "low",
        "result": wording.band_title("low", "fr"),
    }
    with open(batch.write_csv([row], "fr"), encoding="utf-8") as handle:
        header, values = list(csv.reader(handle))
    assert header[0] == "ligne"
    assert header[-4:] == ["probabilité", "prédiction", "niveau de risque", "résultat"]
    # the code stays, the title is what people read
    assert values[-2:] == ["low", "Non signalé par ce modèle de dépistage"]
    assert header[1:16] == list(features.FEATURES)  # the inputs keep their names: the file uploads again


def test_bad_csv_rows_are_explained_in_french():
    header = ",".join(features.FEATURES)
    _, errors, _ = batch.read_csv(f"{header}\nabc,M,{','.join(['0'] * 13)}\n", max_rows=5, lang="fr")
    assert errors == [(2, "AGE 'ABC' n’est pas un nombre entier de 0 à 120")]


def test_the_result_card_is_written_in_the_readers_language():
    body = {
        "probability": 0.7,
        "risk_level": "moderate",
        "score_display": "70 %",
        "message": "…",
        "model_version": "m",
        "request_id": "r",
        "see_a_doctor_about": ["COUGHING"],
        "factors": [
            {
                "feature": "COUGHING",
                "label": "Toux",
                "value": 1.0,
                "contribution": 0.4,
                "direction": "raises",
                "text": "Toux : augmente le score",
            }
        ],
        "warnings": [],
    }
    card = formatting.result_card(body, None, "fr")
    assert "SIGNALÉ" in card and "Toux : augmente le score" in card and "Ce qui augmente le score" in card
    assert "Consultez un médecin pour vos symptômes" in card and "une toux" in card
    assert re.search(r'role="progressbar" aria-label="score de dépistage \(pas une probabilité', card)


# -- the page's language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, cookie, accept, expected",
    [
        (b"lang=fr", b"", b"en-US", ("fr", True)),
        (b"", COOKIE.encode() + b"=fr", b"en-US", ("fr", False)),
        (b"", b"", b"fr-FR,fr;q=0.9", ("fr", False)),
        (b"lang=xx", b"", b"de", ("en", False)),
        (b"", b"bad cookie;;==", b"fr", ("fr", False)),
    ],
)
def test_the_page_language_comes_from_the_switch_then_the_cookie_then_the_browser(
    query, cookie, accept, expected
):
    assert choose(query, {b"cookie": cookie, b"accept-language": accept}) == expected


def test_the_page_says_its_language_before_gradio_starts():
    gradio_page = b'<!doctype html>\n<html\n\tlang="en"\n\tstyle="margin: 0">\n\t<head>\n<title>x</title>'
    page = localize_page(gradio_page, "fr")
    assert b'lang="fr"' in page and b'lang="en"' not in page
    head = page.index(b"<head>") + len(b"<head>")
    assert page[head:].startswith(b"<script>") and b'var l="fr"' in page
