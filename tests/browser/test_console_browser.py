"""A real browser (Debian's headless Chromium, driven by Playwright) walks the operators' console.

Screenshots go to DM_SCREENSHOT_DIR (default `screenshots/` at the project root).
"""

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from audits.services import dataset_audit
from audits.tests.rows import BASE, write_candles
from backfills.models import BackfillJob
from catalog.models import Dataset
from catalog.services import sync_catalog

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("DM_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "screenshots"))
PASSWORD = "a-long-browser-password"
# Background networking off: this machine reaches no outside host, and nothing on the page may need one.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls of the test are still sequential.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        if os.environ.get("DM_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Chromium is required (DM_REQUIRE_SERVICES=1) but not found at {CHROMIUM}")
        pytest.skip(f"Chromium not installed ({CHROMIUM}); apt-get install chromium")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


@pytest.fixture
def seeded(transactional_db, mongo_db, settings):
    """Two days of BTCUSDT 1h candles with a three-candle hole, catalogued and audited; an admin user."""
    settings.AUDIT_REPAIR_ENABLED = False
    write_candles([BASE + timedelta(hours=h) for h in range(48) if not 10 <= h <= 12], interval="1h")
    sync_catalog()
    dataset = Dataset.objects.get(pk="candles_BTCUSDT_1h")
    dataset_audit(dataset=dataset, full=True, start=BASE, end=BASE + timedelta(hours=48))
    get_user_model().objects.create_superuser("admin", "", PASSWORD)
    return dataset


def test_an_operator_sees_the_hole_and_starts_its_repair(live_server, browser_page, seeded):
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    page.wait_for_selector("#health-grid")
    tile = page.locator('#health-grid a[href$="/catalog/dataset/candles_BTCUSDT_1h/change/"]')
    assert tile.count() == 1
    assert tile.get_attribute("data-band") in ("degraded", "unhealthy")  # 3 of 48 candles missing
    assert "1 open gap" in tile.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    tile.click()
    page.wait_for_selector("#coverage-timeline svg")
    assert page.locator("#coverage-timeline svg #gap-0").count() == 1
    assert page.locator("#coverage-timeline svg [id^=present-]").count() == 2
    assert page.locator("#price-chart svg #price").count() == 1
    assert page.locator("#price-chart svg #volatility").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "dataset.png"), full_page=True)

    page.click("#backfill-open-gaps")
    message = page.locator("ul.messagelist li.success")
    message.wait_for()
    assert "Started 1 backfill job" in message.inner_text()
    job = BackfillJob.objects.get()
    assert (job.symbol, job.timeframe, job.source) == ("BTCUSDT", "1h", "admin")

    message.locator("a").first.click()
    page.wait_for_selector("#content")
    assert f"#{job.pk}" in page.inner_text("#content") or "BTCUSDT" in page.inner_text("#content")
    page.goto(f"{live_server.url}/admin/backfills/backfilljob/")
    assert page.locator("#result_list tbody tr").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "backfill_jobs.png"), full_page=True)
