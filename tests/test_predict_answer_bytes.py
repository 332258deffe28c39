"""A prediction's answer, headers and log entry are exactly what the view's parts make.

The predict view reads Flask's request, app and g once and hands them on (a context look-up
each use otherwise); these check that nothing it answers or logs moved: the body byte for byte
against the model service and `responses`, the headers in order, the entry field for field
against `entry.for_predictions`, in both languages and for rejections.
"""

from __future__ import annotations

import pytest

from tests.helpers import SYMPTOMATIC_OLDER_SMOKER, patient
from webapp.api import responses
from webapp.api.schemas import load_records
from webapp.logstore import LogQuery, entry

REQUEST_ID = "answer-bytes.1"


def stored(app) -> list[dict]:
    log = app.extensions["prediction_log"]
    log.flush()
    return list(log.iter_entries(LogQuery()))


def expected_headers(length: int, language: str) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("Content-Length", str(length)),
        ("Vary", "Accept-Language"),
        ("Content-Language", language),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Request-ID", REQUEST_ID),
    ]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize(
    ("path", "with_probabilities"),
    [("/predict", False), ("/api/predict", False), ("/predict_proba", True)],
)
@pytest.mark.parametrize(
    "payload", [SYMPTOMATIC_OLDER_SMOKER, patient(AGE=30, SMOKING=1), [patient(), patient(AGE=90)]]
)
def test_a_prediction_answers_and_logs_exactly_what_its_parts_make(
    app, path, with_probabilities, payload, language
):
    response = app.test_client().post(
        path, json=payload, headers={"X-Request-ID": REQUEST_ID, "Accept-Language": language}
    )
    assert response.status_code == 200

    model = app.extensions["model_service"]
    records, is_batch = load_records(payload, app.config["MAX_BATCH_SIZE"])
    results = model.predict_records(records, language=language)
    items = responses.items(results, with_probabilities, model.reference(language))
    expected = app.json.response(responses.body(items, is_batch, model.version, REQUEST_ID))
    assert response.data == expected.data
    assert list(response.headers.items()) == expected_headers(len(expected.data), language)

    entries = stored(app)
    assert len(entries) == len(records)
    latency = entries[0]["batch_latency_ms"]
    made = entry.for_predictions(
        results,
        records,
        endpoint=path,
        request_id=REQUEST_ID,
        model_version=model.version,
        latency_ms=latency,
        timestamp=entries[0]["timestamp"],
    )
    assert [{key: value for key, value in kept.items() if key != "id"} for kept in reversed(entries)] == made
    assert 0 < latency < 10_000 and entry.TIMESTAMP.fullmatch(entries[0]["timestamp"])


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"AGE": 300}', "application/json", 422),
        (b"{", "application/json", 400),
        (b"", "application/json", 400),
        (b"AGE=60", "text/plain", 415),
    ],
)
def test_a_rejection_answers_in_the_readers_language_and_logs_in_english(app, body, content_type, status):
    answers = {}
    for language in ("en", "fr"):
        response = app.test_client().post(
            "/predict",
            data=body,
            content_type=content_type,
            headers={"X-Request-ID": REQUEST_ID, "Accept-Language": language},
        )
        assert response.status_code == status
        answers[language] = response.get_json()
        assert set(answers[language]) == {"error", "request_id"}
        assert answers[language]["request_id"] == response.headers["X-Request-ID"] == REQUEST_ID
        assert response.headers["Content-Language"] == language

    kept = stored(app)
    assert len(kept) == 2
    for rejection in kept:
        assert rejection["level"] == entry.WARNING and rejection["endpoint"] == "/predict"
        assert rejection["request_id"] == REQUEST_ID
        assert rejection["message"] == f"Rejected with {status}: {answers['en']['error']['message']}"
        assert 0 <= rejection["latency_ms"] < 10_000


def test_a_client_over_its_limit_is_refused_with_the_same_answer(make_app):
    app = make_app(PREDICT_RATE_LIMIT="1 per minute", RATE_LIMIT_EXEMPT=())
    client = app.test_client()
    visitor = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.post("/predict", json=patient(), environ_base=visitor).status_code == 200
    refused = client.post(
        "/predict", json=patient(), environ_base=visitor, headers={"X-Request-ID": REQUEST_ID}
    )
    assert refused.status_code == 429
    assert refused.get_json()["request_id"] == REQUEST_ID
    assert refused.get_json()["error"]["details"]["limit"] == "1 per 1 minute"
    assert int(refused.headers["Retry-After"]) >= 1
    assert len(stored(app)) == 1  # refused before anything is logged
