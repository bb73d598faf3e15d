"""`manage.py migrate_store` moves a store written the old way (ObjectId `_id` + a unique index on the key) to keys
in `_id`, keeping every row's values, and a second run changes nothing."""

import io
from datetime import timedelta

import pytest
from bson import Decimal128, ObjectId
from django.core.management import call_command
from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.errors import BulkWriteError

from audits.scan import duplicates
from ingestion import store
from ingestion.keys import keyed_collection, row_id, trade_key
from petrosa_dm.market.naming import DataType, series

from .rows import T0, candle_row, depth_row, funding_row, grid, trade_row

CANDLES = series(DataType.CANDLES, "BTCUSDT", interval="1h")
FOREIGN = series(DataType.CANDLES, "ETHUSDT", interval="1h")  # another tool's: no unique index, real duplicates
TRADES = series(DataType.TRADES, "BTCUSDT")
DEPTH = series(DataType.DEPTH, "BTCUSDT")
FUNDING = series(DataType.FUNDING_RATES, "BTCUSDT")
LIQUIDATIONS = series(DataType.LIQUIDATIONS, "BTCUSDT")

# The write path before keys moved into `_id`: its indexes, per collection.
OLD_INDEXES = {
    CANDLES: [IndexModel([("open_time", ASCENDING)], unique=True)],
    TRADES: [IndexModel([("kind", ASCENDING), ("trade_id", ASCENDING)], unique=True), IndexModel("trade_time")],
    DEPTH: [IndexModel([("final_update_id", ASCENDING)], unique=True), IndexModel("event_time")],
    FUNDING: [IndexModel([("funding_time", ASCENDING)], unique=True)],
    LIQUIDATIONS: [IndexModel([("event_time", ASCENDING), ("side", ASCENDING), ("price", ASCENDING)], unique=True)],
}


def _old_insert(database, ref, rows):
    """The old insert-only write: ObjectId `_id`s, duplicates rejected by the unique index."""
    try:
        database[ref.collection].insert_many([dict(row) for row in rows], ordered=False)
    except BulkWriteError as exc:
        if any(error["code"] != 11000 for error in exc.details["writeErrors"]):
            raise


def _old_upsert(database, ref, rows, key):
    """The old versioned write: upsert on the key fields, the newer event wins, ObjectId `_id` on insert."""
    operations = [
        UpdateOne({key: row[key], "event_time": {"$lt": row["event_time"]}}, {"$set": row}, upsert=True) for row in rows
    ]
    try:
        database[ref.collection].bulk_write(operations, ordered=False)
    except BulkWriteError as exc:
        if any(error["code"] != 11000 for error in exc.details["writeErrors"]):
            raise


def _liquidation(second: int, side: str, price: str) -> dict:
    moment = T0 + timedelta(seconds=second)
    return {
        "symbol": "BTCUSDT",
        "event_time": moment,
        "side": side,
        "order_type": "LIMIT",
        "price": Decimal128(price),
        "quantity": Decimal128("0.010"),
        "trade_time": moment,
        "source": "stream",
        "ingested_at": moment,
    }


def load_old_store(database) -> None:
    for ref, indexes in OLD_INDEXES.items():
        database[ref.collection].create_indexes(indexes)
    hours = grid(T0, 48)
    kept_hours = [moment for index, moment in enumerate(hours) if index not in (10, 11, 30)]  # gaps
    _old_upsert(database, CANDLES, [candle_row(moment) for moment in kept_hours], "open_time")
    _old_upsert(database, CANDLES, [candle_row(moment) for moment in kept_hours[:5]], "open_time")  # redelivered
    # The open candle, updated in place: an older update arriving late loses to the newer one.
    open_candle = candle_row(hours[-1] + timedelta(hours=1), close="61990.00")
    open_candle |= {"closed": False, "event_time": open_candle["open_time"] + timedelta(minutes=20)}
    late = {
        **open_candle,
        "close": Decimal128("61900.00"),
        "event_time": open_candle["event_time"] - timedelta(minutes=5),
    }
    _old_upsert(database, CANDLES, [open_candle], "open_time")
    _old_upsert(database, CANDLES, [late], "open_time")

    trades = [trade_row(trade_id) for trade_id in range(1, 121) if not 40 <= trade_id <= 45]  # a sequence gap
    _old_insert(database, TRADES, trades)
    _old_insert(database, TRADES, trades[:30])  # redelivered
    _old_insert(database, TRADES, [trade_row(trade_id, kind="trade", price="61801.00") for trade_id in range(1, 11)])

    depth = [depth_row(10 * index, prev=10 * index - 10) for index in range(1, 31) if index != 17]
    _old_insert(database, DEPTH, depth + depth[:3])
    funding = [funding_row(T0 + timedelta(hours=8 * index)) for index in range(9) if index != 4]
    _old_upsert(database, FUNDING, funding, "funding_time")
    _old_insert(database, LIQUIDATIONS, [_liquidation(1, "BUY", "61800.1"), _liquidation(1, "SELL", "61800.1")])
    _old_insert(database, LIQUIDATIONS, [_liquidation(1, "BUY", "61800.1"), _liquidation(2, "BUY", "61800.1")])

    # Another tool's collection: no unique index, so duplicate rows (an older and a newer version) were stored.
    foreign = [candle_row(moment, symbol="ETHUSDT") for moment in hours[:12]]
    newer = {**foreign[3], "close": Decimal128("2650.55"), "event_time": foreign[3]["event_time"] + timedelta(1)}
    database[FOREIGN.collection].insert_many([*foreign, dict(foreign[5]), newer])


