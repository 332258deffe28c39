"""Real server processes for end-to-end tests: the API under Gunicorn, the Gradio UI, ...

    with ServerProcess.gunicorn(tmp_path) as api:      # API on a free loopback port
        requests.get(api.url + "/health")

Each process logs to a file in its own folder; a start that fails raises with the log's tail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A child process serving HTTP on loopback, ready once `ready_path` answers."""

    def __init__(
        self,
        command: Sequence[str],
        port: int,
        workdir: Path,
        env: Mapping[str, str] | None = None,
        ready_path: str = "/health/live",
        name: str = "server",
        start_timeout: float = 60.0,
    ):
        self.command = list(command)
        self.port = port
        self.workdir = Path(workdir)
        self.env = {**os.environ, **(env or {})}
        self.ready_path = ready_path
        self.name = name
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def gunicorn(
        cls,
        workdir: Path,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        app: str = "wsgi:app",
        name: str = "api",
    ) -> ServerProcess:
        """The API as the Procfile runs it, on its own port and its own SQLite file."""
        port = port or free_port()
        settings = {
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "LOG_DB_PATH": str(Path(workdir) / f"{name}-log.sqlite3"),
            "WEB_CONCURRENCY": "2",
            **(env or {}),
        }
        command = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), app]
        return cls(command, port, workdir, settings, name=name)

    @classmethod
    def gradio(cls, workdir: Path, api_url: str, port: int | None = None) -> ServerProcess:
        """The Gradio UI as the Procfile runs it, talking to the API at `api_url`."""
        port = port or free_port()
        env = {
            "API_URL": api_url,
            "UI_PORT": str(port),
            "UI_HOST": "127.0.0.1",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        return cls([sys.executable, "-m", "webapp.ui"], port, workdir, env, ready_path="/", name="ui")

    def start(self) -> ServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                requests.get(self.url + self.ready_path, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start on port {self.port}:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Stop the whole process group (Gunicorn's workers too); returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
