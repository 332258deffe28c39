"""The UI's proxy client against a real API under Gunicorn, and real misbehaving servers."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER
from tests.processes import ServerProcess, free_port
from webapp.proxy import APIProxyClient
from webapp.settings import Settings

pytestmark = pytest.mark.e2e

TOKEN = "proxy-test-token"
MODES = ["simple", "pooled"]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("proxy-api"), env={"ADMIN_TOKEN": TOKEN}) as server:
        yield server


@pytest.fixture(params=MODES)
def client(request, api):
    client = APIProxyClient(api.url, timeout=(2, 10), mode=request.param, pool_size=4)
    yield client
    client.close()


class ScriptedServer:
    """A real HTTP server in a thread whose answers the test scripts: slow, not JSON, 503..."""

    def __init__(self, answers, delay: float = 0.0):
        self.answers = list(answers)  # (status, content_type, body), the last one repeats
        self.delay = delay
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                outer.requests.append(self.command)
                time.sleep(outer.delay)
                status, content_type, body = outer.answers[min(len(outer.requests), len(outer.answers)) - 1]
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CountingTCPProxy:
    """Forwards TCP to a port and counts the connections it accepts: a server-side count."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


def test_get_info_names_the_endpoints(client):
    body, status = client.get_info()
    assert status == 200 and body["endpoints"]["predict"] == "/predict"


def test_get_health_reports_a_loaded_model(client):
    body, status = client.get_health()
    assert status == 200 and body["model_loaded"] is True


def test_post_predict_scores_one_record(client):
    body, status = client.post_predict(SYMPTOMATIC_OLDER_SMOKER)
    assert status == 200
    assert body["risk_level"] in ("low", "moderate", "high") and 0 <= body["probability"] <= 1


def test_post_predict_scores_a_list_as_a_batch(client):
    body, status = client.post_predict([HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER])
    assert status == 200 and body["count"] == 2


def test_post_predict_proba_answers_both_class_probabilities(client):
    body, status = client.post_predict_proba(HEALTHY_YOUNG_WOMAN)
    assert status == 200 and sum(body["probabilities"]) == pytest.approx(1.0)


def test_invalid_input_comes_back_as_the_apis_own_422(client):
    body, status = client.post_predict({"AGE": 50})
    assert status == 422 and body["error"]["code"] == "validation_error"


def test_request_id_travels_as_x_request_id(client):
    body, _ = client.post_predict(HEALTHY_YOUNG_WOMAN, request_id="trace-me-123")
    assert body["request_id"] == "trace-me-123"


def logged_request_ids(client, timeout: float = 5.0, wanted: str | None = None) -> list[str]:
    """Request ids in the log; each Gunicorn worker buffers its writes, so poll for `wanted`."""
    deadline = time.monotonic() + timeout
    while True:
        body, status = client.get_logs(limit=100, token=TOKEN)
        assert status == 200, body
        ids = [entry["request_id"] for entry in body["logs"]]
        if wanted is None or wanted in ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.05)


def test_get_logs_sends_the_admin_token_as_bearer(client):
    client.post_predict(HEALTHY_YOUNG_WOMAN, request_id="logged-by-proxy")
    assert "logged-by-proxy" in logged_request_ids(client, wanted="logged-by-proxy")
    body, status = client.get_logs(limit=5, offset=0, token=TOKEN, endpoint="/predict")
    assert status == 200 and body["limit"] == 5 and len(body["logs"]) <= 5


def test_get_logs_without_the_token_is_refused(client):
    body, status = client.get_logs(limit=5)
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_delete_logs_clears_with_the_token(api):
    client = APIProxyClient(api.url, admin_token=TOKEN)
    client.post_predict(HEALTHY_YOUNG_WOMAN, request_id="to-be-cleared")
    logged_request_ids(client, wanted="to-be-cleared")
    body, status = client.delete_logs()
    assert status == 200 and body["deleted"] >= 1
    assert "to-be-cleared" not in logged_request_ids(client)


