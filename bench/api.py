"""Latency of `/data/candles?limit=1000` through a real HTTP server, against the same query made directly.

    python -m petrosa_dm.testing.services .venv/bin/python bench/api.py [--rows 500000] [--requests 60]

Loads `--rows` 1m candles into `candles_BENCHUSDT_1m` (unordered batches of 10,000; an already loaded collection
is reused and topped up to the current minute, so it looks like a live one), syncs its catalog entry (as the
scheduled sync does in production), starts gunicorn on loopback against the same stores, and prints p50/p99 of:
  api       GET /data/candles?pair=BENCHUSDT&period=1m&limit=1000 (HTTP, Django, DRF, orjson)
  direct    the same MongoDB reads the endpoint makes, with pymongo, decoded into dicts
  estimate  estimated_document_count(): the unfiltered `total` the endpoint takes from the catalog instead
  naive     find({}).sort(open_time, -1).limit(1000): the query without the endpoint's index range
Target: api p99 <= 1.5 x direct p99. To reuse a loaded collection across runs, point MONGODB_URL at a server
with on-disk storage (`secantusd-py --port 27555 --storage-path var/bench-mongo`).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
# The catalog lives in a throw-away SQLite file unless DATABASE_URL says otherwise; gunicorn inherits it.
os.environ.setdefault("DATABASE_URL", f"sqlite:////tmp/petrosa-bench-{os.getpid()}.sqlite3")

import django  # noqa: E402

django.setup()

from bson import Decimal128  # noqa: E402
from django.core.management import call_command  # noqa: E402
from pymongo import DESCENDING  # noqa: E402

from catalog.services import dataset_sync  # noqa: E402
from ingestion import selectors, store  # noqa: E402
from ingestion.naming import series  # noqa: E402
from petrosa_dm.intervals import floor_to_grid  # noqa: E402
from petrosa_dm.testing.services import free_port  # noqa: E402

REF = series("candles", "BENCHUSDT", interval="1m")
BATCH = 10_000
MINUTE = timedelta(minutes=1)


def candle(open_time: datetime, index: int) -> dict:
    price = 60_000 + (index * 7919) % 5000
    return {
        "symbol": REF.symbol,
        "interval": "1m",
        "open_time": open_time,
        "close_time": open_time + timedelta(seconds=59.999),
        "open": Decimal128(f"{price}.10"),
        "high": Decimal128(f"{price + 25}.50"),
        "low": Decimal128(f"{price - 25}.00"),
        "close": Decimal128(f"{price + 3}.20"),
        "volume": Decimal128(f"{index % 997}.{index % 1000:03d}"),
        "quote_volume": Decimal128(f"{(index % 997) * price}.12"),
        "trades": index % 5000,
        "taker_buy_volume": Decimal128(f"{index % 499}.5"),
        "taker_buy_quote_volume": Decimal128(f"{(index % 499) * price}.75"),
        "first_trade_id": index * 10,
        "last_trade_id": index * 10 + 9,
        "closed": True,
        "event_time": open_time + timedelta(seconds=59.999),
        "source": "rest",
        "ingested_at": open_time,
    }


def load(rows: int) -> int:
    """Make the collection hold at least `rows` candles ending at the current minute; returns its size."""
    target = store.collection(REF)
    now = floor_to_grid(datetime.now(UTC), "1m")
    present = target.estimated_document_count()
    if present >= rows:
        newest = target.find_one({}, projection={"open_time": True}, sort=[("open_time", DESCENDING)])["open_time"]
        print(f"reusing {present:,} candles")
    else:
        target.delete_many({})
        print(f"loading {rows:,} candles")
        insert(target, [now - MINUTE * i for i in range(rows - 1, -1, -1)])
        newest = now
    # Loading takes minutes: bring the collection up to the current minute, as a live one is.
    now = floor_to_grid(datetime.now(UTC), "1m")
    insert(target, [newest + MINUTE * (i + 1) for i in range(int((now - newest) / MINUTE))])
    return target.estimated_document_count()


def insert(target, open_times: list[datetime]) -> None:
    started = time.perf_counter()
    for offset in range(0, len(open_times), BATCH):
        chunk = open_times[offset : offset + BATCH]
        target.insert_many([candle(t, offset + i) for i, t in enumerate(chunk)], ordered=False)
        done = offset + len(chunk)
        if done % 100_000 < BATCH or done == len(open_times):
            elapsed = time.perf_counter() - started
            print(f"  {done:,} in {elapsed:.0f} s ({done / max(elapsed, 1e-9):,.0f} docs/s)", flush=True)


def start_server(port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "petrosa_dm.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    command += ["--timeout", "300"]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING"})
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/health/liveness", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def timed(call, times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(label: str, samples: list[float]) -> tuple[float, float]:
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    figures = f"p50 {p50:8.1f} ms   p99 {p99:8.1f} ms   max {max(samples):8.1f} ms"
    print(f"{label:<8} n={len(samples):<4} {figures}", flush=True)
    return p50, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--naive", type=int, default=2, help="samples of the naive and estimate reads (0: skip)")
    args = parser.parse_args()

    size = load(args.rows)
    print(f"collection {REF.collection}: {size:,} candles", flush=True)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    dataset_sync(ref=REF)
    print(f"catalog sync of the collection: {time.perf_counter() - started:.1f} s", flush=True)
    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}/data/candles?pair={REF.symbol}&period=1m&limit=1000"
    session = requests.Session()

    def api() -> None:
        response = session.get(url, timeout=120)
        response.raise_for_status()
        assert len(response.json()["data"]) == 1000

    target = selectors.series_collection(ref=REF)

    def direct() -> None:
        # The page read the endpoint issues: the newest 1,001 candles (one more tells has_next) in the grid window
        # just before now, on the open_time index, decoded into dicts.
        query = selectors.recent_candles_query(ref=REF, query={}, end=None, wanted=1001)
        rows = list(target.find(query, projection={"_id": False}, sort=[("open_time", DESCENDING)], limit=1001))
        assert len(rows) == 1001

    def estimate() -> None:
        target.estimated_document_count()

    def naive() -> None:
        assert len(list(target.find({}, sort=[("open_time", DESCENDING)], limit=1000))) == 1000

    try:
        timed(api, 3)
        timed(direct, 3)
        api_samples, direct_samples = [], []
        for _ in range(args.requests):  # interleaved, so load from other processes hits both alike
            api_samples += timed(api, 1)
            direct_samples += timed(direct, 1)
        _, api_p99 = report("api", api_samples)
        _, direct_p99 = report("direct", direct_samples)
        if args.naive:
            report("estimate", timed(estimate, args.naive))
            report("naive", timed(naive, args.naive))
        ratio = api_p99 / direct_p99
        print(f"api p99 / direct p99 = {ratio:.2f} (target <= 1.5): {'met' if ratio <= 1.5 else 'NOT met'}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
