"""The drift report as an admin page, as JSON, and as a standalone HTML file."""

from __future__ import annotations

import re

import pytest

from webapp.monitoring import report as report_command
from webapp.monitoring.reference import load_reference
from webapp.tools.population import Drift, PatientSampler

TOKEN = "monitoring-test-token"
HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


def send(client, n: int, seed: int, **changes) -> None:
    """Score `n` sampled patients through the real /predict, in one batch."""
    records = PatientSampler(load_reference(), Drift(**changes), seed=seed).sample(n)
    assert client.post("/predict", json=records).status_code == 200


@pytest.fixture
def drifted_client(client):
    """200 ordinary patients, then 200 older heavy smokers."""
    send(client, 200, seed=1)
    send(client, 200, seed=2, age_shift=20, prevalence={"SMOKING": 0.95})
    return client


def test_the_page_shows_the_drifted_inputs_with_server_drawn_charts(drifted_client):
    response = drifted_client.get("/monitoring", headers=HTML)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<svg") == 3
    assert re.search(r'id="drifted">[^<]*AGE[^<]*SMOKING', html)
    assert 'data-feature="SMOKING"' in html and "drift-row-drift" in html


def test_the_page_has_no_inline_script_or_style_for_the_strict_csp(drifted_client):
    html = drifted_client.get("/monitoring", headers=HTML).get_data(as_text=True)
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+=", html)


@pytest.mark.parametrize(
    "path, headers", [("/api/monitoring/drift", {}), ("/monitoring/drift", {}), ("/monitoring", JSON)]
)
def test_programs_get_the_same_report_as_json(drifted_client, path, headers):
    body = drifted_client.get(path, query_string={"last": 400}, headers=headers).get_json()
    assert body["status"] == "drift"
    assert set(body["drifted"]) == {"AGE", "SMOKING"}
    assert body["window"]["entries"] == 400
    assert {f["feature"] for f in body["features"]} >= {"AGE", "GENDER", "SMOKING"}
    assert body["predicted_positive"]["test"] == "chi-square"


def test_the_window_of_the_newest_entries_sees_only_the_recent_drift(drifted_client):
    drifted = drifted_client.get("/api/monitoring/drift", query_string={"last": 200}).get_json()
    assert set(drifted["drifted"]) == {"AGE", "SMOKING"}
    send(drifted_client, 400, seed=3)
    recovered = drifted_client.get("/api/monitoring/drift", query_string={"last": 400}).get_json()
    assert recovered["status"] == "ok"


def test_a_time_window_after_the_last_entry_is_empty(drifted_client):
    later = {"since": "2999-01-01T00:00:00Z"}
    body = drifted_client.get("/api/monitoring/drift", query_string=later).get_json()
    assert body["window"]["entries"] == 0 and body["status"] == "insufficient_data"


def test_an_empty_log_is_insufficient_data(client):
    body = client.get("/api/monitoring/drift").get_json()
    assert body["status"] == "insufficient_data" and body["drifted"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ({"last": 0}, "last"),
        ({"last": "many"}, "last"),
        ({"last": 10**7}, "last"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
    ],
)
def test_a_bad_window_is_a_422_naming_the_parameter(client, query, field):
    response = client.get("/api/monitoring/drift", query_string=query)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


def test_a_bad_window_on_the_page_is_shown_on_the_page(client):
    response = client.get("/monitoring", query_string={"since": "yesterday"}, headers=HTML)
    assert response.status_code == 422
    assert 'role="alert"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "settings, path, headers, status",
    [
        ({"ADMIN_TOKEN": TOKEN}, "/api/monitoring/drift", {}, 401),
        ({"ADMIN_TOKEN": TOKEN}, "/monitoring", JSON, 401),
        ({"ADMIN_TOKEN": TOKEN}, "/api/monitoring/drift", {"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"ADMIN_TOKEN": TOKEN}, "/monitoring", {**HTML, "Authorization": f"Bearer {TOKEN}"}, 200),
        ({"ADMIN_TOKEN": TOKEN}, "/monitoring", HTML, 302),  # to the login form
        ({"SPACE_ID": "someone/space"}, "/monitoring", HTML, 403),
        ({"SPACE_ID": "someone/space"}, "/api/monitoring/drift", {}, 403),
    ],
)
def test_monitoring_follows_the_same_access_rules_as_the_log(make_app, settings, path, headers, status):
    response = make_app(**settings).test_client().get(path, headers=headers)
    assert response.status_code == status
    if status == 302:
        assert "/admin/login" in response.headers["Location"]


def test_a_logged_in_admin_sees_the_page(make_app):
    client = make_app(ADMIN_TOKEN=TOKEN, SECRET_KEY="test-secret").test_client()
    form = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf})
    assert client.get("/monitoring", headers=HTML).status_code == 200


def test_the_report_command_writes_a_standalone_html_file(drifted_client, app, tmp_path, monkeypatch):
    app.extensions["prediction_log"].flush()
    monkeypatch.setenv("LOG_DB_PATH", app.config["LOG_DB_PATH"])
    monkeypatch.delenv("REDIS_URL", raising=False)
    out = tmp_path / "drift-report.html"
    assert report_command.main(["--out", str(out), "--last", "400"]) == 0
    html = out.read_text()
    assert html.count("<svg") == 3 and "<style>" in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "no external assets"
    assert re.search(r'id="drifted">[^<]*AGE[^<]*SMOKING', html)
