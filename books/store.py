"""Where books live in the store: `books_{SYMBOL}` holds REST snapshots and checkpoints (full books at an update id).

They are kept apart from `depth_{SYMBOL}` (the stream's updates) because a snapshot's `lastUpdateId` may equal a
diff's `u`, and the depth collection is keyed by that id alone. Rows share the depth row shape (`final_update_id`,
`event_time`, `bids`, `asks` as the exchange's string pairs) so `books.reconstruct.Reconstructor.feed` reads both.
"""

import orjson
from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection

from petrosa_dm import mongo
from petrosa_dm.market.naming import DataType, series

PREFIX = "books_"
KINDS = ("snapshot", "checkpoint")
_indexed: set[tuple[str, str]] = set()


def books_collection(symbol: str) -> Collection:
    database = mongo.database()
    name = f"{PREFIX}{symbol}"
    marker = (database.name, name)
    if marker not in _indexed:
        database[name].create_indexes(
            [
                IndexModel([("kind", ASCENDING), ("final_update_id", ASCENDING)], unique=True),
                IndexModel([("event_time", DESCENDING), ("final_update_id", DESCENDING)]),
                IndexModel([("final_update_id", DESCENDING)]),
            ]
        )
        _indexed.add(marker)
    return database[name]


def spans_collection() -> Collection:
    """`book_spans`: one row per healed break, the span where a symbol's book was unknown (for the console)."""
    database = mongo.database()
    marker = (database.name, "book_spans")
    if marker not in _indexed:
        database["book_spans"].create_indexes(
            [IndexModel([("symbol", ASCENDING), ("last_update_id", ASCENDING)], unique=True)]
        )
        _indexed.add(marker)
    return database["book_spans"]


def depth_collection(symbol: str) -> Collection:
    from ingestion import store

    return store.collection(series(DataType.DEPTH, symbol))


def pack_levels(row: dict) -> dict:
    """A checkpoint's thousands of levels as one opaque JSON blob (`levels`): the store decodes nested arrays of
    strings level by level, a blob at once (a 10,000-level book reads several times faster). Neither sorted nor
    compressed: measured, sorting and zlib cost the keeper more than the bytes they save cost the store."""
    packed = {key: value for key, value in row.items() if key not in ("bids", "asks")}
    packed["levels"] = Binary(orjson.dumps({"bids": row["bids"], "asks": row["asks"]}))
    return packed


def unpack_levels(row: dict) -> dict:
    if "levels" in row:
        row = dict(row)
        row.update(orjson.loads(row.pop("levels")))
    return row


def forget_indexes() -> None:
    _indexed.clear()
