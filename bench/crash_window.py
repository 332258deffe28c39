"""How many answered predictions a crash loses: the API under Gunicorn is killed (SIGKILL, its
whole process group) right after the last of 100 sequential predictions is answered; prints how
many reached the SQLite log and how recently the lost ones were answered.

    python bench/crash_window.py [runs]
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.helpers import patient  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_once(workdir: Path, run: int) -> str:
    port, database = free_port(), workdir / f"crash-{run}.sqlite3"
    env = {
        **os.environ,
        "LOG_DB_PATH": str(database),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            requests.get(f"{url}/health/live", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.2)
    answered = []
    with requests.Session() as session:
        for index in range(100):
            session.post(
                f"{url}/predict", json=patient(), timeout=5, headers={"X-Request-ID": f"crash-{index}"}
            )
            answered.append(time.monotonic())
    os.killpg(server.pid, signal.SIGKILL)
    killed = time.monotonic()
    server.wait()
    with sqlite3.connect(database) as connection:
        stored = {row[0] for row in connection.execute("SELECT request_id FROM prediction_log")}
    lost = [index for index in range(100) if f"crash-{index}" not in stored]
    if not lost:
        return f"run {run}: 100 of 100 stored"
    since = (killed - answered[max(lost[0] - 1, 0)]) * 1000
    return (
        f"run {run}: {100 - len(lost)} of 100 stored; the {len(lost)} lost were answered in "
        f"the last {since:.0f} ms before the kill"
    )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as workdir:
        for run in range(runs):
            print(run_once(Path(workdir), run), flush=True)


if __name__ == "__main__":
    main()
