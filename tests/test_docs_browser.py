"""/docs in a real Chromium: Swagger UI loads with no request leaving the machine, keeps the
admin pages' Content-Security-Policy, and sends a prediction ("Try it out", "Execute")."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.processes import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

TOKEN = "docs-browser-token"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    env = {"ADMIN_TOKEN": TOKEN, "SPACE_ID": "", "REDIS_URL": ""}
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("docs-browser"), env=env) as server:
        yield server


@pytest.fixture
def docs_page(api, browser):
    """A page on /docs that refuses (and records) any request off this machine."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    page.outside = []
    page.problems = []

    def only_loopback(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    response = page.goto(api.url + "/docs")
    page.csp = response.headers.get("content-security-policy")
    yield page
    context.close()


def test_docs_load_offline_under_the_admin_pages_policy(api, docs_page):
    from playwright.sync_api import expect

    expect(docs_page.locator(".info .title")).to_contain_text("Lung cancer risk API")
    document = requests.get(api.url + "/openapi.json", timeout=5).json()
    expect(docs_page.locator(".opblock")).to_have_count(sum(len(item) for item in document["paths"].values()))
    admin_page = requests.get(api.url + "/admin/login", timeout=5)
    assert docs_page.csp == admin_page.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in docs_page.csp
    assert docs_page.outside == []
    assert docs_page.problems == []


def test_a_prediction_sent_from_the_docs_answers_200(docs_page):
    from playwright.sync_api import expect

    operation = docs_page.locator("#operations-predictions-predict")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table")
    expect(live.locator("tr.response .response-col_status")).to_have_text("200")
    expect(live.locator("tr.response .response-col_description")).to_contain_text('"risk_level": "moderate"')
    expect(operation.locator(".request-url")).to_contain_text("/api/predict")
    assert docs_page.outside == []
    assert docs_page.problems == []
