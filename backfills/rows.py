"""Binance REST bodies -> stored rows, in the shapes of `ingestion.documents` (same fields and keys as the stream).

Any deviation from the documented shape raises (ValueError, KeyError, TypeError, IndexError or a DecimalException);
the client treats that as a malformed body and retries.
"""

from datetime import datetime, timedelta

from bson.decimal128 import Decimal128

from ingestion.parsing.decimals import to_decimal128
from petrosa_dm.market.timeutils import from_ms

SOURCE = "rest"
ONE_MS = timedelta(milliseconds=1)


def _decimal(value: object) -> Decimal128:
    """The exchange's decimal string, kept exactly (the ingestion parser's fast exact encoder)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a decimal string, got {value!r}")
    return to_decimal128(value)[0]


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _array(payload: object) -> list:
    if not isinstance(payload, list):
        raise TypeError(f"expected a JSON array, got {type(payload).__name__}")
    return payload


def candle_rows(payload: object, *, symbol: str, interval: str, now: datetime) -> list[dict]:
    """Klines (arrays of 12 fields). A closed candle's event time is its close time + 1 ms: a rerun is a
    duplicate and the stream's final candle (a later event time) is never overwritten. The still-open candle
    is stamped `now` and `closed=False`, like a stream update."""
    rows = []
    for kline in _array(payload):
        if not isinstance(kline, list) or len(kline) < 11:
            raise ValueError(f"expected a kline array of 12 fields, got {kline!r}")
        close_time = from_ms(_int(kline[6]))
        closed = close_time < now
        rows.append(
            {
                "symbol": symbol,
                "interval": interval,
                "open_time": from_ms(_int(kline[0])),
                "close_time": close_time,
                "open": _decimal(kline[1]),
                "high": _decimal(kline[2]),
                "low": _decimal(kline[3]),
                "close": _decimal(kline[4]),
                "volume": _decimal(kline[5]),
                "quote_volume": _decimal(kline[7]),
                "trades": _int(kline[8]),
                "taker_buy_volume": _decimal(kline[9]),
                "taker_buy_quote_volume": _decimal(kline[10]),
                "closed": closed,
                "event_time": close_time + ONE_MS if closed else now,
                "source": SOURCE,
                "ingested_at": now,
            }
        )
    return rows


def funding_rows(payload: object, *, symbol: str, now: datetime) -> list[dict]:
    """Settled funding rates; the event time is the funding time."""
    rows = []
    for item in _array(payload):
        funding_time = from_ms(_int(item["fundingTime"]))
        row = {
            "symbol": symbol,
            "funding_time": funding_time,
            "funding_rate": _decimal(item["fundingRate"]),
            "event_time": funding_time,
            "source": SOURCE,
            "ingested_at": now,
        }
        if item.get("markPrice"):
            row["mark_price"] = _decimal(item["markPrice"])
        rows.append(row)
    return rows


def agg_trade_rows(payload: object, *, symbol: str, now: datetime) -> list[dict]:
    """Aggregate trades, keyed like the stream's (`kind` aggTrade, `trade_id` = `a`)."""
    rows = []
    for item in _array(payload):
        trade_time = from_ms(_int(item["T"]))
        if not isinstance(item["m"], bool):
            raise TypeError(f"expected a boolean 'm', got {item['m']!r}")
        rows.append(
            {
                "symbol": symbol,
                "kind": "aggTrade",
                "trade_id": _int(item["a"]),
                "price": _decimal(item["p"]),
                "quantity": _decimal(item["q"]),
                "first_trade_id": _int(item["f"]),
                "last_trade_id": _int(item["l"]),
                "trade_time": trade_time,
                "is_buyer_maker": item["m"],
                "event_time": trade_time,
                "source": SOURCE,
                "ingested_at": now,
            }
        )
    return rows


def _levels(levels: object) -> list[list[str]]:
    checked = []
    for price, quantity in _array(levels):
        _decimal(price), _decimal(quantity)
        checked.append([price, quantity])
    return checked


def depth_rows(payload: object, *, symbol: str, now: datetime) -> list[dict]:
    """A depth snapshot: one row keyed by `lastUpdateId`."""
    if not isinstance(payload, dict):
        raise TypeError(f"expected a JSON object, got {type(payload).__name__}")
    event_ms = payload.get("E")
    return [
        {
            "symbol": symbol,
            "kind": "snapshot",
            "final_update_id": _int(payload["lastUpdateId"]),
            "transaction_time": from_ms(_int(payload["T"])) if "T" in payload else None,
            "bids": _levels(payload["bids"]),
            "asks": _levels(payload["asks"]),
            "event_time": from_ms(_int(event_ms)) if event_ms is not None else now,
            "source": SOURCE,
            "ingested_at": now,
        }
    ]
