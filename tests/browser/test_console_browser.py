"""A real browser (Debian's headless Chromium, driven by Playwright) walks the operators' console.

Screenshots go to DM_SCREENSHOT_DIR (default `screenshots/` at the project root).
"""

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from audits.models import Gap
from audits.services import dataset_audit
from audits.tests.rows import BASE, agg_trade, write_candles
from backfills.models import BackfillJob
from catalog.models import Dataset
from catalog.services import sync_catalog
from ingestion import store
from petrosa_dm.market.naming import DataType, series

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
    """Two days of BTCUSDT 1h candles with a three-candle hole and aggTrades with two ids lost, catalogued and
    audited; an admin user."""
    settings.AUDIT_REPAIR_ENABLED = False
    write_candles([BASE + timedelta(hours=h) for h in range(48) if not 10 <= h <= 12], interval="1h")
    store.write_rows(series(DataType.TRADES, "BTCUSDT"), [agg_trade(i) for i in range(1, 300) if i not in (120, 121)])
    sync_catalog()
    dataset = Dataset.objects.get(pk="candles_BTCUSDT_1h")
    dataset_audit(dataset=dataset, full=True, start=BASE, end=BASE + timedelta(hours=48))
    dataset_audit(dataset=Dataset.objects.get(pk="trades_BTCUSDT"), full=True)
    assert Gap.objects.filter(dataset_id="trades_BTCUSDT", kind=Gap.Kind.SEQUENCE).count() == 1
    get_user_model().objects.create_superuser("admin", "", PASSWORD)
    return dataset


def time_columns(page, table: str) -> list[str]:
    """Texts of every cell under a header that names a time, in the given table."""
    return page.eval_on_selector(
        table,
        """table => {
            const heads = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim().toLowerCase());
            const timeish = new RegExp('^(first timestamp|last timestamp|from|to|start|end|created|created at|'
                + 'last checked|first seen|audited|audited at|finished at|started at|heartbeat at|newest)$');
            const cols = heads.map((h, i) => timeish.test(h) ? i : -1).filter(i => i >= 0);
            const cells = [];
            for (const row of table.querySelectorAll('tbody tr')) {
                const tds = [...row.children];
                for (const i of cols) { if (tds[i] && tds[i].innerText.trim()) cells.push(tds[i].innerText.trim()); }
            }
            return cells;
        }""",
    )


def assert_utc(cells: list[str], where: str, *, required: bool = True) -> None:
    assert cells or not required, f"no time cells found in {where}"
    for text in cells:
        assert text.endswith("UTC"), f"{where}: time without UTC: {text!r}"


def test_an_operator_opens_a_dataset_from_the_datasets_list_and_sees_its_console(live_server, browser_page, seeded):
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#health-grid")

    page.goto(f"{live_server.url}/admin/catalog/dataset/")
    page.wait_for_selector("#result_list")
    assert_utc(time_columns(page, "#result_list"), "datasets list")
    page.screenshot(path=str(SCREENSHOTS / "datasets_list.png"), full_page=True)
    page.click("#result_list a:text-is('candles_BTCUSDT_1h')")
    page.wait_for_selector("#coverage-timeline svg")
    assert "_5F" in page.url  # the admin's own quoted link
    assert page.locator("#coverage-timeline svg #gap-0").count() == 1
    assert page.locator("#price-chart svg #price").count() == 1
    assert page.locator("#backfill-open-gaps").get_attribute("value") == "Backfill open gaps (1)"
    assert_utc(time_columns(page, "#health-figures"), "health figures")
    assert_utc(time_columns(page, "#lineage"), "lineage", required=False)  # rows written directly: no lineage

    page.goto(f"{live_server.url}/admin/catalog/dataset/")
    page.click("#result_list a:text-is('trades_BTCUSDT')")
    page.wait_for_selector("#dataset-console")
    # An aggTrade id gap is repaired by id range: the button is offered for it.
    assert page.locator("#backfill-open-gaps").get_attribute("value") == "Backfill open gaps (1)"
    page.screenshot(path=str(SCREENSHOTS / "trades_dataset.png"), full_page=True)

    for path, table in (("audits/gap/", "#result_list"), ("audits/healthmetric/", "#result_list")):
        page.goto(f"{live_server.url}/admin/{path}")
        page.wait_for_selector(table)
        assert_utc(time_columns(page, table), path)
    page.screenshot(path=str(SCREENSHOTS / "gaps.png"), full_page=True)


def test_an_operator_sees_the_hole_and_starts_its_repair(live_server, browser_page, seeded):
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    page.wait_for_selector("#health-grid")
    tile = page.locator('#health-grid a[href$="/catalog/dataset/candles_5FBTCUSDT_5F1h/change/"]')
    assert tile.count() == 1
    assert tile.get_attribute("data-band") in ("degraded", "unhealthy")  # 3 of 48 candles missing
    assert "1 open gap" in tile.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    assert_utc(time_columns(page, "#open-gaps"), "dashboard gaps")
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
    assert page.locator("#job-cancel").count() == 1  # a pending job can be cancelled, not retried
    assert page.locator("#job-retry").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "backfill_job.png"), full_page=True)
    assert f"#{job.pk}" in page.inner_text("#content") or "BTCUSDT" in page.inner_text("#content")
    page.goto(f"{live_server.url}/admin/backfills/backfilljob/")
    assert page.locator("#result_list tbody tr").count() == 1
    assert_utc(time_columns(page, "#result_list"), "backfill jobs")
    page.screenshot(path=str(SCREENSHOTS / "backfill_jobs.png"), full_page=True)
