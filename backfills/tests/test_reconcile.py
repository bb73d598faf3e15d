"""`manage.py reconcile`: stored rows against the archive, value by value, differences as audit findings."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from bson.decimal128 import Decimal128
from django.core.management import CommandError, call_command

from audits.models import AuditLog
from backfills.archive.layout import DAILY
from backfills.services import backfill_job_create, backfill_job_run
from backfills.testing.archive_server import kline_lines, publish_rows
from ingestion import store
from petrosa_dm.market.naming import DataType, series

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
LINK_CSV = "candles/futures_um_LINKUSDT-1m-2023-02.csv"
REF = series(DataType.CANDLES, "LINKUSDT", interval="1m")
DAY = datetime(2023, 2, 10, tzinfo=UTC)


@pytest.fixture
def archive(start_archive, shared_data):
    server = start_archive()
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=None,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
    )
    return server


def test_reconcile_records_each_difference_with_both_values(archive):
    job = backfill_job_create(
        symbol="LINKUSDT",
        data_type="candles",
        timeframe="1m",
        start=DAY,
        end=DAY + timedelta(days=2),
        enqueue=False,
        data_source="archive",
    )
    assert backfill_job_run(job=job).status == "succeeded"
    collection = store.collection(REF)
    changed, lost = DAY + timedelta(hours=5), DAY + timedelta(days=1, hours=3)
    original = collection.find_one({"open_time": changed})["close"].to_decimal()
    collection.update_one({"open_time": changed}, {"$set": {"close": Decimal128("99.999")}})
    collection.delete_one({"open_time": lost})
    extra = dict(collection.find_one({"open_time": DAY}, {"_id": 0}), open_time=DAY + timedelta(seconds=30))
    collection.insert_one(extra)

    out = StringIO()
    call_command(
        "reconcile",
        dataset=REF.collection,
        start=DAY.isoformat(),
        end=(DAY + timedelta(days=2)).isoformat(),
        stdout=out,
    )
    assert "2880 archive rows compared; 1 differ, 1 only in the archive, 1 only in the store" in out.getvalue()
    findings = {log.details["difference"]: log for log in AuditLog.objects.filter(audit_type="reconciliation")}
    assert set(findings) == {"value", "archive_only", "store_only"}
    assert findings["value"].details["fields"] == {"close": {"stored": "99.999", "archive": str(original)}}
    assert findings["value"].details["value"] == changed.isoformat()
    assert findings["archive_only"].details["value"] == lost.isoformat()
    assert findings["archive_only"].details["archive"]["close"] and findings["archive_only"].details["stored"] is None
    assert findings["store_only"].details["value"] == extra["open_time"].isoformat()
    assert store.collection(REF).count_documents({}) == 2880  # reconciling writes nothing to the series

    call_command(
        "reconcile",
        dataset=REF.collection,
        start=DAY.isoformat(),
        end=(DAY + timedelta(days=2)).isoformat(),
        stdout=StringIO(),
    )
    assert AuditLog.objects.filter(audit_type="reconciliation").count() == 3  # a rerun adds no duplicate


def test_reconcile_refuses_a_bad_dataset_or_range(archive):
    with pytest.raises(CommandError, match="--dataset"):
        call_command("reconcile", dataset="nope", start="2023-02-01", end="2023-02-02")
    with pytest.raises(CommandError, match="--end"):
        call_command("reconcile", dataset=REF.collection, start="2023-02-02", end="2023-02-01")
    with pytest.raises(CommandError, match="--dataset"):
        call_command("reconcile", dataset="depth_BTCUSDT", start="2023-02-01", end="2023-02-02")
