"""Visitors of the UI are rate-limited by their own address, through real processes.

The UI (its own process) calls the API from loopback, which is exempt; it forwards each
visitor's address (the peer's, or the one nginx in front names) as X-Forwarded-For, which the
API believes only from an exempt peer. A client that reaches the API directly cannot choose its
own key with that header.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.helpers import HEALTHY_YOUNG_WOMAN, patient
from tests.processes import ServerProcess
from tests.redis_server import redis_server  # noqa: F401  (fixture)
from webapp.proxy import APIProxyClient
from webapp.ui.handlers import Handlers
from webapp.ui.settings import UISettings

pytestmark = pytest.mark.e2e

FLOODER = "203.0.113.7"
NEIGHBOUR = "203.0.113.8"
PER_MINUTE = 4
ROWS_PER_HOUR = 40


@pytest.fixture(scope="module")
def api(tmp_path_factory, redis_server):  # noqa: F811
    # Limits in Redis, as on the Space: both Gunicorn workers count against the same allowance.
    env = {
        "REDIS_URL": redis_server.url,
        "REDIS_KEY_PREFIX": f"visitors-{uuid.uuid4().hex[:8]}",
        "PREDICT_RATE_LIMIT": f"{PER_MINUTE} per minute",
        "PREDICT_ROWS_RATE_LIMIT": f"{ROWS_PER_HOUR} per hour",
    }
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("visitor-api"), env=env) as server:
        yield server


@pytest.fixture(scope="module")
def ui(api, tmp_path_factory):
    with ServerProcess.gradio(tmp_path_factory.mktemp("visitor-ui"), api.url) as server:
        yield server


def visitor(ui, address: str) -> Client:
    """A program reaching the UI through a proxy on this host that names `address` as the client."""
    return Client(ui.url, verbose=False, headers={"X-Forwarded-For": f"198.51.100.99, {address}"})


def csv_file(tmp_path, rows: int):
    path = tmp_path / f"batch-{rows}.csv"
    header = list(HEALTHY_YOUNG_WOMAN)
    lines = [",".join(header)] + [",".join(str(HEALTHY_YOUNG_WOMAN[name]) for name in header)] * rows
    path.write_text("\n".join(lines) + "\n")
    return handle_file(str(path))


def test_a_visitor_flooding_the_ui_gets_429s_while_another_still_predicts(ui, tmp_path):
    flooder, neighbour = visitor(ui, FLOODER), visitor(ui, NEIGHBOUR)
    for _ in range(PER_MINUTE):
        assert flooder.predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_api")["prediction"] in (0, 1)
    with pytest.raises(AppError) as refused:
        flooder.predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_proba_api")
    assert "status 429" in str(refused.value) and "too_many_requests" in str(refused.value)

    assert "probabilities" in neighbour.predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_proba_api")
    summary, table, _ = neighbour.predict(csv_file(tmp_path, 12), api_name="/score_csv")
    assert len(table["data"]) == 12
    # The loopback visitor (no forwarded address: a local tool) stays exempt.
    local = Client(ui.url, verbose=False)
    for _ in range(PER_MINUTE + 2):
        local.predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_api")


def test_csv_uploads_count_their_rows_against_the_uploader_only(ui, tmp_path):
    uploader, other = visitor(ui, "203.0.113.20"), visitor(ui, "203.0.113.21")
    summary, table, _ = uploader.predict(csv_file(tmp_path, 30), api_name="/score_csv")
    assert len(table["data"]) == 30
    with pytest.raises(AppError) as refused:
        uploader.predict(csv_file(tmp_path, 30), api_name="/score_csv")
    assert "status 429" in str(refused.value) and "predicted rows" in str(refused.value)
    summary, table, _ = other.predict(csv_file(tmp_path, 30), api_name="/score_csv")
    assert len(table["data"]) == 30


@pytest.mark.parametrize(
    "lang, sentence",
    [
        ("en", "Too many requests from your address. Please wait"),
        ("fr", "Trop de demandes depuis votre adresse. Patientez"),
    ],
)
def test_the_page_shows_a_refusal_as_a_clear_message_in_the_visitors_language(api, lang, sentence):
    settings = UISettings(api_url=api.url, proxy_mode="simple")
    handlers = Handlers(APIProxyClient(api.url, mode="simple"), settings)
    form = (50, "female", *([False] * 13), lang)
    address = f"203.0.113.{40 if lang == 'en' else 41}"
    cards = [handlers.predict(*form, visitor=address) for _ in range(PER_MINUTE + 1)]
    assert all('id="lr-error"' not in card for card in cards[:PER_MINUTE])
    assert 'id="lr-error"' in cards[-1] and sentence in cards[-1] and "429" in cards[-1]
    assert 'id="lr-error"' not in handlers.predict(*form, visitor="203.0.113.42")


def post_from(api, source: str, forwarded: str) -> int:
    """POST /predict from the local address `source` (not an exempt one) with a forged header."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10, source_address=(source, 0))
    try:
        connection.request(
            "POST",
            "/predict",
            body=json.dumps(patient()),
            headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded},
        )
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_direct_client_cannot_choose_its_key_with_x_forwarded_for(api):
    statuses = [post_from(api, "127.0.0.2", f"192.0.2.{n}") for n in range(PER_MINUTE)]
    statuses.append(post_from(api, "127.0.0.2", "127.0.0.1"))  # pretending to be the exempt UI
    statuses.append(post_from(api, "127.0.0.2", "192.0.2.200"))
    assert statuses == [200] * PER_MINUTE + [429, 429]


