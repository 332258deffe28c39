"""A log store outage never fails a prediction and loses no entry it can keep (real Redis)."""

from __future__ import annotations

import time

import pytest

from tests.helpers import patient
from tests.redis_server import RedisServer


@pytest.fixture
def outage_redis():
    """A redis-server of this test's own, so stopping it disturbs nobody else."""
    with RedisServer(extra_args=("--save", "", "--appendonly", "yes")) as server:
        yield server


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_predictions_survive_a_redis_outage_and_their_entries_arrive_afterwards(outage_redis, make_app):
    app = make_app(REDIS_URL=outage_redis.url, REDIS_KEY_PREFIX="outage")
    client = app.test_client()
    assert client.post("/predict", json=patient(AGE=40)).status_code == 200
    assert client.get("/logs").get_json()["total"] == 1

    outage_redis.stop()
    for age in (41, 42, 43):
        assert client.post("/predict", json=patient(AGE=age)).status_code == 200
    assert wait_for(lambda: client.get("/health").get_json()["status"] == "degraded")
    health = client.get("/health")
    assert health.status_code == 200
    body = health.get_json()
    assert body["redis_connected"] is False
    assert body["log_buffer"]["pending"] == 3
    assert any("log store unavailable" in reason for reason in body["reasons"])
    assert client.get("/logs").status_code == 503
    page = client.get("/logs", headers={"Accept": "text/html"})
    assert page.status_code == 503 and page.mimetype == "text/html"

    outage_redis.start()
    assert wait_for(lambda: client.get("/health").get_json()["status"] == "healthy")
    logs = client.get("/logs").get_json()
    assert [entry["inputs"]["AGE"] for entry in logs["logs"]] == [43, 42, 41, 40]
    assert client.get("/health").get_json()["log_buffer"] == {
        "pending": 0,
        "dropped": 0,
        "reduced": 0,
        "unstored": 0,
    }


def test_entries_beyond_the_buffer_are_dropped_and_counted(outage_redis, make_app):
    app = make_app(REDIS_URL=outage_redis.url, REDIS_KEY_PREFIX="overflow", LOG_BUFFER_SIZE=2)
    client = app.test_client()
    outage_redis.stop()
    for age in (50, 51, 52, 53, 54):
        assert client.post("/predict", json=patient(AGE=age)).status_code == 200
    assert wait_for(lambda: client.get("/health").get_json()["log_buffer"]["dropped"] == 3)
    assert any("dropped" in reason for reason in client.get("/health").get_json()["reasons"])

    outage_redis.start()
    assert wait_for(lambda: client.get("/health").get_json()["log_buffer"]["pending"] == 0)
    ages = [entry["inputs"]["AGE"] for entry in client.get("/logs").get_json()["logs"]]
    assert ages == [54, 53]
