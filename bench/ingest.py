"""Ingestion benchmark: replays the hftbacktest BTCUSDT capture through NATS JetStream and prints figures.

    python -m petrosa_dm.testing.services .venv/bin/python bench/ingest.py [--limit 10000]

(the wrapper starts the embedded MongoDB-compatible server and nats-server when MONGODB_URL / NATS_URL are unset)

Figures, all measured in this run, each printed with the load average at that moment:
1. the store's raw bulk-insert rate for the largest series (keys in `_id`, no secondary index, and the write path
   with its indexes), for context;
2. the store's own bulk write of exactly the rows of the end-to-end messages: parsed beforehand in batches of the
   consumer's size, then the write path's operations sent with pymongo's bulk_write, one after another, into the
   same collections with the same indexes. It is the ceiling the consumer is measured against;
3. messages/s through the pipeline (JetStream fetch, parse, group, ack) with the store replaced by a null sink: one
   consumer process, and one per core on the same durable (as replicas scale out; the target is for the machine);
4. messages/s end-to-end into the store (fetch, parse, write, ack), one consumer process and two on the shared
   durable, each as a ratio to 2;
5. publish-to-stored latency p50/p99 with `manage.py replay --rate 1000 --envelope` publishing in another process.
In 3 and 4 the messages are published first and the consumers drain them, so the figure is the consumers'.
"""

import argparse
import asyncio
import contextlib
import gzip
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CAPTURE = PROJECT.parent / "shared/data/binance/ws/captures/hftbacktest_usdm_btcusdt_20240808.gz"
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='bench-ingest-')}/db.sqlite3")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from figures import load_average, record  # noqa: E402  (bench/ is on sys.path)
from pymongo import ASCENDING, InsertOne  # noqa: E402
from pymongo.errors import BulkWriteError  # noqa: E402

from ingestion import store  # noqa: E402
from ingestion.batches import Batch, batch_parse  # noqa: E402
from ingestion.consumer import Consumer, ConsumerOptions, ensure_durable, ensure_stream  # noqa: E402
from ingestion.keys import key_fields, row_id  # noqa: E402
from ingestion.store import WriteResult  # noqa: E402
from petrosa_dm import mongo  # noqa: E402
from petrosa_dm.heap import tune_gc  # noqa: E402
from petrosa_dm.market.timeutils import utcnow  # noqa: E402


def load_capture(limit: int) -> list[bytes]:
    with gzip.open(CAPTURE, "rb") as lines:
        return [line.split(b" ", 1)[1].strip() for _, line in zip(range(limit), lines, strict=False)]


def drop_series(database) -> None:
    for name in database.list_collection_names():
        if name.endswith("BTCUSDT") or name.startswith("bench_") or name == "dead_letters":
            database.drop_collection(name)
    store.forget_indexes()


def _timed_inserts(target, rows: list[dict], batch_size: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(rows), batch_size):
        target.bulk_write([InsertOne(dict(row)) for row in rows[start : start + batch_size]], ordered=False)
    return len(rows) / (time.perf_counter() - started)


def store_raw_rates(payloads: list[bytes], batch_size: int) -> tuple[str, float, float, float]:
    """The largest series' rows (up to 5,000) inserted three ways: keys in `_id` and no index; the old layout
    (ObjectId `_id`, a unique index on the key, the time index); the write path (keys in `_id`, the time index)."""
    batch = batch_parse(payloads=[(payload, "bench") for payload in payloads], ingested_at=utcnow())
    ref, rows = max(batch.rows.items(), key=lambda item: len(item[1]))
    rows = rows[:5000]
    database = mongo.database()
    drop_series(database)
    raw = _timed_inserts(
        database["bench_raw_insert"], [{**row, "_id": row_id(ref.data_type, row)} for row in rows], batch_size
    )
    old = database["bench_old_layout"]
    store.ensure_indexes(old, ref.data_type)
    old.create_index([(name, ASCENDING) for name in key_fields(ref.data_type)], unique=True)
    old_rate = _timed_inserts(old, rows, batch_size)
    store.collection(ref)  # indexes built before timing
    started = time.perf_counter()
    for start in range(0, len(rows), batch_size):
        store.write_rows(ref, [dict(row) for row in rows[start : start + batch_size]])
    indexed = len(rows) / (time.perf_counter() - started)
    drop_series(database)
    return ref.collection, raw, old_rate, indexed


