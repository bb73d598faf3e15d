"""Order-book benchmark over the recorded hftbacktest BTCUSDT capture (REST snapshot + 6,551 depth@0ms diffs).

    python -m petrosa_dm.testing.services .venv/bin/python bench/books.py [--checkpoints 50,200,1000] [--samples 40]

(the wrapper starts the embedded MongoDB-compatible server and nats-server when MONGODB_URL / NATS_URL are unset;
the REST snapshot is served by the local Binance test server, never the real exchange)

Figures, all measured in this run, interleaved so that load from other processes hits every mode alike:
1. the consumer's end-to-end rate (NATS fetch, parse, store, ack) over the diffs with the book keeper off, and on
   with checkpoints every N updates for each N (the keeper also follows the book and takes the snapshot);
2. per N, the time of a past book (`books.selectors.book_at` at a random moment of the capture) in a fresh process
   cache: checkpoint read + bounded replay;
3. p99 of `GET /data/depth?pair=BTCUSDT&at=<random moment>` through gunicorn for the default N, first with the
   process cache cold and then warm (anchors and replay packs are immutable and cached per process); measured
   first, on a store that has held only the capture once.
"""

import argparse
import asyncio
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parent.parent
CAPTURE = PROJECT.parent / "shared/data/binance/ws/captures/hftbacktest_usdm_btcusdt_20240808.gz"
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='bench-books-')}/db.sqlite3")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from dataclasses import replace  # noqa: E402

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from figures import record  # noqa: E402  (bench/ is on sys.path)
from ingest import bench_options, delete_stream, drain, drop_series, prepare  # noqa: E402

from backfills.testing.binance_server import BinanceTestServer  # noqa: E402
from books import selectors  # noqa: E402
from books import store as books_store  # noqa: E402
from petrosa_dm import mongo  # noqa: E402
from petrosa_dm.market.timeutils import from_ms  # noqa: E402
from petrosa_dm.testing.services import free_port  # noqa: E402

SYMBOL = "BTCUSDT"


def load_capture() -> tuple[list[bytes], dict, list[int]]:
    """(depth messages, the REST snapshot body, event times in ms of the diffs)."""
    diffs, snapshot, times = [], None, []
    with gzip.open(CAPTURE, "rb") as lines:
        for line in lines:
            raw = line.split(b" ", 1)[1].strip()
            if b"depthUpdate" in raw:
                diffs.append(raw)
                times.append(json.loads(raw)["data"]["E"])
            elif b"lastUpdateId" in raw:
                snapshot = json.loads(raw)
    return diffs, snapshot, times


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


NO_CHECKPOINTS = 10**12


def consumer_rate(diffs: list[bytes], *, keep_books: bool, checkpoint_updates: int) -> tuple[float, int]:
    """msg/s of one drain of the diffs into an emptied store; returns (rate, checkpoints written). The keeper
    thread's CPU time is printed (unlike rates, it barely moves with other processes' load), and its wall time."""
    drop_series(mongo.database())
    books_store.forget_indexes()
    settings.BOOKS_CHECKPOINT_UPDATES = checkpoint_updates
    settings.BOOKS_CHECKPOINT_SECONDS = NO_CHECKPOINTS if checkpoint_updates == NO_CHECKPOINTS else 60
    options = replace(bench_options(500, 20), keep_books=keep_books)
    kept: list = []
    asyncio.run(prepare(options, diffs))
    try:
        rate = asyncio.run(drain(options, len(diffs), null_sink=False, on_consumer=kept.append))
    finally:
        asyncio.run(delete_stream(options))
    if kept and kept[0].books is not None:
        keeper = kept[0].books
        print(
            f"    keeper thread CPU {keeper.cpu_seconds:.2f} s; wall time following {keeper.busy_seconds:.2f} s, of "
            f"which cutting and writing checkpoints {keeper.checkpoint_write_seconds:.2f} s (wall time includes "
            f"waiting for the GIL and the store); a {len(diffs) / rate:.2f} s drain",
            flush=True,
        )
    return rate, mongo.database()[f"books_{SYMBOL}"].count_documents({"kind": "checkpoint"})


def book_at_times(moments: list, samples: int) -> list[float]:
    timings = []
    for moment in moments[:samples]:
        selectors.forget_cache()
        started = time.perf_counter()
        found = selectors.book_at(SYMBOL, at=moment)
        timings.append((time.perf_counter() - started) * 1000)
        assert found.state == "exact", (moment, found.state, found.message)
    return timings


