from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audits.models import Gap
from audits.tasks import audit_all
from catalog.models import Dataset
from petrosa_dm.market.timeutils import utcnow

from .rows import minutes, write_candles

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]


def live_candles(count: int, *, skip: range = range(0), symbol: str = "BTCUSDT"):
    """Candles up to the current minute, so the series is live and fresh."""
    start = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=count - 1)
    times = minutes(count, start)
    kept = [moment for index, moment in enumerate(times) if index not in skip]
    return write_candles(kept, symbol=symbol, source="stream", ingested_at=utcnow()), times


def test_health_endpoints_say_no_audit_ran_before_the_first_one(client):
    live_candles(30)
    summary = client.get("/health/summary")
    assert summary.status_code == 200
    body = summary.json()
    assert body["audited"] is False and "no audit has run" in body["message"]
    assert body["worst"] == [] and body["datasets"]["audited"] == 0
    pair = client.get("/health", {"pair": "btcusdt"})
    assert pair.status_code == 200
    body = pair.json()
    assert body["audited"] is False and body["health_score"] is None
    assert [entry["dataset_id"] for entry in body["datasets"]] == ["candles_BTCUSDT_1m"]
    assert body["datasets"][0]["band"] == "unaudited"


def test_health_endpoints_serve_the_latest_audit(client, mongo_db):
    live_candles(120, skip=range(50, 60))
    live_candles(120, symbol="ETHUSDT")
    call_command("audit", stdout=StringIO(), stderr=StringIO())

    body = client.get("/health/summary").json()
    assert body["audited"] is True
    assert body["datasets"]["total"] == body["datasets"]["audited"] == 2
    assert body["gaps"] == {"open": 1, "backfilling": 0, "unfillable": 0, "missing_rows": 10}
    assert body["worst"][0]["dataset_id"] == "candles_BTCUSDT_1m"
    assert body["worst"][0]["completeness"] == pytest.approx(100 * 110 / 120)
    assert body["datasets"]["healthy"] == 2  # 0.4 * 91.7 + 0.4 * 100 + 0.2 * 100 = 96.7
    assert body["ingestion"]["datasets_measured"] == 2
    # Rows the consumer received in the hour before each audit, whatever their market time: all 110 + 120.
    assert body["ingestion"]["rows_last_hour"] == 230
    assert body["ingestion"]["rows_per_minute"] == pytest.approx(body["ingestion"]["rows_last_hour"] / 60, abs=0.01)

    pair = client.get("/health", {"pair": "BTCUSDT", "period": "1m"}).json()
    assert pair["audited"] is True and pair["period"] == "1m"
    entry = pair["datasets"][0]
    assert entry["open_gaps"] == 1 and entry["missing_rows"] == 10
    assert entry["completeness"] == pytest.approx(100 * 110 / 120)
    assert entry["health_score"] == pair["health_score"] == Dataset.objects.get(pk="candles_BTCUSDT_1m").health_score


def test_pair_health_rejects_bad_parameters_and_unknown_pairs(client):
    live_candles(10)
    assert client.get("/health").json()["parameter"] == "pair"
    response = client.get("/health", {"pair": "BTC-USDT"})
    assert response.status_code == 400 and response.json()["parameter"] == "pair"
    response = client.get("/health", {"pair": "BTCUSDT", "period": "7m"})
    assert response.status_code == 400 and response.json()["parameter"] == "period"
    assert client.get("/health", {"pair": "DOGEUSDT"}).status_code == 404
    assert client.get("/health", {"pair": "BTCUSDT", "period": "1h"}).status_code == 404


def test_liveness_still_answers_beside_the_new_routes(client):
    assert client.get("/health/liveness").json()["status"] == "ok"


def test_metrics_expose_per_dataset_gauges(client):
    live_candles(60, skip=range(10, 12))
    call_command("audit", "candles_BTCUSDT_1m", stdout=StringIO(), stderr=StringIO())
    text = client.get("/metrics").content.decode()
    assert 'data_manager_dataset_open_gaps{dataset="candles_BTCUSDT_1m"} 1.0' in text
    completeness = Dataset.objects.get().health["completeness"]
    assert completeness == pytest.approx(100 * 58 / 60)
    assert f'data_manager_dataset_completeness_percent{{dataset="candles_BTCUSDT_1m"}} {completeness}' in text
    assert 'data_manager_dataset_health_score{dataset="candles_BTCUSDT_1m"}' in text
    assert 'data_manager_dataset_freshness_seconds{dataset="candles_BTCUSDT_1m"}' in text


def test_audit_command_prints_a_summary_and_rejects_unknown_names():
    live_candles(30, skip=range(5, 8))
    out = StringIO()
    call_command("audit", "candles_BTCUSDT_1m", "--full", stdout=out, stderr=StringIO())
    assert "audited 1 datasets (full): 27 rows read, 1 new gaps" in out.getvalue()
    assert Gap.objects.get().missing_count == 3
    with pytest.raises(CommandError, match="not a dataset id"):
        call_command("audit", "nonsense", stdout=StringIO(), stderr=StringIO())


def test_scheduled_task_audits_every_discovered_dataset_when_enabled(settings):
    live_candles(20)
    settings.ENABLE_AUDITOR = False
    assert audit_all() == 0
    assert Dataset.objects.filter(audited_at__isnull=False).count() == 0
    settings.ENABLE_AUDITOR = True
    assert audit_all() == 1
    assert Dataset.objects.get().audited_at is not None


def test_the_ingestion_rate_counts_rows_by_receive_time_not_market_time(client, mongo_db):
    """A replay of old captures arrives now: it is ingestion. A backfill of history (source rest) is not."""
    old = minutes(90, utcnow().replace(second=0, microsecond=0) - timedelta(days=400))
    write_candles(old[:60], source="stream", ingested_at=utcnow())
    write_candles(old[60:], source="rest", ingested_at=utcnow())
    call_command("audit", stdout=StringIO(), stderr=StringIO())
    ingestion = client.get("/health/summary").json()["ingestion"]
    assert ingestion["rows_last_hour"] == 60
    assert ingestion["rows_per_minute"] == pytest.approx(1.0)


def test_an_ingestion_count_past_the_store_timeout_leaves_the_dataset_unmeasured(client, settings, caplog):
    # Receive times have no index: on a big collection the count would scan it. Past MONGODB_TIMEOUT_MS the
    # figure is unknown, and the summary says how many datasets it measured instead of counting zero rows.
    live_candles(30)
    settings.MONGODB_TIMEOUT_MS = 0.001
    call_command("audit", stdout=StringIO(), stderr=StringIO())
    settings.MONGODB_TIMEOUT_MS = 5000
    ingestion = client.get("/health/summary").json()["ingestion"]
    assert ingestion["datasets_measured"] == 0 and ingestion["rows_last_hour"] == 0
    assert "no time to count the rows candles_BTCUSDT_1m received" in caplog.text
    assert Dataset.objects.get().audited_at is not None
