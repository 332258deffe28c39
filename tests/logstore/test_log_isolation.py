"""Poison entries: whatever a client sends, its entry never takes other people's entries with it."""

from __future__ import annotations

import pytest

from tests.helpers import patient
from webapp.logstore import LogQuery, PredictionLog, SQLiteLogStore

DEPTH = 300


def nested_body(depth: int = DEPTH) -> str:
    """About 600 bytes: a record whose AGE is a list nested `depth` levels deep."""
    return '{"AGE": ' + "[" * depth + "]" * depth + "}"


@pytest.fixture(params=["sqlite", "redis"])
def app(request, make_app):
    return make_app(backend=request.param)


def test_poison_bodies_among_good_traffic_lose_no_good_entry(app):
    client = app.test_client()
    good, poison = [], []
    for index in range(60):
        request_id = f"req-{index:03d}"
        if index % 3 == 1:
            response = client.post(
                "/predict",
                data=nested_body(),
                content_type="application/json",
                headers={"X-Request-ID": request_id},
            )
            assert response.status_code == 422
            poison.append(request_id)
        else:
            response = client.post(
                "/predict", json=patient(AGE=20 + index), headers={"X-Request-ID": request_id}
            )
            assert response.status_code == 200
            good.append(request_id)

    entries = {
        entry["request_id"]: entry for entry in app.extensions["prediction_log"].iter_entries(LogQuery())
    }
    assert set(good) <= set(entries)
    assert set(poison) <= set(entries)
    rejected = entries[poison[0]]
    assert rejected["inputs"] is None
    assert isinstance(rejected["body"], str) and rejected["body"].startswith('{"AGE": [[[')
    assert len(rejected["body"]) <= 2100
    health = client.get("/health").get_json()
    assert health["log_buffer"]["unstored"] == 0


def test_a_rejected_body_is_kept_as_bounded_escaped_text(app):
    client = app.test_client()
    body = '{"AGE": "' + "\u00e9\\n" * 5000 + '", "X": {"deep": [1, [2, [3]]]}}'
    response = client.post(
        "/predict", data=body.encode(), content_type="application/json", headers={"X-Request-ID": "big"}
    )
    assert response.status_code == 422

    entry = app.extensions["prediction_log"].query(LogQuery(request_id="big")).entries[0]
    assert entry["inputs"] is None
    assert entry["body"].isascii() and "\n" not in entry["body"]
    assert entry["body"].endswith("characters in all]") and len(entry["body"]) < 2200


def test_a_record_shaped_rejection_keeps_its_inputs(app):
    client = app.test_client()
    client.post("/predict", json=patient(AGE=300), headers={"X-Request-ID": "age"})

    entry = app.extensions["prediction_log"].query(LogQuery(request_id="age")).entries[0]
    assert entry["inputs"]["AGE"] == 300
    assert entry["body"] is None


class RefusingStore(SQLiteLogStore):
    """A store that refuses some entries whatever their form, as a broken backend might."""

    def append(self, entries, runs=()):
        if any("refuse" in str(entry.get("request_id")) for entry in entries):
            raise ValueError("this entry cannot be stored")
        super().append(entries, runs)


def test_an_entry_refused_even_reduced_is_lost_alone_and_counted(tmp_path, make_entry):
    log = PredictionLog(RefusingStore(tmp_path / "log.sqlite3"))
    try:
        log.record(
            [make_entry(request_id="a"), make_entry(request_id="refuse-me"), make_entry(request_id="b")]
        )
        assert log.flush() is True
        stored = [entry["request_id"] for entry in log.iter_entries(LogQuery())]
        assert sorted(stored) == ["a", "b"]
        status = log.status()
        assert status["unstored"] == 1 and status["dropped"] == 0 and status["healthy"]
    finally:
        log.close()
