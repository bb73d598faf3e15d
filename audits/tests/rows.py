"""Small builders of stored rows, shaped like ingestion/documents.py, for the auditor's tests."""

from datetime import UTC, datetime, timedelta

from bson.decimal128 import Decimal128

from ingestion import store
from petrosa_dm.market.intervals import next_open_time
from petrosa_dm.market.naming import DataType, series

BASE = datetime(2024, 3, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


def candle(open_time: datetime, interval: str = "1m", *, close: str = "100.0", **overrides) -> dict:
    row = {
        "symbol": "BTCUSDT",
        "interval": interval,
        "open_time": open_time,
        "close_time": next_open_time(open_time, interval) - ONE_MS,
        "open": Decimal128("100.0"),
        "high": Decimal128("101.0"),
        "low": Decimal128("99.0"),
        "close": Decimal128(close),
        "volume": Decimal128("5.5"),
        "quote_volume": Decimal128("550.0"),
        "trades": 12,
        "taker_buy_volume": Decimal128("2.0"),
        "taker_buy_quote_volume": Decimal128("200.0"),
        "closed": True,
        "event_time": next_open_time(open_time, interval),
        "source": "rest",
        "ingested_at": BASE,
    }
    row.update(overrides)
    return row


def write_candles(open_times: list[datetime], interval: str = "1m", symbol: str = "BTCUSDT", **overrides):
    ref = series(DataType.CANDLES, symbol, interval=interval)
    store.write_rows(ref, [candle(moment, interval, **overrides) for moment in open_times])
    return ref


def minutes(count: int, start: datetime = BASE) -> list[datetime]:
    return [start + timedelta(minutes=index) for index in range(count)]


def agg_trade(trade_id: int, *, symbol: str = "BTCUSDT") -> dict:
    """aggTrade `trade_id` aggregating raw trades 10*id .. 10*id+9, one per 100 ms."""
    moment = BASE + timedelta(milliseconds=100 * trade_id)
    return {
        "symbol": symbol,
        "kind": "aggTrade",
        "trade_id": trade_id,
        "first_trade_id": 10 * trade_id,
        "last_trade_id": 10 * trade_id + 9,
        "price": Decimal128("100.5"),
        "quantity": Decimal128("0.01"),
        "trade_time": moment,
        "event_time": moment,
        "is_buyer_maker": False,
        "source": "stream",
        "ingested_at": moment,
    }


def depth_update(index: int, *, symbol: str = "BTCUSDT") -> dict:
    """Diff update number `index`: ids U..u = 100*index+1 .. 100*index+100, pu = 100*index."""
    moment = BASE + timedelta(milliseconds=100 * index)
    return {
        "symbol": symbol,
        "kind": "diff",
        "first_update_id": 100 * index + 1,
        "final_update_id": 100 * index + 100,
        "prev_final_update_id": 100 * index,
        "transaction_time": moment,
        "event_time": moment,
        "bids": [["100.0", "1.0"]],
        "asks": [["100.5", "2.0"]],
        "source": "stream",
        "ingested_at": moment,
    }


def funding(funding_time: datetime, *, symbol: str = "BTCUSDT", rate: str = "0.0001") -> dict:
    return {
        "symbol": symbol,
        "funding_time": funding_time,
        "funding_rate": Decimal128(rate),
        "event_time": funding_time,
        "source": "rest",
        "ingested_at": funding_time,
    }
