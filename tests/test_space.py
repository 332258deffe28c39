"""The Hugging Face Space: its files, its supervisor, its nginx, and the whole stack on one port.

No Docker engine here: the Dockerfile is read, and deploy/start.sh (the image's CMD) runs for
real with SPACE_ID set, on free loopback ports. Every check of the running stack goes through
the public port only.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from deploy.assemble_space import assemble
from deploy.space import render_nginx_conf
from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, require_binary
from tests.processes import ROOT, ServerProcess, free_port

TOKEN = "space-admin-token"


def dockerfile() -> list[str]:
    """Dockerfile.hf's instructions, one string each (continuation lines joined, comments gone)."""
    text = (ROOT / "Dockerfile.hf").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(part.strip() for part in step.split("\\\n"))
            for step in re.split(r"(?<!\\)\n", "\n".join(lines)) if step.strip()]


def instruction(name: str) -> list[str]:
    return [step for step in dockerfile() if step.split()[0].upper() == name]


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


# -- the image and the Space's files -------------------------------------------------------------

def test_the_image_starts_from_python_311_slim():
    assert instruction("FROM") == ["FROM python:3.11-slim"]


def test_the_image_installs_nginx_and_redis_without_recommends():
    [apt] = [step for step in instruction("RUN") if "apt-get install" in step]
    assert {"--no-install-recommends", "nginx", "redis-server"} <= set(apt.split())


def test_dependencies_are_installed_before_the_code_is_copied():
    steps = dockerfile()
    requirements = next(i for i, s in enumerate(steps) if s.startswith("COPY") and "requirements.txt" in s)
    install = next(i for i, s in enumerate(steps) if "pip install -r requirements.txt" in s)
    code = next(i for i, s in enumerate(steps) if s.startswith("COPY") and "webapp/" in s)
    assert requirements < install < code


@pytest.mark.parametrize("source", ["model/", "webapp/", "templates/", "static/", "deploy/", "wsgi.py",
                                    "gunicorn.conf.py"])
def test_the_image_copies(source):
    assert any(source in step.split() for step in instruction("COPY"))


def test_the_image_runs_as_uid_1000():
    assert any("useradd" in step and "-u 1000" in step for step in instruction("RUN"))
    assert instruction("USER")[-1] in ("USER 1000", "USER user")


def test_the_image_exposes_7860_and_runs_the_start_script():
    assert instruction("EXPOSE") == ["EXPOSE 7860"]
    assert instruction("CMD") == ['CMD ["bash", "deploy/start.sh"]']


def test_the_healthcheck_asks_readiness_through_nginx_and_checks_the_answer():
    [check] = instruction("HEALTHCHECK")
    assert "http://127.0.0.1:7860/health/ready" in check and "'ready'" in check


def test_the_image_bakes_in_no_secret():
    env = " ".join(instruction("ENV") + instruction("ARG"))
    assert "ADMIN_TOKEN" not in env and "SECRET_KEY" not in env and "REDIS_URL" not in env


def test_the_space_card_declares_a_docker_space_on_port_7860():
    text = (ROOT / "deploy" / "space_card.md").read_text()
    card = yaml.safe_load(text.split("---")[1])
    assert card["sdk"] == "docker" and card["app_port"] == 7860
    assert card["license"] == "cc-by-nc-sa-4.0" and card["pinned"] is False
    assert {"title", "emoji", "colorFrom", "colorTo"} <= set(card)
    assert "not a diagnosis" in text and "kaggle.com/datasets/mysarahmadbhat/lung-cancer" in text


