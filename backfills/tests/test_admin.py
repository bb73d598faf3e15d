from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from backfills.models import BackfillJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x" * 12))
    return client


WINDOW = {"start": datetime(2024, 3, 1, tzinfo=UTC), "end": datetime(2024, 3, 1, 0, 1, tzinfo=UTC)}
FORM = {
    "symbol": "ethusdt",
    "data_type": "candles",
    "timeframe": "5m",
    "start_0": "2024-03-01",
    "start_1": "00:00:00",
    "end_0": "2024-03-02",
    "end_1": "00:00:00",
    "priority": "5",
}


def test_adding_a_job_in_the_admin_enqueues_and_runs_it(
    admin_client, binance, mongo_db, eager_celery, django_capture_on_commit_callbacks
):
    binance()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/backfills/backfilljob/add/", FORM)
    assert response.status_code == 302
    job = BackfillJob.objects.get()
    assert (job.symbol, job.source, job.requested_by.username) == ("ETHUSDT", "admin", "root")
    assert (job.status, job.rows_inserted) == ("succeeded", 288)
    page = admin_client.get("/admin/backfills/backfilljob/").content.decode()
    assert '<progress value="100.0" max="100">' in page


def test_the_admin_form_names_the_bad_field(admin_client):
    response = admin_client.post("/admin/backfills/backfilljob/add/", {**FORM, "timeframe": "7m"})
    assert response.status_code == 200
    assert "invalid interval" in response.content.decode()
    assert BackfillJob.objects.count() == 0


def test_cancel_and_retry_actions(admin_client, django_capture_on_commit_callbacks):
    admin_client.post("/admin/backfills/backfilljob/add/", FORM)  # enqueue is captured, not run: stays pending
    job = BackfillJob.objects.get()
    changelist = "/admin/backfills/backfilljob/"
    admin_client.post(changelist, {"action": "cancel_jobs", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == "cancelled"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(changelist, {"action": "retry_jobs", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == "pending" and len(callbacks) == 1


def test_a_depth_jobs_page_says_what_it_stored_instead_of_a_cursor(admin_client, binance, mongo_db):
    from backfills import services

    binance()
    job = services.backfill_job_run(job=BackfillJob.objects.create(symbol="BTCUSDT", data_type="depth", **WINDOW))
    assert job.status == "succeeded"
    page = admin_client.get(f"/admin/backfills/backfilljob/{job.pk}/change/").content.decode()
    assert "One REST snapshot of the order book as the exchange held it when the job ran" in page
    assert "Everything before this time is stored" not in page  # the cursor's help, which was untrue here
    assert "Retry job (take a new snapshot)" in page

    candles = BackfillJob.objects.create(symbol="BTCUSDT", data_type="candles", timeframe="1m", **WINDOW)
    other = admin_client.get(f"/admin/backfills/backfilljob/{candles.pk}/change/").content.decode()
    assert "Everything before this time is stored" in other and "One REST snapshot" not in other
