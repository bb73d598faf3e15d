"""Finding 2: one hostile message must not take gigabytes, be parsed twice, or stall ingestion.

Before the fix every rejected event of an array stored the whole message as its own dead letter: 1,000 bad events
in a 544 KB message gave 544 MB of dead letters, and a 1 MB message drove the consumer to 4-6 GB. Here the live
consumer (`manage.py consume` against NATS JetStream and the embedded store) gets a 1 MB message of 1,000 bad
events, then a good message: the good one must be stored within seconds, the consumer's RSS must grow by less than
50 MB, and the dead letters must total less than 2 MB (one dead letter, the payload cut to size).
"""

import asyncio
import json
import time

import bson
import nats
import psutil
import pytest

pytestmark = pytest.mark.timeout(180)

MARK_PRICE = {"e": "markPriceUpdate", "E": 1723161256322, "s": "BTCUSDT", "p": "58940.14924532", "P": "58905.1"}
MARK_PRICE |= {"i": "58857.26693664", "r": "0.00058455", "T": 1723190400000}


def trade(trade_id: int) -> bytes:
    event = {"e": "trade", "E": 1723161256322, "T": 1723161256322, "s": "BTCUSDT", "t": trade_id}
    event |= {"p": "61800.30", "q": "0.006", "m": False}
    return json.dumps({"stream": "btcusdt@trade", "data": event}).encode()


def hostile_message(events: int = 1000, size: int = 1_000_000) -> bytes:
    """An array of `events` mark prices, each with a negative price, padded so the message weighs `size` bytes."""
    pad = size // events - len(json.dumps(MARK_PRICE | {"p": "-1", "pad": ""})) - 2
    payload = json.dumps([MARK_PRICE | {"p": "-1", "pad": "x" * pad} for _ in range(events)]).encode()
    assert 0.95 * size < len(payload) <= size
    return payload


async def publish(url: str, subject: str, payloads: list[bytes]) -> list[int]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        return [(await js.publish(subject, payload)).seq for payload in payloads]
    finally:
        await nc.close()


def wait_for(check, *, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_megabyte_of_a_thousand_bad_events_costs_one_small_dead_letter_and_no_memory(pipeline):
    consumer = pipeline.consumer()
    trades = pipeline.database["trades_BTCUSDT"]
    options = pipeline.options
    asyncio.run(publish(options.nats_url, options.subject, [trade(1)]))
    wait_for(lambda: trades.count_documents({}) == 1, timeout=60, what="the warm-up trade")
    before = psutil.Process(consumer.pid).memory_info().rss

    hostile = hostile_message()
    [hostile_seq, _] = asyncio.run(publish(options.nats_url, options.subject, [hostile, trade(2)]))
    stored_in = wait_for(lambda: trades.count_documents({}) == 2, timeout=15, what="the good message")
    wait_for(lambda: pipeline.state() == (3, 0, 0), timeout=15, what="every message acked")
    growth = (psutil.Process(consumer.pid).memory_info().rss - before) / 1e6

    letters = list(pipeline.database["dead_letters"].find())
    volume = sum(len(bson.encode(letter)) for letter in letters)
    print(f"\n[hostile] 1 MB of 1,000 bad events: RSS +{growth:.1f} MB, dead letters {volume / 1e3:.1f} kB, "
          f"good message stored after {stored_in:.2f} s")  # fmt: skip
    assert consumer.poll() is None, pipeline.consumer_log(0)
    assert growth < 50
    assert volume < 2_000_000
    [letter] = letters
    assert letter["_id"] == f"{options.stream}:{hostile_seq}"
    assert (letter["reason"], letter["rejected_events"], letter["size"]) == ("non_positive_price", 1000, len(hostile))
    assert letter["truncated"] is True and len(letter["raw"]) < len(hostile)
    assert stored_in < 10


def test_the_durable_gives_up_after_max_deliver_and_the_last_delivery_is_dead_lettered(pipeline):
    """With NATS_MAX_DELIVER=1 every delivery is the last: each message is dead-lettered (max_deliver) before it is
    parsed, and its rows are still stored when the attempt succeeds."""
    consumer = pipeline.consumer(NATS_MAX_DELIVER="1")
    options = pipeline.options
    [sequence] = asyncio.run(publish(options.nats_url, options.subject, [trade(7)]))
    wait_for(lambda: pipeline.state() == (1, 0, 0), timeout=60, what="the message acked")
    assert consumer.poll() is None, pipeline.consumer_log(0)
    assert pipeline.database["trades_BTCUSDT"].count_documents({"trade_id": 7}) == 1
    [letter] = pipeline.database["dead_letters"].find()
    assert (letter["_id"], letter["reason"]) == (f"{options.stream}:{sequence}:max_deliver", "max_deliver")

    async def max_deliver() -> int:
        nc = await nats.connect(options.nats_url)
        try:
            return (await nc.jetstream().consumer_info(options.stream, options.durable)).config.max_deliver
        finally:
            await nc.close()

    assert asyncio.run(max_deliver()) == 1  # the existing durable was updated to the configured value
