"""Slow clients (slowloris) do not stop predictions of the API as `make run` starts it."""

from __future__ import annotations

import pytest

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
