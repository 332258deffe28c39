"""The API under a real Gunicorn: workers, logging to one SQLite file, shutdown, refusal to start."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.helpers import REPO_ROOT, patient
from tests.processes import ServerProcess
from webapp.gunicorn_access import ACCESS_LOG_FLUSH_SECONDS
from webapp.logstore import LogQuery, SQLiteLogStore

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("gunicorn")) as server:
        yield server


def test_predictions_from_both_workers_land_in_one_log(api):
    session = requests.Session()
    sent = [f"gunicorn-{index}" for index in range(40)]
    for request_id in sent:
        response = session.post(
            f"{api.url}/api/predict", json=patient(), timeout=5, headers={"X-Request-ID": request_id}
        )
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == request_id
    # Each worker writes its own buffer within the writer's linger; read until all are in.
    found = []
    for _ in range(50):
        logs = session.get(f"{api.url}/api/logs", params={"limit": 1000, "request_id": "gunicorn-"}).json()
        found = [entry["request_id"] for entry in logs["logs"]]
        if len(found) == len(sent):
            break
        time.sleep(0.05)
    assert sorted(found) == sorted(sent)


def test_access_log_goes_to_stdout_with_the_request_id(api):
    requests.get(f"{api.url}/health", headers={"X-Request-ID": "access-log-check"}, timeout=5)
    # Lines are written in batches, at most ACCESS_LOG_FLUSH_SECONDS after the request.
    deadline = time.monotonic() + 10 * ACCESS_LOG_FLUSH_SECONDS
    while "rid=access-log-check" not in api.log_tail(20000) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "rid=access-log-check" in api.log_tail(20000)


def test_graceful_shutdown_writes_every_buffered_entry(tmp_path):
    server = ServerProcess.gunicorn(tmp_path, env={"GUNICORN_ACCESS_LOG": ""}).start()
    with requests.Session() as session:
        for age in range(30, 60):
            assert session.post(f"{server.url}/predict", json=patient(AGE=age), timeout=5).status_code == 200
    assert server.stop(signal.SIGTERM) == 0
    store = SQLiteLogStore(tmp_path / "api-log.sqlite3")
    ages = sorted(entry["inputs"]["AGE"] for entry in store.iter_entries(LogQuery()))
    assert ages == list(range(30, 60))


def test_gunicorn_refuses_to_start_with_a_tampered_model(tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(REPO_ROOT / "model", model_dir)
    with open(model_dir / "model.joblib", "ab") as artifact:
        artifact.write(b"tampered")
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**ServerProcess.gunicorn(tmp_path).env, "MODEL_DIR": str(model_dir)},
    )
    assert result.returncode != 0
    assert "sha256" in result.stdout + result.stderr


def test_metadata_over_http_matches_the_model_card(api):
    card = json.loads((REPO_ROOT / "model" / "model_card.json").read_text())
    metadata = requests.get(f"{api.url}/api/metadata", timeout=5).json()
    assert metadata["threshold"] == card["threshold"]
    assert metadata["version"] == card["model_version"]


def test_a_second_server_on_a_taken_port_refuses_to_start(api, tmp_path):
    # SO_REUSEPORT would otherwise let it share the port, and the traffic, with the first.
    second = ServerProcess.gunicorn(tmp_path, port=api.port)
    result = subprocess.run(
        second.command, cwd=REPO_ROOT, env=second.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "already in use" in result.stdout + result.stderr


def raw_exchange(api, request: bytes) -> tuple[int, dict, dict]:
    """Send raw bytes, read the whole answer: status, headers, JSON body."""
    import socket

    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    "request_bytes, status, code",
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        (b"NOT A REQUEST LINE\r\n\r\n", 400, "bad_request"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
            431,
            "request_header_fields_too_large",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
            431,
            "request_header_fields_too_large",
        ),
    ],
)
def test_requests_gunicorn_refuses_itself_are_answered_in_the_envelope(api, request_bytes, status, code):
    answered, headers, body = raw_exchange(api, request_bytes)
    assert answered == status
    assert headers["Content-Type"] == "application/json"
    assert body["error"]["code"] == code and body["error"]["message"]
    assert body["request_id"] == headers["X-Request-ID"]