@pytest.fixture(scope="module")
def assembled(tmp_path_factory):
    target = tmp_path_factory.mktemp("space")
    (target / ".git").mkdir()
    (target / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (target / "webapp").mkdir()
    (target / "webapp" / "stale.py").write_text("left over from an older push\n")
    return target, assemble(target)


@pytest.mark.parametrize("path", ["Dockerfile", "README.md", "requirements.txt", "wsgi.py",
                                  "gunicorn.conf.py", "webapp/__init__.py", "webapp/ui/__main__.py",
                                  "templates/base.html", "static/css/app.css", "deploy/start.sh",
                                  "deploy/nginx.conf.template", "model/model.joblib",
                                  "model/model_card.json", ".gitattributes"])
def test_the_assembled_space_has(assembled, path):
    _, written = assembled
    assert path in written


def test_the_assembled_space_uses_the_space_dockerfile_and_card(assembled):
    target, _ = assembled
    assert (target / "Dockerfile").read_text() == (ROOT / "Dockerfile.hf").read_text()
    assert (target / "README.md").read_text() == (ROOT / "deploy" / "space_card.md").read_text()
    assert os.access(target / "deploy" / "start.sh", os.X_OK)
    assert "*.joblib filter=lfs" in (target / ".gitattributes").read_text()


@pytest.mark.parametrize("pattern", ["tests/*", "bench/*", ".env", "**/.env", "*.csv", "**/*.csv",
                                     "**/*.sqlite3", "**/__pycache__/*", "instance/*", ".ci/*",
                                     "Dockerfile.hf", "Makefile", "Procfile"])
def test_the_assembled_space_leaves_out(assembled, pattern):
    _, written = assembled
    assert not [path for path in written if Path(path).match(pattern)]


def test_assembling_into_a_clone_keeps_its_git_folder_and_drops_stale_files(assembled):
    target, written = assembled
    assert (target / ".git" / "HEAD").exists() and not any(path.startswith(".git/") for path in written)
    assert not (target / "webapp" / "stale.py").exists()


# -- the supervisor ------------------------------------------------------------------------------

SUPERVISED = """
import logging, sys
from pathlib import Path
from deploy.supervise import Program, Supervisor
logging.basicConfig(level=logging.INFO)
programs = [Program("steady", ["sleep", "300"]), Program("fragile", ["sleep", "300"])]
sys.exit(Supervisor(programs, Path(sys.argv[1]), max_restarts=1, window=60, backoff=0.1).run())
"""


@pytest.fixture
def supervised(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", SUPERVISED, str(tmp_path)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: read_pid(tmp_path, "fragile"), timeout=10)
    yield process, tmp_path
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.e2e
def test_the_supervisor_restarts_a_program_that_dies(supervised):
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
    conf.write_text(render_nginx_conf({"PORT": port, "LISTEN_HOST": "127.0.0.1", "UI_PORT": ui_port,
                                       "API_PORT": api_port, "RUN_DIR": workdir, "NGINX_WORKERS": 1}))
    (workdir / "nginx").mkdir()
    with ServerProcess.gunicorn(workdir, port=api_port, env={"SPACE_ID": "", "ADMIN_TOKEN": ""}), \
            ServerProcess([sys.executable, str(workdir / "ui.py"), str(ui_port)], ui_port, workdir,
                          ready_path="/", name="ui"):
        with ServerProcess([nginx, "-e", "stderr", "-p", str(workdir / "nginx"), "-c", str(conf)],
                           port, workdir, ready_path="/health/ready", name="nginx") as proxy:
            yield proxy


@pytest.mark.e2e
@pytest.mark.parametrize("path, server", [
    ("/api/health", "api"), ("/api/metadata", "api"), ("/health", "api"), ("/health/ready", "api"),
    ("/metadata", "api"), ("/logs", "api"), ("/admin-static/css/app.css", "api"),
    ("/", "ui"), ("/static/js/iframeResizer.contentWindow.min.js", "ui"), ("/assets/index.js", "ui"),
    ("/gradio_api/info", "ui"), ("/config", "ui"), ("/apiary", "ui"), ("/healthy", "ui"),
    ("/logsheet", "ui"), ("/theme.css", "ui"),
])
def test_nginx_routes(routed, path, server):
    answer = requests.get(routed.url + path, timeout=5)
    assert answer.ok, (path, answer.status_code, answer.text[:200])
    assert served_by(answer) == server, path


def served_by(answer: requests.Response) -> str:
    """The stand-in UI answers every path with JSON naming itself; anything else is the API."""
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        return answer.json().get("server", "api")
    return "api"


@pytest.mark.e2e
def test_nginx_passes_the_public_scheme_and_host_on_to_gradio(routed):
    answer = requests.get(routed.url + "/config", timeout=5,
                          headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "me-space.hf.space"})
    headers = {name.lower(): value for name, value in answer.json()["headers"].items()}
    assert headers["x-forwarded-proto"] == "https" and headers["x-forwarded-host"] == "me-space.hf.space"


@pytest.mark.e2e
def test_nginx_streams_gradio_events_without_buffering(routed):
    started = time.monotonic()
    with requests.get(routed.url + "/gradio_api/queue/data?session_hash=x", stream=True, timeout=10) as answer:
        first = next(answer.iter_lines())
        waited = time.monotonic() - started
    assert first == b"data: first" and waited < 1.5
