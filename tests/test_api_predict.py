"""The prediction endpoints: contract, batches, validation and error envelope."""

from __future__ import annotations

import json

import pytest

from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, patient
from webapp import features

PREFIXES = ["", "/api"]


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body["error"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_predict_answers_the_documented_fields(client, prefix):
    response = client.post(f"{prefix}/predict", json=SYMPTOMATIC_OLDER_SMOKER)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {
        "prediction",
        "probability",
        "score_display",
        "message",
        "risk_level",
        "factors",
        "factors_reference",
        "see_a_doctor_about",
        "warnings",
        "model_version",
        "request_id",
    }
    assert body["prediction"] in (0, 1)
    assert 0.0 <= body["probability"] <= 1.0
    assert body["risk_level"] in ("low", "moderate", "high")
    assert body["factors"] and all(f["feature"] in features.FEATURES for f in body["factors"])
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_predict_proba_answers_both_class_probabilities(client, prefix):
    proba = client.post(f"{prefix}/predict_proba", json=SYMPTOMATIC_OLDER_SMOKER).get_json()
    single = client.post(f"{prefix}/predict", json=SYMPTOMATIC_OLDER_SMOKER).get_json()
    assert "probability" not in proba
    p0, p1 = proba["probabilities"]
    assert p0 + p1 == pytest.approx(1.0, abs=1e-6)
    assert p1 == pytest.approx(single["probability"])
    assert proba["prediction"] == single["prediction"]


def test_symptomatic_older_smoker_scores_higher_than_healthy_young_woman(client):
    young = client.post("/predict", json=HEALTHY_YOUNG_WOMAN).get_json()
    older = client.post("/predict", json=SYMPTOMATIC_OLDER_SMOKER).get_json()
    assert young["probability"] < older["probability"] - 0.2
    assert older["prediction"] == 1 and older["risk_level"] != "low"
    assert young["prediction"] == 0 and young["risk_level"] == "low"


def test_prediction_uses_the_served_threshold(client, app):
    threshold = app.extensions["model_service"].threshold
    body = client.post("/predict", json=SYMPTOMATIC_OLDER_SMOKER).get_json()
    assert body["prediction"] == int(body["probability"] >= threshold)


def test_underscore_spellings_and_booleans_are_accepted(client):
    body = {features.underscore_alias(k): v for k, v in SYMPTOMATIC_OLDER_SMOKER.items()}
    body["SMOKING"] = True
    body["ANXIETY"] = False
    response = client.post("/predict", json=body)
    assert response.status_code == 200
    expected = client.post("/predict", json=SYMPTOMATIC_OLDER_SMOKER).get_json()
    assert response.get_json()["probability"] == expected["probability"]


def test_key_order_does_not_matter(client):
    reversed_body = dict(reversed(list(SYMPTOMATIC_OLDER_SMOKER.items())))
    a = client.post("/predict", json=reversed_body).get_json()["probability"]
    b = client.post("/predict", json=SYMPTOMATIC_OLDER_SMOKER).get_json()["probability"]
    assert a == b


def test_age_outside_training_range_is_answered_with_a_warning(client):
    body = client.post("/predict", json=patient(AGE=95)).get_json()
    assert any("AGE" in warning for warning in body["warnings"])
    assert client.post("/predict", json=patient(AGE=50)).get_json()["warnings"] == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("AGE", 121),
        ("AGE", -1),
        ("AGE", 45.5),
        ("AGE", "45.5"),
        ("AGE", "forty"),
        ("AGE", ""),
        ("AGE", "121"),
        ("AGE", True),
        ("AGE", None),
        ("GENDER", 2),
        ("GENDER", "M"),
        ("SMOKING", 2),
        ("SMOKING", "yes"),
        ("SMOKING", "2"),
        ("SMOKING", "true"),
        ("CHEST PAIN", -1),
        ("CHRONIC DISEASE", None),
    ],
)
def test_predict_rejects_an_invalid_value_naming_the_field(client, field, value):
    response = client.post("/predict", json={**patient(), field: value})
    error = assert_error(response, 422, "validation_error")
    assert list(error["details"]) == [field]


def test_predict_rejects_age_above_120(client):
    error = assert_error(client.post("/predict", json=patient(AGE=130)), 422, "validation_error")
    assert "between 0 and 120" in error["details"]["AGE"][0]


def test_missing_and_unknown_fields_are_all_named(client):
    body = patient()
    del body["SMOKING"], body["WHEEZING"]
    body["SMOKNG"] = 1
    error = assert_error(client.post("/predict", json=body), 422, "validation_error")
    assert set(error["details"]) == {"SMOKING", "WHEEZING", "SMOKNG"}


def test_the_same_field_twice_in_two_spellings_is_rejected(client):
    body = {**patient(), "CHEST_PAIN": 1}
    error = assert_error(client.post("/predict", json=body), 422, "validation_error")
    assert "CHEST_PAIN" in error["details"]


def raw_record_with(extra: str) -> str:
    """A record's JSON text with `extra` ("\"AGE\": 80") after its own keys."""
    return json.dumps(patient(AGE=30))[:-1] + ", " + extra + "}"


@pytest.mark.parametrize(
    "extra, field",
    [
        ('"AGE": 80', "AGE"),
        ('"SMOKING": 1', "SMOKING"),
        ('"note": "10:30", "AGE": 80', "AGE"),  # a colon inside a string takes the exact path
    ],
)
def test_the_same_key_twice_in_the_json_text_is_rejected_naming_it(client, extra, field):
    response = client.post("/predict", data=raw_record_with(extra), content_type="application/json")
    error = assert_error(response, 422, "validation_error")
    assert error["details"][field] == ["Given twice: give each field once."]


