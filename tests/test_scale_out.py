"""Scaling out: several API instances behind a load balancer share one Redis prediction log.

Two real Gunicorn instances on their own ports, one real redis-server, the same key prefix and
admin token; predictions alternate between them as a round-robin balancer would send them.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER
from tests.processes import ServerProcess
from webapp.logstore import RedisLogStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "scale-out-token"
SENT = 24


@pytest.fixture(scope="module")
def instances(tmp_path_factory, redis_server):
    tmp_path = tmp_path_factory.mktemp("scale-out")
    shared = {
        "REDIS_URL": redis_server.url,
        "REDIS_KEY_PREFIX": f"scale-{uuid.uuid4().hex[:10]}",
        "ADMIN_TOKEN": TOKEN,
        "SECRET_KEY": "shared-secret",
        "SPACE_ID": "",
    }
    with (
        ServerProcess.gunicorn(tmp_path / "a", env=shared, name="api-a") as first,
        ServerProcess.gunicorn(tmp_path / "b", env=shared, name="api-b") as second,
    ):
        yield first, second
    # The prefix is this module's own: deleting its keys touches nobody else's data.
    redis_server.client().delete(*RedisLogStore(redis_server.url, shared["REDIS_KEY_PREFIX"]).keys)


@pytest.fixture
def two_instances(instances):
    """Both instances, with the shared log emptied through one of them."""
    answer = requests.delete(
        instances[0].url + "/api/logs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    answer.raise_for_status()
    return instances


def logged(instance: ServerProcess, expected: int, timeout: float = 10.0) -> list[dict]:
    """The instance's view of the shared log, once `expected` entries have been written."""
    deadline = time.monotonic() + timeout
    while True:
        answer = requests.get(
            instance.url + "/api/logs",
            params={"limit": 1000},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        answer.raise_for_status()
        body = answer.json()
        if body["total"] >= expected or time.monotonic() > deadline:
            return body["logs"]
        time.sleep(0.1)


def send_round_robin(instances, count: int) -> list[str]:
    """`count` predictions alternating over the instances, one after another; their request ids."""
    sent = []
    for number in range(count):
        instance = instances[number % len(instances)]
        request_id = f"rr-{number:03d}-{uuid.uuid4().hex[:8]}"
        record = SYMPTOMATIC_OLDER_SMOKER if number % 3 else HEALTHY_YOUNG_WOMAN
        answer = requests.post(
            instance.url + "/api/predict", json=record, headers={"X-Request-ID": request_id}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["request_id"] == request_id
        sent.append(request_id)
    return sent


def test_both_instances_see_every_prediction_once(two_instances):
    sent = send_round_robin(two_instances, SENT)

    for instance in two_instances:
        entries = logged(instance, SENT)
        assert sorted(entry["request_id"] for entry in entries) == sorted(sent), instance.name
        assert len({entry["id"] for entry in entries}) == SENT


def test_the_shared_log_timestamps_follow_the_order_sent(two_instances):
    sent = send_round_robin(two_instances, SENT)

    by_request = {entry["request_id"]: entry for entry in logged(two_instances[0], SENT)}
    timestamps = [by_request[request_id]["timestamp"] for request_id in sent]

    assert timestamps == sorted(timestamps)


def test_the_shared_log_lists_interleaved_predictions_in_the_order_sent(two_instances):
    sent = send_round_robin(two_instances, SENT)

    for instance in two_instances:
        oldest_first = [entry["request_id"] for entry in reversed(logged(instance, SENT))]
        assert oldest_first == sent, instance.name


def test_each_instance_answers_reads_with_the_other_instances_entries(two_instances):
    first, second = two_instances
    [from_first] = send_round_robin([first], 1)

    entries = logged(second, 1)

    assert [entry["request_id"] for entry in entries] == [from_first]
