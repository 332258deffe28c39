"""Slow clients (slowloris) do not stop predictions of the API as `make run` starts it."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import SYMPTOMATIC_OLDER_SMOKER, wait_until
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


def test_a_client_that_does_not_read_its_answers_does_not_stop_predictions(tmp_path):
    # A client that sends prediction after prediction and never reads an answer fills its
    # receive window, then the server's send buffer; the next answer's send then waits
    # (SEND_TIMEOUT at most). The worker's event loop serves no request of a connection with
    # answers still unsent, so that wait is on a pool thread and other clients' predictions go on.
    body = json.dumps([SYMPTOMATIC_OLDER_SMOKER] * 8).encode()  # small enough for the loop
    one = (
        b"POST /predict HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with ServerProcess.gunicorn(tmp_path, env={"GUNICORN_ACCESS_LOG": ""}) as api:
        greedy = socket.socket()
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window
        greedy.connect(("127.0.0.1", api.port))
        sent = []

        def send_without_reading():
            try:
                while True:
                    greedy.sendall(one)  # one at a time, each alone in the server's read
                    sent.append(time.monotonic())
                    time.sleep(0.02)  # slower than the server answers: never pipelined
            except OSError:
                pass  # closed by the test, or by the server after SEND_TIMEOUT: both expected

        sender = threading.Thread(target=send_without_reading, daemon=True)
        sender.start()
        server_side = (api.port, greedy.getsockname()[1])
        try:
            # The server's answers to it pile up unsent until a send waits: the pile stops growing.
            piles = []
            assert wait_until(lambda: _stalled(piles, _unsent(*server_side)), 30), (piles[-3:], len(sent))
            answered, failed = predictions_during(api.url, 3)  # inside the send's SEND_TIMEOUT
        finally:
            greedy.close()
            sender.join(timeout=15)
    assert answered >= 20 and failed <= answered // 20, (answered, failed, len(sent))


def _unsent(local_port: int, remote_port: int) -> int:
    """Bytes a loopback TCP socket has not yet delivered (tx_queue in Linux's /proc/net/tcp)."""
    wanted = f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted:
            return int(fields[4].split(":")[0], 16)
    return 0


def _stalled(piles: list[int], unsent: int) -> bool:
    """Whether `unsent`, sampled every 20 ms, is over 1 MB and has not grown for 0.3 s."""
    piles.append(unsent)
    return unsent > 1 << 20 and len(piles) > 15 and max(piles[-15:]) == piles[-16]


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
