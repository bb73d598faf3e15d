"""The consumer as it runs in production: `manage.py consume` in its own process, killed and restarted."""

import asyncio
import gzip
import json
import signal
import time
import urllib.request
from collections import Counter

import pymongo
import pytest

from ingestion.parsing import InvalidMessage, parse_message
from ingestion.replay import Capture
from petrosa_dm.market.timeutils import utcnow
from petrosa_dm.testing.services import free_port, mongo_executor

from . import samples
from .helpers import bind, consume, consumer_state, publish, wait_all_acked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CAPTURES = "binance/ws/captures"
# The identity of each stored row: what "stored once" is checked on.
IDENTITY = {
    "trades": ("kind", "trade_id"),
    "depth": ("final_update_id",),
    "candles": ("open_time",),
    "book_tickers": ("update_id",),
}


def book_tickers(count: int) -> list[bytes]:
    event = json.loads(samples.BOOK_TICKER)["data"]
    return [json.dumps(event | {"u": event["u"] + n, "E": event["E"] + n}).encode() for n in range(count)]


def expected_identities(payloads: list[bytes]) -> dict[str, set]:
    expected: dict[str, set] = {}
    for payload in payloads:
        try:
            rows = parse_message(payload, ingested_at=utcnow()).rows
        except InvalidMessage:
            continue
        for ref, row in rows:
            fields = IDENTITY[ref.data_type.value]
            expected.setdefault(ref.collection, set()).add(tuple(row[field] for field in fields))
    return expected


def stored_identities(database) -> dict[str, list]:
    found = {}
    for name in database.list_collection_names():
        data_type = next((t for t in IDENTITY if name.startswith(f"{t}_")), None)
        if data_type:
            fields = IDENTITY[data_type]
            found[name] = [tuple(row[field] for field in fields) for row in database[name].find()]
    return found


def stored_total(database) -> int:
    return sum(database[name].estimated_document_count() for name in database.list_collection_names())


@pytest.mark.shared_data
def test_a_consumer_killed_mid_replay_and_restarted_stores_everything_once(
    jetstream, consumer_process, mongo_db, shared_data
):
    payloads = list(Capture(shared_data / CAPTURES / "cryptofeed_BINANCE_FUTURES.ws.1.0.txt").messages())
    with gzip.open(shared_data / CAPTURES / "hftbacktest_usdm_btcusdt_20240808.gz", "rb") as lines:
        payloads += [line.split(b" ", 1)[1].strip() for _, line in zip(range(4000), lines, strict=False)]
    asyncio.run(bind(jetstream))
    asyncio.run(publish(jetstream, payloads))

    first = consumer_process()
    asyncio.run(wait_until(_stored_at_least(mongo_db, 500), what="the first rows", timeout=90))
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    _messages, pending, ack_pending = asyncio.run(consumer_state(jetstream))
    assert pending + ack_pending > 0, "the kill came after the replay was consumed: nothing was tested"

    second = consumer_process()
    asyncio.run(wait_all_acked(jetstream, len(payloads), timeout=180))
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=30) == 0

    expected = expected_identities(payloads)
    found = stored_identities(mongo_db)
    assert sorted(found) == sorted(expected)
    for collection, identities in expected.items():
        assert len(found[collection]) == len(identities), collection  # nothing doubled
        assert set(found[collection]) == identities, collection  # nothing lost
    assert mongo_db["dead_letters"].count_documents({}) == 1  # the REST depth snapshot line of the capture


def _stored_at_least(database, count: int):
    async def check() -> bool:
        return await asyncio.to_thread(stored_total, database) >= count

    return check


def test_sigterm_finishes_and_acks_the_batch_in_hand_then_exits_zero(jetstream, consumer_process, mongo_db):
    payloads = book_tickers(3000)
    asyncio.run(bind(jetstream))
    asyncio.run(publish(jetstream, payloads))
    process = consumer_process()
    asyncio.run(wait_until(_stored_at_least(mongo_db, 100), what="the first rows", timeout=90))

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0

    _messages, pending, ack_pending = asyncio.run(consumer_state(jetstream))
    assert ack_pending == 0  # every message it was handed is acked (or handed back)
    assert pending > 0, "it should have stopped before the end"
    # Acked means stored: exactly the messages no longer pending are in the store.
    assert mongo_db["book_tickers_BTCUSDT"].count_documents({}) == len(payloads) - pending