def start_server(port: int, checkpoint_updates: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "petrosa_dm.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    environment = {**os.environ, "LOG_LEVEL": "WARNING", "BOOKS_CHECKPOINT_UPDATES": str(checkpoint_updates)}
    server = subprocess.Popen([*command, "--timeout", "300"], cwd=PROJECT, env=environment)
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/health/liveness", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def api_times(port: int, moments: list) -> list[float]:
    session = requests.Session()
    timings = []
    for moment in moments:
        started = time.perf_counter()
        response = session.get(
            f"http://127.0.0.1:{port}/data/depth", params={"pair": SYMBOL, "at": moment.isoformat()}, timeout=120
        )
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        assert response.json()["metadata"]["state"] == "exact"
    return timings


def api_passes(moments: list, checkpoint_updates: int) -> tuple[list[float], list[float]]:
    """Request timings of the moments through a fresh gunicorn worker: first with its process cache cold, then
    warm (the same moments, 1 ms later)."""
    port = free_port()
    server = start_server(port, checkpoint_updates)
    try:
        cold = api_times(port, moments)
        warm = api_times(port, [moment + timedelta(milliseconds=1) for moment in moments])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return cold, warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", default="200,1000", help="checkpoint intervals N (updates) to compare")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every consumer mode")
    parser.add_argument("--samples", type=int, default=40, help="past books timed per N (fresh cache each)")
    parser.add_argument("--requests", type=int, default=200, help="API requests per pass (cold, then warm)")
    args = parser.parse_args()
    intervals = [int(value) for value in args.checkpoints.split(",")]
    default_n = settings.BOOKS_CHECKPOINT_UPDATES
    if default_n not in intervals:
        intervals.append(default_n)
    call_command("migrate", verbosity=0)
    diffs, snapshot, times = load_capture()
    rng = random.Random(18)
    first = snapshot["E"] + 1
    moments = [from_ms(rng.randint(first, times[-1])) for _ in range(max(args.samples, args.requests))]
    print(f"{len(diffs)} diffs, snapshot lastUpdateId {snapshot['lastUpdateId']}", flush=True)

    rates: dict[str, list[float]] = {"off": [], "follow": []} | {f"N={n}": [] for n in intervals}
    past: dict[int, list[float]] = {n: [] for n in intervals}
    with BinanceTestServer(depth_snapshots={SYMBOL: [snapshot]}) as binance:
        settings.BINANCE_FUTURES_BASE_URL = binance.url
        os.environ["BINANCE_FUTURES_BASE_URL"] = binance.url
        # The API figure first, on a store that has held only this capture: the embedded server answers the same
        # reads two to three times slower after the rounds below have dropped and rewritten its collections a
        # dozen times (p99 26-35 ms against 72-78 ms here), which a deployed store never does.
        consumer_rate(diffs, keep_books=True, checkpoint_updates=default_n)
        cold, warm = api_passes(moments[: args.requests], default_n)
        for round_ in range(args.rounds):
            rate, _ = consumer_rate(diffs, keep_books=False, checkpoint_updates=default_n)
            rates["off"].append(rate)
            print(f"round {round_ + 1}: keeper off {rate:,.0f} msg/s", flush=True)
            rate, _ = consumer_rate(diffs, keep_books=True, checkpoint_updates=NO_CHECKPOINTS)
            rates["follow"].append(rate)
            print(f"round {round_ + 1}: keeper on, no checkpoints {rate:,.0f} msg/s", flush=True)
            for n in intervals:
                rate, written = consumer_rate(diffs, keep_books=True, checkpoint_updates=n)
                rates[f"N={n}"].append(rate)
                line = f"round {round_ + 1}: keeper on, N={n}: {rate:,.0f} msg/s, {written} checkpoints"
                if round_ == 0:
                    past[n] = book_at_times(moments, args.samples)
                    line += f", past book p50 {statistics.median(past[n]):.0f} ms p99 {percentile(past[n], 0.99):.0f}"
                print(line, flush=True)

    off = statistics.median(rates["off"])
    print(f"\nconsumer end-to-end, median of {args.rounds} interleaved rounds:")
    follow = statistics.median(rates["follow"])
    print(f"  keeper off      {off:8,.0f} msg/s")
    print(f"  keeper on, no checkpoints {follow:8,.0f} msg/s  cost {100 * (1 - follow / off):5.1f} %")
    for n in intervals:
        on = statistics.median(rates[f"N={n}"])
        print(
            f"  keeper on N={n:<5}{on:8,.0f} msg/s  cost {100 * (1 - on / off):5.1f} % "
            f"(checkpoints alone {100 * (1 - on / follow):5.1f} %)  "
            f"past book (cold) p50 {statistics.median(past[n]):6.0f} ms  p99 {percentile(past[n], 0.99):6.0f} ms"
        )
    on = statistics.median(rates[f"N={default_n}"])
    record(f"books: consumer rate, keeper with checkpoints every {default_n} / keeper off", on / off, 0.90, "x")
    record(
        f"books: consumer rate, keeper with checkpoints every {default_n} / without checkpoints", on / follow, 0.90, "x"
    )

    for label, samples in (("cold", cold), ("warm", warm)):
        print(f"/data/depth?at=random ({label} cache): p50 {statistics.median(samples):.1f} ms  "
              f"p99 {percentile(samples, 0.99):.1f} ms  max {max(samples):.1f} ms")  # fmt: skip
    record(
        "books: p99 of /data/depth?at=<random> (cold process cache)", percentile(cold, 0.99), 50, "ms", better="lower"
    )
    record(
        "books: p99 of /data/depth?at=<random> (warm process cache)", percentile(warm, 0.99), 50, "ms", better="lower"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
