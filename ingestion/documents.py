"""Time-series documents: the shape of every stored row and the indexes its reads need.

The classes are mongoengine documents (abstract: one collection per symbol, named by `petrosa_dm.market.naming`); they
declare fields and indexes. The hot write path builds plain dicts of the same shape and writes them in bulk with
pymongo (`ingestion.store`), because instantiating a document per message costs more than the rest of the
pipeline; `ensure_indexes` turns each class's meta into the collection's indexes.

The idempotency key of each type is the document's `_id` (built by `ingestion.keys`), so no index here is unique:
the indexes are the time fields reads filter and sort by. Types keyed by their time (candles, funding, mark prices,
tickers) keep that time index too: the embedded store serves only point lookups from `_id` and scans the whole
collection for an `_id` range (docs/benchmarks.md), so a range read needs the secondary index.

Conventions for every row: times are UTC datetimes, prices and quantities are Decimal128 built from the exchange's
string, digits and exponent kept (`ingestion.api.rows.decimal_text` gives back the exchange's exact text; plain
`str()` writes very small values as `0E-8`), `source` is `stream`, `rest` or `archive`, `ingested_at` is when we
wrote it. Order-book levels stay as the exchange's `[price, quantity]` string pairs.
"""

import mongoengine as me

from petrosa_dm.market.naming import DataType

from .keys import key_fields

SOURCES = ("stream", "rest", "archive")


class SeriesDocument(me.Document):
    symbol = me.StringField(required=True)
    event_time = me.DateTimeField(required=True)
    source = me.StringField(required=True, choices=SOURCES)
    ingested_at = me.DateTimeField(required=True)
    meta = {"abstract": True}


class Trade(SeriesDocument):
    """`aggTrade` (kind aggTrade, id `a`, first/last trade ids `f`/`l`) and `trade` (kind trade, id `t`)."""

    kind = me.StringField(required=True, choices=("aggTrade", "trade"))
    trade_id = me.IntField(required=True)
    price = me.Decimal128Field(required=True)
    quantity = me.Decimal128Field(required=True)
    trade_time = me.DateTimeField(required=True)
    is_buyer_maker = me.BooleanField(required=True)
    first_trade_id = me.IntField()
    last_trade_id = me.IntField()
    meta = {"abstract": True, "indexes": ["trade_time"]}


class Candle(SeriesDocument):
    """A kline; the open candle is updated in place until `closed` (`x=true`); a newer event time wins."""

    interval = me.StringField(required=True)
    open_time = me.DateTimeField(required=True)
    close_time = me.DateTimeField(required=True)
    open = me.Decimal128Field(required=True)
    high = me.Decimal128Field(required=True)
    low = me.Decimal128Field(required=True)
    close = me.Decimal128Field(required=True)
    volume = me.Decimal128Field(required=True)
    quote_volume = me.Decimal128Field()
    trades = me.IntField()
    taker_buy_volume = me.Decimal128Field()
    taker_buy_quote_volume = me.Decimal128Field()
    first_trade_id = me.IntField()
    last_trade_id = me.IntField()
    closed = me.BooleanField(required=True)
    meta = {"abstract": True, "indexes": ["open_time"]}


class DepthUpdate(SeriesDocument):
    """A diff or partial depth update (`U`, `u`, `pu` kept for sequence checks) or a REST snapshot."""

    kind = me.StringField(required=True, choices=("diff", "partial", "snapshot"))
    levels = me.IntField()  # partial frames: the level count their stream names (depth5/10/20)
    first_update_id = me.IntField()
    final_update_id = me.IntField(required=True)
    prev_final_update_id = me.IntField()
    transaction_time = me.DateTimeField()
    bids = me.ListField(me.ListField(me.StringField()))
    asks = me.ListField(me.ListField(me.StringField()))
    meta = {"abstract": True, "indexes": ["event_time"]}


class MarkPrice(SeriesDocument):
    mark_price = me.Decimal128Field(required=True)
    index_price = me.Decimal128Field()
    estimated_settle_price = me.Decimal128Field()
    funding_rate = me.Decimal128Field()
    next_funding_time = me.DateTimeField()
    meta = {"abstract": True, "indexes": ["event_time"]}


