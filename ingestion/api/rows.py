"""Stored rows to JSON-ready dicts, fast: the data endpoints return up to 1,000 rows per request.

The fields come from the document classes in `ingestion.documents` (one place knows the row shape); each becomes a
decimal string exactly as stored, an ISO-8601 UTC time ending in `Z`, or a plain JSON value. No DRF serializer
fields run per row: a list of (field, converter) pairs is built once per data type.
"""

from collections.abc import Callable
from functools import cache

import mongoengine as me
from bson import Decimal128

from ingestion.documents import DOCUMENTS
from petrosa_dm.decimals import bid_text
from petrosa_dm.market.naming import DataType
from petrosa_dm.market.timeutils import time_text

# Redundant with the response's `pair` / `period`, or internal bookkeeping.
OMITTED_FIELDS = frozenset({"id", "symbol", "interval", "ingested_at"})


def decimal_text(value: object) -> str | None:
    """The exchange's text of a stored decimal (`petrosa_dm.decimals.bid_text`: "0.00000000", not the `0E-8` that
    `str(Decimal128)` gives), about 3x faster than `str()`. A page read within `decimal_texts()` holds the texts
    already; NaN, infinities and positive exponents (written by other tools) go through `str()`.

    A Decimal128 holds its BID bits as two 64-bit halves in private slots; reading them saves packing them into
    `.bid` bytes and back. `test_decimal_text` checks the slots against `.bid`, so a pymongo that renames them
    fails there, not in production."""
    if value.__class__ is not Decimal128:
        return None if value is None else str(value)
    text = bid_text(value._Decimal128__low, value._Decimal128__high)
    return str(value) if text is None else text


def _plain(value: object) -> object:
    return value


def _converter(field: me.fields.BaseField) -> Callable[[object], object]:
    if isinstance(field, me.Decimal128Field):
        return decimal_text
    if isinstance(field, me.DateTimeField):
        return time_text
    return _plain


@cache
def field_converters(data_type: DataType) -> tuple[tuple[str, Callable[[object], object]], ...]:
    document = DOCUMENTS[data_type]
    return tuple((name, _converter(field)) for name, field in document._fields.items() if name not in OMITTED_FIELDS)


def row_formatter(data_type: DataType, time_field: str) -> Callable[[dict], dict]:
    """A function turning one stored document into the API's row: `timestamp` (the type's time) first."""
    converters = field_converters(data_type)
    # Every type shows its time field, so `timestamp` reuses that text instead of formatting the time twice.
    assert time_field in dict(converters), f"{data_type} does not show its time field {time_field}"

    def format_row(document: dict) -> dict:
        get = document.get
        row = {"timestamp": None}  # first in the row, filled below
        for name, convert in converters:
            row[name] = convert(get(name))
        row["timestamp"] = row[time_field]
        return row

    return format_row


def with_trades_count(format_row: Callable[[dict], dict]) -> Callable[[dict], dict]:
    """Candles also carry the earlier version's `trades_count` (our `trades`, the kline's trade count)."""

    def format_candle(document: dict) -> dict:
        row = format_row(document)
        row["trades_count"] = row.get("trades")
        return row

    return format_candle


def trade_side(is_buyer_maker: object) -> str | None:
    """The taker's side: a buyer-maker trade was a market sell."""
    if is_buyer_maker is None:
        return None
    return "sell" if is_buyer_maker else "buy"


def with_side(format_row: Callable[[dict], dict]) -> Callable[[dict], dict]:
    """Trades also carry `side` ("sell" when the buyer was the maker, else "buy"), as callers read it."""

    def format_trade(document: dict) -> dict:
        row = format_row(document)
        row["side"] = trade_side(row.get("is_buyer_maker"))
        return row

    return format_trade
