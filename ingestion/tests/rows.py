"""Rows shaped like ingestion.documents, written through ingestion.store.write_rows as the consumer writes them."""

from datetime import UTC, datetime, timedelta

from bson import Decimal128

from ingestion import store
from petrosa_dm.market.intervals import interval_delta, next_open_time
from petrosa_dm.market.naming import series

T0 = datetime(2024, 8, 8, tzinfo=UTC)


def _common(symbol: str, event_time: datetime) -> dict:
    return {"symbol": symbol, "event_time": event_time, "source": "stream", "ingested_at": event_time}


def candle_row(open_time: datetime, *, symbol: str = "BTCUSDT", interval: str = "1h", close: str = "61850.10") -> dict:
    close_time = next_open_time(open_time, interval) - timedelta(milliseconds=1)
    minute = open_time.minute + open_time.hour * 60
    return {
        **_common(symbol, close_time),
        "interval": interval,
        "open_time": open_time,
        "close_time": close_time,
        "open": Decimal128(f"61800.{minute % 100:02d}"),
        "high": Decimal128("61900.50"),
        "low": Decimal128("61700.00"),
        "close": Decimal128(close),
        "volume": Decimal128("123.456"),
        "quote_volume": Decimal128("7630000.1200"),
        "trades": 1200 + minute,
        "taker_buy_volume": Decimal128("60.100"),
        "taker_buy_quote_volume": Decimal128("3712345.10"),
        "first_trade_id": 1000,
        "last_trade_id": 2199,
        "closed": True,
    }


def write_candles(open_times: list[datetime], *, symbol: str = "BTCUSDT", interval: str = "1h") -> None:
    ref = series("candles", symbol, interval=interval)
    for chunk in range(0, len(open_times), 5000):
        store.write_rows(
            ref, [candle_row(t, symbol=symbol, interval=interval) for t in open_times[chunk : chunk + 5000]]
        )


def grid(start: datetime, count: int, interval: str = "1h") -> list[datetime]:
    return [start + i * interval_delta(interval) for i in range(count)]


def trade_row(trade_id: int, *, symbol: str = "BTCUSDT", kind: str = "aggTrade", price: str = "61800.30") -> dict:
    moment = T0 + timedelta(milliseconds=trade_id * 10)
    return {
        **_common(symbol, moment),
        "kind": kind,
        "trade_id": trade_id,
        "price": Decimal128(price),
        "quantity": Decimal128("0.010"),
        "trade_time": moment,
        "is_buyer_maker": trade_id % 2 == 0,
        "first_trade_id": trade_id * 3 if kind == "aggTrade" else None,
        "last_trade_id": trade_id * 3 + 2 if kind == "aggTrade" else None,
    }


def depth_row(final_update_id: int, *, prev: int | None, symbol: str = "BTCUSDT") -> dict:
    moment = T0 + timedelta(milliseconds=final_update_id)
    return {
        **_common(symbol, moment),
        "kind": "diff",
        "first_update_id": (prev or final_update_id - 5) + 1,
        "final_update_id": final_update_id,
        "prev_final_update_id": prev,
        "transaction_time": moment,
        "bids": [["61800.10", "1.500"], ["61800.00", "0.000"]],
        "asks": [["61800.20", "2.250"]],
    }


def funding_row(funding_time: datetime, *, symbol: str = "BTCUSDT", rate: str = "0.00010000") -> dict:
    return {
        **_common(symbol, funding_time - timedelta(seconds=1)),
        "funding_time": funding_time,
        "funding_rate": Decimal128(rate),
        "mark_price": Decimal128("61810.12345678"),
    }


def mark_price_row(event_time: datetime, *, symbol: str = "BTCUSDT") -> dict:
    return {
        **_common(symbol, event_time),
        "mark_price": Decimal128("61810.12345678"),
        "index_price": Decimal128("61805.00000000"),
        "estimated_settle_price": Decimal128("61806.50000000"),
        "funding_rate": Decimal128("0.00010000"),
        "next_funding_time": T0 + timedelta(hours=8),
    }


def ticker_row(event_time: datetime, *, symbol: str = "BTCUSDT") -> dict:
    return {
        **_common(symbol, event_time),
        "price_change": Decimal128("-120.40"),
        "price_change_percent": Decimal128("-0.194"),
        "weighted_avg_price": Decimal128("61900.11"),
        "last_price": Decimal128("61800.30"),
        "last_quantity": Decimal128("0.002"),
        "open_price": Decimal128("61920.70"),
        "high_price": Decimal128("62500.00"),
        "low_price": Decimal128("61000.00"),
        "volume": Decimal128("150000.123"),
        "quote_volume": Decimal128("9300000000.55"),
        "open_time": event_time - timedelta(days=1),
        "close_time": event_time,
        "first_trade_id": 1,
        "last_trade_id": 99,
        "trade_count": 99,
    }
