"""Keys in `_id`: one owner (`ingestion.keys`) for every writer, compact and sortable, and recognised on read."""

import json
from datetime import timedelta

from bson import ObjectId

from audits.scan import duplicates
from backfills.rows import agg_trade_rows, candle_rows
from ingestion import store
from ingestion.batches import batch_parse
from ingestion.keys import TRADE_ID_SPAN, keyed_collection, row_id, trade_key, trade_key_range
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import utcnow

from .rows import T0, candle_row, trade_row
from .samples import AGG_TRADE, KLINE

TRADES = series(DataType.TRADES, "BTCUSDT")


def test_trade_ids_sort_within_their_kind_and_never_meet_the_other_kind():
    agg = [trade_key("aggTrade", trade_id) for trade_id in (0, 1, 7, 5_000_000_000)]
    raw = [trade_key("trade", trade_id) for trade_id in (0, 1, 7, 5_000_000_000)]
    assert agg == sorted(agg) and raw == sorted(raw)
    assert max(agg) < min(raw)
    bounds = trade_key_range("trade", 1, 7)
    assert [key for key in agg + raw if bounds["$gte"] <= key <= bounds["$lte"]] == raw[1:3]
    # Outside the int64 blocks the key is still unique and deterministic, just not an integer.
    assert trade_key("aggTrade", TRADE_ID_SPAN) == {"kind": "aggTrade", "trade_id": TRADE_ID_SPAN}
    assert trade_key("aggTrade", -1) != trade_key("trade", -1)


def test_stream_and_rest_rows_of_one_trade_and_one_candle_get_the_same_id(mongo_db):
    stream = batch_parse(payloads=[(AGG_TRADE, "s"), (KLINE, "s")], ingested_at=utcnow())
    by_type = {ref.data_type: (ref, rows) for ref, rows in stream.rows.items()}
    (trade_ref, (stream_trade,)), (candle_ref, (stream_candle,)) = by_type[DataType.TRADES], by_type[DataType.CANDLES]
    event = json.loads(AGG_TRADE)["data"]
    rest_trade = agg_trade_rows([{key: event[key] for key in "apqflTm"}], symbol="BTCUSDT", now=utcnow())[0]
    kline = json.loads(KLINE)["data"]["k"]
    fields = [kline[key] for key in ("t", "o", "h", "l", "c", "v", "T", "q", "n", "V", "Q")]
    rest_candle = candle_rows([fields], symbol=candle_ref.symbol, interval="1m", now=utcnow())[0]

    assert row_id(DataType.TRADES, stream_trade) == row_id(DataType.TRADES, rest_trade) == event["a"]
    assert row_id(DataType.CANDLES, stream_candle) == row_id(DataType.CANDLES, rest_candle)

    assert store.write_rows(trade_ref, [stream_trade]).inserted == 1
    assert store.write_rows(trade_ref, [rest_trade]).duplicates == 1  # a backfill of a streamed trade adds nothing
    assert [row["_id"] for row in mongo_db[trade_ref.collection].find()] == [event["a"]]


def test_written_rows_carry_their_key_and_the_collection_is_seen_keyed(mongo_db):
    store.write_rows(TRADES, [trade_row(trade_id) for trade_id in range(1, 6)])
    store.write_rows(TRADES, [trade_row(3, kind="trade")])
    ids = sorted(row["_id"] for row in mongo_db[TRADES.collection].find())
    assert ids == [1, 2, 3, 4, 5, TRADE_ID_SPAN + 3]
    assert not any(index.get("unique") for index in mongo_db[TRADES.collection].index_information().values())
    assert keyed_collection(mongo_db[TRADES.collection], DataType.TRADES)
    assert duplicates(mongo_db[TRADES.collection], DataType.TRADES, after=None) == (0, [])


def test_collections_with_object_ids_are_not_keyed_and_their_duplicates_are_found(mongo_db):
    ref = series(DataType.CANDLES, "BTCUSDT", interval="1h")
    rows = [candle_row(T0 + timedelta(hours=hour)) for hour in range(3)]
    mongo_db[ref.collection].insert_many([*rows, {**rows[1], "_id": ObjectId()}])
    assert not keyed_collection(mongo_db[ref.collection], DataType.CANDLES)
    assert duplicates(mongo_db[ref.collection], DataType.CANDLES, after=None)[0] == 1
    # A collection of another tool's own (non-ObjectId) ids is not taken for ours either.
    other = series(DataType.CANDLES, "ETHUSDT", interval="1h")
    mongo_db[other.collection].insert_one({**candle_row(T0, symbol="ETHUSDT"), "_id": "row-1"})
    assert not keyed_collection(mongo_db[other.collection], DataType.CANDLES)


def test_without_time_to_look_for_object_ids_the_newest_row_decides(mongo_db, settings, caplog):
    # The embedded store scans a big collection for the ObjectId range; past MONGODB_TIMEOUT_MS the newest row
    # (keyed here, as in a collection we wrote) decides, and the answer is logged.
    ref = series(DataType.CANDLES, "BTCUSDT", interval="1h")
    store.write_rows(ref, [candle_row(T0 + timedelta(hours=hour)) for hour in range(3)])
    settings.MONGODB_TIMEOUT_MS = 0.001
    assert keyed_collection(mongo_db[ref.collection], DataType.CANDLES)
    assert "taken as keyed" in caplog.text
