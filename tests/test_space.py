"""The Hugging Face Space running: its supervisor, its nginx, and the whole stack on one port.

No Docker engine here, so deploy/start.sh (the image's CMD) runs for real with SPACE_ID set, on
free loopback ports. Every check of the running stack goes through the public port only.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from deploy.space import render_nginx_conf
from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, require_binary
from tests.processes import ROOT, ServerProcess, free_port
from tests.slow_clients import SlowClients, predictions_during

TOKEN = "space-admin-token"


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def wait_until(condition, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def read_pid(run_dir: Path, name: str) -> int | None:
    try:
        return int((run_dir / f"{name}.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


# -- the supervisor ------------------------------------------------------------------------------

SUPERVISED = """
import logging, sys, time
from pathlib import Path
from deploy.supervise import Program, Supervisor
logging.basicConfig(level=logging.INFO)
started = time.monotonic()
# "steady" takes 1.5 s to be ready, so the tests kill "fragile" while the supervisor is still starting.
programs = [Program("fragile", ["sleep", "300"]),
            Program("steady", ["sleep", "300"], ready=lambda: time.monotonic() - started > 1.5)]
sys.exit(Supervisor(programs, Path(sys.argv[1]), max_restarts=1, window=60, backoff=0.1).run())
"""


@pytest.fixture
def supervised(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_until(lambda: read_pid(tmp_path, "fragile") and read_pid(tmp_path, "steady"), timeout=10)
    yield process, tmp_path
    if process.poll() is None:
        process.terminate()  # the supervisor stops its programs; a bare kill would orphan them
        process.wait(timeout=30)


@pytest.mark.e2e
def test_the_supervisor_restarts_a_program_that_dies_even_while_another_is_starting(supervised):
    process, run_dir = supervised
    first = read_pid(run_dir, "fragile")

    os.kill(first, signal.SIGKILL)

    second = wait_until(lambda: (pid := read_pid(run_dir, "fragile")) != first and pid, timeout=10)
    assert second and alive(second) and process.poll() is None


@pytest.mark.e2e
def test_the_supervisor_exits_1_and_stops_everything_when_a_program_keeps_dying(supervised):
    process, run_dir = supervised
    steady = read_pid(run_dir, "steady")
    first = read_pid(run_dir, "fragile")
    os.kill(first, signal.SIGKILL)
    second = wait_until(lambda: (pid := read_pid(run_dir, "fragile")) != first and pid, timeout=10)

    os.kill(second, signal.SIGKILL)

    assert process.wait(timeout=30) == 1
    assert not alive(steady)


@pytest.mark.e2e
def test_the_supervisor_stops_everything_and_exits_0_on_sigterm(supervised):
    process, run_dir = supervised
    children = [read_pid(run_dir, "steady"), read_pid(run_dir, "fragile")]

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) == 0
    assert not any(alive(pid) for pid in children)


# -- nginx routing, against the real API and a stand-in for Gradio -----------------------------------

STAND_IN_UI = """
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/gradio_api/queue/data"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b"data: first\\n\\n"); self.wfile.flush()
            time.sleep(2)
            self.wfile.write(b"data: second\\n\\n"); self.wfile.flush()
            return
        body = json.dumps({"server": "ui", "path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    """nginx on a free port in front of the API under Gunicorn and a stand-in UI."""
    nginx = require_binary("nginx", "/usr/sbin/nginx")
    workdir = tmp_path_factory.mktemp("routing")
    port, api_port, ui_port = free_port(), free_port(), free_port()
    (workdir / "ui.py").write_text(STAND_IN_UI)
    conf = workdir / "nginx.conf"
    conf.write_text(
        render_nginx_conf(
            {
                "PORT": port,
                "LISTEN_HOST": "127.0.0.1",
                "UI_PORT": ui_port,
                "API_PORT": api_port,
                "RUN_DIR": workdir,
                "NGINX_WORKERS": 1,
            }
        )
    )
    (workdir / "nginx").mkdir()
    with (
        ServerProcess.gunicorn(workdir, port=api_port, env={"SPACE_ID": "", "ADMIN_TOKEN": ""}),
        ServerProcess(
            [sys.executable, str(workdir / "ui.py"), str(ui_port)],
            ui_port,
            workdir,
            ready_path="/",
            name="ui",
        ),
    ):
        with ServerProcess(
            [nginx, "-e", "stderr", "-p", str(workdir / "nginx"), "-c", str(conf)],
            port,
            workdir,
            ready_path="/health/ready",
            name="nginx",
        ) as proxy:
            yield proxy


@pytest.mark.e2e
@pytest.mark.parametrize(
    "path, server",
    [
        ("/api/health", "api"),
        ("/api/metadata", "api"),
        ("/health", "api"),
        ("/health/ready", "api"),
        ("/metadata", "api"),
        ("/logs", "api"),
        ("/admin-static/css/app.css", "api"),
        ("/docs", "api"),
        ("/docs/assets/swagger-ui.css", "api"),
        ("/openapi.json", "api"),
        ("/docsify", "ui"),
        ("/openapi.jsonp", "ui"),
        ("/", "ui"),
        ("/static/js/iframeResizer.contentWindow.min.js", "ui"),
        ("/assets/index.js", "ui"),
        ("/gradio_api/info", "ui"),
        ("/config", "ui"),
        ("/apiary", "ui"),
        ("/healthy", "ui"),
        ("/logsheet", "ui"),
        ("/theme.css", "ui"),
        ("/predictions", "ui"),
        ("/docsify", "ui"),
        ("/openapi.json.bak", "ui"),
        ("/gradio_api/openapi.json", "ui"),
        ("/manifest.json", "ui"),
        ("/login", "ui"),
        ("/svelte/x.js", "ui"),
        ("/robots.txt", "ui"),
    ],
)
def test_nginx_routes(routed, path, server):
    answer = requests.get(routed.url + path, timeout=5)
    assert answer.ok, (path, answer.status_code, answer.text[:200])
    assert served_by(answer) == server, path


@pytest.mark.e2e
@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/predict"),
        ("POST", "/predict_proba"),
        ("GET", "/metadata"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
    ],
)
def test_nginx_sends_the_apis_root_paths_to_the_api(routed, method, path):
    answer = requests.request(
        method, routed.url + path, json=HEALTHY_YOUNG_WOMAN if method == "POST" else None, timeout=5
    )
    # The API answers (200, or its own 404 envelope for a path it does not serve yet), never the UI.
    assert served_by(answer) == "api" and "X-Request-ID" in answer.headers, (path, answer.text[:200])


def served_by(answer: requests.Response) -> str:
    """The stand-in UI answers every path with JSON naming itself; anything else is the API."""
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        return answer.json().get("server", "api")
    return "api"


@pytest.mark.e2e
def test_nginx_tells_gradio_the_public_host_and_scheme(routed):
    headers = {
        name.lower(): value
        for name, value in requests.get(routed.url + "/config", timeout=5).json()["headers"].items()
    }
    public_host = routed.url.removeprefix("http://")
    assert headers["host"] == public_host and headers["x-forwarded-host"] == public_host
    assert headers["x-forwarded-proto"] == "http" and headers["x-forwarded-for"] == "127.0.0.1"


@pytest.mark.e2e
def test_nginx_keeps_the_scheme_and_host_the_spaces_own_proxy_forwards(routed):
    answer = requests.get(
        routed.url + "/config",
        timeout=5,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "me-space.hf.space"},
    )
    headers = {name.lower(): value for name, value in answer.json()["headers"].items()}
    assert headers["x-forwarded-proto"] == "https" and headers["x-forwarded-host"] == "me-space.hf.space"


@pytest.mark.e2e
def test_nginx_streams_gradio_events_without_buffering(routed):
    started = time.monotonic()
    queue = routed.url + "/gradio_api/queue/data?session_hash=x"
    with requests.get(queue, stream=True, timeout=10) as answer:
        first = next(answer.iter_lines())
        waited = time.monotonic() - started
    assert first == b"data: first" and waited < 1.5


@pytest.mark.e2e
def test_nginx_answers_503_with_retry_after_while_a_backend_restarts(tmp_path):
    nginx = require_binary("nginx", "/usr/sbin/nginx")
    port = free_port()
    conf = tmp_path / "nginx.conf"  # nothing listens on the API's or the UI's port: both are down
    conf.write_text(
        render_nginx_conf(
            {
                "PORT": port,
                "LISTEN_HOST": "127.0.0.1",
                "UI_PORT": free_port(),
                "API_PORT": free_port(),
                "RUN_DIR": tmp_path,
                "NGINX_WORKERS": 1,
            }
        )
    )
    (tmp_path / "nginx").mkdir()
    with ServerProcess(
        [nginx, "-e", "stderr", "-p", str(tmp_path / "nginx"), "-c", str(conf)],
        port,
        tmp_path,
        ready_path="/health/ready",
        name="nginx",
    ) as proxy:
        api = requests.get(proxy.url + "/api/predict", timeout=5)
        page = requests.get(proxy.url + "/", timeout=5)

    assert api.status_code == 503 and api.headers["Retry-After"] == "2"
    assert api.json()["error"]["code"] == "service_unavailable"
    assert page.status_code == 503 and page.headers["Retry-After"] == "2"
    assert 'http-equiv="refresh"' in page.text


# -- the whole Space: deploy/start.sh with SPACE_ID set, reached through its public port only -------


def start_space(workdir: Path, **settings: str) -> ServerProcess:
    """deploy/start.sh on free ports; `settings` override the environment (e.g. ADMIN_TOKEN="")."""
    require_binary("nginx", "/usr/sbin/nginx")
    require_binary("redis-server")
    port = free_port()
    env = {
        "PORT": str(port),
        "LISTEN_HOST": "127.0.0.1",
        "API_PORT": str(free_port()),
        "UI_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
        "REDIS_URL": "",
        "DATA_DIR": str(workdir / "data"),
        "RUN_DIR": str(workdir / "run"),
        "SPACE_ID": "tests/lung-cancer-risk",
        "ADMIN_TOKEN": TOKEN,
        "SECRET_KEY": "space-secret",
        "PYTHON": sys.executable,
        "WEB_CONCURRENCY": "2",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PROMETHEUS_MULTIPROC_DIR": "",
        **settings,
    }
    return ServerProcess(
        ["bash", str(ROOT / "deploy" / "start.sh")],
        port,
        workdir,
        env,
        ready_path="/health/ready",
        name="space",
        start_timeout=120,
    )


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("space-stack")
    server = start_space(workdir).start()
    server.run_dir = workdir / "run"
    server.data_dir = workdir / "data"
    yield server
    code = server.stop(timeout=60)
    assert code == 0, server.log_tail()


@pytest.mark.e2e
@pytest.mark.slow
def test_the_space_answers_the_json_api_on_its_public_port(space):
    answer = requests.post(space.url + "/api/predict", json=SYMPTOMATIC_OLDER_SMOKER, timeout=10)

    assert answer.status_code == 200
    assert answer.json()["risk_level"] in ("low", "moderate", "high")
    health = requests.get(space.url + "/api/health", timeout=5).json()
    assert health["status"] == "healthy" and health["redis_connected"] is True


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("path", ["/predict", "/predict_proba", "/api/predict", "/api/predict_proba"])
def test_the_space_predicts_at_the_root_paths_too(space, path):
    answer = requests.post(
        space.url + path, json={**SYMPTOMATIC_OLDER_SMOKER, "LUNG_CANCER": "YES"}, timeout=10
    )

    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["risk_level"] in ("low", "moderate", "high")
    assert answer.json()["warnings"] == ["LUNG_CANCER ignored: it is the survey's answer, not an input."]


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("path", ["/metadata", "/health", "/docs", "/openapi.json"])
def test_the_spaces_root_paths_reach_the_api_not_gradio(space, path):
    answer = requests.get(space.url + path, timeout=10)

    # The API's answer carries its request id; /docs and /openapi.json are the API's 404
    # envelope until the OpenAPI document lands, never Gradio's {"detail": "Not Found"}.
    assert "X-Request-ID" in answer.headers, (answer.status_code, answer.text[:200])
    assert answer.status_code == 200 or answer.json()["error"]["code"] == "not_found"


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("path", ["/", "/config", "/gradio_api/info", "/theme.css", "/manifest.json"])
def test_the_space_still_serves_gradios_own_routes(space, path):
    answer = requests.get(space.url + path, timeout=10)

    assert answer.status_code == 200 and "X-Request-ID" not in answer.headers, path


@pytest.mark.e2e
@pytest.mark.slow
def test_a_browser_page_elsewhere_may_call_predict_on_the_space_but_not_the_logs(space):
    asking = {
        "Origin": "https://clinic.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type",
    }
    predict = requests.options(space.url + "/predict", headers=asking, timeout=5)
    logs = requests.options(space.url + "/api/logs", headers=asking, timeout=5)

    assert predict.headers.get("Access-Control-Allow-Origin") == "*"
    assert "Access-Control-Allow-Origin" not in logs.headers


@pytest.mark.e2e
@pytest.mark.slow
def test_on_a_space_the_ui_reaches_the_api_through_the_pooled_proxy(space):
    assert re.search(r"Gradio UI listening .* proxy pooled", space.log_tail(200_000))


@pytest.mark.e2e
@pytest.mark.slow
def test_the_space_keeps_its_log_in_an_append_only_redis_file_in_the_data_dir(space):
    requests.post(space.url + "/api/predict", json=HEALTHY_YOUNG_WOMAN, timeout=10).raise_for_status()

    assert list((space.data_dir / "redis").rglob("*.aof"))


@pytest.mark.e2e
@pytest.mark.slow
def test_gradio_client_calls_predict_api_through_the_public_port(space):
    from gradio_client import Client

    body = Client(space.url, verbose=False).predict(SYMPTOMATIC_OLDER_SMOKER, api_name="/predict_api")

    assert body["prediction"] in (0, 1) and body["risk_level"] in ("low", "moderate", "high")


@pytest.mark.e2e
@pytest.mark.slow
def test_gradio_client_raises_the_apis_errors_and_clears_with_the_references_name(space):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(space.url, verbose=False)
    with pytest.raises(AppError, match="status 401, unauthorized"):
        client.predict(api_name="/api_clear_logs_proxy")
    with pytest.raises(AppError, match="status 422, validation_error"):
        client.predict({"AGE": "old"}, api_name="/predict_api")
    assert client.predict(admin_token=TOKEN, api_name="/api_clear_logs_proxy")["deleted"] >= 0


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token"}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
    ],
)
def test_the_admin_api_needs_the_token(space, headers, status):
    assert requests.get(space.url + "/api/logs", headers=headers, timeout=5).status_code == status


@pytest.mark.e2e
@pytest.mark.slow
def test_the_log_page_asks_for_the_token_then_shows_predictions(space):
    request_id = f"space-page-{os.getpid()}"
    requests.post(
        space.url + "/api/predict", json=HEALTHY_YOUNG_WOMAN, timeout=10, headers={"X-Request-ID": request_id}
    ).raise_for_status()
    browser = requests.Session()
    browser.headers["Accept"] = "text/html"

    login_page = browser.get(space.url + "/logs", timeout=5)
    assert login_page.url.startswith(space.url + "/admin/login") and 'name="token"' in login_page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text).group(1)
    refused = browser.post(
        space.url + "/admin/login", data={"csrf_token": csrf, "token": "wrong", "next": "/logs"}, timeout=5
    )
    assert refused.status_code == 401

    browser.post(
        space.url + "/admin/login", data={"csrf_token": csrf, "token": TOKEN, "next": "/logs"}, timeout=5
    ).raise_for_status()
    page = wait_until(
        lambda: (p := browser.get(space.url + "/logs", timeout=5)).ok and request_id in p.text and p,
        timeout=10,
    )
    assert page, "the logged prediction never showed on /logs"
    stylesheet = requests.get(space.url + "/admin-static/css/app.css", timeout=5)
    assert stylesheet.headers["Content-Type"].startswith("text/css")


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.browser
def test_the_gradio_page_predicts_in_chromium(space, browser, tmp_path):
    failed = []
    page = browser.new_page()
    try:
        page.on(
            "response",
            lambda r: (
                failed.append(f"{r.status} {r.url}")
                if r.url.startswith(space.url) and r.status >= 400
                else None
            ),
        )
        page.goto(space.url + "/", wait_until="domcontentloaded")
        page.locator("#q-coughing input").check()
        page.locator("#predict").click()
        result = page.locator("#lr-result")
        result.wait_for(timeout=30_000)
        assert result.get_attribute("data-risk") in ("low", "moderate", "high")
        page.screenshot(path=str(tmp_path / "space.png"))
    finally:
        page.close()
    assert not failed, failed


@pytest.mark.e2e
@pytest.mark.slow
def test_killing_gunicorn_restarts_the_api_behind_the_same_port(space):
    from gradio_client import Client

    killed = read_pid(space.run_dir, "api")
    os.kill(killed, signal.SIGKILL)

    restarted = wait_until(lambda: (pid := read_pid(space.run_dir, "api")) != killed and pid, timeout=30)
    assert restarted, space.log_tail()
    healthy = wait_until(
        lambda: requests.get(space.url + "/api/health", timeout=5).status_code == 200, timeout=60
    )
    assert healthy, space.log_tail()
    assert not alive(killed) and alive(restarted) and space.process.poll() is None
    body = Client(space.url, verbose=False).predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_api")
    assert body["risk_level"] in ("low", "moderate", "high")


@pytest.mark.e2e
@pytest.mark.slow
def test_without_admin_token_a_space_keeps_the_admin_endpoints_closed(tmp_path):
    with start_space(tmp_path, ADMIN_TOKEN="") as closed:
        answers = {
            "GET /api/logs": requests.get(closed.url + "/api/logs", timeout=5).status_code,
            "GET /api/logs with a token": requests.get(
                closed.url + "/api/logs", headers={"Authorization": "Bearer guess"}, timeout=5
            ).status_code,
            "DELETE /api/logs": requests.delete(closed.url + "/api/logs", timeout=5).status_code,
            "GET /logs (browser)": requests.get(
                closed.url + "/logs", headers={"Accept": "text/html"}, timeout=5
            ).status_code,
        }
    assert answers == dict.fromkeys(answers, 403)


@pytest.mark.e2e
@pytest.mark.slow
def test_slow_clients_on_the_public_port_do_not_stop_predictions(space):
    with SlowClients(space.port, count=20):
        answered, failed = predictions_during(space.url, 5, "/api/predict")
    assert answered >= 20 and failed <= answered // 20, (answered, failed)


def test_nginx_comes_up_and_logs_when_the_stacks_stdout_cannot_be_reopened(tmp_path):
    """A socket as stdout, as some container runtimes give: opening /dev/stdout by name fails."""
    server = start_space(tmp_path)
    ours, theirs = socket.socketpair()
    received = bytearray()

    def drain():  # a full socket buffer would block every program writing to it
        while chunk := ours.recv(65536):
            received.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    with open(server.log_path, "ab") as log:
        server.process = subprocess.Popen(
            server.command,
            cwd=ROOT,
            env=server.env,
            stdout=theirs.fileno(),
            stderr=log,
            start_new_session=True,
        )
    theirs.close()
    try:
        ready = wait_until(
            lambda: server.process.poll() is not None or answers(server.url + "/health/ready"),
            timeout=120,
            interval=0.5,
        )
        assert ready and server.process.poll() is None, server.log_tail()
        requests.get(server.url + "/health/live?from=stdout-socket", timeout=5)
        assert wait_until(lambda: b"GET /health/live?from=stdout-socket" in received, timeout=10), (
            "nginx's access log line never reached the stack's stdout"
        )
    finally:
        code = server.stop(timeout=60)
        ours.close()
    assert code == 0, server.log_tail()


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False
