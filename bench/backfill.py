"""Backfill throughput against the local Binance test server under Binance's limits and our default budget.

    python bench/backfill.py [--windows 4] [--scale 0.1] [--store-days 1]

Binance allows 2,400 weight per minute per IP and the backfiller keeps to BINANCE_WEIGHT_BUDGET (1,200 by default).
To finish quickly the "minute" is scaled down (`--scale 0.1`: a 6-second window) with the server's limit and the
budget scaled by the same factor, so the weight per second, and therefore rows per minute, is what it would be over
a real minute. The theoretical maximum is budget / weight per page * rows per page (klines: 499 rows for weight 2).

1. Fetch path (client, weight governor, row conversion), measured over whole windows: the figure the budget bounds.
2. A whole job (`backfill_job_run`, writing into MongoDB and saving its cursor after every page), over `--store-days`
   of 1m candles: bound by the store's insert rate here (the embedded SecantusDB server, a Python process),
   so it is printed for information, not held to the budget's maximum. Needs MONGODB_URL (`make bench` sets it).
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from figures import record  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BINANCE_LIMIT_PER_MINUTE = 2400


def _setup_django(var_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{var_dir}/bench.sqlite3"
    os.environ["DM_VAR_DIR"] = var_dir
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _sleep_to_boundary(window: float) -> None:
    time.sleep(window - time.time() % window + 0.01)


def bench_fetch(*, windows: int, window: float, budget: int, server) -> tuple[int, float]:
    """Rows fetched in exactly `windows` whole windows, starting at a boundary."""
    from backfills.client import BinanceClient, WeightGovernor
    from backfills.fetchers import CandleFetcher

    start = datetime(2021, 1, 1, tzinfo=UTC)
    fetcher = CandleFetcher(symbol="BTCUSDT", start=start, end=start + timedelta(days=3650), timeframe="1m")
    client = BinanceClient(base_url=server.url, governor=WeightGovernor(budget=budget, window_seconds=window))
    position = fetcher.first_position()
    _sleep_to_boundary(window)
    began = time.time()
    deadline = began + windows * window
    rows = 0
    while True:
        # Do not start a page the governor would hold past the deadline: that wait belongs to the next window.
        if client.governor.used + 2 > budget and time.time() + client.governor.seconds_to_reset() > deadline:
            break
        page = fetcher.fetch(client, position)
        if time.time() > deadline:
            break
        rows, position = rows + len(page.rows), page.position
    return rows, windows * window


def bench_job(*, days: int, server) -> tuple[int, float]:
    from django.core.management import call_command

    from backfills import services
    from ingestion import store
    from petrosa_dm import mongo

    call_command("migrate", "--noinput", verbosity=0)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    database = mongo.database()
    database.drop_collection("candles_ETHUSDT_1m")
    store.forget_indexes()
    job = services.backfill_job_create(
        symbol="ETHUSDT", data_type="candles", timeframe="1m", start=start, end=start + timedelta(days=days),
        source="command", enqueue=False,
    )  # fmt: skip
    began = time.time()
    job = services.backfill_job_run(job=job)
    elapsed = time.time() - began
    database.drop_collection("candles_ETHUSDT_1m")
    if job.status != "succeeded":
        raise SystemExit(f"bench job {job.status}: {job.error}")
    return job.rows_inserted, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=4, help="whole weight windows to measure the fetch path over")
    parser.add_argument("--scale", type=float, default=0.1, help="length of the weight window, in minutes")
    parser.add_argument("--store-days", type=int, default=1, help="days of 1m candles for the whole-job run; 0 skips")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as var_dir:
        _setup_django(var_dir)
        from django.conf import settings

        from backfills import weights
        from backfills.testing.binance_server import BinanceTestServer

        window = 60 * args.scale
        budget = round(settings.BINANCE_WEIGHT_BUDGET * args.scale)
        limit = round(BINANCE_LIMIT_PER_MINUTE * args.scale)
        settings.BINANCE_WEIGHT_WINDOW_SECONDS = window
        settings.BINANCE_WEIGHT_BUDGET = budget
        per_page = weights.page_limit(weights.KLINES, 10**6)
        page_weight = weights.request_weight(weights.KLINES, per_page)
        theoretical = settings.BINANCE_WEIGHT_BUDGET / args.scale / page_weight * per_page

        print(
            f"weight window scaled to {window:g} s (1 minute x {args.scale:g}): server limit {limit} "
            f"(Binance's {BINANCE_LIMIT_PER_MINUTE}/min), budget {budget} (BINANCE_WEIGHT_BUDGET "
            f"{round(budget / args.scale)}/min); klines pages of {per_page} rows for weight {page_weight}"
        )
        with BinanceTestServer(weight_limit=limit, window_seconds=window) as server:
            settings.BINANCE_FUTURES_BASE_URL = server.url
            rows, seconds = bench_fetch(windows=args.windows, window=window, budget=budget, server=server)
            achieved = rows / seconds * 60
            record(
                "backfill: rows/min vs theoretical max under the weight budget", achieved / theoretical * 100, 90, "%"
            )
            record("backfill: HTTP 429 responses", server.status_counts()[429], 0, "429s", better="lower")
            print(
                f"fetch path: {achieved:,.0f} rows/min achieved vs {theoretical:,.0f} rows/min theoretical "
                f"= {achieved / theoretical:.1%}; 429s: {server.status_counts()[429]}; "
                f"{rows:,} rows over {args.windows} windows ({seconds:g} s)"
            )
            if args.store_days and os.environ.get("MONGODB_URL"):
                before = server.status_counts()[429]
                rows, seconds = bench_job(days=args.store_days, server=server)
                print(
                    f"whole job with MongoDB writes: {rows / seconds * 60:,.0f} rows/min ({rows:,} candles in "
                    f"{seconds:.1f} s; bound by the embedded store's write rate); "
                    f"429s: {server.status_counts()[429] - before}"
                )
            elif args.store_days:
                print("whole job: skipped (MONGODB_URL unset; `make bench` starts the embedded server)")


if __name__ == "__main__":
    main()
