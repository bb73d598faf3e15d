"""Latency of `/analysis/volatility` (values computed on demand) by window length, on a live-looking 1m series.

Loads the recorded LINKUSDT February 2023 1m klines (../shared/data, 40,320 candles) into `candles_LINKUSDT_1m`,
shifted so the newest candle is the last finished minute (a live collection), then times the endpoint in-process
for windows of 20 bars, 24h, 7d and 30d. Most of the time is reading the window's candles from the store: expect
the embedded server of `make bench` (a Python server) to be far slower than production MongoDB.

    .venv/bin/python -m petrosa_dm.testing.services .venv/bin/python bench/analysis_window.py
"""

import csv
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:////tmp/petrosa-bench-window-{os.getpid()}.sqlite3")
KLINES = ROOT.parent / "shared/data/candles/futures_um_LINKUSDT-1m-2023-02.csv"

import django  # noqa: E402

django.setup()

from bson import Decimal128  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from ingestion import store  # noqa: E402
from petrosa_dm import mongo  # noqa: E402
from petrosa_dm.market.intervals import floor_to_grid  # noqa: E402
from petrosa_dm.market.naming import series  # noqa: E402
from petrosa_dm.market.timeutils import utcnow  # noqa: E402

REF = series("candles", "LINKUSDT", interval="1m")
DECIMALS = ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume")


def load() -> int:
    with KLINES.open() as handle:
        records = list(csv.DictReader(handle))
    newest = datetime.fromtimestamp(int(records[-1]["open_time"]) / 1000, tz=UTC)
    shift = floor_to_grid(utcnow(), "1m") - timedelta(minutes=1) - newest
    rows = []
    for record in records:
        open_time = datetime.fromtimestamp(int(record["open_time"]) / 1000, tz=UTC) + shift
        close_time = open_time + timedelta(milliseconds=59_999)
        rows.append(
            {
                "symbol": REF.symbol,
                "event_time": close_time,
                "source": "rest",
                "ingested_at": close_time,
                "interval": "1m",
                "open_time": open_time,
                "close_time": close_time,
                **{field: Decimal128(record[field]) for field in DECIMALS},
                "trades": int(record["count"]),
                "closed": True,
            }
        )
    for start in range(0, len(rows), 5000):
        store.write_rows(REF, rows[start : start + 5000])
    return len(rows)


def main() -> None:
    if not KLINES.exists():
        sys.exit(f"recorded klines not found at {KLINES}")
    call_command("migrate", verbosity=0)
    mongo.database().drop_collection(REF.collection)
    print(f"loaded {load():,} candles into {REF.collection}")
    client = Client()
    try:
        for window in ("20", "24h", "7d", "30d"):
            samples = []
            for _ in range(3):
                started = time.perf_counter()
                response = client.get("/analysis/volatility", {"pair": REF.symbol, "period": "1m", "window": window})
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.content[:300]
            bars = response.json()["window_bars"]
            print(f"window {window:>4} ({bars:>6,} bars): median {statistics.median(samples):8.0f} ms")
    finally:
        mongo.database().drop_collection(REF.collection)


if __name__ == "__main__":
    main()