def store_own_rate(payloads: list[bytes], batch_size: int) -> tuple[float, float, int]:
    """The store's own bulk write of the rows these messages become (figure 2); returns (msg/s, docs/s, rows)."""
    database = mongo.database()
    drop_series(database)
    writes = []
    rows = 0
    for start in range(0, len(payloads), batch_size):
        chunk = [(payload, "bench") for payload in payloads[start : start + batch_size]]
        batch = batch_parse(payloads=chunk, ingested_at=utcnow())
        rows += batch.row_count
        # Collections and their indexes are made before timing, as a running consumer finds them.
        for ref, series in batch.rows.items():
            writes.append((store.collection(ref), store.bulk_operations(ref.data_type, series)))
    started = time.perf_counter()
    for target, operations in writes:
        # A duplicate (a late candle update) is an error the consumer's write meets too: same work for the store.
        with contextlib.suppress(BulkWriteError):
            target.bulk_write(operations, ordered=False)
    elapsed = time.perf_counter() - started
    drop_series(database)
    return len(payloads) / elapsed, rows / elapsed, rows


def bench_options(batch_size: int, linger_ms: float) -> ConsumerOptions:
    name = uuid.uuid4().hex[:10]
    return ConsumerOptions.from_settings(
        subject=f"bench.{name}.ws",
        stream=f"BENCH_{name}",
        durable=f"bench-{name}",
        batch_size=batch_size,
        linger=linger_ms / 1000,
    )


async def prepare(options: ConsumerOptions, payloads: list[bytes]) -> float:
    """Bind the stream and durable and publish the payloads (core NATS); returns the publish rate."""
    import nats

    nc = await nats.connect(options.nats_url)
    js = nc.jetstream()
    stream = await ensure_stream(js, options)
    await ensure_durable(js, stream, options)
    started = time.perf_counter()
    for payload in payloads:
        await nc.publish(options.subject, payload)
    await nc.flush()
    rate = len(payloads) / (time.perf_counter() - started)
    while (await js.stream_info(stream)).state.messages < len(payloads):
        await asyncio.sleep(0.05)
    await nc.close()
    return rate


async def delete_stream(options: ConsumerOptions) -> None:
    import nats

    nc = await nats.connect(options.nats_url)
    await nc.jetstream().delete_stream(options.stream)
    await nc.close()


async def drain(
    options: ConsumerOptions, expected: int, *, null_sink: bool, steady: bool = False, on_consumer=None
) -> float:
    """Run a consumer until `expected` messages went through its sink; returns messages/s.

    `steady` counts from the end of the first batch: the consumer's start (connecting, binding the durable, the
    first fetch) is left out, as the store's own rate leaves out making its collections. `on_consumer` receives the
    consumer (bench/books.py reads the book keeper's figures afterwards)."""
    seen = 0
    first: tuple[float, int] | None = None
    done = asyncio.Event()
    consumer = Consumer(options)
    if on_consumer is not None:
        on_consumer(consumer)

    async def sink(batch: Batch) -> WriteResult:
        nonlocal seen, first
        result = WriteResult(inserted=batch.row_count) if null_sink else await consumer.store_batch(batch)
        seen += batch.messages
        if first is None:
            first = (time.perf_counter(), seen)
        if seen >= expected:
            done.set()
        return result

    consumer.sink = sink
    started = time.perf_counter()
    running = asyncio.create_task(consumer.run())
    await done.wait()
    if consumer.books is not None:  # end-to-end includes the book keeper catching up with the last batches
        await asyncio.to_thread(consumer.books.close)
    ended = time.perf_counter()
    consumer.stop()
    await running
    if steady and first is not None and seen > first[1]:
        return (seen - first[1]) / (ended - first[0])
    return expected / (ended - started)


def _replica(options: ConsumerOptions, ready, go, counter, expected: int, null_sink: bool) -> None:
    """One consumer process (run in a child); stops once all replicas together saw `expected`."""
    tune_gc()
    asyncio.run(_replica_run(options, ready, go, counter, expected, null_sink))


