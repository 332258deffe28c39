"""The Gradio page in French and English, on a phone and through axe-core, in a real Chromium.

A French browser (Playwright `locale="fr-FR"`, which sets navigator.language and Accept-Language)
must read no English sentence of the catalogue anywhere on the page, its result included, and
an English browser no French one; the language switch changes both; every tab passes axe-core's
critical and serious rules but for the listed violations of Gradio's own components.
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.accessibility import KnownViolation, violations
from tests.helpers import patient
from tests.processes import ROOT, ServerProcess
from webapp import i18n, wording

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

SCREENSHOTS = ROOT / "test-output"
TABS = {
    "en": ("Risk check", "Batch (CSV)", "Admin", "Developer console"),
    "fr": ("Évaluation du risque", "Fichier (CSV)", "Administration", "Console développeur"),
}

# Violations only Gradio's own component markup causes; the app has no say over that markup.
GRADIO_OWN = (
    KnownViolation(
        "aria-prohibited-attr",
        'aria-label="Empty value"',
        "Gradio's Empty placeholder (an empty gr.File or gr.JSON) is a <div> with an aria-label and no role",
    ),
    KnownViolation(
        "label-content-name-mismatch",
        "upload-container",
        "Gradio's gr.File drop zone is a <button> whose aria-label ('Click to upload or "
        "drop files') differs from its visible text",
    ),
)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("languages-api"), env={"ADMIN_TOKEN": ""}) as server:
        yield server


@pytest.fixture(scope="module")
def ui(api, tmp_path_factory):
    with ServerProcess.gradio(tmp_path_factory.mktemp("languages-ui"), api.url) as server:
        yield server


def open_page(browser, url: str, locale: str, **viewport):
    context = browser.new_context(locale=locale, viewport=viewport or {"width": 1300, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(url)
    wait_until_loaded(page)
    return page


def wait_until_loaded(page) -> None:
    """The page's load chain has run: its last step writes the risk levels."""
    page.locator("#bands table").wait_for()


def predict(page, *answers: str) -> None:
    for element_id in answers:
        page.locator(f"#{element_id} input").check()
    page.locator("#predict").click()
    page.locator("#lr-result").wait_for()
    # Settled: the result took the focus and Gradio's fade of pending outputs is over.
    page.wait_for_function("""() => {
        if (document.activeElement?.id !== 'lr-result-heading') return false;
        for (let e = document.getElementById('lr-result'); e; e = e.parentElement) {
            if (getComputedStyle(e).opacity !== '1') return false;
        }
        return true;
    }""")


def readable_text(page) -> str:
    """The text a person or a screen reader gets: visible text and the labelling attributes."""
    text = page.evaluate("""() => document.body.innerText + ' ' +
        [...document.querySelectorAll('[aria-label], [placeholder], [title], [alt], [aria-valuetext]')]
          .map(e => ['aria-label', 'placeholder', 'title', 'alt', 'aria-valuetext']
                    .map(a => e.getAttribute(a) || '').join(' ')).join(' ')""")
    return " ".join(text.split())


def whole_page_text(page, lang: str) -> str:
    """Every tab's text, and the Risk check tab with a result."""
    predict(page, "q-smoking", "q-coughing", "q-chestpain")
    texts = [readable_text(page)]
    for tab in TABS[lang][1:]:
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(500)
        texts.append(readable_text(page))
    return " ".join(texts)


def _plain(template: str) -> list[str]:
    """The fixed words of a catalogue entry: markup and placeholders removed."""
    text = re.sub(r"<[^>]+>", " ", template)
    text = re.sub(r"[#*`]", " ", text)
    return [" ".join(part.split()) for part in re.split(r"\{[^}]*\}", text)]


# Keys of the Flask admin pages and of the API's own sentences: not on the Gradio page.
NOT_ON_THE_PAGE = ("admin_", "api.", "validation.")


def foreign_sentences(lang: str, other: str) -> set[str]:
    """The fixed words of `other`'s catalogue (the page's keys) that `lang` says differently.

    Words that `lang` uses too ("score" is French as well) are left out, and so are words of
    four letters or fewer: Gradio's own untranslated labels (CodeMirror's "Fold line") would
    match the catalogue's "line" column title.
    """
    own_text = " ".join(i18n.catalog(lang).values())
    found = set()
    for key, template in i18n.catalog(other).items():
        if key.startswith(NOT_ON_THE_PAGE):
            continue
        own = set(_plain(i18n.catalog(lang)[key]))
        found.update(
            part
            for part in _plain(template)
            if len(part) >= 5
            and part not in own
            and not re.search(r"(?<!\w)" + re.escape(part) + r"(?!\w)", own_text)
        )
    return found


