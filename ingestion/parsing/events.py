"""One Binance futures event to the rows it stores (DESIGN section 3's table; row shapes in ingestion.documents).

Each builder takes the event and a `Context` and returns `[(SeriesRef, row), ...]`; `BUILDERS` maps the event
type `e` to its builder. The symbol comes from the event (`s`, or `o.s` for liquidations, `ps` for continuous
klines) and the kline interval from `k.i`, never from the stream label.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from petrosa_dm.market import naming
from petrosa_dm.market.naming import DataType, SeriesRef

from . import fields as f
from .errors import DepthKindMismatch, ImpossibleTime, InvalidName, WrongType

SOURCE = "stream"
PERPETUAL = "PERPETUAL"
# Partial book depth streams (`<symbol>@depth5`, `@depth10`, `@depth20`, optionally `@100ms`/`@500ms`) and the
# level count each names.
PARTIAL_DEPTH_STREAMS = {"depth5": 5, "depth10": 10, "depth20": 20}
_MAX_CACHED_REFS = 10_000

Rows = list[tuple[SeriesRef, dict]]


@dataclass(slots=True)
class Context:
    ingested_at: datetime
    stream: str | None = None
    known_symbols: frozenset[str] | None = None  # None: no list to check against (petrosa_dm.market.symbols)
    latest: datetime | None = None  # event times past this are rejected (now plus the allowed clock skew)


_refs: dict[tuple, SeriesRef] = {}


def series_ref(data_type: DataType, symbol: object, interval: object = None) -> SeriesRef:
    """The validated series of a symbol (and interval), cached: the naming rules run once per series."""
    if type(symbol) is not str or (interval is not None and type(interval) is not str):
        raise WrongType(f"symbol {symbol!r} and interval {interval!r} must be strings")
    key = (data_type, symbol, interval)
    ref = _refs.get(key)
    if ref is None:
        try:
            ref = naming.series(data_type, symbol, interval=interval)
        except naming.InvalidName as exc:
            raise InvalidName(str(exc)) from None
        if len(_refs) < _MAX_CACHED_REFS:
            _refs[key] = ref
    return ref


def _base(ref: SeriesRef, event: dict, context: Context) -> dict:
    return {
        "symbol": ref.symbol,
        "event_time": f.time(event, "E"),
        "source": SOURCE,
        "ingested_at": context.ingested_at,
    }


def aggregate_trade(event: dict, context: Context) -> Rows:
    ref = series_ref(DataType.TRADES, f.required(event, "s"))
    row = _base(ref, event, context)
    row["kind"] = "aggTrade"
    row["trade_id"] = f.integer(event, "a")
    row["price"] = f.price(event, "p")
    row["quantity"] = f.decimal(event, "q")
    row["trade_time"] = f.time(event, "T")
    row["is_buyer_maker"] = f.boolean(event, "m")
    if "f" in event:
        row["first_trade_id"] = f.integer(event, "f")
    if "l" in event:
        row["last_trade_id"] = f.integer(event, "l")
    return [(ref, row)]


def trade(event: dict, context: Context) -> Rows:
    ref = series_ref(DataType.TRADES, f.required(event, "s"))
    row = _base(ref, event, context)
    row["kind"] = "trade"
    row["trade_id"] = f.integer(event, "t")
    row["price"] = f.price(event, "p")
    row["quantity"] = f.decimal(event, "q")
    row["trade_time"] = f.time(event, "T")
    row["is_buyer_maker"] = f.boolean(event, "m")
    return [(ref, row)]


def kline(event: dict, context: Context) -> Rows:
    return _candle(event, context, symbol=f.required(event, "s"))


def continuous_kline(event: dict, context: Context) -> Rows:
    """Only the perpetual contract's continuous klines: they are that symbol's candles. Quarterly contracts'
    continuous series have no collection in the naming rules, so they are ignored."""
    if f.text(event, "ct") != PERPETUAL:
        return []
    return _candle(event, context, symbol=f.required(event, "ps"))


def _candle(event: dict, context: Context, *, symbol: object) -> Rows:
    k = f.mapping(event, "k")
    ref = series_ref(DataType.CANDLES, symbol, f.required(k, "i"))
    row = _base(ref, event, context)
    row["interval"] = ref.interval
    row["open_time"] = open_time = f.time(k, "t")
    row["close_time"] = close_time = f.time(k, "T")
    if close_time <= open_time:
        raise ImpossibleTime(f"kline closes ({close_time}) at or before it opens ({open_time})")
    row["open"] = f.price(k, "o")
    row["high"] = f.price(k, "h")
    row["low"] = f.price(k, "l")
    row["close"] = f.price(k, "c")
    row["volume"] = f.decimal(k, "v")
    row["quote_volume"] = f.optional_quantity(k, "q")
    row["trades"] = f.optional_integer(k, "n")
    row["taker_buy_volume"] = f.optional_quantity(k, "V")
    row["taker_buy_quote_volume"] = f.optional_quantity(k, "Q")
    row["first_trade_id"] = f.optional_integer(k, "f")
    row["last_trade_id"] = f.optional_integer(k, "L")
    row["closed"] = f.boolean(k, "x")
    return [(ref, f.without_none(row))]


def depth_update(event: dict, context: Context) -> Rows:
    """Diff and partial depth share one shape on futures (both carry U, u, pu); the stream label tells them apart
    when it names a level count (`@depth5/10/20`: partial, a full snapshot of the top N levels), checked against
    the content: a partial frame never removes a level (quantity 0) and never holds more than N levels a side.
    A frame contradicting its label is rejected rather than stored as the wrong kind: a diff taken for a snapshot
    would silently corrupt a book. Without such a label a frame is a diff (the only kind with a `pu` chain)."""
    ref = series_ref(DataType.DEPTH, f.required(event, "s"))
    row = _base(ref, event, context)
    bids, asks = f.levels(event, "b"), f.levels(event, "a")
    levels = _partial_levels(context.stream)
    if levels is not None:
        _check_partial(levels, bids, asks, context.stream)
        row["kind"] = "partial"
        row["levels"] = levels
    else:
        row["kind"] = "diff"
    if "U" in event:
        row["first_update_id"] = f.integer(event, "U")
    row["final_update_id"] = f.integer(event, "u")
    if "pu" in event:
        row["prev_final_update_id"] = f.integer(event, "pu")
    if "T" in event:
        row["transaction_time"] = f.time(event, "T")
    row["bids"] = bids
    row["asks"] = asks
    return [(ref, row)]


def _partial_levels(stream: str | None) -> int | None:
    """The level count a partial-depth stream label names (`btcusdt@depth20@100ms` -> 20), else None."""
    if stream:
        return PARTIAL_DEPTH_STREAMS.get(stream.partition("@")[2].partition("@")[0])
    return None


def _check_partial(levels: int, bids: list, asks: list, stream: str) -> None:
    if len(bids) > levels or len(asks) > levels:
        raise DepthKindMismatch(
            f"stream {stream!r} names {levels} levels but the frame holds {len(bids)} bids and {len(asks)} asks"
        )
    for price, quantity in chain(bids, asks):
        if not quantity.strip("0."):
            raise DepthKindMismatch(
                f"stream {stream!r} is a partial book, but level {price} has quantity {quantity}: only diffs remove "
                "levels"
            )


def mark_price_update(event: dict, context: Context) -> Rows:
    """A mark-price row for every update, plus the funding-rate row of the coming funding time `T`.

    The funding row is keyed by the funding time and versioned by the event time, so among the updates before a
    funding time the last one wins: the row ends up holding the last rate published before funding. Updates at
    or after `T` (a stale `T`) and contracts without funding (empty `r`, `T` = 0) add no funding row."""
    ref = series_ref(DataType.MARK_PRICES, f.required(event, "s"))
    row = _base(ref, event, context)
    row["mark_price"] = f.price(event, "p")
    row["index_price"] = f.optional_decimal(event, "i")
    row["estimated_settle_price"] = f.optional_decimal(event, "P")
    row["funding_rate"] = funding_rate = f.optional_decimal(event, "r")
    row["next_funding_time"] = funding_time = None if event.get("T") == 0 else f.optional_time(event, "T")
    rows = [(ref, f.without_none(row))]
    if funding_rate is not None and funding_time is not None and row["event_time"] < funding_time:
        funding_ref = series_ref(DataType.FUNDING_RATES, ref.symbol)
        funding_row = _base(funding_ref, event, context)
        funding_row["funding_time"] = funding_time
        funding_row["funding_rate"] = funding_rate
        funding_row["mark_price"] = row["mark_price"]
        rows.append((funding_ref, funding_row))
    return rows


def ticker(event: dict, context: Context) -> Rows:
    ref = series_ref(DataType.TICKERS, f.required(event, "s"))
    row = _base(ref, event, context)
    row["price_change"] = f.optional_decimal(event, "p")
    row["price_change_percent"] = f.optional_decimal(event, "P")
    row["weighted_avg_price"] = f.optional_decimal(event, "w")
    row["last_price"] = f.price(event, "c")
    row["last_quantity"] = f.optional_quantity(event, "Q")
    row["open_price"] = f.optional_decimal(event, "o")
    row["high_price"] = f.optional_decimal(event, "h")
    row["low_price"] = f.optional_decimal(event, "l")
    row["volume"] = f.optional_quantity(event, "v")
    row["quote_volume"] = f.optional_quantity(event, "q")
    row["open_time"] = f.optional_time(event, "O")
    row["close_time"] = f.optional_time(event, "C")
    row["first_trade_id"] = f.optional_integer(event, "F")
    row["last_trade_id"] = f.optional_integer(event, "L")
    row["trade_count"] = f.optional_integer(event, "n")
    return [(ref, f.without_none(row))]


def book_ticker(event: dict, context: Context) -> Rows:
    ref = series_ref(DataType.BOOK_TICKERS, f.required(event, "s"))
    row = _base(ref, event, context)
    row["update_id"] = f.integer(event, "u")
    if "T" in event:
        row["transaction_time"] = f.time(event, "T")
    row["bid_price"] = f.price(event, "b")
    row["bid_quantity"] = f.decimal(event, "B")
    row["ask_price"] = f.price(event, "a")
    row["ask_quantity"] = f.decimal(event, "A")
    return [(ref, row)]


def force_order(event: dict, context: Context) -> Rows:
    order = f.mapping(event, "o")
    ref = series_ref(DataType.LIQUIDATIONS, f.required(order, "s"))
    row = _base(ref, event, context)
    row["side"] = f.text(order, "S")
    row["order_type"] = f.optional_text(order, "o")
    row["time_in_force"] = f.optional_text(order, "f")
    row["price"] = f.price(order, "p")
    row["average_price"] = f.optional_decimal(order, "ap")
    row["quantity"] = f.decimal(order, "q")
    row["filled_quantity"] = f.optional_quantity(order, "z")
    row["status"] = f.optional_text(order, "X")
    row["trade_time"] = f.optional_time(order, "T")
    return [(ref, f.without_none(row))]


BUILDERS: dict[str, Callable[[dict, Context], Rows]] = {
    "aggTrade": aggregate_trade,
    "trade": trade,
    "kline": kline,
    "continuous_kline": continuous_kline,
    "depthUpdate": depth_update,
    "markPriceUpdate": mark_price_update,
    "24hrTicker": ticker,
    "bookTicker": book_ticker,
    "forceOrder": force_order,
}