def snapshot(database) -> dict[str, list[dict]]:
    return {name: list(database[name].find({}).sort("_id")) for name in sorted(database.list_collection_names())}


def expected_rows(before: dict[str, list[dict]]) -> dict[str, dict]:
    """Per collection, each key's row without `_id`: the only row of its key, or among several (another tool's
    duplicates) the newest version of a versioned type."""
    expected = {}
    for ref in (CANDLES, FOREIGN, TRADES, DEPTH, FUNDING, LIQUIDATIONS):
        by_key: dict = {}
        for row in before[ref.collection]:
            row = {name: value for name, value in row.items() if name != "_id"}
            key = repr(row_id(ref.data_type, row))
            kept = by_key.get(key)
            if kept is None or (ref.data_type is DataType.CANDLES and row["event_time"] > kept["event_time"]):
                by_key[key] = row
        expected[ref.collection] = by_key
    return expected


def migrate(*names: str) -> str:
    out = io.StringIO()
    call_command("migrate_store", *names, "--batch-size", "7", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_old_store_moves_to_keys_in_id_with_every_row_kept(mongo_db):
    load_old_store(mongo_db)
    before = snapshot(mongo_db)
    assert all(isinstance(row["_id"], ObjectId) for rows in before.values() for row in rows)
    assert len(before[CANDLES.collection]) == 46  # 48 hours - 3 gaps + the open candle
    assert duplicates(mongo_db[FOREIGN.collection], DataType.CANDLES, after=None)[0] == 2
    expected = expected_rows(before)

    report = migrate()

    after = snapshot(mongo_db)
    for ref in (CANDLES, FOREIGN, TRADES, DEPTH, FUNDING, LIQUIDATIONS):
        rows = after[ref.collection]
        stored = {repr(row["_id"]): {name: value for name, value in row.items() if name != "_id"} for row in rows}
        assert all(row["_id"] == row_id(ref.data_type, row) for row in rows), ref.collection
        assert stored == expected[ref.collection], ref.collection
        indexes = mongo_db[ref.collection].index_information()
        assert not any(index.get("unique") for name, index in indexes.items() if name != "_id_"), ref.collection
        assert keyed_collection(mongo_db[ref.collection], ref.data_type)
        count_before = len(before[ref.collection])
        merged = count_before - len(rows)
        assert f"{ref.collection}: {count_before} rows before, {len(rows)} after" in report
        assert f"{len(rows)} rewritten to their key, {merged} merged" in report
    assert len(after[FOREIGN.collection]) == 12 and len(before[FOREIGN.collection]) == 14
    newest = mongo_db[FOREIGN.collection].find_one({"_id": before[FOREIGN.collection][3]["open_time"]})
    assert newest["close"] == Decimal128("2650.55")  # the newer of the two versions
    assert duplicates(mongo_db[FOREIGN.collection], DataType.CANDLES, after=None)[0] == 0
    # The open candle kept its newest state, and candles sort by time on `_id`.
    candles = after[CANDLES.collection]
    assert [row["_id"] for row in candles] == sorted(row["open_time"] for row in candles)
    assert not candles[-1]["closed"] and candles[-1]["close"] == Decimal128("61990.00")
    # Both trade kinds survived, each in its own `_id` block.
    trades = after[TRADES.collection]
    assert sum(row["kind"] == "trade" for row in trades) == 10
    assert mongo_db[TRADES.collection].find_one({"_id": trade_key("trade", 3)})["price"] == Decimal128("61801.00")

    # A second run changes nothing: same rows, same `_id`s, same indexes.
    indexes = {name: mongo_db[name].index_information() for name in after}
    second = migrate()
    assert snapshot(mongo_db) == after
    assert {name: mongo_db[name].index_information() for name in after} == indexes
    assert "0 rewritten to their key, 0 merged" in second and ", 0 changed:" in second


def test_the_write_path_after_migration_still_rejects_duplicates_and_keeps_the_newest(mongo_db):
    load_old_store(mongo_db)
    migrate()
    assert store.write_rows(TRADES, [trade_row(5), trade_row(41)]).duplicates == 1
    assert mongo_db[TRADES.collection].count_documents({"trade_id": 41}) == 1
    moment = grid(T0, 48)[-1] + timedelta(hours=1)
    stale = candle_row(moment, close="1.0") | {"event_time": moment}
    assert store.write_rows(CANDLES, [stale]).duplicates == 1
    assert mongo_db[CANDLES.collection].find_one({"_id": moment})["close"] == Decimal128("61990.00")


def test_before_migration_the_write_path_keeps_the_old_collections_correct(mongo_db):
    load_old_store(mongo_db)
    moment = grid(T0, 48)[-1] + timedelta(hours=1)  # the open candle, stored with an ObjectId
    stored = mongo_db[CANDLES.collection].find_one({"open_time": moment})
    newer = candle_row(moment, close="62000.00") | {"closed": False, "event_time": stored["event_time"] + timedelta(1)}
    older = candle_row(moment, close="1.0") | {"closed": False, "event_time": stored["event_time"] - timedelta(1)}
    assert store.write_rows(CANDLES, [newer]).updated == 1  # updated in place, not lost to the old unique index
    assert store.write_rows(CANDLES, [older]).duplicates == 1
    assert store.write_rows(TRADES, [trade_row(5), trade_row(200)]).duplicates == 1
    candle = mongo_db[CANDLES.collection].find_one({"open_time": moment})
    assert candle["_id"] == stored["_id"] and candle["close"] == Decimal128("62000.00")
    assert mongo_db[TRADES.collection].find_one({"trade_id": 200})["_id"] == trade_key("aggTrade", 200)

    migrate()
    assert mongo_db[CANDLES.collection].find_one({"_id": moment})["close"] == Decimal128("62000.00")
    assert mongo_db[TRADES.collection].count_documents({"trade_id": 200}) == 1
    assert not mongo_db[TRADES.collection].find_one({"_id": {"$type": "objectId"}})


def test_an_interrupted_run_resumes_without_losing_or_doubling_rows(mongo_db):
    load_old_store(mongo_db)
    expected = expected_rows(snapshot(mongo_db))[TRADES.collection]
    # As if a run stopped after writing a batch's keyed copies and before deleting the originals.
    collection = mongo_db[TRADES.collection]
    collection.drop_index("kind_1_trade_id_1")
    partial = list(collection.find({}).sort("_id").limit(20))
    collection.insert_many([{**row, "_id": row_id(DataType.TRADES, row)} for row in partial])
    assert collection.count_documents({}) == len(expected) + 20

    report = migrate(TRADES.collection)

    rows = list(collection.find({}))
    assert len(rows) == len(expected)
    assert {repr(row.pop("_id")): row for row in rows} == expected
    assert f"{TRADES.collection}: {len(expected) + 20} rows before, {len(expected)} after" in report


def test_rows_without_their_key_fields_are_kept_untouched(mongo_db):
    mongo_db[TRADES.collection].insert_many([trade_row(1), {"symbol": "BTCUSDT", "note": "no key"}])
    report = migrate()
    assert mongo_db[TRADES.collection].count_documents({}) == 2
    assert mongo_db[TRADES.collection].find_one({"note": "no key"})["_id"].__class__ is ObjectId
    assert "1 kept without a key" in report


def test_an_unknown_collection_name_is_an_error(mongo_db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not time-series collections"):
        migrate("candles_NOPE_1h")
