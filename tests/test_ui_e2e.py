"""The Gradio UI as a process, talking to the API as a process: gradio_client, batch, honcho."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER
from tests.processes import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.e2e

TOKEN = "ui-e2e-admin-token"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("ui-api"), env={"ADMIN_TOKEN": TOKEN}) as server:
        yield server


@pytest.fixture(scope="module")
def ui(api, tmp_path_factory):
    with ServerProcess.gradio(tmp_path_factory.mktemp("ui"), api.url) as server:
        yield server


@pytest.fixture(scope="module")
def gradio(ui):
    return Client(ui.url, verbose=False)


def wait_for_total(gradio, predicate, timeout: float = 5.0) -> dict:
    """The logs JSON once `predicate` holds; each API worker buffers its log writes briefly."""
    deadline = time.monotonic() + timeout
    while True:
        body = gradio.predict(100, 0, TOKEN, api_name="/logs_api")
        if predicate(body["total"]) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def parameters(gradio, name: str) -> list[str]:
    endpoint = gradio.view_api(print_info=False, return_format="dict")["named_endpoints"][name]
    return [parameter["parameter_name"] for parameter in endpoint["parameters"]]


def test_the_endpoints_programs_call_take_the_parameters_the_readme_names(gradio):
    names = gradio.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(names) == {
        "/health",
        "/predict_api",
        "/predict_proba_api",
        "/logs_api",
        "/clear_logs_api",
        "/api_clear_logs_proxy",
        "/score_csv",
    }
    assert parameters(gradio, "/logs_api") == ["limit", "offset", "admin_token"]
    assert (
        parameters(gradio, "/clear_logs_api")
        == parameters(gradio, "/api_clear_logs_proxy")
        == ["admin_token"]
    )
    assert parameters(gradio, "/predict_api") == parameters(gradio, "/predict_proba_api") == ["record"]
    assert parameters(gradio, "/health") == []


def test_health_takes_no_input_and_returns_the_health_json(gradio):
    assert gradio.predict(api_name="/health")["status"] == "healthy"


@pytest.mark.parametrize("name", ["/predict_api", "/predict_proba_api"])
def test_predictions_take_the_record_by_position_or_by_keyword(gradio, name):
    by_position = gradio.predict(SYMPTOMATIC_OLDER_SMOKER, api_name=name)
    by_keyword = gradio.predict(record=SYMPTOMATIC_OLDER_SMOKER, api_name=name)
    assert by_position["risk_level"] == by_keyword["risk_level"] in ("low", "moderate", "high")


def test_logs_api_takes_the_admin_token_by_position_or_by_keyword(gradio):
    gradio.predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_api")
    wait_for_total(gradio, lambda total: total >= 1)
    by_position = gradio.predict(1, 0, TOKEN, api_name="/logs_api")
    by_keyword = gradio.predict(limit=1, admin_token=TOKEN, api_name="/logs_api")
    assert by_position["limit"] == by_keyword["limit"] == 1 and len(by_keyword["logs"]) == 1


@pytest.mark.parametrize("name", ["/clear_logs_api", "/api_clear_logs_proxy"])
def test_both_clear_names_take_the_admin_token_by_position_or_by_keyword(gradio, name):
    for call in (
        lambda: gradio.predict(TOKEN, api_name=name),
        lambda: gradio.predict(admin_token=TOKEN, api_name=name),
    ):
        gradio.predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_api")
        wait_for_total(gradio, lambda total: total >= 1)
        assert call()["deleted"] >= 1
        assert wait_for_total(gradio, lambda total: total == 0)["total"] == 0


@pytest.mark.parametrize(
    "name, args",
    [
        ("/logs_api", {}),
        ("/logs_api", {"admin_token": "wrong"}),
        ("/clear_logs_api", {}),
        ("/api_clear_logs_proxy", {"admin_token": "wrong"}),
    ],
)
def test_admin_endpoints_raise_the_apis_401_without_the_right_token(gradio, name, args):
    with pytest.raises(AppError) as raised:
        gradio.predict(**args, api_name=name)
    assert "status 401, unauthorized, request " in raised.value.message


@pytest.mark.parametrize("name", ["/predict_api", "/predict_proba_api"])
def test_an_invalid_record_raises_with_the_apis_message_status_and_request_id(gradio, name):
    with pytest.raises(AppError) as raised:
        gradio.predict({"AGE": 300}, api_name=name)
    message = raised.value.message
    assert message.startswith("Invalid input") and "status 422, validation_error, request " in message
    assert '"AGE": ["Must be between 0 and 120."]' in message


def test_score_csv_raises_for_a_file_that_cannot_be_used(gradio, tmp_path):
    upload = tmp_path / "other.csv"
    upload.write_text("name,colour\nx,blue\n")
    with pytest.raises(AppError, match="The file could not be used"):
        gradio.predict(handle_file(str(upload)), api_name="/score_csv")


@pytest.fixture(scope="module")
def gradio_without_api(tmp_path_factory):
    """A UI whose API address has nothing listening."""
    with ServerProcess.gradio(
        tmp_path_factory.mktemp("ui-alone"), f"http://127.0.0.1:{free_port()}"
    ) as server:
        yield Client(server.url, verbose=False)


@pytest.mark.parametrize(
    "name, args",
    [
        ("/health", ()),
        ("/predict_api", (HEALTHY_YOUNG_WOMAN,)),
        ("/predict_proba_api", (HEALTHY_YOUNG_WOMAN,)),
        ("/logs_api", (10, 0, TOKEN)),
        ("/clear_logs_api", (TOKEN,)),
        ("/api_clear_logs_proxy", (TOKEN,)),
    ],
)
def test_every_endpoint_raises_when_the_api_cannot_be_reached(gradio_without_api, name, args):
    with pytest.raises(AppError) as raised:
        gradio_without_api.predict(*args, api_name=name)
    assert (
        "cannot be reached" in raised.value.message
        and "status 503, service_unavailable" in raised.value.message
    )


def test_predict_api_returns_the_apis_json(gradio):
    body = gradio.predict(SYMPTOMATIC_OLDER_SMOKER, api_name="/predict_api")
    assert body["risk_level"] in ("low", "moderate", "high") and "factors" in body


def test_predict_proba_api_returns_both_probabilities(gradio):
    body = gradio.predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_proba_api")
    assert sum(body["probabilities"]) == pytest.approx(1.0)


def test_logs_api_pages(gradio):
    for _ in range(3):
        gradio.predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_api")
    wait_for_total(gradio, lambda total: total >= 3)
    assert len(gradio.predict(admin_token=TOKEN, api_name="/logs_api")["logs"]) >= 3
    first, second = (gradio.predict(1, offset, TOKEN, api_name="/logs_api") for offset in (0, 1))
    assert first["limit"] == 1 and len(first["logs"]) == 1
    assert first["logs"][0]["id"] != second["logs"][0]["id"]


def test_a_csv_upload_scores_the_good_rows_and_reports_the_bad_ones(gradio, tmp_path):
    upload = tmp_path / "survey.csv"
    upload.write_text(
        "GENDER,AGE,SMOKING,YELLOW_FINGERS,ANXIETY,PEER_PRESSURE,CHRONIC DISEASE,FATIGUE ,ALLERGY ,"
        "WHEEZING,ALCOHOL CONSUMING,COUGHING,SHORTNESS OF BREATH,SWALLOWING DIFFICULTY,CHEST PAIN,"
        "LUNG_CANCER\n"
        "M,69,1,2,2,1,1,2,1,2,2,2,2,2,2,YES\n"
        "F,abc,1,1,1,1,1,1,1,1,1,1,1,1,1,NO\n"
        "F,59,1,1,1,1,1,1,1,1,1,1,1,1,1,NO\n"
    )
    summary, table, download = gradio.predict(handle_file(str(upload)), api_name="/score_csv")
    assert "2 rows scored" in summary and "line 3: AGE 'ABC'" in summary
    assert [row[0] for row in table["data"]] == [2, 4]
    with open(download, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["line"] for row in rows] == ["2", "4"]
    assert all(
        row["risk_level"] in ("low", "moderate", "high") and 0 <= float(row["probability"]) <= 1
        for row in rows
    )


def test_the_procfile_runs_api_and_ui_side_by_side_and_ctrl_c_stops_both(tmp_path):
    api_port, ui_port = free_port(), free_port()
    # The settings `make run` passes to honcho, with the virtualenv active (its bin first on PATH),
    # as any Procfile runner would have it. `make run` itself is tested from a bare environment
    # in test_fresh_clone.py.
    venv_bin = os.path.dirname(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "GUNICORN_BIND": f"127.0.0.1:{api_port}",
        "API_URL": f"http://127.0.0.1:{api_port}",
        "UI_PORT": str(ui_port),
        "LOG_DB_PATH": str(tmp_path / "log.sqlite3"),
        "WEB_CONCURRENCY": "1",
    }
    with open(tmp_path / "honcho.log", "wb") as log:
        command = [sys.executable, "-m", "honcho", "start", "--no-colour", "--port", str(api_port)]
        honcho = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and honcho.poll() is None:
            try:
                requests.get(f"http://127.0.0.1:{ui_port}/", timeout=1).raise_for_status()
                requests.get(f"http://127.0.0.1:{api_port}/health/live", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.2)
        output = (tmp_path / "honcho.log").read_text()
        assert "web.1 started" in output and "ui.1 started" in output, output[-2000:]
        assert f"Gradio UI listening on http://127.0.0.1:{ui_port}" in output, output[-2000:]
        honcho.send_signal(signal.SIGINT)
        assert honcho.wait(timeout=30) is not None
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
    for port in (api_port, ui_port):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