async def _replica_run(options, ready, go, counter, expected: int, null_sink: bool) -> None:
    consumer = Consumer(options)

    async def sink(batch: Batch) -> WriteResult:
        result = WriteResult(inserted=batch.row_count) if null_sink else await consumer.store_batch(batch)
        with counter.get_lock():
            counter.value += batch.messages
        return result

    consumer.sink = sink
    ready.set()
    await asyncio.to_thread(go.wait)
    running = asyncio.create_task(consumer.run())
    while counter.value < expected:
        await asyncio.sleep(0.01)
    consumer.stop()
    await running


async def drain_replicas(
    options: ConsumerOptions, expected: int, replicas: int, *, null_sink: bool = True, steady: bool = False
) -> float:
    """`replicas` consumer processes on the one durable, as a scaled-out deployment runs; returns messages/s
    (`steady`: from the first stored batch on, as in `drain`)."""
    context = multiprocessing.get_context("spawn")
    go, counter = context.Event(), context.Value("q", 0)
    readies = [context.Event() for _ in range(replicas)]
    processes = [
        context.Process(target=_replica, args=(options, ready, go, counter, expected, null_sink)) for ready in readies
    ]
    for process in processes:
        process.start()
    for ready in readies:
        await asyncio.to_thread(ready.wait)
    started = time.perf_counter()
    go.set()
    first: tuple[float, int] | None = None
    while (count := counter.value) < expected:
        if first is None and count:
            first = (time.perf_counter(), count)
        await asyncio.sleep(0.005)
    ended = time.perf_counter()
    for process in processes:
        await asyncio.to_thread(process.join)
    if steady and first is not None:
        return (count - first[1]) / (ended - first[0])
    return expected / (ended - started)


async def latency(options: ConsumerOptions, seconds: float, rate: int) -> tuple[list[float], float]:
    """Publish at `rate` msg/s from another process for `seconds`; publish-to-stored seconds of each message."""
    lags: list[float] = []
    seen = 0
    consumer = Consumer(options)

    async def sink(batch: Batch) -> WriteResult:
        nonlocal seen
        result = await consumer.store_batch(batch)
        now = utcnow()
        lags.extend((now - published_at).total_seconds() for published_at in batch.published_at)
        seen += batch.messages
        return result

    consumer.sink = sink
    await prepare(options, [])
    running = asyncio.create_task(consumer.run())
    count = int(seconds * rate)
    command = [sys.executable, "manage.py", "replay", str(CAPTURE), "--rate", str(rate), "--envelope"]
    command += ["--limit", str(count), "--subject", options.subject, "--nats-url", options.nats_url]
    started = time.perf_counter()
    publisher = await asyncio.create_subprocess_exec(*command, cwd=PROJECT, stdout=subprocess.DEVNULL)
    await publisher.wait()
    while seen < count and time.perf_counter() - started < seconds * 4 + 30:
        await asyncio.sleep(0.05)
    consumed_rate = seen / (time.perf_counter() - started)
    consumer.stop()
    await running
    return sorted(lags), consumed_rate


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else float("nan")


