"""The admin log page at /logs through the Flask test client: negotiation, rendering, filters,
paging, summary, exports, clearing and access rules (token login, CSRF, headers)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, patient
from webapp.admin.export import CSV_COLUMNS, csv_row
from webapp.admin.summary import percentile, summarize

TOKEN = "page-admin-token"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SCRIPT = "<script>alert(1)</script>"


def csrf_of(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def page(client, **query):
    return client.get("/logs", query_string=query, headers=BROWSER)


def row_count(response) -> int:
    return response.get_data(as_text=True).count('<tbody class="entry')


@pytest.fixture
def client(make_app):
    client = make_app().test_client()
    for index in range(3):
        client.post("/predict", json=SYMPTOMATIC_OLDER_SMOKER, headers={"X-Request-ID": f"smoker-{index}"})
    client.post("/predict_proba", json=HEALTHY_YOUNG_WOMAN, headers={"X-Request-ID": "young-woman"})
    client.post("/predict", json=patient(AGE=300), headers={"X-Request-ID": "bad-age"})
    return client


@pytest.fixture
def guarded(make_app):
    return make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="test-secret").test_client()


def log_in(client, token=TOKEN, **form):
    form_page = client.get("/admin/login")
    return client.post("/admin/login", data={"token": token, "csrf_token": csrf_of(form_page), **form})


@pytest.mark.parametrize(
    "path, headers, expected",
    [
        ("/logs", BROWSER, "text/html"),
        ("/logs", {"Accept": "*/*"}, "application/json"),
        ("/logs", {}, "application/json"),
        ("/logs", {"Accept": "application/json"}, "application/json"),
        ("/logs", {"Accept": "application/json, text/html;q=0.5"}, "application/json"),
        ("/api/logs", BROWSER, "application/json"),
    ],
)
def test_logs_answers_browsers_with_the_page_and_programs_with_json(client, path, headers, expected):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == expected
    assert "Accept" in response.headers.get("Vary", "")


def test_the_page_shows_each_entry_newest_first_with_its_inputs_and_factors(client):
    html = page(client).get_data(as_text=True)
    assert row_count(page(client)) == 5
    assert html.index("bad-age") < html.index("young-woman") < html.index("smoker-2") < html.index("smoker-0")
    for text in ("/predict_proba", "WARNING", "Inputs", "Main factors", "Chest pain", "Rejected with 422"):
        assert text in html


def test_the_page_escapes_html_and_script_text_from_logged_requests(client):
    client.post("/predict", json={SCRIPT: 1, "AGE": "<img src=x onerror=alert(2)>"})
    html = page(client).get_data(as_text=True)
    assert SCRIPT not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


def test_the_page_sends_a_strict_policy_and_uses_no_inline_script_or_style(client):
    response = page(client)
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    html = response.get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert " style=" not in html and "<style" not in html
    assert "<svg" in html  # charts are drawn on the server


@pytest.mark.parametrize(
    "query, rows",
    [
        ({"level": "WARNING"}, 1),
        ({"level": "info"}, 4),
        ({"prediction": "1"}, 3),
        ({"prediction": "0"}, 1),
        ({"min_probability": "0.5"}, 3),
        ({"max_probability": "0.5"}, 1),
        ({"request_id": "SMOKER"}, 3),
        ({"request_id": "young"}, 1),
        ({"until": "2000-01-01T00:00"}, 0),
        ({"since": "2000-01-01T00:00", "level": "", "prediction": ""}, 5),
    ],
)
def test_filters_narrow_the_table(client, query, rows):
    response = page(client, **query)
    assert response.status_code == 200
    assert row_count(response) == rows


def test_a_bad_filter_is_explained_on_the_page(client):
    response = page(client, min_probability="lots")
    assert response.status_code == 422
    assert "Invalid log query" in response.get_data(as_text=True)


def test_paging_follows_the_stable_cursor_and_keeps_the_filters(client):
    first = page(client, limit=2, level="INFO").get_data(as_text=True)
    older = re.search(r'id="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "cursor=" in older and "level=INFO" in older and "limit=2" in older
    client.post("/predict", json=HEALTHY_YOUNG_WOMAN)  # arrives meanwhile: must not shift page 2
    second = client.get(older, headers=BROWSER).get_data(as_text=True)
    assert "smoker-1" in second and "smoker-0" in second and "young-woman" not in second


def test_the_summary_counts_the_filtered_window(client):
    html = page(client).get_data(as_text=True)
    assert re.search(r'id="stat-count">5<', html)
    assert re.search(r'id="stat-positive-rate">75%<', html)
    assert re.search(r'id="stat-rejected">1<', html)
    assert re.search(r'id="stat-p50">\d+\.\d ms<', html)
    html = page(client, level="WARNING").get_data(as_text=True)
    assert re.search(r'id="stat-positive-rate">n/a<', html)


@pytest.mark.parametrize(
    "values, fraction, expected",
    [
        ([], 0.5, None),
        ([7.0], 0.95, 7.0),
        ([1, 2, 3, 4], 0.5, 2),
        (list(range(1, 101)), 0.95, 95),
    ],
)
def test_latency_percentiles_are_nearest_rank(values, fraction, expected):
    assert percentile(values, fraction) == expected


def test_summary_of_an_empty_window_has_no_rates():
    summary = summarize([], 0)
    assert summary.positive_rate is None and summary.latency_p95 is None


def test_csv_export_downloads_the_filtered_view_with_inputs_in_columns(client):
    response = client.get("/logs/export.csv", query_string={"level": "INFO"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="prediction-log-')
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 4
    assert rows[0]["request_id"] == "young-woman" and rows[0]["AGE"] == "25"
    assert rows[-1]["CHEST PAIN"] == "1" and rows[-1]["prediction"] == "1"


def test_csv_export_defuses_spreadsheet_formulas(client):
    client.post("/predict", json=HEALTHY_YOUNG_WOMAN, headers={"X-Request-ID": "-1-1"})
    rows = list(csv.DictReader(io.StringIO(client.get("/logs/export.csv").get_data(as_text=True))))
    assert rows[0]["request_id"] == "'-1-1"
    row = csv_row({"message": "=HYPERLINK(1)", "probability": -0.0})
    assert row[CSV_COLUMNS.index("message")] == "'=HYPERLINK(1)"


def test_jsonl_export_has_one_entry_per_line(client):
    response = client.get("/logs/export.jsonl", query_string={"request_id": "smoker"})
    assert response.headers["Content-Disposition"].endswith('.jsonl"')
    entries = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [entry["request_id"] for entry in entries] == ["smoker-2", "smoker-1", "smoker-0"]


def test_clearing_asks_for_confirmation_and_needs_the_csrf_token(client):
    confirm = client.get("/logs/clear", headers=BROWSER)
    assert 'id="clear-count">5<' in confirm.get_data(as_text=True)
    refused = client.post("/logs/clear", data={})
    assert refused.status_code == 400 and client.get("/logs").get_json()["total"] == 5
    done = client.post(
        "/logs/clear", data={"csrf_token": csrf_of(confirm)}, headers=BROWSER, follow_redirects=True
    )
    assert "Deleted 5 log entries." in done.get_data(as_text=True)
    assert client.get("/logs").get_json()["total"] == 0


def test_clearing_is_not_possible_with_a_get(client):
    client.get("/logs/clear")
    assert client.get("/logs").get_json()["total"] == 5


def test_with_a_token_the_page_sends_browsers_to_the_login_form(guarded):
    response = page(guarded, level="INFO")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")
    assert guarded.get("/logs", headers={"Accept": "application/json"}).status_code == 401
    assert guarded.get("/logs/export.csv", headers=BROWSER).status_code == 302


def test_the_login_form_rejects_a_wrong_token(guarded):
    response = log_in(guarded, token="nope")
    assert response.status_code == 401
    assert "That token is not right." in response.get_data(as_text=True)
    assert page(guarded).status_code == 302


def test_logging_in_sets_a_protected_session_cookie_and_opens_the_page(guarded):
    response = log_in(guarded, next="/logs?level=INFO")
    assert response.status_code == 302 and response.headers["Location"] == "/logs?level=INFO"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert TOKEN not in cookie
    assert page(guarded).status_code == 200
    assert guarded.get("/logs").status_code == 401  # the JSON API still wants the Bearer token


def test_the_session_cookie_is_secure_over_https(make_app):
    client = make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="k").test_client()
    form = client.get("/admin/login", base_url="https://admin.example")
    response = client.post(
        "/admin/login", base_url="https://admin.example", data={"token": TOKEN, "csrf_token": csrf_of(form)}
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_https_behind_a_trusted_proxy_makes_the_cookie_secure(make_app):
    client = make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="k", TRUSTED_PROXIES=1).test_client()
    response = client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_needs_the_csrf_token(guarded):
    guarded.get("/admin/login")
    assert guarded.post("/admin/login", data={"token": TOKEN}).status_code == 400


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(guarded, target):
    response = log_in(guarded, next=target)
    assert response.status_code == 400 and "Location" not in response.headers


def test_logging_out_ends_the_session(guarded):
    log_in(guarded)
    html = page(guarded).get_data(as_text=True)
    assert "Log out" in html
    guarded.post("/admin/logout", data={"csrf_token": csrf_of(page(guarded))})
    assert page(guarded).status_code == 302


def test_a_new_token_ends_old_sessions(make_app, guarded):
    log_in(guarded)
    guarded.application.config["ADMIN_TOKEN"] = "rotated"
    assert page(guarded).status_code == 302


def test_programs_can_export_with_the_bearer_token(guarded):
    response = guarded.get("/logs/export.jsonl", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/logs", "/logs/export.csv", "/logs/clear"])
def test_a_public_space_without_a_token_closes_the_pages(make_app, path):
    client = make_app(SPACE_ID="someone/space").test_client()
    response = client.get(path, headers=BROWSER)
    assert response.status_code == 403
    assert "closed" in response.get_data(as_text=True)


def test_without_a_token_the_login_form_is_not_needed(client):
    assert client.get("/admin/login").headers["Location"] == "/logs"
