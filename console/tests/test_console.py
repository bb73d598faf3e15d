"""The operators' console: dashboard, dataset page with its pictures, and the repair actions."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from audits.models import Gap, HealthMetric
from audits.services import dataset_audit
from audits.tests.rows import BASE, agg_trade, depth_update, write_candles
from backfills.models import BackfillJob
from catalog.models import Dataset
from catalog.services import sync_catalog
from ingestion import store
from ingestion.services import dead_letters_store
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import utcnow

pytestmark = pytest.mark.django_db


def page_url(dataset_id: str) -> str:
    """The dataset page as the admin links to it: the key quoted (`_` is `_5F`)."""
    return reverse("admin:catalog_dataset_change", args=[quote(dataset_id)])


HOLE = (BASE + timedelta(hours=10), BASE + timedelta(hours=12))  # three missing 1h candles


@pytest.fixture
def audited_btc(mongo_db, settings):
    """Two days of 1h candles with a three-candle hole, catalogued and audited."""
    settings.AUDIT_REPAIR_ENABLED = False
    open_times = [BASE + timedelta(hours=h) for h in range(48) if not 10 <= h <= 12]
    write_candles(open_times, interval="1h")
    sync_catalog()
    dataset = Dataset.objects.get(pk="candles_BTCUSDT_1h")
    dataset_audit(dataset=dataset, full=True, start=BASE, end=BASE + timedelta(hours=48))
    dataset.refresh_from_db()
    return dataset


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_user("operator", password="a-long-test-password", is_staff=True)
    for codename in ("view_dataset", "view_gap", "change_gap", "view_backfilljob", "add_backfilljob"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return user


@pytest.fixture
def viewer(client):
    user = get_user_model().objects.create_user("viewer", password="a-long-test-password", is_staff=True)
    for codename in ("view_dataset", "view_gap"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return user


def test_dashboard_bands_each_dataset_and_counts_gaps_jobs_and_dead_letters(client, operator, audited_btc):
    dead_letters_store(
        letters=[{"raw": "{", "subject": "s", "reason": "invalid_json", "error": "x", "received_at": utcnow()}]
    )
    html = client.get(reverse("admin:index")).content.decode()
    assert audited_btc.health_score < 100
    assert 'id="health-grid"' in html
    assert f'href="{page_url("candles_BTCUSDT_1h")}"' in html
    assert 'data-band="' in html
    gap = Gap.objects.get(dataset=audited_btc)
    assert (gap.start, gap.end, gap.missing_count) == (HOLE[0], HOLE[1], 3)
    assert reverse("admin:audits_gap_change", args=[gap.pk]) in html
    assert "invalid_json: 1" in html


def test_dataset_page_draws_the_gap_on_the_coverage_timeline_and_the_price_chart(client, operator, audited_btc):
    html = client.get(page_url("candles_BTCUSDT_1h")).content.decode()
    timeline = html.split('id="coverage-timeline"')[1].split("</svg>")[0]
    assert 'id="gap-0"' in timeline and 'id="gap-1"' not in timeline
    assert timeline.count('id="present-') == 2  # before and after the hole
    chart = html.split('id="price-chart"')[1].split("</svg>")[0]
    assert 'id="price"' in chart and 'id="volatility"' in chart
    assert 'id="backfill-open-gaps"' in html
    assert "open_time" in html.split('id="schema"')[1]  # the inferred schema is listed


def test_backfill_action_starts_a_job_for_the_gap_and_links_to_it(client, operator, audited_btc):
    response = client.post(
        reverse("admin:catalog_dataset_changelist"),
        {"action": "backfill_open_gaps", "_selected_action": ["candles_BTCUSDT_1h"]},
        follow=True,
    )
    job = BackfillJob.objects.get()
    assert (job.symbol, job.data_type, job.timeframe, job.source) == ("BTCUSDT", "candles", "1h", "admin")
    assert job.start == HOLE[0] and job.requested_by == operator
    assert Gap.objects.get(dataset=audited_btc).backfill_job == job
    assert reverse("admin:backfills_backfilljob_change", args=[job.pk]) in response.content.decode()


def test_a_user_without_the_backfill_permission_sees_no_backfill_actions(client, viewer, audited_btc):
    changelist = client.get(reverse("admin:catalog_dataset_changelist")).content.decode()
    assert "backfill_open_gaps" not in changelist
    assert "audit_now" not in changelist  # queuing work needs the change permission
    page = client.get(page_url("candles_BTCUSDT_1h")).content.decode()
    assert 'id="backfill-open-gaps"' not in page
    response = client.post(
        reverse("admin:catalog_dataset_changelist"),
        {"action": "backfill_open_gaps", "_selected_action": ["candles_BTCUSDT_1h"]},
    )
    assert response.status_code in (200, 302)
    assert not BackfillJob.objects.exists()


def test_gaps_can_be_marked_unfillable_only_with_a_note(client, operator, audited_btc):
    gap = Gap.objects.get(dataset=audited_btc)
    url = reverse("admin:audits_gap_changelist")
    form = client.post(url, {"action": "mark_unfillable", "_selected_action": [gap.pk]})
    assert 'name="note"' in form.content.decode()
    client.post(url, {"action": "mark_unfillable", "_selected_action": [gap.pk], "apply": "1", "note": ""})
    gap.refresh_from_db()
    assert gap.status == Gap.Status.OPEN
    client.post(
        url,
        {"action": "mark_unfillable", "_selected_action": [gap.pk], "apply": "1", "note": "exchange outage 2024-03-01"},
    )
    gap.refresh_from_db()
    assert gap.status == Gap.Status.UNFILLABLE and gap.reason == Gap.Reason.MANUAL
    assert gap.note == "exchange outage 2024-03-01 (marked by operator)"


def test_computed_records_are_read_only(client, admin_user, audited_btc):
    client.force_login(admin_user)
    assert client.get(reverse("admin:audits_auditlog_add")).status_code == 403
    assert client.get(reverse("admin:audits_healthmetric_add")).status_code == 403
    assert client.get(reverse("admin:catalog_lineagerecord_add")).status_code == 403


def test_the_dataset_page_keeps_its_console_when_opened_from_the_datasets_list(client, operator, audited_btc):
    changelist = client.get(reverse("admin:catalog_dataset_changelist")).content.decode()
    link = page_url("candles_BTCUSDT_1h")
    assert "_5F" in link and f'href="{link}"' in changelist
    html = client.get(link).content.decode()
    assert 'id="coverage-timeline"' in html and 'id="gap-0"' in html
    assert 'id="backfill-open-gaps"' in html and 'value="Backfill open gaps (1)"' in html


def _sequence_dataset(ref, rows):
    store.write_rows(ref, rows)
    sync_catalog()
    dataset = Dataset.objects.get(pk=ref.collection)
    dataset_audit(dataset=dataset, full=True)
    return dataset


def test_a_trade_id_gap_offers_its_id_range_repair_and_a_depth_gap_says_why_not(client, operator, mongo_db, settings):
    settings.AUDIT_REPAIR_ENABLED = False
    trades = _sequence_dataset(
        series(DataType.TRADES, "BTCUSDT"), [agg_trade(i) for i in range(1, 200) if i not in (50, 51)]
    )
    depth = _sequence_dataset(series(DataType.DEPTH, "BTCUSDT"), [depth_update(i) for i in range(100) if i != 40])

    html = client.get(page_url(trades.pk)).content.decode()
    assert 'id="backfill-open-gaps"' in html and 'value="Backfill open gaps (1)"' in html
    client.post(
        reverse("admin:catalog_dataset_changelist"),
        {"action": "backfill_open_gaps", "_selected_action": [trades.pk]},
        follow=True,
    )
    job = BackfillJob.objects.get()
    assert (job.data_type, job.from_id, job.to_id) == ("trades", 50, 51)

    assert Gap.objects.filter(dataset=depth, status=Gap.Status.OPEN).count() == 1
    html = client.get(page_url(depth.pk)).content.decode()
    assert 'id="backfill-open-gaps"' not in html
    unavailable = html.split('id="repair-unavailable"')[1].split("</p>")[0]
    assert "Backfill not available" in unavailable and "no history of depth updates" in unavailable
    response = client.post(
        reverse("admin:catalog_dataset_changelist"),
        {"action": "backfill_open_gaps", "_selected_action": [depth.pk]},
        follow=True,
    )
    assert "no history of depth updates" in response.content.decode()
    assert BackfillJob.objects.count() == 1


def test_times_are_utc_with_seconds_and_ages_in_words(client, operator, audited_btc):
    html = client.get(page_url("candles_BTCUSDT_1h")).content.decode()
    figures = html.split('id="health-figures"')[1].split("</table>")[0]
    assert " old" in figures and " s old" not in figures.replace(" min", "")  # e.g. "845 d 2 h old"
    metric = HealthMetric.objects.filter(dataset=audited_btc).latest("created_at")
    assert metric.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") in figures
    gaps = client.get(reverse("admin:audits_gap_changelist")).content.decode()
    assert HOLE[0].strftime("%Y-%m-%d %H:%M:%S UTC") in gaps


def test_a_job_page_offers_retry_when_failed_and_cancel_while_active_and_progress_once(client, operator, audited_btc):
    user = operator
    user.user_permissions.add(Permission.objects.get(codename="change_backfilljob"))
    job = BackfillJob.objects.create(
        symbol="BTCUSDT", data_type="candles", timeframe="1h", start=HOLE[0], end=HOLE[1], status="failed", error="x"
    )
    html = client.get(reverse("admin:backfills_backfilljob_change", args=[job.pk])).content.decode()
    assert 'id="job-retry"' in html and 'id="job-cancel"' not in html
    assert 'name="_save"' not in html
    assert html.count(">progress:<") + html.count(">Progress:<") == 1
    client.post(
        reverse("admin:backfills_backfilljob_changelist"), {"action": "retry_jobs", "_selected_action": [job.pk]}
    )
    job.refresh_from_db()
    assert job.status == BackfillJob.Status.PENDING
    html = client.get(reverse("admin:backfills_backfilljob_change", args=[job.pk])).content.decode()
    assert 'id="job-cancel"' in html and 'id="job-retry"' not in html
    client.post(
        reverse("admin:backfills_backfilljob_changelist"), {"action": "cancel_jobs", "_selected_action": [job.pk]}
    )
    job.refresh_from_db()
    assert job.status == BackfillJob.Status.CANCELLED


def test_empty_panels_say_what_is_missing_and_how_to_get_it(client, operator, mongo_db):
    Dataset.objects.create(
        dataset_id="candles_ETHUSDT_1h",
        name="ETHUSDT candles 1h",
        data_type="candles",
        symbol="ETHUSDT",
        timeframe="1h",
    )
    html = client.get(page_url("candles_ETHUSDT_1h")).content.decode()
    coverage = html.split('id="coverage-timeline"')[1].split("</div>")[0]
    assert "No rows are catalogued" in coverage and "manage.py sync_catalog" in coverage
    price = html.split('id="price-chart"')[1].split("</div>")[0]
    assert "No finished candle is stored yet" in price
    assert "Not audited yet" in html and "manage.py audit" in html


def test_the_dashboards_jobs_card_lists_the_running_and_pending_jobs(client, operator, audited_btc):
    made = {
        status: BackfillJob.objects.create(
            symbol="BTCUSDT", data_type="candles", timeframe="1h", start=HOLE[0], end=HOLE[1], status=status
        )
        for status in ("pending", "running", "succeeded")
    }
    html = client.get(reverse("admin:index")).content.decode()
    link = re.search(r'id="card-jobs"><a href="([^"]+)"', html).group(1).replace("&amp;", "&")
    listed = client.get(link).content.decode()
    change = {status: reverse("admin:backfills_backfilljob_change", args=[job.pk]) for status, job in made.items()}
    assert change["pending"] in listed and change["running"] in listed
    assert change["succeeded"] not in listed


def test_health_metrics_list_rounds_its_figures_and_names_their_units(client, admin_user, audited_btc):
    client.force_login(admin_user)
    metric = HealthMetric.objects.filter(dataset=audited_btc).latest("created_at")
    assert metric.completeness < 100  # the three-candle hole
    html = client.get(reverse("admin:audits_healthmetric_changelist")).content.decode()
    assert f"{metric.completeness:.2f} %" in html and f"{metric.consistency:.2f} %" in html
    assert "quality score (0-100)" in html.lower() and f"{metric.quality_score:.1f}" in html