def test_metrics_are_served_on_the_metrics_port(jetstream, consumer_process, mongo_db):
    port = free_port()
    asyncio.run(bind(jetstream))
    consumer_process(metrics_port=port)
    published = asyncio.run(publish(jetstream, [samples.TRADE, samples.MARK_PRICE, b"{oops", b'{"e":"newEvent"}']))
    asyncio.run(wait_all_acked(jetstream, published))

    def scrape() -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            lines = response.read().decode().splitlines()
        return {name: float(value) for name, _, value in (line.rpartition(" ") for line in lines if line[:1] != "#")}

    deadline = time.monotonic() + 10
    while (metrics := scrape()).get("data_manager_messages_processed_total", 0) < published:
        assert time.monotonic() < deadline, metrics
        time.sleep(0.2)
    assert metrics["data_manager_messages_received_total"] == 4
    assert metrics['data_manager_messages_failed_total{reason="invalid_json"}'] == 1
    assert metrics["data_manager_messages_ignored_total"] == 1
    assert metrics["data_manager_dead_letters_total"] == 1
    assert metrics['data_manager_rows_written_total{data_type="funding_rates"}'] == 1
    assert metrics["data_manager_nats_connection_status"] == 1
    assert metrics["data_manager_consumer_batch_size_count"] >= 1


def test_while_the_store_is_down_nothing_is_acked_and_everything_is_stored_once_it_is_back(
    jetstream, consumer_process, tmp_path
):
    port = free_port()
    url = f"mongodb://127.0.0.1:{port}/petrosa_dm_store_down"
    asyncio.run(bind(jetstream))
    process = consumer_process(MONGODB_URL=url, MONGODB_TIMEOUT_MS="300")
    payloads = book_tickers(50)
    asyncio.run(publish(jetstream, payloads))

    async def all_delivered_none_acked() -> bool:
        _messages, pending, ack_pending = await consumer_state(jetstream)
        return pending == 0 and ack_pending == len(payloads)

    asyncio.run(wait_until(all_delivered_none_acked, timeout=30, what="delivery without acks"))
    time.sleep(2)  # retries continue; still nothing acked
    assert asyncio.run(consumer_state(jetstream))[1:] == (0, len(payloads))
    assert process.poll() is None

    store = mongo_executor(port).start()
    try:
        asyncio.run(wait_all_acked(jetstream, len(payloads), timeout=90))
        client = pymongo.MongoClient(url)
        assert client.get_default_database()["book_tickers_BTCUSDT"].count_documents({}) == len(payloads)
        client.close()
    finally:
        process.kill()
        store.stop()


MALFORMED = [
    ("invalid_json", lambda n: b'{"e":"trade","E":' + str(n).encode()),
    ("no_event", lambda n: json.dumps({"id": n, "result": None}).encode()),
    ("missing_field", lambda n: json.dumps({"e": "aggTrade", "E": 1626992741575, "s": "CTKUSDT", "a": n}).encode()),
    ("wrong_type", lambda n: json.dumps(json.loads(samples.TRADE)["data"] | {"t": n, "p": 61800.3}).encode()),
    ("non_positive_price", lambda n: json.dumps(json.loads(samples.TRADE)["data"] | {"t": n, "p": "0"}).encode()),
    ("impossible_time", lambda n: json.dumps(json.loads(samples.TRADE)["data"] | {"t": n, "E": n}).encode()),
    ("invalid_name", lambda n: json.dumps(json.loads(samples.TRADE)["data"] | {"t": n, "s": f"B-{n}"}).encode()),
]


@pytest.mark.shared_data
def test_a_thousand_malformed_messages_in_a_replay_are_dead_lettered_and_the_rest_stored(
    jetstream, mongo_db, shared_data
):
    capture = list(Capture(shared_data / CAPTURES / "cryptofeed_BINANCE_FUTURES.ws.1.0.txt").messages())
    malformed = [MALFORMED[n % len(MALFORMED)] for n in range(1000)]
    payloads, malformed_iter = [], iter(enumerate(malformed))
    for index, payload in enumerate(capture):
        payloads.append(payload)
        if index % 3 != 2:
            n, (_reason, make) = next(malformed_iter, (None, (None, None)))
            if make:
                payloads.append(make(n))
    assert len(payloads) == len(capture) + 1000

    asyncio.run(consume(jetstream, [payloads]))  # fails if the consumer stops by itself

    reasons = Counter(letter["reason"] for letter in mongo_db["dead_letters"].find())
    assert reasons == Counter(reason for reason, _ in malformed)
    expected = expected_identities(capture)
    found = stored_identities(mongo_db)
    assert {name: set(rows) for name, rows in found.items()} == expected
