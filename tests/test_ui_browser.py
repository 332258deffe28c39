"""The Gradio page in a real Chromium: fill the form, predict, read the risk; admin clear flow."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.helpers import patient
from tests.processes import ROOT, ServerProcess
from webapp import wording

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SCREENSHOTS = ROOT / "test-output"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("browser-api")) as server:
        yield server


@pytest.fixture(scope="module")
def ui(api, tmp_path_factory):
    with ServerProcess.gradio(tmp_path_factory.mktemp("browser-ui"), api.url) as server:
        yield server


@pytest.fixture
def page(browser, ui):
    page = browser.new_page(viewport={"width": 1300, "height": 1100})
    page.goto(ui.url)
    yield page
    page.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_filling_the_form_and_clicking_predict_shows_the_apis_risk(page, api):
    page.locator("#age input[type=number]").fill("68")
    page.locator("#age input[type=number]").press("Enter")
    page.get_by_label("Male", exact=True).check()
    for label in (
        "Smokes",
        "Yellow fingers",
        "Coughing",
        "Wheezing",
        "Chest pain",
        "Fatigue",
        "Difficulty swallowing",
    ):
        page.get_by_label(label, exact=True).check()
    page.locator("#predict").click()
    risk = page.locator("#lr-risk-level")
    risk.wait_for(timeout=20000)
    expected = requests.post(
        api.url + "/predict",
        timeout=10,
        json=patient(
            AGE=68,
            GENDER=1,
            SMOKING=1,
            YELLOW_FINGERS=1,
            COUGHING=1,
            WHEEZING=1,
            CHEST_PAIN=1,
            FATIGUE=1,
            SWALLOWING_DIFFICULTY=1,
        ),
    ).json()
    assert risk.inner_text() == wording.BAND_PILLS[expected["risk_level"]]
    assert page.locator("#lr-probability").inner_text() == expected["score_display"]
    card = page.locator("#lr-result").inner_text()
    assert "not a diagnosis" in card and "Please see a doctor about your symptoms" in card
    assert [item.inner_text() for item in page.locator("#lr-raises li").all()] == [
        factor["text"] for factor in expected["factors"] if factor["direction"] == "raises"
    ]
    assert "What it means" in page.content()  # the bands from /metadata
    screenshot(page, "ui-prediction.png")


def test_clearing_the_log_asks_for_confirmation_first(page):
    page.get_by_role("tab", name="Admin").click()
    confirm = page.get_by_role("button", name="Yes, clear the log")
    assert not confirm.is_visible()
    page.get_by_role("button", name="Clear the log...").click()
    confirm.wait_for(timeout=10000)
    screenshot(page, "ui-admin-confirm.png")
    confirm.click()
    page.get_by_text("Prediction log cleared").wait_for(timeout=10000)
    confirm.wait_for(state="hidden", timeout=10000)
