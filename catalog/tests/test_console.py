"""The operators' console: dashboard, dataset page with its pictures, and the repair actions."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from audits.models import Gap
from audits.services import dataset_audit
from audits.tests.rows import BASE, write_candles
from backfills.models import BackfillJob
from catalog.models import Dataset
from catalog.services import sync_catalog
from ingestion.services import dead_letters_store
from petrosa_dm.market.timeutils import utcnow

pytestmark = pytest.mark.django_db

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
    assert f'href="{reverse("admin:catalog_dataset_change", args=["candles_BTCUSDT_1h"])}"' in html
    assert 'data-band="' in html
    gap = Gap.objects.get(dataset=audited_btc)
    assert (gap.start, gap.end, gap.missing_count) == (HOLE[0], HOLE[1], 3)
    assert reverse("admin:audits_gap_change", args=[gap.pk]) in html
    assert "invalid_json: 1" in html


def test_dataset_page_draws_the_gap_on_the_coverage_timeline_and_the_price_chart(client, operator, audited_btc):
    html = client.get(reverse("admin:catalog_dataset_change", args=["candles_BTCUSDT_1h"])).content.decode()
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
    page = client.get(reverse("admin:catalog_dataset_change", args=["candles_BTCUSDT_1h"])).content.decode()
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