async def main(arguments: argparse.Namespace) -> None:
    database = mongo.database()
    pipeline_count = arguments.pipeline_messages
    payloads = load_capture(max(arguments.limit, pipeline_count))
    print(f"capture: {CAPTURE.name}, {len(payloads)} messages loaded; batch size {arguments.batch_size}")

    name, raw, old, indexed = await asyncio.to_thread(store_raw_rates, payloads, arguments.batch_size)
    print(f"store raw bulk insert, keys in _id, no index:   {raw:9,.0f} docs/s   ({name} rows)")
    print(f"old layout (ObjectId, unique key + time index): {old:9,.0f} docs/s")
    print(f"store write path (keys in _id + time index):    {indexed:9,.0f} docs/s")
    record(
        f"ingest: (context) the store's write path, {name} rows",
        indexed,
        5_000,
        "docs/s",
        reference=("the old layout (ObjectId _id + unique key index)", old),
    )

    options = bench_options(arguments.batch_size, arguments.linger_ms)
    publish_rate = await prepare(options, payloads[:pipeline_count])
    single = await drain(options, pipeline_count, null_sink=True)
    await delete_stream(options)
    print(f"publish (core NATS, one process):               {publish_rate:9,.0f} msg/s")
    print(f"pipeline, null sink, 1 process ({pipeline_count:,} msgs): {single:9,.0f} msg/s")
    record(
        "ingest: (context) pipeline with a null sink, 1 process",
        single,
        50_000,
        "msg/s",
        reference=("the publisher", publish_rate),
    )

    replicas = arguments.replicas or os.cpu_count() or 1
    options = bench_options(arguments.batch_size, arguments.linger_ms)
    await prepare(options, payloads[:pipeline_count])
    rate = await drain_replicas(options, pipeline_count, replicas)
    await delete_stream(options)
    print(f"pipeline, null sink, {replicas} processes:             {rate:9,.0f} msg/s   (target >= 50,000)")
    record(f"ingest: pipeline with a null sink, {replicas} processes", rate, 50_000, "msg/s")

    # The store's own rate is measured just before and just after the end-to-end runs, and their mean is the
    # reference: on a shared machine the load moves between minutes, and this keeps both sides in the same minutes.
    count = arguments.limit
    end_to_end = payloads[:count]
    before = await asyncio.to_thread(store_own_rate, end_to_end, arguments.batch_size)
    options = bench_options(arguments.batch_size, arguments.linger_ms)
    await prepare(options, end_to_end)
    single = await drain(options, count, null_sink=False, steady=True)
    single_load = load_average()
    await delete_stream(options)
    stored = sum(database[name].estimated_document_count() for name in database.list_collection_names())
    drop_series(database)
    options = bench_options(arguments.batch_size, arguments.linger_ms)
    await prepare(options, end_to_end)
    double = await drain_replicas(options, count, 2, null_sink=False, steady=True)
    double_load = load_average()
    await delete_stream(options)
    drop_series(database)
    after = await asyncio.to_thread(store_own_rate, end_to_end, arguments.batch_size)
    own_rate, own_docs = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    print(
        f"store's own bulk write of the same {before[2]:,} rows ({count:,} msgs): {before[0]:,.0f} then "
        f"{after[0]:,.0f} msg/s ({own_docs:,.0f} docs/s)"
    )
    print(f"  rows stored end to end: {stored:,}")
    reference = ("the store's own bulk write of the same rows", own_rate)
    record(
        f"ingest: end-to-end, 1 consumer ({count:,} msgs)",
        single,
        5_000,
        "msg/s",
        reference=reference,
        load=single_load,
    )
    record(
        f"ingest: end-to-end, 2 consumer processes ({count:,} msgs)",
        double,
        5_000,
        "msg/s",
        reference=reference,
        load=double_load,
    )
    record("ingest: (context) the store's own bulk write of the same rows", own_docs, 10_000, "docs/s")

    drop_series(database)
    options = bench_options(arguments.batch_size, arguments.linger_ms)
    lags, consumed = await latency(options, arguments.latency_seconds, 1000)
    await delete_stream(options)
    drop_series(database)
    print(
        f"publish-to-stored at 1,000 msg/s ({len(lags):,} msgs, consumed {consumed:,.0f} msg/s): "
        f"p50 {percentile(lags, 0.5) * 1000:.0f} ms, p99 {percentile(lags, 0.99) * 1000:.0f} ms"
        "   (target p99 <= 200 ms)"
    )
    record("ingest: p99 publish-to-stored at 1,000 msg/s", percentile(lags, 0.99) * 1000, 200, "ms", better="lower")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=10_000, help="messages for the end-to-end run")
    parser.add_argument("--pipeline-messages", type=int, default=90_000, help="messages for the null-sink runs")
    parser.add_argument("--latency-seconds", type=float, default=15, help="length of the 1,000 msg/s latency run")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--replicas", type=int, default=0, help="consumer processes for the pipeline (0: one per core)")
    parser.add_argument("--linger-ms", type=float, default=20)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    tune_gc()  # as `manage.py consume` does
    asyncio.run(main(args))
