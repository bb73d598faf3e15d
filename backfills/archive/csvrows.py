"""Archive CSV rows -> stored rows, in the shapes of `ingestion.documents` (the same fields and keys as the stream
and REST), `source: "archive"`.

Older files have no header row, newer ones do: a first row whose first field is not a number is a header. Any
row that does not parse raises `BadRow` naming its line; the file is then rejected whole.
"""

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import DecimalException
from itertools import chain, islice

from ingestion.parsing.decimals import to_decimal128
from petrosa_dm.market.timeutils import EPOCH

SOURCE = "archive"
ONE_MS = timedelta(milliseconds=1)


class BadRow(ValueError):
    """A CSV row that does not parse; `line` is its 1-based line in the file."""

    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason
        super().__init__(f"line {line}: {reason}")


def _time(text: str) -> datetime:
    value = int(text)
    if value > 10**14:  # newer files may carry microseconds
        return EPOCH + timedelta(microseconds=value)
    return EPOCH + timedelta(milliseconds=value)


def _dec(text: str):
    return to_decimal128(text)[0]


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def candle_row(fields: list[str], *, symbol: str, interval: str, now: datetime) -> dict:
    """`open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,
    ignore`. Archived candles are closed; the event time follows REST's rule (close + 1 ms)."""
    close_time = _time(fields[6])
    return {
        "symbol": symbol,
        "interval": interval,
        "open_time": _time(fields[0]),
        "close_time": close_time,
        "open": _dec(fields[1]),
        "high": _dec(fields[2]),
        "low": _dec(fields[3]),
        "close": _dec(fields[4]),
        "volume": _dec(fields[5]),
        "quote_volume": _dec(fields[7]),
        "trades": int(fields[8]),
        "taker_buy_volume": _dec(fields[9]),
        "taker_buy_quote_volume": _dec(fields[10]),
        "closed": True,
        "event_time": close_time + ONE_MS,
        "source": SOURCE,
        "ingested_at": now,
    }


def agg_trade_row(fields: list[str], *, symbol: str, now: datetime, **_) -> dict:
    """`agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker`."""
    trade_time = _time(fields[5])
    return {
        "symbol": symbol,
        "kind": "aggTrade",
        "trade_id": int(fields[0]),
        "price": _dec(fields[1]),
        "quantity": _dec(fields[2]),
        "first_trade_id": int(fields[3]),
        "last_trade_id": int(fields[4]),
        "trade_time": trade_time,
        "is_buyer_maker": _bool(fields[6]),
        "event_time": trade_time,
        "source": SOURCE,
        "ingested_at": now,
    }


def raw_trade_row(fields: list[str], *, symbol: str, now: datetime, **_) -> dict:
    """`id,price,qty,quote_qty,time,is_buyer_maker`."""
    trade_time = _time(fields[4])
    return {
        "symbol": symbol,
        "kind": "trade",
        "trade_id": int(fields[0]),
        "price": _dec(fields[1]),
        "quantity": _dec(fields[2]),
        "trade_time": trade_time,
        "is_buyer_maker": _bool(fields[5]),
        "event_time": trade_time,
        "source": SOURCE,
        "ingested_at": now,
    }


def funding_row(fields: list[str], *, symbol: str, now: datetime, **_) -> dict:
    """`calc_time,funding_interval_hours,last_funding_rate`: the funding time and its settled rate."""
    funding_time = _time(fields[0])
    int(fields[1])
    return {
        "symbol": symbol,
        "funding_time": funding_time,
        "funding_rate": _dec(fields[2]),
        "event_time": funding_time,
        "source": SOURCE,
        "ingested_at": now,
    }


def book_ticker_row(fields: list[str], *, symbol: str, now: datetime, **_) -> dict:
    """`update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time`."""
    return {
        "symbol": symbol,
        "update_id": int(fields[0]),
        "bid_price": _dec(fields[1]),
        "bid_quantity": _dec(fields[2]),
        "ask_price": _dec(fields[3]),
        "ask_quantity": _dec(fields[4]),
        "transaction_time": _time(fields[5]),
        "event_time": _time(fields[6]),
        "source": SOURCE,
        "ingested_at": now,
    }


# archive type -> (row builder, fields per row at least, the field its time range is filtered on)
PARSERS: dict[str, tuple[Callable[..., dict], int, str]] = {
    "klines": (candle_row, 11, "open_time"),
    "aggTrades": (agg_trade_row, 7, "trade_time"),
    "trades": (raw_trade_row, 6, "trade_time"),
    "fundingRate": (funding_row, 3, "funding_time"),
    "bookTicker": (book_ticker_row, 7, "event_time"),
}
ROW_ERRORS = (ValueError, IndexError, TypeError, OverflowError, DecimalException)

# Whole-line shapes, for the check before import: no looser than the builders above (a line that matches parses).
_INT, _TIME = rb"-?[0-9]{1,18}", rb"[0-9]{1,16}"
_DEC = rb"-?[0-9]{1,20}(?:\.[0-9]{1,20})?"
_BOOL = rb"(?:[Tt]rue|[Ff]alse|TRUE|FALSE|1|0)"
_SHAPES = {
    "klines": (_TIME, _DEC, _DEC, _DEC, _DEC, _DEC, _TIME, _DEC, rb"[0-9]{1,18}", _DEC, _DEC),
    "aggTrades": (_INT, _DEC, _DEC, _INT, _INT, _TIME, _BOOL),
    "trades": (_INT, _DEC, _DEC, _DEC, _TIME, _BOOL),
    "fundingRate": (_TIME, _INT, _DEC),
    "bookTicker": (_INT, _DEC, _DEC, _DEC, _DEC, _TIME, _TIME),
}
LINE_PATTERNS = {name: re.compile(rb",".join(shape) + rb"(?:,[^,]*)*") for name, shape in _SHAPES.items()}


def is_header_line(line: bytes) -> bool:
    first = line.split(b",", 1)[0].strip()
    return bool(first) and not first.lstrip(b"-").isdigit()


def _is_header(fields: list[str]) -> bool:
    first = fields[0].strip() if fields else ""
    return not first.lstrip("-").isdigit()


def parse_chunks(
    stream: io.BufferedIOBase,
    *,
    archive_type: str,
    symbol: str,
    interval: str = "",
    now: datetime,
    chunk_rows: int,
    skip_rows: int = 0,
) -> Iterator[list[dict]]:
    """Rows of one archive CSV, `chunk_rows` at a time, after the first `skip_rows` data rows (a resumed file).

    Memory stays bounded by the chunk, whatever the file's size: the zip member is decompressed as it is read."""
    build, min_fields, _time_field = PARSERS[archive_type]
    reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8", newline=""))
    try:
        first = next(reader, None)
        if first is None:
            return
        header = _is_header(first)
        rows = reader if header else chain([first], reader)
        before = 1 if header else 0  # lines before the next data row
        if skip_rows:
            before += sum(1 for _ in islice(rows, skip_rows))
        while True:
            raw = list(islice(rows, chunk_rows))
            if not raw:
                return
            chunk = []
            for number, fields in enumerate(raw, start=before + 1):
                if len(fields) < min_fields:
                    raise BadRow(number, f"expected at least {min_fields} fields, got {len(fields)}")
                try:
                    chunk.append(build(fields, symbol=symbol, interval=interval, now=now))
                except ROW_ERRORS as exc:
                    raise BadRow(number, f"{exc.__class__.__name__}: {exc}") from exc
            before += len(raw)
            yield chunk
    except csv.Error as exc:
        raise BadRow(reader.line_num, f"not CSV: {exc}") from exc
