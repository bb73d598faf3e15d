from datetime import UTC, datetime, timedelta

from bson import Decimal128

from ingestion import store
from petrosa_dm.market.naming import series

T0 = datetime(2024, 8, 8, tzinfo=UTC)


def trade(trade_id: int, price: str = "61800.30") -> dict:
    return {
        "symbol": "BTCUSDT",
        "kind": "aggTrade",
        "trade_id": trade_id,
        "price": Decimal128(price),
        "quantity": Decimal128("0.010"),
        "trade_time": T0 + timedelta(milliseconds=trade_id),
        "event_time": T0 + timedelta(milliseconds=trade_id),
        "is_buyer_maker": False,
        "source": "stream",
        "ingested_at": T0,
    }


def candle(close: str, event_ms: int) -> dict:
    return {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "open_time": T0,
        "close_time": T0 + timedelta(seconds=59.999),
        "open": Decimal128("1.00"),
        "high": Decimal128("2.00"),
        "low": Decimal128("0.50"),
        "close": Decimal128(close),
        "volume": Decimal128("10"),
        "closed": False,
        "event_time": T0 + timedelta(milliseconds=event_ms),
        "source": "stream",
        "ingested_at": T0,
    }


def test_rewriting_trades_counts_duplicates_and_stores_each_once(mongo_db):
    ref = series("trades", "BTCUSDT")
    first = store.write_rows(ref, [trade(i) for i in range(10)])
    again = store.write_rows(ref, [trade(i) for i in range(5, 15)])
    assert (first.inserted, first.duplicates) == (10, 0)
    assert (again.inserted, again.duplicates) == (5, 5)
    assert mongo_db["trades_BTCUSDT"].count_documents({}) == 15


def test_prices_keep_the_exchanges_exact_text(mongo_db):
    store.write_rows(series("trades", "BTCUSDT"), [trade(1, price="61800.30")])
    stored = mongo_db["trades_BTCUSDT"].find_one({"trade_id": 1})
    assert str(stored["price"]) == "61800.30"


def test_an_older_candle_update_never_overwrites_a_newer_one(mongo_db):
    ref = series("candles", "BTCUSDT", interval="1m")
    assert store.write_rows(ref, [candle("1.50", event_ms=2000)]).inserted == 1
    late = store.write_rows(ref, [candle("1.10", event_ms=1000)])
    assert late.duplicates == 1
    newer = store.write_rows(ref, [candle("1.70", event_ms=3000)])
    assert newer.updated == 1
    stored = list(mongo_db["candles_BTCUSDT_1m"].find())
    assert len(stored) == 1
    assert str(stored[0]["close"]) == "1.70"


def test_out_of_order_updates_in_one_batch_leave_the_newest(mongo_db):
    ref = series("candles", "BTCUSDT", interval="1m")
    store.write_rows(ref, [candle("1.70", event_ms=3000), candle("1.10", event_ms=1000), candle("1.50", event_ms=2000)])
    stored = list(mongo_db["candles_BTCUSDT_1m"].find())
    assert [str(doc["close"]) for doc in stored] == ["1.70"]