def test_check_connection_reports_the_round_trip(client, api):
    body, status = client.check_connection()
    assert status == 200 and body["connected"] is True and body["api_url"] == api.url


@pytest.mark.parametrize("mode", MODES)
def test_an_api_that_is_down_gives_a_503_envelope(mode):
    client = APIProxyClient(f"http://127.0.0.1:{free_port()}", mode=mode, backoff_factor=0.01)
    body, status = client.post_predict(HEALTHY_YOUNG_WOMAN, request_id="down-1")
    assert status == 503
    assert body["error"]["code"] == "service_unavailable" and body["request_id"] == "down-1"
    assert client.check_connection()[1] == 503


@pytest.mark.parametrize("mode", MODES)
def test_an_api_that_answers_too_slowly_gives_a_504_envelope(mode):
    slow = ScriptedServer([(200, "application/json", b"{}")], delay=1.5)
    try:
        started = time.monotonic()
        body, status = APIProxyClient(slow.url, timeout=(1, 0.3), mode=mode).post_predict(HEALTHY_YOUNG_WOMAN)
        assert status == 504 and body["error"]["code"] == "gateway_timeout"
        assert time.monotonic() - started < 1.4  # a read timeout is not retried
    finally:
        slow.close()


@pytest.mark.parametrize("mode", MODES)
def test_an_answer_that_is_not_json_gives_a_502_envelope(mode):
    html = ScriptedServer([(200, "text/html", b"<html>login portal</html>")])
    try:
        body, status = APIProxyClient(html.url, mode=mode).get_health()
        assert status == 502 and body["error"]["details"]["body_excerpt"].startswith("<html>")
    finally:
        html.close()


def test_pooled_mode_retries_a_prediction_after_503():
    flaky = ScriptedServer(
        [(503, "application/json", b'{"error": {}}'), (200, "application/json", b'{"ok": 1}')]
    )
    try:
        body, status = APIProxyClient(flaky.url, mode="pooled", backoff_factor=0.01).post_predict({})
        assert (body, status) == ({"ok": 1}, 200) and flaky.requests == ["POST", "POST"]
    finally:
        flaky.close()


def test_pooled_mode_never_retries_clearing_the_log():
    flaky = ScriptedServer([(503, "application/json", b'{"error": {}}'), (200, "application/json", b"{}")])
    try:
        _, status = APIProxyClient(flaky.url, mode="pooled", backoff_factor=0.01).delete_logs()
        assert status == 503 and flaky.requests == ["DELETE"]
    finally:
        flaky.close()


def test_pooled_mode_reuses_connections_under_concurrent_calls(api):
    counter = CountingTCPProxy(api.port)
    client = APIProxyClient(counter.url, mode="pooled", pool_size=8)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: client.post_predict(SYMPTOMATIC_OLDER_SMOKER)[1], range(240)))
        assert statuses == [200] * 240
        assert counter.accepted <= 8, f"{counter.accepted} connections for 240 requests"
    finally:
        client.close()
        counter.close()


def test_simple_mode_opens_a_connection_per_call(api):
    counter = CountingTCPProxy(api.port)
    client = APIProxyClient(counter.url, mode="simple")
    try:
        for _ in range(10):
            assert client.get_health()[1] == 200
        assert counter.accepted == 10
    finally:
        counter.close()


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, "simple"),
        ({"SPACE_ID": "someone/lung-risk"}, "pooled"),
        ({"SPACE_ID": "someone/lung-risk", "PROXY_MODE": "simple"}, "simple"),
        ({"PROXY_MODE": "Pooled"}, "pooled"),
    ],
)
def test_the_transport_is_picked_from_the_environment(environ, expected):
    assert Settings.from_env(environ).proxy_mode == expected


def test_an_unknown_proxy_mode_is_refused():
    with pytest.raises(ValueError, match="PROXY_MODE"):
        Settings.from_env({"PROXY_MODE": "magic"})