@pytest.mark.browser
def test_in_the_page_a_flooding_visitor_reads_the_refusal_and_another_still_gets_a_result(browser, ui):
    """Two Chromium visitors behind a proxy on this host (each named in X-Forwarded-For)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    flooding = browser.new_context(locale="fr-FR", extra_http_headers={"X-Forwarded-For": "203.0.113.50"})
    other = browser.new_context(locale="en-GB", extra_http_headers={"X-Forwarded-For": "203.0.113.51"})
    try:
        page = flooding.new_page()
        page.goto(ui.url)
        error = page.locator("#lr-error")
        for _ in range(PER_MINUTE + 3):
            page.locator("#predict").click()
            try:
                error.wait_for(timeout=4000)
                break
            except PlaywrightTimeout:
                continue
        assert "Trop de demandes depuis votre adresse. Patientez" in error.inner_text()

        neighbour = other.new_page()
        neighbour.goto(ui.url)
        neighbour.locator("#predict").click()
        neighbour.locator("#lr-risk-level").wait_for(timeout=20000)
        assert neighbour.locator("#lr-error").count() == 0
    finally:
        flooding.close()
        other.close()


# -- the Space: nginx in front of the UI and the API, reached from two local addresses ---------


def call_from(source: str, port: int, method: str, path: str, body: dict | None = None, headers=None):
    """(status, text) of one request to the public port from the local address `source`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        connection.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def gradio_call(source: str, port: int, api_name: str, *data) -> tuple[str, str]:
    """Gradio's REST call API (what gradio_client does): the event's (kind, data) lines."""
    status, text = call_from(source, port, "POST", f"/gradio_api/call/{api_name}", {"data": list(data)})
    assert status == 200, text
    event_id = json.loads(text)["event_id"]
    status, stream = call_from(source, port, "GET", f"/gradio_api/call/{api_name}/{event_id}")
    events = [line.split(": ", 1)[1] for line in stream.splitlines() if line.startswith("event: ")]
    payloads = [line.split(": ", 1)[1] for line in stream.splitlines() if line.startswith("data: ")]
    return events[-1], payloads[-1]


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    from tests.test_space import start_space

    server = start_space(
        tmp_path_factory.mktemp("visitor-space"), PREDICT_RATE_LIMIT=f"{PER_MINUTE} per minute"
    )
    with server:
        yield server


@pytest.mark.slow
def test_on_the_space_ui_visitors_are_limited_by_the_address_nginx_saw(space):
    outcomes = [gradio_call("127.0.0.2", space.port, "predict_api", HEALTHY_YOUNG_WOMAN)[0] for _ in range(5)]
    assert outcomes == ["complete"] * PER_MINUTE + ["error"]
    kind, data = gradio_call("127.0.0.3", space.port, "predict_api", HEALTHY_YOUNG_WOMAN)
    assert kind == "complete" and json.loads(data)[0]["prediction"] in (0, 1)
    # The JSON API through nginx: a forged X-Forwarded-For does not change whom it counts.
    status, _ = call_from(
        "127.0.0.2", space.port, "POST", "/api/predict", patient(), {"X-Forwarded-For": "127.0.0.1"}
    )
    assert status == 429


@pytest.mark.parametrize("mode", ["pooled", "simple"])
def test_the_proxy_hands_a_429_back_at_once_instead_of_waiting_out_retry_after(api, mode):
    client = APIProxyClient(api.url, mode=mode)
    address = f"203.0.113.{60 if mode == 'pooled' else 61}"
    for _ in range(PER_MINUTE):
        assert client.post_predict(patient(), visitor=address)[1] == 200
    started = time.monotonic()
    body, status = client.post_predict(patient(), visitor=address)
    assert status == 429 and body["error"]["details"]["retry_after"] >= 1
    assert time.monotonic() - started < 5  # not Retry-After's minute
    client.close()
