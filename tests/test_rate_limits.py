"""An anonymous client cannot flush the log: per-client limits on predictions and batch rows."""

from __future__ import annotations

import pytest

from tests.helpers import patient
from webapp.logstore import LogQuery

VISITOR = {"REMOTE_ADDR": "203.0.113.7"}
OTHER = {"REMOTE_ADDR": "203.0.113.8"}


def stored(app) -> list[dict]:
    return list(app.extensions["prediction_log"].iter_entries(LogQuery()))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_prediction_requests_are_limited_per_client_and_refusals_are_not_logged(make_app, backend):
    app = make_app(backend, PREDICT_RATE_LIMIT="5 per minute", RATE_LIMIT_EXEMPT=())
    client = app.test_client()
    statuses = [client.post("/predict", json=patient(), environ_base=VISITOR).status_code for _ in range(5)]
    statuses.append(client.post("/predict", json=patient(AGE=300), environ_base=VISITOR).status_code)
    assert statuses == [200] * 5 + [429]

    refused = client.post("/api/predict_proba", json=patient(), environ_base=VISITOR)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert client.post("/predict", json=patient(), environ_base=OTHER).status_code == 200
    assert len(stored(app)) == 6


def test_batch_rows_count_against_the_rows_limit(make_app):
    app = make_app(PREDICT_ROWS_RATE_LIMIT="10 per hour", RATE_LIMIT_EXEMPT=())
    client = app.test_client()
    assert client.post("/predict", json=[patient()] * 8, environ_base=VISITOR).status_code == 200
    refused = client.post("/predict", json=[patient()] * 3, environ_base=VISITOR)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["details"]["limit"] == "10 per 1 hour"
    assert client.post("/predict", json=[patient()] * 2, environ_base=VISITOR).status_code == 200
    assert len(stored(app)) == 10


def test_exempt_addresses_are_not_limited(make_app):
    app = make_app(PREDICT_RATE_LIMIT="2 per minute")  # loopback exempt by default
    client = app.test_client()
    assert [client.post("/predict", json=patient()).status_code for _ in range(5)] == [200] * 5


def test_batch_rows_are_logged_with_their_own_latency_and_the_batch_size(make_app):
    app = make_app()
    app.test_client().post("/predict", json=[patient(AGE=age) for age in range(30, 40)])
    entries = stored(app)
    assert len(entries) == 10
    for entry in entries:
        assert entry["batch_size"] == 10
        assert entry["latency_ms"] == pytest.approx(entry["batch_latency_ms"] / 10, abs=0.001)
    app.test_client().post("/predict", json=patient())
    single = stored(app)[0]
    assert single["batch_size"] == 1 and single["latency_ms"] == single["batch_latency_ms"]


def test_an_exempt_peer_forwarding_for_visitors_has_each_visitor_limited(make_app):
    app = make_app(PREDICT_RATE_LIMIT="2 per minute")  # the test client's peer is loopback: exempt
    client = app.test_client()

    def post(address: str | None = None) -> int:
        headers = {"X-Forwarded-For": f"198.51.100.1, {address}"} if address else {}
        return client.post("/predict", json=patient(), headers=headers).status_code

    assert [post("203.0.113.7") for _ in range(3)] == [200, 200, 429]
    assert post("203.0.113.8") == 200
    assert [post() for _ in range(3)] == [200] * 3  # the exempt peer's own calls
    assert post("not-an-address") == 200  # a header that names no address: the peer's own call


def test_a_client_that_is_not_exempt_cannot_pick_its_key_with_x_forwarded_for(make_app):
    app = make_app(PREDICT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [
        client.post(
            "/predict", json=patient(), environ_base=VISITOR, headers={"X-Forwarded-For": forged}
        ).status_code
        for forged in ("192.0.2.1", "192.0.2.2", "127.0.0.1")
    ]
    assert statuses == [200, 200, 429]
