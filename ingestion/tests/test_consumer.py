import asyncio
import json
from datetime import UTC, datetime

import pytest

from catalog.models import LineageRecord
from ingestion.consumer import Consumer
from ingestion.replay import Capture

from . import samples
from .helpers import bind, consume, consumer_state, publish, stored, wait_all_acked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_event_type_lands_in_its_collection_with_exact_values(jetstream, mongo_db):
    asyncio.run(consume(jetstream, [list(samples.ALL.values())]))

    assert sorted(name for name in mongo_db.list_collection_names()) == [
        "book_tickers_BTCUSDT", "candles_CTKUSDT_1m", "depth_SUSHIUSDT", "funding_rates_BTCUSDT",
        "liquidations_IOTXUSDT", "mark_prices_BTCUSDT", "tickers_ETHUSDT", "trades_BTCUSDT",
    ]  # fmt: skip
    trades = {row["kind"]: row for row in stored(mongo_db, "trades_BTCUSDT")}
    assert trades["aggTrade"]["trade_id"] == 389551486
    assert str(trades["aggTrade"]["price"]) == "58665.00"
    assert str(trades["trade"]["quantity"]) == "0.006"
    assert trades["trade"]["trade_time"] == datetime(2024, 8, 8, 23, 54, 16, 322000, tzinfo=UTC)
    [candle] = stored(mongo_db, "candles_CTKUSDT_1m")
    assert candle["open_time"] == datetime(2021, 7, 22, 22, 25, tzinfo=UTC)
    assert [str(candle[field]) for field in ("open", "high", "low", "close", "volume")] == [
        "1.01000", "1.01100", "1.01000", "1.01100", "3917",
    ]  # fmt: skip
    assert candle["closed"] is False and candle["source"] == "stream"
    [depth] = stored(mongo_db, "depth_SUSHIUSDT")
    assert (depth["first_update_id"], depth["final_update_id"], depth["prev_final_update_id"]) == (
        600859599090, 600859600917, 600859598061,
    )  # fmt: skip
    assert depth["asks"] == [["7.6150", "1563"]]
    [funding] = stored(mongo_db, "funding_rates_BTCUSDT")
    assert (funding["funding_time"], str(funding["funding_rate"])) == (datetime(2021, 4, 2, tzinfo=UTC), "0.00058455")
    [book] = stored(mongo_db, "book_tickers_BTCUSDT")
    assert (book["update_id"], str(book["bid_price"]), str(book["ask_quantity"])) == (
        5123107839020,
        "61800.20",
        "2.510",
    )
    [liquidation] = stored(mongo_db, "liquidations_IOTXUSDT")
    assert (liquidation["side"], str(liquidation["price"])) == ("SELL", "0.06606")
    [ticker] = stored(mongo_db, "tickers_ETHUSDT")
    assert (str(ticker["last_price"]), ticker["trade_count"]) == ("1782.02", 1912297)
    for name in mongo_db.list_collection_names():
        row = mongo_db[name].find_one()
        assert row["ingested_at"].tzinfo is not None and row["event_time"].tzinfo is not None


def test_the_first_data_of_a_dataset_records_its_lineage_once(jetstream, mongo_db):
    asyncio.run(consume(jetstream, [[samples.TRADE], [samples.AGG_TRADE, samples.KLINE]]))

    records = LineageRecord.objects.filter(source_type="nats_subject")
    assert sorted(records.values_list("dataset_id", flat=True)) == ["candles_CTKUSDT_1m", "trades_BTCUSDT"]
    assert {(record.source, record.transformation) for record in records} == {(jetstream.subject, "ingest")}


