"""Slow clients (slowloris) do not stop predictions of the API as `make run` starts it."""

from __future__ import annotations

import json
import socket

import pytest

from tests.helpers import SYMPTOMATIC_OLDER_SMOKER
from tests.processes import ServerProcess
from tests.slow_clients import SlowClients, predictions_during

pytestmark = pytest.mark.e2e


def test_slow_clients_do_not_stop_predictions_under_gunicorn(tmp_path):
    # The Procfile's command and settings: 2 workers x 2 threads, which 10 slow clients used to
    # tie up completely (0 predictions answered while they lasted).
    with ServerProcess.gunicorn(tmp_path, env={"GUNICORN_ACCESS_LOG": ""}) as api:
        with SlowClients(api.port, count=20):
            answered, failed = predictions_during(api.url, 5)
    assert answered >= 20 and failed <= answered // 20, (answered, failed)


def test_slow_bodies_do_not_stop_predictions_under_gunicorn(tmp_path):
    # A client that sends a whole head, then its body a byte at a time, holds a pool thread while
    # the body is read: eight of them hold every thread of 2 workers x 2 threads. A prediction
    # whose whole request is in is served on the worker's event loop, so it is answered meanwhile.
    with ServerProcess.gunicorn(tmp_path, env={"GUNICORN_ACCESS_LOG": ""}) as api:
        with SlowClients(api.port, count=8, slow_body=True):
            answered, failed = predictions_during(api.url, 5)
    assert answered >= 20 and failed <= answered // 20, (answered, failed)


def test_pipelined_keep_alive_requests_are_all_answered_in_order(tmp_path):
    # The worker serves a request already waiting on a kept-alive connection on the same thread:
    # requests sent back to back in one write must each get their own answer, in order.
    body = json.dumps(SYMPTOMATIC_OLDER_SMOKER).encode()
    ids = [f"pipelined-{i}" for i in range(12)]
    wire = b"".join(
        b"POST /predict HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        + f"X-Request-ID: {rid}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
        for rid in ids
    )
    with ServerProcess.gunicorn(tmp_path, env={"GUNICORN_ACCESS_LOG": ""}) as api:
        with socket.create_connection(("127.0.0.1", api.port), timeout=20) as sock:
            sock.sendall(wire)
            received = b""
            while received.count(b"HTTP/1.1 200 OK") < len(ids) or not received.endswith(b"}"):
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {received.count(b'HTTP/1.1 ')} answers"
                received += chunk
    answered = [
        line.split(b": ", 1)[1].decode()
        for line in received.split(b"\r\n")
        if line.startswith(b"X-Request-ID")
    ]
    assert answered == ids
