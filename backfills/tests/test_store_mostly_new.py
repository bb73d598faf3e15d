"""`write_rows(..., mostly_new=True)`, the backfiller's insert-first path, keeps write_rows' outcome exactly."""

from datetime import UTC, datetime, timedelta

from bson.decimal128 import Decimal128

from ingestion.store import collection, write_rows
from petrosa_dm.market.naming import series

REF = series("candles", "BTCUSDT", interval="1m")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _candle(minute: int, close: str, event_delay_ms: int) -> dict:
    open_time = T0 + timedelta(minutes=minute)
    close_time = open_time + timedelta(seconds=59, milliseconds=999)
    price = Decimal128(close)
    return {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "open_time": open_time,
        "close_time": close_time,
        "open": price,
        "high": price,
        "low": price,
        "close": price,
        "volume": Decimal128("1"),
        "closed": True,
        "event_time": close_time + timedelta(milliseconds=event_delay_ms),
        "source": "rest",
        "ingested_at": T0,
    }


def test_new_rows_are_inserted_and_existing_ones_follow_the_newer_wins_rule(mongo_db):
    write_rows(REF, [_candle(0, "1.0", 5), _candle(1, "1.0", 1)])
    result = write_rows(REF, [_candle(0, "2.0", 1), _candle(1, "2.0", 5), _candle(2, "2.0", 1)], mostly_new=True)
    assert (result.inserted, result.updated, result.duplicates) == (1, 1, 1)
    stored = {row["open_time"].minute: str(row["close"]) for row in collection(REF).find()}
    assert stored == {0: "1.0", 1: "2.0", 2: "2.0"}  # minute 0 kept its newer version


def test_rewriting_the_same_rows_is_all_duplicates(mongo_db):
    rows = [_candle(minute, "1.0", 1) for minute in range(5)]
    assert write_rows(REF, rows, mostly_new=True).inserted == 5
    again = write_rows(REF, rows, mostly_new=True)
    assert (again.inserted, again.updated, again.duplicates) == (0, 0, 5)
    assert collection(REF).count_documents({}) == 5
    assert all("_id" not in row for row in rows)  # the caller's rows are not mutated
