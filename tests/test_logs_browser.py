"""The admin log page in a real Chromium (Playwright) against the API under Gunicorn."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, patient
from tests.processes import ROOT, ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

TOKEN = "browser-admin-token"
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    env = {"ADMIN_TOKEN": TOKEN, "SECRET_KEY": "browser-test-secret", "SPACE_ID": "", "REDIS_URL": ""}
    with ServerProcess.gunicorn(tmp_path_factory.mktemp("logs-browser"), env=env) as server:
        yield server


@pytest.fixture
def admin(api, browser):
    """A logged-in browser page on an empty log."""
    requests.delete(
        api.url + "/api/logs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).raise_for_status()
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10000)
    page.goto(api.url + "/logs")
    assert "/admin/login" in page.url
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/logs")
    yield page
    context.close()


def predict(api, body, request_id, path="/predict"):
    return requests.post(api.url + path, json=body, headers={"X-Request-ID": request_id}, timeout=10)


def rows(page):
    return page.locator("tbody.entry")


def reload_until_rows(page, count, timeout=10.0):
    """Reload until the table shows `count` rows: each Gunicorn worker writes its own log
    entries in the background, so another worker's newest entries may land a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        page.reload()
        if rows(page).count() == count or time.monotonic() > deadline:
            break
    assert rows(page).count() == count


def test_admin_sees_predictions_appear_filters_and_pages(api, admin):
    from playwright.sync_api import expect

    for index in range(4):
        predict(api, SYMPTOMATIC_OLDER_SMOKER, f"smoker-{index}")
    for index in range(3):
        predict(api, patient(AGE=30 + index), f"young-{index}", path="/predict_proba")
    predict(api, patient(AGE=300), "too-old")
    reload_until_rows(admin, 8)
    expect(admin.locator("#stat-count")).to_have_text("8")
    expect(admin.locator(".chart svg")).to_have_count(2)

    rejected = admin.locator("tbody.entry", has_text="too-old")
    rejected.locator("button.expand").click()
    expect(rejected.locator(".errors")).to_contain_text("AGE")
    smoker = admin.locator("tbody.entry", has_text="smoker-3")
    smoker.locator("button.expand").click()
    expect(smoker.locator("table.inputs")).to_contain_text("Chest pain")
    expect(smoker.locator("table.factors")).to_be_visible()
    OUTPUT.mkdir(exist_ok=True)
    admin.screenshot(path=str(OUTPUT / "logs-page.png"), full_page=True)

    admin.select_option("select[name=prediction]", "1")
    admin.click("form.filters button[type=submit]")
    expect(rows(admin)).to_have_count(4)
    expect(admin.locator("#stat-positive-rate")).to_have_text("100%")
    admin.fill("input[name=request_id]", "smoker-2")
    admin.click("form.filters button[type=submit]")
    expect(rows(admin)).to_have_count(1)

    admin.goto(api.url + "/logs")
    admin.select_option("select[name=limit]", "25")
    admin.select_option("select[name=level]", "INFO")
    admin.click("form.filters button[type=submit]")
    expect(rows(admin)).to_have_count(7)
    admin.goto(admin.url.replace("limit=25", "limit=3"))
    expect(rows(admin)).to_have_count(3)
    seen = []
    while True:
        seen += [text.split()[2] for text in rows(admin).locator("tr.row").all_inner_texts()]
        if admin.locator("#older").count() == 0:
            break
        admin.click("#older")
    # Ids (and so the order) follow when each worker wrote its entries, not the request order.
    assert sorted(seen) == ["smoker-0", "smoker-1", "smoker-2", "smoker-3", "young-0", "young-1", "young-2"]


def test_auto_refresh_shows_new_predictions_without_a_click(api, admin):
    from playwright.sync_api import expect

    predict(api, HEALTHY_YOUNG_WOMAN, "before")
    reload_until_rows(admin, 1)
    admin.locator("#auto-refresh").evaluate("box => box.setAttribute('data-seconds', '1')")
    admin.check("#auto-refresh")
    predict(api, HEALTHY_YOUNG_WOMAN, "after")
    expect(rows(admin)).to_have_count(2)
    expect(admin.locator("#auto-refresh")).to_be_checked()  # the choice survives the reload
    admin.uncheck("#auto-refresh")


def test_admin_exports_the_filtered_view(api, admin, tmp_path):
    predict(api, SYMPTOMATIC_OLDER_SMOKER, "smoker")
    predict(api, HEALTHY_YOUNG_WOMAN, "young")
    reload_until_rows(admin, 2)
    admin.goto(api.url + "/logs?request_id=smoker")
    with admin.expect_download() as download_info:
        admin.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    download.save_as(tmp_path / "log.csv")
    with open(tmp_path / "log.csv", newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert [row["request_id"] for row in exported] == ["smoker"]
    with admin.expect_download() as download_info:
        admin.click("#export-jsonl")
    download_info.value.save_as(tmp_path / "log.jsonl")
    lines = Path(tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == ["smoker"]


def test_script_text_in_a_rejected_request_is_shown_not_run(api, admin):
    from playwright.sync_api import expect

    dialogs = []
    admin.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    requests.post(
        api.url + "/predict", json={"<script>alert(1)</script>": "<img src=x onerror=alert(2)>"}, timeout=10
    )
    reload_until_rows(admin, 1)
    entry = rows(admin).first
    entry.locator("button.expand").click()
    expect(entry).to_contain_text("<script>alert(1)</script>")
    expect(entry).to_contain_text("<img src=x onerror=alert(2)>")
    assert admin.locator("tbody.entry script, tbody.entry img").count() == 0
    assert dialogs == []


def test_admin_clears_the_log_after_confirming_and_logs_out(api, admin):
    from playwright.sync_api import expect

    for index in range(3):
        predict(api, HEALTHY_YOUNG_WOMAN, f"r{index}")
    reload_until_rows(admin, 3)
    admin.click("#clear-log")
    expect(admin.locator("#clear-count")).to_have_text("3")
    admin.click("#confirm-clear")
    expect(admin.locator(".flash")).to_have_text("Deleted 3 log entries.")
    expect(rows(admin)).to_have_count(0)
    admin.click("text=Log out")
    expect(admin.locator("input[name=token]")).to_be_visible()
    admin.goto(api.url + "/logs")
    assert "/admin/login" in admin.url
