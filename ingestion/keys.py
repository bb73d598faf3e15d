"""The one owner of idempotency keys: which fields identify a stored row, and the `_id` built from them.

DESIGN section 3's "unique key" of each type is stored as the document's `_id`, MongoDB's own idiom: `_id` is a
unique index every collection pays for anyway, so no secondary unique index is needed. Every writer (the consumer,
REST backfills, analytics, `manage.py migrate_store`) gets its `_id` from `row_id` here, through
`ingestion.store.write_rows`, so a row has the same `_id` whichever path wrote it.

The `_id` is compact and sorts like the key where that helps a range scan:

| type | key fields | `_id` |
|---|---|---|
| trades | (kind, trade_id) | int64: `trade_id` for aggTrade, `2**62 + trade_id` for trade |
| candles | open_time | the open time (a datetime) |
| depth | final_update_id | the final update id (int) |
| mark prices, tickers | event_time | the event time |
| funding rates | funding_time | the funding time |
| book tickers | update_id | the update id |
| liquidations | (event_time, side, price) | `{"event_time", "side", "price"}` |
| analytics | (timeframe, window, as_of) | `{"timeframe", "window", "as_of"}` |

A trade id outside [0, 2**62) (Binance's are far below) keeps a unique, deterministic `_id` as the sub-document
`{"kind", "trade_id"}`; it just does not sort with the others.
"""

import logging
from collections.abc import Callable
from functools import cache

from bson import ObjectId
from pymongo.collection import Collection

from ingestion import edges
from petrosa_dm import mongo
from petrosa_dm.market.naming import TIME_FIELDS, DataType

KEY_FIELDS: dict[DataType, tuple[str, ...]] = {
    DataType.TRADES: ("kind", "trade_id"),
    DataType.CANDLES: ("open_time",),
    DataType.DEPTH: ("final_update_id",),
    DataType.MARK_PRICES: ("event_time",),
    DataType.FUNDING_RATES: ("funding_time",),
    DataType.TICKERS: ("event_time",),
    DataType.BOOK_TICKERS: ("update_id",),
    DataType.LIQUIDATIONS: ("event_time", "side", "price"),
    DataType.ANALYTICS: ("timeframe", "window", "as_of"),
}

TRADE_ID_SPAN = 1 << 62
# Each trade kind owns one contiguous block of int64 `_id`s, so a range on `_id` is a range of one kind's ids.
TRADE_KIND_BASE = {"aggTrade": 0, "trade": TRADE_ID_SPAN}

# Any ObjectId lies in [MIN_OBJECT_ID, MAX_OBJECT_ID]; MongoDB compares within a type, so this range matches
# exactly the rows whose `_id` is an ObjectId (rows written before keys moved into `_id`, or by other tools),
# and it is a bounded scan of the `_id` index.
MIN_OBJECT_ID = ObjectId("0" * 24)
MAX_OBJECT_ID = ObjectId("f" * 24)
OBJECT_ID_RANGE = {"$gte": MIN_OBJECT_ID, "$lte": MAX_OBJECT_ID}

logger = logging.getLogger(__name__)
_keyed: set[tuple[str, str]] = set()


def key_fields(data_type: DataType) -> tuple[str, ...]:
    """The fields of the type's idempotency key."""
    return KEY_FIELDS[data_type]


def trade_key(kind: str, trade_id: int) -> object:
    """The `_id` of a trade: one int64 sorting by id within its kind."""
    base = TRADE_KIND_BASE.get(kind)
    if base is not None and type(trade_id) is int and 0 <= trade_id < TRADE_ID_SPAN:
        return base + trade_id
    return {"kind": kind, "trade_id": trade_id}


def trade_key_range(kind: str, low: int | None = None, high: int | None = None) -> dict:
    """The `_id` bounds of one kind's trade ids in [low, high] (both optional, both inclusive)."""
    base = TRADE_KIND_BASE[kind]
    low = 0 if low is None else min(max(low, 0), TRADE_ID_SPAN)
    high = TRADE_ID_SPAN - 1 if high is None else min(max(high, -1), TRADE_ID_SPAN - 1)
    return {"$gte": base + low, "$lte": base + high}


def _single(field: str) -> Callable[[dict], object]:
    def build(row: dict) -> object:
        return row[field]

    return build


def _document(fields: tuple[str, ...]) -> Callable[[dict], object]:
    def build(row: dict) -> object:
        return {name: row[name] for name in fields}

    return build


def _trade(row: dict) -> object:
    return trade_key(row["kind"], row["trade_id"])


@cache
def id_builder(data_type: DataType) -> Callable[[dict], object]:
    """A function from a row to its `_id` (raises KeyError when a key field is missing)."""
    if data_type is DataType.TRADES:
        return _trade
    fields = KEY_FIELDS[data_type]
    return _single(fields[0]) if len(fields) == 1 else _document(fields)


def row_id(data_type: DataType, row: dict) -> object:
    return id_builder(data_type)(row)


def keyed_collection(collection: Collection, data_type: DataType) -> bool:
    """Whether every row of the collection carries its key as `_id` (written by us since keys moved into `_id`,
    or migrated by `manage.py migrate_store`); then `_id` ranges may stand in for key ranges.

    False for a collection holding ObjectId `_id`s (not migrated, or written by another tool). A positive answer is
    remembered by the process: our writers and the migration only ever add keyed rows.
    """
    marker = (collection.database.name, collection.name)
    if marker in _keyed:
        return True
    # The cheap look first: the newest row (by ranges of the time index: an unfiltered `find_one` makes the embedded
    # store gather the whole collection, 7 s per 200,000 candles). Then the ObjectId range, which MongoDB answers
    # from the `_id` index.
    newest = edges.newest(collection, TIME_FIELDS[data_type], projection=dict.fromkeys(KEY_FIELDS[data_type], 1))
    if not newest:
        return True  # empty: nothing to miss, and nothing to remember
    sample = newest[0]
    try:
        if sample["_id"] != row_id(data_type, sample):
            return False
    except KeyError:
        return False
    if _holds_object_ids(collection):
        return False
    _keyed.add(marker)
    return True


def _holds_object_ids(collection: Collection) -> bool:
    """Whether any row has an ObjectId `_id`, asked for at most MONGODB_TIMEOUT_MS.

    The embedded store answers the range by scanning the collection: seconds per 100,000 rows, and more than five
    minutes on 500,000 candles here. Past the limit the newest row decides (rows written before keys moved into
    `_id` are ObjectId rows, and a migration under way rewrites them oldest first), and the answer is logged."""
    return mongo.within_timeout(
        lambda: collection.find_one({"_id": OBJECT_ID_RANGE}, {"_id": 1}) is not None,
        fallback=False,
        giving_up=f"look for ObjectId rows in {collection.name}: taken as keyed, as its newest row is",
    )


def forget_keyed() -> None:
    """Forget which collections were seen keyed (after collections are dropped, e.g. between tests)."""
    _keyed.clear()
