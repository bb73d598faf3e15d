"""Audit bench: a full audit of a 500,000-candle dataset, then an incremental run after 1,000 new candles.

    python -m petrosa_dm.testing.services .venv/bin/python bench/audit.py [--rows N] [--new N]

Loads `candles_BENCHUSDT_1m` once (large unordered batches; an already loaded collection is reused), audits it in
full, appends new candles and audits incrementally, and prints both times. Target: incremental <= full / 10.
The ORM uses a throwaway SQLite file unless DATABASE_URL is set.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='audit-bench-')}/bench.sqlite3")
os.environ.setdefault("AUDIT_REPAIR_ENABLED", "false")

import django

django.setup()

from bson.decimal128 import Decimal128  # noqa: E402
from django.core.management import call_command  # noqa: E402

from audits.services import dataset_audit  # noqa: E402
from catalog.services import dataset_ensure  # noqa: E402
from ingestion import store  # noqa: E402
from ingestion.naming import DataType, series  # noqa: E402

START = datetime(2022, 1, 1, tzinfo=UTC)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
BATCH = 20_000
REF = series(DataType.CANDLES, "BENCHUSDT", interval="1m")


def candle(index: int) -> dict:
    open_time = START + timedelta(minutes=index)
    price = Decimal128(f"{100 + (index % 97) / 100:.2f}")
    return {
        "symbol": REF.symbol,
        "interval": "1m",
        "open_time": open_time,
        "close_time": open_time + timedelta(seconds=59, milliseconds=999),
        "open": price,
        "high": Decimal128("102.00"),
        "low": Decimal128("99.00"),
        "close": price,
        "volume": Decimal128("12.5"),
        "quote_volume": Decimal128("1250.0"),
        "trades": 40,
        "taker_buy_volume": Decimal128("6.0"),
        "taker_buy_quote_volume": Decimal128("600.0"),
        "closed": True,
        "event_time": open_time + timedelta(minutes=1),
        "source": "rest",
        "ingested_at": NOW,
    }


def insert(collection, first: int, count: int) -> None:
    for offset in range(first, first + count, BATCH):
        collection.insert_many(
            [candle(index) for index in range(offset, min(offset + BATCH, first + count))], ordered=False
        )


def load(rows: int):
    collection = store.collection(REF)
    collection.delete_many({"open_time": {"$gte": START + timedelta(minutes=rows)}})  # new rows of an earlier run
    present = collection.estimated_document_count()
    if present == rows:
        print(f"reusing {present:,} loaded candles")
        return collection
    collection.drop()
    store.forget_indexes()
    collection = store.collection(REF)
    began = time.perf_counter()
    insert(collection, 0, rows)
    print(f"loaded {rows:,} candles in {time.perf_counter() - began:.1f} s")
    return collection


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--new", type=int, default=1_000)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    collection = load(options.rows)
    dataset, _ = dataset_ensure(ref=REF)

    began = time.perf_counter()
    full = dataset_audit(dataset=dataset, full=True, now=NOW)
    full_seconds = time.perf_counter() - began
    insert(collection, options.rows, options.new)
    began = time.perf_counter()
    incremental = dataset_audit(dataset=dataset, now=NOW)
    incremental_seconds = time.perf_counter() - began

    print(f"full audit:        {full.rows_read:>9,} rows read in {full_seconds:7.2f} s ({full.open_gaps} open gaps)")
    print(f"incremental audit: {incremental.rows_read:>9,} rows read in {incremental_seconds:7.2f} s")
    ratio = incremental_seconds / full_seconds
    print(f"incremental / full = {ratio:.4f} (target <= 0.1: {'met' if ratio <= 0.1 else 'missed'})")


if __name__ == "__main__":
    main()
