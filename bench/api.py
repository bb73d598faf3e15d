"""Latency of `/data/candles?limit=1000` through a real HTTP server, against the same query made directly.

    python -m petrosa_dm.testing.services .venv/bin/python bench/api.py [--rows 500000] [--requests 60]

(`BENCH_API_ROWS` sets the default of --rows, e.g. for a quick local run; the issue's figure is on 500,000.)

Loads `--rows` 1m candles into `candles_BENCHUSDT_1m` through bench/candles.py (an already loaded collection is
reused and topped up to the current minute, so it looks like a live one), records its catalog entry, starts gunicorn
on loopback against the same stores, and prints p50/p99 of:
  api       GET /data/candles?pair=BENCHUSDT&period=1m&limit=1000 (HTTP, Django, DRF, orjson), through urllib3
            (requests' own transport) and parsed with the standard library's json: the caller's time to rows
  requests  the same call through requests (context: its body handling adds about 3.5 ms to a 330 kB page
            here, a cost of that client, not of the service, so it is not the figure held to the target)
  direct    the same MongoDB read the endpoint makes (same query, no projection and one batch, as the endpoint),
            with plain pymongo (its own Decimal128 decoding), decoded into dicts
  naive     direct with pymongo's default codec options (naive datetimes): the service's client is timezone-aware,
            so `direct` builds aware ones, while the endpoint reads naive UTC ones (`mongo.shown`); this context
            row holds the API to the direct read on equal decoding of times
  excluded  the same read with the `{_id: False}` projection the endpoint used before (context)
  format    direct, then every row through the endpoint's row formatter (decoding and formatting, no HTTP)
  raw       the same as format with bson.RawBSONDocument rows (lazy decoding), to see whether it pays
  estimate  estimated_document_count(): the unfiltered `total` the endpoint takes from the catalog instead
  unranged  find({}).sort(open_time, -1).limit(1000): the query without the endpoint's index range
Targets: api p50 <= 1.2 x direct p50 and api p99 <= 1.5 x direct p99, interleaved in the same run.
To reuse a loaded collection across runs, point MONGODB_URL at a server
with on-disk storage (`secantusd-py --port 27555 --storage-path var/bench-mongo`).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
import urllib3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
# The catalog lives in a throw-away SQLite file unless DATABASE_URL says otherwise; gunicorn inherits it.
os.environ.setdefault("DATABASE_URL", f"sqlite:////tmp/petrosa-bench-{os.getpid()}.sqlite3")

import django  # noqa: E402

django.setup()

from bson.codec_options import CodecOptions  # noqa: E402
from bson.raw_bson import RawBSONDocument  # noqa: E402
from candles import REF, ensure_loaded  # noqa: E402  (bench/ is on sys.path)
from django.core.management import call_command  # noqa: E402
from figures import record  # noqa: E402
from pymongo import DESCENDING  # noqa: E402

from catalog.models import Dataset  # noqa: E402
from catalog.services import dataset_ensure  # noqa: E402
from ingestion import selectors  # noqa: E402
from ingestion.api.rows import row_formatter  # noqa: E402
from petrosa_dm import mongo  # noqa: E402
from petrosa_dm.decimals import library_decoding  # noqa: E402
from petrosa_dm.market.timeutils import utcnow  # noqa: E402
from petrosa_dm.testing.services import free_port  # noqa: E402


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
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_API_ROWS", 500_000)))
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument(
        "--unranged",
        type=int,
        default=0,
        help="samples of the unranged and estimate reads (context, off by default: the unranged read sorts the whole "
        "collection on the embedded store, 20 s to several minutes on 500,000 candles)",
    )
    args = parser.parse_args()

    size = ensure_loaded(args.rows).estimated_document_count()
    print(f"collection {REF.collection}: {size:,} candles", flush=True)
    call_command("migrate", verbosity=0)
    # The catalog entry the scheduled sync keeps (its record count is the endpoint's unfiltered total); the sync's
    # own full scan is not what this bench measures.
    dataset_ensure(ref=REF)
    Dataset.objects.filter(pk=REF.collection).update(record_count=size, synced_at=utcnow())
    port = free_port()
    server = start_server(port)
    path = f"/data/candles?pair={REF.symbol}&period=1m&limit=1000"
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, timeout=120, retries=False)
    session = requests.Session()

    def api() -> None:
        response = pool.request("GET", path)
        assert response.status == 200, response.status
        assert len(json.loads(response.data)["data"]) == 1000

    def through_requests() -> None:
        response = session.get(f"http://127.0.0.1:{port}{path}", timeout=120)
        response.raise_for_status()
        assert len(response.json()["data"]) == 1000

    target = selectors.series_collection(ref=REF)

    raw_target = target.with_options(codec_options=CodecOptions(document_class=RawBSONDocument, tz_aware=True))
    formatter = row_formatter(REF.data_type, "open_time")

    def page(collection, projection=None) -> list:
        # The page read the endpoint issues: the newest 1,001 candles (one more tells has_next) in the grid window
        # just before now, on the open_time index.
        query = selectors.recent_candles_query(ref=REF, query={}, end=None, wanted=1001)
        cursor = collection.find(query, projection=projection, sort=[("open_time", DESCENDING)], limit=1001)
        rows = list(cursor.batch_size(1001))  # one batch, as the endpoint reads it
        assert len(rows) == 1001
        return rows

    def direct() -> None:
        # Plain pymongo: the library's own Decimal128 decoding, not the service's (petrosa_dm.decimals).
        with library_decoding():
            page(target)

    def direct_naive() -> None:
        with library_decoding():
            page(mongo.shown(target))

    def excluded() -> None:
        with library_decoding():  # compared with `direct`
            page(target, {"_id": False})

    def formatted() -> None:
        list(map(formatter, page(target)))

    def raw() -> None:
        list(map(formatter, page(raw_target)))

    def estimate() -> None:
        target.estimated_document_count()

    def unranged() -> None:
        assert len(list(target.find({}, sort=[("open_time", DESCENDING)], limit=1000))) == 1000

    try:
        timed(api, 3)
        timed(direct, 3)
        api_samples, direct_samples, naive_samples = [], [], []
        for _ in range(args.requests):  # interleaved, so load from other processes hits all alike
            api_samples += timed(api, 1)
            direct_samples += timed(direct, 1)
            naive_samples += timed(direct_naive, 1)
        api_p50, api_p99 = report("api", api_samples)
        direct_p50, direct_p99 = report("direct", direct_samples)
        naive_p50 = report("naive", naive_samples)[0]
        record(
            "api: (context) API p50 against the direct read decoding naive times (pymongo's default)",
            api_p50,
            naive_p50 * 1.2,
            "ms",
            better="lower",
            reference=("direct pymongo p50 with naive times", naive_p50),
        )
        context = {name: [] for name in ("requests", "excluded", "format", "raw")}
        for _ in range(max(args.requests // 3, 3)):
            for name, call in (
                ("requests", through_requests),
                ("excluded", excluded),
                ("format", formatted),
                ("raw", raw),
            ):
                context[name] += timed(call, 1)
        medians = {name: report(name, samples)[0] for name, samples in context.items()}
        record(
            "api: (context) p50 of the same call through requests",
            medians["requests"],
            direct_p50 * 1.2,
            "ms",
            better="lower",
            reference=("direct pymongo p50", direct_p50),
        )
        # Context for the lean-read choices, each against its same-run alternative (targets: no slower than it).
        record(
            "api: (context) p50 of the page read with the old {_id: False} projection",
            medians["excluded"],
            direct_p50,
            "ms",
            better="lower",
            reference=("the same read without it", direct_p50),
        )
        record(
            "api: (context) p50 of read + format with RawBSONDocument rows",
            medians["raw"],
            medians["format"],
            "ms",
            better="lower",
            reference=("read + format with dict rows", medians["format"]),
        )
        if args.unranged:
            report("estimate", timed(estimate, args.unranged))
            report("unranged", timed(unranged, args.unranged))
        label = f"/data/candles?limit=1000 on {size:,} candles"
        for name, measured, allowed, baseline in (("p50", api_p50, 1.2, direct_p50), ("p99", api_p99, 1.5, direct_p99)):
            # The target is a ratio: `allowed` times the direct read's figure, measured interleaved with the API's.
            reference = (f"direct pymongo {name}, same query and projection", baseline)
            record(f"api: {name} of {label}", measured, allowed * baseline, "ms", better="lower", reference=reference)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
