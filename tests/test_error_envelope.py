"""Programs get every error in the envelope, from the admin pages too; browsers keep the pages."""

from __future__ import annotations

import pytest

from tests.test_logs_page import BROWSER, TOKEN

PROGRAMS = [{}, {"Accept": "*/*"}, {"Accept": "application/json"}]


def assert_envelope(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "details" in body["error"] and body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("headers", PROGRAMS)
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/logs/export.csv"),
        ("GET", "/logs/export.jsonl"),
        ("POST", "/logs/clear"),
        ("GET", "/logs/clear"),
    ],
)
def test_admin_pages_refuse_programs_without_the_token_in_the_envelope(make_app, headers, method, path):
    client = make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="k").test_client()
    assert_envelope(client.open(path, method=method, headers=headers), 401, "unauthorized")


@pytest.mark.parametrize("method, path", [("GET", "/logs/export.csv"), ("POST", "/logs/clear")])
def test_a_closed_space_refuses_programs_in_the_envelope(make_app, method, path):
    client = make_app(SPACE_ID="someone/space").test_client()
    assert_envelope(client.open(path, method=method), 403, "forbidden")


def test_a_bad_export_filter_is_a_422_envelope_for_programs(make_app):
    response = make_app().test_client().get("/logs/export.csv?min_probability=2")
    assert_envelope(response, 422, "validation_error")


def test_clearing_without_the_form_token_is_a_400_envelope_for_programs(make_app):
    response = make_app().test_client().post("/logs/clear")
    assert_envelope(response, 400, "csrf_failed")


def test_browsers_still_get_pages(make_app):
    client = make_app().test_client()
    page = client.get("/logs/export.csv?min_probability=2", headers=BROWSER)
    assert page.status_code == 422 and page.mimetype == "text/html"
    closed = make_app(SPACE_ID="someone/space").test_client()
    assert closed.post("/logs/clear", headers=BROWSER).mimetype == "text/html"