def test_a_repeated_key_in_one_record_of_a_batch_names_that_record(client):
    batch = "[" + json.dumps(patient()) + ", " + raw_record_with('"GENDER": 0') + "]"
    error = assert_error(
        client.post("/predict_proba", data=batch, content_type="application/json"), 422, "validation_error"
    )
    assert error["details"]["records"] == {"1": {"GENDER": ["Given twice: give each field once."]}}


def test_a_repeated_ignored_key_is_not_an_error(client):
    response = client.post(
        "/predict", data=raw_record_with('"note": 1, "note": 2'), content_type="application/json"
    )
    assert response.status_code == 200 and response.get_json()["warnings"] == [
        "'note' ignored: not one of the 15 inputs."
    ]


def test_colons_in_string_values_are_fine_without_repeats(client):
    response = client.post(
        "/predict", data=raw_record_with('"visit": "2026-11-27T10:30:00Z"'), content_type="application/json"
    )
    assert response.status_code == 200


def test_numbers_as_strings_are_accepted_and_converted(client):
    as_strings = {key: str(value) for key, value in SYMPTOMATIC_OLDER_SMOKER.items()}
    as_strings["AGE"] = " 70 "
    expected = client.post("/predict", json={**SYMPTOMATIC_OLDER_SMOKER, "AGE": 70}).get_json()
    response = client.post("/predict", json=as_strings)
    assert response.status_code == 200
    assert response.get_json()["probability"] == expected["probability"]


def test_the_survey_label_and_unknown_keys_are_ignored_and_named_in_the_warnings(client):
    body = {**SYMPTOMATIC_OLDER_SMOKER, "LUNG_CANCER": "YES", "comment": "from the CSV"}
    response = client.post("/predict", json=body)
    assert response.status_code == 200
    assert response.get_json()["warnings"] == [
        "LUNG_CANCER ignored: it is the survey's answer, not an input.",
        "'comment' ignored: not one of the 15 inputs.",
    ]
    expected = client.post("/predict", json=SYMPTOMATIC_OLDER_SMOKER).get_json()["probability"]
    assert response.get_json()["probability"] == expected


def test_a_batch_names_the_ignored_keys_of_each_record(client):
    records = [HEALTHY_YOUNG_WOMAN, {**HEALTHY_YOUNG_WOMAN, "lung cancer": 0}]
    body = client.post("/predict", json=records).get_json()
    assert [p["warnings"] for p in body["predictions"]] == [
        [],
        ["LUNG_CANCER ignored: it is the survey's answer, not an input."],
    ]


@pytest.mark.parametrize("body", ["[1, 2", '{"AGE": }', "nan-sense"])
def test_malformed_json_is_400(client, body):
    response = client.post("/predict", data=body, content_type="application/json")
    assert_error(response, 400, "bad_request")


def test_empty_body_is_400(client):
    assert_error(client.post("/predict", data="", content_type="application/json"), 400, "bad_request")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client, content_type):
    response = client.post("/predict", data=json.dumps(patient()), content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


def test_json_that_is_not_an_object_is_422(client):
    assert_error(client.post("/predict", json="hello"), 422, "validation_error")


def test_batch_as_array_returns_predictions_in_order(client):
    records = [HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, patient(AGE=60, COUGHING=1)]
    response = client.post("/predict", json=records)
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 3
    singles = [client.post("/predict", json=r).get_json()["probability"] for r in records]
    assert [p["probability"] for p in body["predictions"]] == singles


def test_batch_as_records_object_is_accepted_by_predict_proba(client):
    response = client.post("/predict_proba", json={"records": [HEALTHY_YOUNG_WOMAN] * 4})
    body = response.get_json()
    assert len(body["predictions"]) == 4
    assert all(len(p["probabilities"]) == 2 for p in body["predictions"])


def test_batch_names_every_bad_record_and_field(client):
    records = [patient(), patient(AGE=200), patient(), patient(SMOKING=3, GENDER="F")]
    error = assert_error(client.post("/predict", json=records), 422, "validation_error")
    assert set(error["details"]["records"]) == {"1", "3"}
    assert set(error["details"]["records"]["3"]) == {"SMOKING", "GENDER"}


def test_batch_above_the_cap_is_413(app, client):
    app.config["MAX_BATCH_SIZE"] = 5
    error = assert_error(client.post("/predict", json=[patient()] * 6), 413, "payload_too_large")
    assert error["details"] == {"max_batch_size": 5, "received": 6}


def test_empty_batch_is_422(client):
    assert_error(client.post("/predict", json=[]), 422, "validation_error")


def test_body_larger_than_the_limit_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/predict", data=json.dumps([patient()] * 50), content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_request_id_is_taken_from_the_request(client):
    response = client.post("/predict", json=patient(), headers={"X-Request-ID": "client-abc.123"})
    assert response.headers["X-Request-ID"] == "client-abc.123"
    assert response.get_json()["request_id"] == "client-abc.123"


def test_an_unusable_request_id_is_replaced(client):
    response = client.post("/predict", json=patient(), headers={"X-Request-ID": "bad id <script>"})
    assert response.headers["X-Request-ID"] != "bad id <script>"
    assert len(response.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api/predict/extra"])
def test_unknown_path_is_a_json_404(client, path):
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "method, path",
    [("get", "/predict"), ("put", "/api/predict_proba"), ("post", "/health"), ("patch", "/logs")],
)
def test_wrong_method_is_a_json_405(client, method, path):
    response = getattr(client, method)(path)
    error = assert_error(response, 405, "method_not_allowed")
    assert error["details"]["allowed_methods"]
    assert "Allow" in response.headers
