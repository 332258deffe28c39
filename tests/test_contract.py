"""Contract test: Schemathesis fuzzes the API under Gunicorn from the API's own /openapi.json.

Every operation, with valid and invalid requests (a fixed seed, so a run is repeatable),
checked for: no 5xx, documented status codes, content types and headers, answers that match
their schemas, invalid input refused and valid input accepted. The admin operations get the
token, on a throwaway SQLite log (DELETE /logs included); Schemathesis also checks that they
refuse a request without it. Settings: tests/schemathesis.toml.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from tests.helpers import require
from tests.processes import ROOT, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "contract-admin-token"
MAX_EXAMPLES = 10  # per operation and fuzzing mode; with the coverage phase about 1000 requests
SEED = 20261127


def test_api_keeps_its_openapi_contract(tmp_path):
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        require(False, "schemathesis is not installed (pip install -e '.[tests]')")
    env = {
        "ADMIN_TOKEN": TOKEN,
        "SPACE_ID": "",
        "REDIS_URL": "",
        "GUNICORN_ACCESS_LOG": "",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
    }  # a worker still booting at SIGTERM holds the stop that long
    with ServerProcess.gunicorn(tmp_path, env=env) as api:
        document = requests.get(api.url + "/openapi.json", timeout=10).json()
        started = time.monotonic()
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(ROOT / "tests" / "schemathesis.toml"),
                "--no-color",
                "run",
                api.url + "/openapi.json",
                "--url",
                api.url + "/api",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--checks",
                "all",
                "--mode",
                "all",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                str(SEED),
                "--request-timeout",
                "10",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        elapsed = time.monotonic() - started
        server_log = api.log_tail()
    report = run.stdout + run.stderr
    print(report[-1500:], f"\nSchemathesis ran {elapsed:.1f} s")
    assert run.returncode == 0, f"{report[-12000:]}\n--- API log ---\n{server_log}"
    operations = sum(len(item) for item in document["paths"].values())
    assert f"{operations} selected / {operations} total" in report  # every operation was exercised
