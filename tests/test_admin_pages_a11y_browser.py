"""The admin pages (/admin/login, /logs, /monitoring) in French and English through axe-core, in
a real Chromium against the API under Gunicorn, with their production Content-Security-Policy."""

from __future__ import annotations

import pytest
import requests

from tests.accessibility import violations
from tests.helpers import SYMPTOMATIC_OLDER_SMOKER, patient
from tests.processes import ROOT, ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

TOKEN = "a11y-admin-token"
OUTPUT = ROOT / "test-output"
HEADINGS = {
    "en": ("Admin log in", "Prediction log", "Input drift"),
    "fr": ("Connexion administrateur", "Journal des prédictions", "Dérive des entrées"),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    env = {"ADMIN_TOKEN": TOKEN, "SECRET_KEY": "a11y-test-secret", "SPACE_ID": "", "REDIS_URL": ""}
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("admin-a11y"), env=env) as server:
        for index in range(60):
            body = SYMPTOMATIC_OLDER_SMOKER if index % 3 else patient(AGE=25 + index)
            requests.post(server.url + "/predict", json=body, timeout=10).raise_for_status()
        requests.post(server.url + "/predict", json=patient(AGE=300), timeout=10)  # a rejected entry
        yield server


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("fr-FR", "fr")])
def test_admin_pages_speak_the_browsers_language_and_pass_axe(browser, api, locale, lang):
    context = browser.new_context(locale=locale, viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10000)
    csp = []
    page.on("response", lambda response: csp.append(response.headers.get("content-security-policy")))
    found = {}

    page.goto(api.url + "/logs")
    assert "/admin/login" in page.url
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.get_by_role("heading", level=1).inner_text() == HEADINGS[lang][0]
    found["login"] = violations(page)
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/logs")

    assert page.evaluate("document.documentElement.lang") == lang
    assert page.get_by_role("heading", level=1).inner_text() == HEADINGS[lang][1]
    first = page.locator("tbody.entry").first
    assert first.locator("button.expand").get_attribute("aria-expanded") == "false"
    assert first.locator("tr.detail-row").is_hidden()
    found["logs"] = violations(page)
    first.locator("button.expand").click()
    assert first.locator("button.expand").get_attribute("aria-expanded") == "true"
    assert first.locator("tr.detail-row").is_visible()
    found["logs, a row open"] = violations(page)
    page.screenshot(path=str(OUTPUT / f"logs-page-{lang}.png"), full_page=True)

    page.goto(api.url + "/monitoring")
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.get_by_role("heading", level=1).inner_text() == HEADINGS[lang][2]
    found["monitoring"] = violations(page)
    # Chart labels are drawn in the SVG's units: on screen they must stay readable (>= 11 px).
    heights = page.evaluate(
        "[...document.querySelectorAll('.drift-chart text')].map(t => t.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 11
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"monitoring-page-{lang}.png"), full_page=True)

    assert found == {name: [] for name in found}
    assert all(policy and "script-src 'self'" in policy for policy in csp if policy is not None)
    assert csp.count(None) < len(csp)  # the pages did send their policy
    context.close()
