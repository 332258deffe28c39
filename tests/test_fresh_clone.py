"""The README's first command on a fresh machine: a clean clone, a bare environment, `make run`.

Bare as a newcomer's shell: no virtualenv active, nothing installed globally, PATH holding the
system directories and `python3` alone, no inherited variables but HOME, LANG and pip's own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import SYMPTOMATIC_OLDER_SMOKER, require_binary
from tests.processes import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# The first `make run` creates .venv and installs the project: minutes on a cold pip cache.
START_TIMEOUT = 900


def bare_environment(workdir: Path) -> dict[str, str]:
    """PATH = a folder holding only python3 (the interpreter behind this venv) + the system dirs."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    interpreter = os.path.realpath(sys._base_executable)
    for name in ("python3", "python"):
        (bin_dir / name).symlink_to(interpreter)
    env = {
        "HOME": os.environ.get("HOME", str(workdir)),
        "LANG": "C.UTF-8",
        "PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
    }
    env.update({key: value for key, value in os.environ.items() if key.startswith("PIP_")})
    return env


def clean_clone(workdir: Path) -> Path:
    """The committed tree, as a newcomer's `git clone` gets it (no .venv, no instance/)."""
    require_binary("git")
    target = workdir / "proj"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def wait_until_up(process: subprocess.Popen, api: str, ui: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            requests.get(f"{api}/health/live", timeout=2).raise_for_status()
            requests.get(f"{ui}/", timeout=2).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(1)
    pytest.fail(
        f"make run did not bring up the API and the UI in {START_TIMEOUT} s:\n{log.read_text()[-3000:]}"
    )


@pytest.mark.timeout(START_TIMEOUT + 120)
def test_make_run_from_a_clean_clone_in_a_bare_environment_serves_and_ctrl_c_stops_both(tmp_path):
    require_binary("make")
    project = clean_clone(tmp_path)
    api_port, ui_port = free_port(), free_port()
    api, ui = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    log = tmp_path / "make-run.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["make", "run", f"API_PORT={api_port}", f"UI_PORT={ui_port}"],
            cwd=project,
            env=bare_environment(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_up(process, api, ui, log)
        answer = requests.post(f"{api}/predict", json=SYMPTOMATIC_OLDER_SMOKER, timeout=10)
        assert answer.status_code == 200, answer.text
        assert 0 <= answer.json()["probability"] <= 1
        assert "gradio" in requests.get(f"{ui}/", timeout=10).text.lower()

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
        assert process.wait(timeout=60) is not None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for url in (api, ui):
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/", timeout=2)
    shutil.rmtree(project / ".venv", ignore_errors=True)


@pytest.mark.timeout(START_TIMEOUT)
def test_pip_install_gives_a_working_gunicorn_wsgi_app_and_the_console_scripts(tmp_path):
    """A regular (non-editable) install, used from outside the checkout."""
    project = clean_clone(tmp_path)
    env = bare_environment(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run(["python3", "-m", "venv", str(venv)], env=env, check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(project)],
        env=env,
        check=True,
        timeout=START_TIMEOUT - 60,
    )
    shutil.rmtree(project)  # nothing may come from the checkout any more
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for script in ("lungrisk-train", "lungrisk-simulate"):
        help_text = subprocess.run(
            [str(venv / "bin" / script), "--help"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert help_text.returncode == 0 and "usage" in help_text.stdout, help_text.stderr
    assert (venv / "bin" / "lungrisk-ui").exists()

    for command in (["gunicorn", "--workers", "1"], ["lungrisk-api"]):
        port = free_port()
        server = subprocess.Popen(
            [
                str(venv / "bin" / command[0]),
                *command[1:],
                "--bind",
                f"127.0.0.1:{port}",
                *(["wsgi:app"] if command[0] == "gunicorn" else []),
            ],
            cwd=elsewhere,
            env={**env, "WEB_CONCURRENCY": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            answer = None
            deadline = time.monotonic() + 120
            while answer is None and time.monotonic() < deadline and server.poll() is None:
                try:
                    answer = requests.post(
                        f"http://127.0.0.1:{port}/predict", json=SYMPTOMATIC_OLDER_SMOKER, timeout=30
                    )
                except requests.ConnectionError:
                    time.sleep(0.5)
            assert answer is not None and answer.status_code == 200, f"{command} did not predict"
            assert 0 <= answer.json()["probability"] <= 1
            assert requests.get(f"http://127.0.0.1:{port}/logs", timeout=30).status_code == 200
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    assert (elsewhere / "instance" / "predictions.sqlite3").exists()