def test_bad_messages_go_to_dead_letters_with_their_reason_and_are_acked(jetstream, mongo_db):
    bad = [b"not json", b'{"stream":"x","data":{"e":"trade","s":"BTCUSDT"}}', b'{"hello":1}']
    asyncio.run(consume(jetstream, [[bad[0], samples.TRADE, bad[1], bad[2], b'{"e":"somethingNew","E":1}']]))

    letters = sorted(mongo_db["dead_letters"].find({}, {"_id": 0}), key=lambda letter: letter["raw"])
    assert [(letter["raw"], letter["reason"]) for letter in letters] == sorted(
        [(bad[0].decode(), "invalid_json"), (bad[1].decode(), "missing_field"), (bad[2].decode(), "no_event")]
    )
    assert all(letter["subject"] == jetstream.subject and letter["received_at"].tzinfo for letter in letters)
    assert mongo_db["trades_BTCUSDT"].count_documents({}) == 1
    ttl = [index for index in mongo_db["dead_letters"].list_indexes() if "expireAfterSeconds" in index]
    assert [(dict(index["key"]), index["expireAfterSeconds"]) for index in ttl] == [({"received_at": 1}, 604800)]


def kline_update(close: str, event_ms: int, closed: bool = False) -> bytes:
    message = json.loads(samples.KLINE)
    message["data"]["E"] = event_ms
    message["data"]["k"].update({"c": close, "x": closed})
    return json.dumps(message).encode()


def test_an_older_kline_update_delivered_after_a_newer_one_leaves_the_newer_values(jetstream, mongo_db):
    newer = kline_update("1.01300", 1626992759900, closed=True)
    older = kline_update("1.00900", 1626992741424)
    asyncio.run(consume(jetstream, [[newer], [older]]))

    [candle] = stored(mongo_db, "candles_CTKUSDT_1m")
    assert (str(candle["close"]), candle["closed"]) == ("1.01300", True)
    assert candle["event_time"] == datetime(2021, 7, 22, 22, 25, 59, 900000, tzinfo=UTC)


def test_the_consumer_creates_its_stream_and_durable_when_missing(jetstream, mongo_db):
    async def scenario():
        consumer = Consumer(jetstream)
        running = asyncio.create_task(consumer.run())

        async def bound() -> bool:
            try:
                await consumer_state(jetstream)
            except Exception:
                return False
            return True

        await wait_until(bound, timeout=20, what="the stream")
        await publish(jetstream, [samples.BOOK_TICKER])
        await wait_all_acked(jetstream, 1)
        consumer.stop()
        await asyncio.wait_for(running, 30)

    asyncio.run(scenario())
    assert mongo_db["book_tickers_BTCUSDT"].count_documents({}) == 1


def snapshot(database) -> dict[str, list[dict]]:
    return {name: stored(database, name) for name in sorted(database.list_collection_names())}


@pytest.mark.shared_data
def test_replaying_the_cryptofeed_capture_twice_stores_what_once_stores(jetstream, mongo_db, shared_data):
    capture = list(Capture(shared_data / "binance/ws/captures/cryptofeed_BINANCE_FUTURES.ws.1.0.txt").messages())
    assert len(capture) == 1535

    async def scenario():
        await bind(jetstream)
        consumer = Consumer(jetstream)
        running = asyncio.create_task(consumer.run())
        await publish(jetstream, capture)
        await wait_all_acked(jetstream, len(capture))
        once = await asyncio.to_thread(snapshot, mongo_db)
        await publish(jetstream, capture)
        await wait_all_acked(jetstream, 2 * len(capture))
        twice = await asyncio.to_thread(snapshot, mongo_db)
        consumer.stop()
        await asyncio.wait_for(running, 30)
        return once, twice

    once, twice = asyncio.run(scenario())
    assert twice == once
    counts = {name: len(rows) for name, rows in once.items()}
    assert (
        counts["trades_SUSHIUSDT"] + counts["trades_CTKUSDT"] + counts["trades_AKROUSDT"] + counts["trades_KEEPUSDT"]
        == 91
    )
    assert sum(count for name, count in counts.items() if name.startswith("depth_")) == 764
    assert sum(count for name, count in counts.items() if name.startswith("book_tickers_")) == 613
    assert "dead_letters" not in counts