def leftovers(text: str, lang: str, other: str) -> list[str]:
    return sorted(
        part
        for part in foreign_sentences(lang, other)
        if re.search(r"(?<!\w)" + re.escape(part) + r"(?!\w)", text)
    )


@pytest.mark.parametrize("locale, lang, other", [("fr-FR", "fr", "en"), ("en-US", "en", "fr")])
def test_a_browser_reads_the_whole_page_in_its_language(browser, ui, locale, lang, other):
    page = open_page(browser, ui.url, locale)
    assert page.evaluate("document.documentElement.lang") == lang
    text = whole_page_text(page, lang)
    assert wording.text("ui_factors_heading", lang) in text  # the result card is in the text read
    assert leftovers(text, lang, other) == []
    page.context.close()


def test_the_language_switch_changes_the_page_and_is_remembered(browser, ui):
    page = open_page(browser, ui.url, "en-US")
    page.get_by_role("link", name="Français").click()
    wait_until_loaded(page)
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.get_by_role("tab", name="Évaluation du risque").is_visible()
    predict(page, "q-wheezing")
    assert wording.text("ui_factors_heading", "fr") in page.locator("#lr-result").inner_text()
    page.goto(ui.url)  # no ?lang=: the cookie keeps French for this English browser
    wait_until_loaded(page)
    assert page.evaluate("document.documentElement.lang") == "fr"
    page.get_by_role("link", name="English").click()
    wait_until_loaded(page)
    assert page.get_by_role("tab", name="Risk check").is_visible()
    page.context.close()


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("fr-FR", "fr")])
def test_every_tab_passes_axe_but_for_gradios_own_markup(browser, ui, locale, lang):
    page = open_page(browser, ui.url, locale)
    found = {"empty form": violations(page, GRADIO_OWN)}
    predict(page, "q-smoking", "q-wheezing")
    found["with a result"] = violations(page, GRADIO_OWN)
    for tab in TABS[lang][1:]:
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(800)
        found[tab] = violations(page, GRADIO_OWN)
    assert found == {name: [] for name in found}
    page.context.close()


def test_the_result_is_announced_and_its_bar_has_a_name(browser, ui):
    page = open_page(browser, ui.url, "en-US")
    assert page.locator("#result").get_attribute("aria-live") == "polite"
    predict(page, "q-coughing")
    bar = page.get_by_role("progressbar")
    assert bar.get_attribute("aria-label") == wording.text("ui_score_caption", "en")
    assert page.evaluate("document.activeElement.id") == "lr-result-heading"
    page.context.close()


def test_on_a_phone_predict_brings_the_result_into_view_and_start_over_resets_everything(browser, ui):
    page = open_page(browser, ui.url, "en-US", width=390, height=844)
    page.locator("#age input[type=number]").fill("68")
    page.locator("#age input[type=number]").press("Enter")
    page.get_by_label("Male", exact=True).check()
    predict(page, "q-smoking", "q-coughing", "q-wheezing")
    page.wait_for_timeout(1000)  # the smooth scroll
    heading = page.locator("#lr-result-heading").bounding_box()
    probability = page.locator("#lr-probability").bounding_box()
    assert 0 <= heading["y"] and probability["y"] + probability["height"] <= 844
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "ui-phone-result.png"))

    page.locator("#start-over").click()
    page.locator("#result .lr-empty").wait_for()
    assert page.locator("#age input[type=number]").input_value() == "50"
    assert page.get_by_label("Female", exact=True).is_checked()
    assert not any(box.is_checked() for box in page.locator(".lr-group input[type=checkbox]").all())
    page.context.close()


def test_the_admin_tables_headers_stay_on_one_line(browser, ui, api):
    for age in (40, 70):
        requests.post(api.url + "/predict", json=patient(AGE=age, SMOKING=1), timeout=10).raise_for_status()
    page = open_page(browser, ui.url, "fr-FR")
    page.get_by_role("tab", name="Administration").click()
    page.get_by_role("button", name="Actualiser", exact=True).click()
    page.get_by_text("Entrées 1 à").wait_for()
    headers = page.locator("#admin-log-table th").all_inner_texts()
    assert [text.strip() for text in headers][:4] == ["heure", "point d’accès", "niveau", "prédiction"]
    heights = page.evaluate(
        "[...document.querySelectorAll('#admin-log-table th')].map(th => th.getBoundingClientRect().height)"
    )
    assert max(heights) - min(heights) < 2  # no header taller than another: none wraps
    page.context.close()
