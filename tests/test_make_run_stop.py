"""Stopping `make run` (Ctrl-C, or SIGTERM from a supervisor) writes every entry it answered for.

honcho, behind `make run`, gives its processes 5 s after the signal and then kills them; the API
must have written its buffered log entries and exited by then, without being killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import patient, require_binary
from tests.processes import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def venv_view(workdir: Path) -> Path:
    """A virtualenv folder that is this test run's own (same packages), marked installed, so
    `make run VENV=...` starts at once instead of creating and installing one."""
    view = workdir / "venv"
    view.mkdir()
    for name in ("bin", "lib", "lib64", "include"):
        if (Path(sys.prefix) / name).exists():
            (view / name).symlink_to(Path(sys.prefix) / name)
    shutil.copy(Path(sys.prefix) / "pyvenv.cfg", view / "pyvenv.cfg")
    (view / ".installed").touch()
    return view


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_stopping_make_run_writes_every_entry_and_is_not_killed(tmp_path, signal_name):
    require_binary("make")
    api, ui = free_port(), free_port()
    database = tmp_path / "log.sqlite3"
    log_path = tmp_path / "make-run.log"
    env = {**os.environ, "LOG_DB_PATH": str(database), "GUNICORN_ACCESS_LOG": ""}
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "run", f"VENV={venv_view(tmp_path)}", f"API_PORT={api}", f"UI_PORT={ui}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert make.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            try:
                requests.get(f"http://127.0.0.1:{api}/health/live", timeout=1).raise_for_status()
                requests.get(f"http://127.0.0.1:{ui}/", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.3)
        with requests.Session() as session:
            for index in range(200):
                response = session.post(
                    f"http://127.0.0.1:{api}/predict",
                    json=patient(AGE=index % 90),
                    headers={"X-Request-ID": f"stop-{index}"},
                    timeout=10,
                )
                assert response.status_code == 200
        # Ctrl-C in a terminal signals the whole foreground process group; a supervisor, too.
        os.killpg(make.pid, getattr(signal, signal_name))
        signalled = time.monotonic()
        # make itself may go first (SIGTERM): wait for the whole group, honcho and Gunicorn too.
        while group_alive(make.pid) and time.monotonic() - signalled < 30:
            make.poll()
            time.sleep(0.1)
        stopped_after = time.monotonic() - signalled
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    output = log_path.read_text()
    assert "SIGKILL" not in output and stopped_after < 10, output[-3000:]
    with sqlite3.connect(database) as connection:
        stored = connection.execute(
            "SELECT count(*) FROM prediction_log WHERE request_id LIKE 'stop-%'"
        ).fetchone()[0]
    assert stored == 200