class FundingRate(SeriesDocument):
    """One row per funding time, holding the last rate seen before it (stream) or the settled rate (REST)."""

    funding_time = me.DateTimeField(required=True)
    funding_rate = me.Decimal128Field(required=True)
    mark_price = me.Decimal128Field()
    meta = {"abstract": True, "indexes": ["funding_time"]}


class Ticker(SeriesDocument):
    """A 24-hour rolling ticker."""

    price_change = me.Decimal128Field()
    price_change_percent = me.Decimal128Field()
    weighted_avg_price = me.Decimal128Field()
    last_price = me.Decimal128Field(required=True)
    last_quantity = me.Decimal128Field()
    open_price = me.Decimal128Field()
    high_price = me.Decimal128Field()
    low_price = me.Decimal128Field()
    volume = me.Decimal128Field()
    quote_volume = me.Decimal128Field()
    open_time = me.DateTimeField()
    close_time = me.DateTimeField()
    first_trade_id = me.IntField()
    last_trade_id = me.IntField()
    trade_count = me.IntField()
    meta = {"abstract": True, "indexes": ["event_time"]}


class BookTicker(SeriesDocument):
    update_id = me.IntField(required=True)
    transaction_time = me.DateTimeField()
    bid_price = me.Decimal128Field(required=True)
    bid_quantity = me.Decimal128Field(required=True)
    ask_price = me.Decimal128Field(required=True)
    ask_quantity = me.Decimal128Field(required=True)
    meta = {"abstract": True, "indexes": ["event_time"]}


class Liquidation(SeriesDocument):
    side = me.StringField(required=True)
    order_type = me.StringField()
    time_in_force = me.StringField()
    price = me.Decimal128Field(required=True)
    average_price = me.Decimal128Field()
    quantity = me.Decimal128Field(required=True)
    filled_quantity = me.Decimal128Field()
    status = me.StringField()
    trade_time = me.DateTimeField()
    meta = {"abstract": True, "indexes": ["event_time"]}


class AnalyticsResult(me.Document):
    """One computed metric for one (timeframe, window, as_of); upserted, served latest-first."""

    symbol = me.StringField(required=True)
    metric = me.StringField(required=True)
    timeframe = me.StringField(required=True)
    window = me.IntField(required=True)
    as_of = me.DateTimeField(required=True)
    method = me.StringField()
    values = me.DictField()
    coverage = me.DictField()
    reliable = me.BooleanField()
    computed_at = me.DateTimeField()
    meta = {
        "abstract": True,
        "indexes": [("timeframe", "-as_of")],
    }


class DeadLetter(me.Document):
    """A message we could not store, kept for inspection (TTL-bounded by DEAD_LETTER_TTL_SECONDS)."""

    raw = me.StringField(required=True)
    subject = me.StringField()
    reason = me.StringField(required=True)
    error = me.StringField()
    received_at = me.DateTimeField(required=True)
    meta = {"collection": "dead_letters", "indexes": ["reason"]}


DOCUMENTS: dict[DataType, type[me.Document]] = {
    DataType.TRADES: Trade,
    DataType.CANDLES: Candle,
    DataType.DEPTH: DepthUpdate,
    DataType.MARK_PRICES: MarkPrice,
    DataType.FUNDING_RATES: FundingRate,
    DataType.TICKERS: Ticker,
    DataType.BOOK_TICKERS: BookTicker,
    DataType.LIQUIDATIONS: Liquidation,
    DataType.ANALYTICS: AnalyticsResult,
}


def index_specs(data_type: DataType) -> list[dict]:
    """The type's indexes as mongoengine resolves them: `[{"fields": [(name, direction)], "unique": bool}]`."""
    document = DOCUMENTS[data_type]
    return document._build_index_specs(document._meta["indexes"])


def unique_key(data_type: DataType) -> tuple[str, ...]:
    """The fields of the type's idempotency key (stored as `_id`, see `ingestion.keys`)."""
    return key_fields(data_type)
