from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from catalog import services, tasks
from catalog.models import Dataset, LineageRecord
from ingestion import store
from ingestion.tests.rows import T0, depth_row, funding_row, grid, trade_row, write_candles
from petrosa_dm.market.naming import series

pytestmark = pytest.mark.django_db

SUBJECT = "binance.futures.websocket.data"


@pytest.fixture
def ingested(mongo_db):
    """Rows of several types and symbols, written by the consumer's write path, plus a non-series collection."""
    write_candles(grid(T0, 48))
    write_candles(grid(T0, 30, "1m"), interval="1m")
    write_candles(grid(T0, 5), symbol="ETHUSDT")
    store.write_rows(series("trades", "BTCUSDT"), [trade_row(i) for i in range(1, 101)])
    store.write_rows(series("depth", "BTCUSDT"), [depth_row(10 * i, prev=10 * i - 10) for i in range(1, 11)])
    store.write_rows(series("funding_rates", "BTCUSDT"), [funding_row(T0 + timedelta(hours=8 * i)) for i in range(6)])
    mongo_db["dead_letters"].insert_one({"raw": "{", "reason": "json"})
    return mongo_db


def test_sync_catalog_describes_every_series_collection(client, ingested):
    result = services.sync_catalog()

    assert (result.discovered, result.created, result.vanished) == (6, 6, 0)
    body = client.get("/catalog/datasets").json()
    assert body["pagination"]["total"] == 6
    by_id = {row["dataset_id"]: row for row in body["data"]}
    assert list(by_id) == sorted(by_id)
    candles = by_id["candles_BTCUSDT_1h"]
    assert (candles["category"], candles["data_type"], candles["symbol"], candles["timeframe"]) == (
        "market_data",
        "candles",
        "BTCUSDT",
        "1h",
    )
    assert candles["record_count"] == 48
    assert candles["first_timestamp"] == "2024-08-08T00:00:00Z"
    assert candles["last_timestamp"] == "2024-08-09T23:00:00Z"
    assert candles["expected_cadence_seconds"] == 3600
    assert by_id["candles_BTCUSDT_1m"]["expected_cadence_seconds"] == 60
    assert by_id["trades_BTCUSDT"]["record_count"] == 100
    assert by_id["trades_BTCUSDT"]["timeframe"] == ""
    assert by_id["trades_BTCUSDT"]["expected_cadence_seconds"] == pytest.approx(0.01)
    assert by_id["funding_rates_BTCUSDT"]["expected_cadence_seconds"] == 8 * 3600
    assert by_id["funding_rates_BTCUSDT"]["last_timestamp"] == "2024-08-09T16:00:00Z"
    assert by_id["depth_BTCUSDT"]["record_count"] == 10


def test_schema_lists_each_field_with_its_bson_type(client, ingested):
    services.sync_catalog()

    candles = client.get("/catalog/schemas/candles_BTCUSDT_1h").json()
    depth = client.get("/catalog/schemas/depth_BTCUSDT").json()

    assert candles["fields"]["open"] == "decimal"
    assert candles["fields"]["open_time"] == "date"
    assert candles["fields"]["trades"] == "int"
    assert candles["fields"]["closed"] == "bool"
    assert depth["fields"]["bids"] == "array"
    assert depth["fields"]["prev_final_update_id"] == "int"


def test_filters_select_by_type_symbol_and_category(client, ingested):
    services.sync_catalog()

    candles = client.get("/catalog/datasets?data_type=candles").json()
    eth = client.get("/catalog/datasets?symbol=ethusdt").json()
    analytics = client.get("/catalog/datasets?category=analytics").json()
    paged = client.get("/catalog/datasets?limit=2&offset=2").json()
    bad = client.get("/catalog/datasets?category=gossip")

    assert [row["dataset_id"] for row in candles["data"]] == [
        "candles_BTCUSDT_1h",
        "candles_BTCUSDT_1m",
        "candles_ETHUSDT_1h",
    ]
    assert [row["dataset_id"] for row in eth["data"]] == ["candles_ETHUSDT_1h"]
    assert analytics["pagination"]["total"] == 0
    assert [row["dataset_id"] for row in paged["data"]] == ["candles_ETHUSDT_1h", "depth_BTCUSDT"]
    assert bad.status_code == 400
    assert "category" in bad.json()["detail"]


def test_a_dropped_collection_is_marked_vanished_and_comes_back(client, ingested):
    services.sync_catalog()
    ingested.drop_collection("candles_ETHUSDT_1h")
    store.forget_indexes()

    result = services.sync_catalog()

    assert result.vanished == 1
    assert Dataset.objects.get(dataset_id="candles_ETHUSDT_1h").status == Dataset.Status.VANISHED
    assert client.get("/catalog/datasets?status=vanished").json()["pagination"]["total"] == 1
    write_candles(grid(T0, 2), symbol="ETHUSDT")
    services.sync_catalog()
    assert Dataset.objects.get(dataset_id="candles_ETHUSDT_1h").status == Dataset.Status.ACTIVE


def test_lineage_shows_the_nats_subject_and_downstream_datasets(client, ingested):
    candles = series("candles", "BTCUSDT", interval="1h")
    for count in (24, 24):
        services.lineage_record_create(
            ref=candles,
            source_type=LineageRecord.SourceType.NATS_SUBJECT,
            source=SUBJECT,
            transformation=LineageRecord.Transformation.INGEST,
            record_count=count,
        )
    volatility = series("analytics", "BTCUSDT", metric="volatility")
    services.lineage_record_create(
        ref=volatility,
        source_type=LineageRecord.SourceType.DATASET,
        source=candles.collection,
        transformation=LineageRecord.Transformation.COMPUTE,
        input_ref=candles,
        record_count=1,
    )

    upstream = client.get("/catalog/lineage/candles_BTCUSDT_1h").json()
    computed = client.get("/catalog/lineage/analytics_BTCUSDT_volatility").json()

    assert upstream["upstream"] == [
        {
            "source_type": "nats_subject",
            "source": SUBJECT,
            "transformation": "ingest",
            "input_dataset": None,
            "records": 2,
            "record_count": 48,
            "start_time": None,
            "end_time": None,
            "last_recorded_at": upstream["upstream"][0]["last_recorded_at"],
        }
    ]
    assert upstream["downstream"][0]["dataset_id"] == "analytics_BTCUSDT_volatility"
    assert len(upstream["recent"]) == 2
    assert computed["upstream"][0]["input_dataset"] == "candles_BTCUSDT_1h"
    assert computed["downstream"] == []


def test_unknown_dataset_ids_are_404(client, ingested):
    for path in ("datasets", "schemas", "lineage"):
        response = client.get(f"/catalog/{path}/candles_NOPE_1h")
        assert response.status_code == 404
        assert "detail" in response.json()


def test_command_and_task_run_the_same_sync(ingested):
    out = StringIO()
    call_command("sync_catalog", stdout=out)
    assert "catalog synced: 6 collections (6 new, 0 updated), 0 vanished" in out.getvalue()
    assert tasks.sync_catalog.apply().get() == {"discovered": 6, "created": 0, "updated": 6, "vanished": 0}
