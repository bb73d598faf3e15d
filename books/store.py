"""Where books live in the store: `books_{SYMBOL}` holds REST snapshots and checkpoints (full books at an update id).

They are kept apart from `depth_{SYMBOL}` (the stream's updates) because a snapshot's `lastUpdateId` may equal a
diff's `u`, and the depth collection is keyed by that id alone. Rows share the depth row shape (`final_update_id`,
`event_time`, `bids`, `asks` as the exchange's string pairs) so `books.reconstruct.Reconstructor.feed` reads both.
"""

import zlib
from array import array
from datetime import datetime, timedelta
from itertools import chain, islice

import orjson
from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection

from petrosa_dm import mongo
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import to_ms

PREFIX = "books_"
KINDS = ("snapshot", "checkpoint")
_indexed: set[tuple[str, str]] = set()


def books_collection(symbol: str) -> Collection:
    """`books_{SYMBOL}` for writing: its indexes made on first use by the process."""
    target = books_readable(symbol)
    marker = (target.database.name, target.name)
    if marker not in _indexed:
        target.create_indexes(
            [
                IndexModel([("kind", ASCENDING), ("final_update_id", ASCENDING)], unique=True),
                IndexModel([("event_time", DESCENDING), ("final_update_id", DESCENDING)]),
                IndexModel([("final_update_id", DESCENDING)]),
            ]
        )
        _indexed.add(marker)
    return target


def books_readable(symbol: str) -> Collection:
    """`books_{SYMBOL}` for reading only: a read creates neither the collection nor its indexes (a request for an
    unknown pair must not leave a collection behind for the catalog to list as a dataset)."""
    return mongo.database()[f"{PREFIX}{symbol}"]


def spans_collection() -> Collection:
    """`book_spans`: one row per healed break, the span where a symbol's book was unknown (for the console)."""
    target = spans_readable()
    marker = (target.database.name, target.name)
    if marker not in _indexed:
        target.create_indexes([IndexModel([("symbol", ASCENDING), ("last_update_id", ASCENDING)], unique=True)])
        _indexed.add(marker)
    return target


def depth_collection(symbol: str) -> Collection:
    from ingestion import store

    return store.collection(series(DataType.DEPTH, symbol))


def depth_readable(symbol: str) -> Collection:
    """`depth_{SYMBOL}` for reading only (see `books_readable`)."""
    from ingestion.selectors import series_collection

    return series_collection(ref=series(DataType.DEPTH, symbol))


def spans_readable() -> Collection:
    return mongo.database()["book_spans"]


# A REST snapshot's `lastUpdateId` may fall inside a diff stamped a little before the snapshot's own time (the diff
# was in flight while the snapshot was taken): reads after a snapshot look back this far for it. Checkpoints are cut
# right after the diff they include, so nothing after one is older than it.
SNAPSHOT_TIME_MARGIN = timedelta(seconds=5)


def diffs_query(
    anchor: dict, *, after_id: int | None = None, until: datetime | None = None, inclusive: bool | None = None
) -> dict:
    """The filter for the stored diffs after an anchor (a `books_` row, or any dict with `kind`, `final_update_id`,
    `event_time`), from `after_id` on (default: the anchor's id), stamped no later than `until` when given.

    Diffs are keyed by their update id (`_id`), but the embedded store answers an id range by scanning the whole
    collection, so the filter also bounds `event_time` (indexed) from the anchor's time: within one symbol's stream
    the exchange's update ids and event times rise together, so the time range holds the same diffs."""
    low = anchor["final_update_id"] if after_id is None else after_id
    if inclusive is None:
        # After a REST snapshot, the diff straddling its id (U <= id <= u) may end exactly at it.
        inclusive = after_id is None and anchor.get("kind") == "snapshot"
    query = {"kind": "diff", "final_update_id": {"$gte" if inclusive else "$gt": low}}
    since = anchor.get("event_time")
    if since is not None:
        margin = SNAPSHOT_TIME_MARGIN if anchor.get("kind") != "checkpoint" else timedelta(0)
        query["event_time"] = {"$gte": since - margin}
    if until is not None:
        query.setdefault("event_time", {})["$lte"] = until
    return query


def pack_levels(row: dict) -> dict:
    """A checkpoint's thousands of levels as one opaque JSON blob (`levels`): the store decodes nested arrays of
    strings level by level, a blob at once (a 10,000-level book reads several times faster). Neither sorted nor
    compressed: measured, sorting and zlib cost the keeper more than the bytes they save cost the store."""
    packed = {key: value for key, value in row.items() if key not in ("bids", "asks")}
    packed["levels"] = Binary(orjson.dumps({"bids": row["bids"], "asks": row["asks"]}))
    return packed


def span_entry(row: dict) -> list:
    """One applied diff as a replay pack holds it: [U, u, pu, event time in ms, bids, asks]."""
    return [
        row.get("first_update_id"),
        row["final_update_id"],
        row.get("prev_final_update_id"),
        to_ms(row["event_time"]),
        row["bids"],
        row["asks"],
    ]


def pack_span(after_update_id: int, entries: list[list], keys: tuple[list, list] | None = None) -> dict:
    """A checkpoint's replay pack, as the fields to store beside it: `replay`, the diffs applied since the anchor
    `after_update_id`, in order, as one blob, and with `keys` also `replay_keys`.

    A past book between two anchors costs the earlier anchor plus these diffs. Read as stored rows, they cost the
    embedded store a decode of every level (about 70 per diff, half a millisecond a diff); as one blob the read
    is a single value. The rows in `depth_` stay the record; a pack is derived, like the checkpoint itself.
    Compressed (zlib level 1): the pack repeats the span's diffs, and compressed it adds about a quarter to their
    storage instead of doubling it.

    With `keys` (each side's applied levels as price keys, negated for removals, in order: the keeper's
    `Side.journal`), the pack is columnar (format 2): per diff its ids, time and level counts; per side the level
    texts as one string; the keys as float64 bids then asks, uncompressed (`replay_keys`: zlib took the keeper
    twice as long as the rest of the pack, for a third of the bytes). A web process then answers a past book with
    array operations (`books.columns`) instead of parsing and applying each level in Python (about 30,000 levels
    a span of 500 BTCUSDT 0 ms diffs)."""
    if keys is not None:
        counts = [(len(entry[4]), len(entry[5])) for entry in entries]
        totals = (sum(bids for bids, _ in counts), sum(asks for _, asks in counts))
        texts = (_level_text(entry[4] for entry in entries), _level_text(entry[5] for entry in entries))
        if totals == (len(keys[0]), len(keys[1])) and all(map(_words_are_levels, texts, totals)):
            header = {
                "after_update_id": after_update_id,
                "format": 2,
                "diffs": [[*entry[:4], *count] for entry, count in zip(entries, counts, strict=True)],
                "bids": texts[0],
                "asks": texts[1],
            }
            return {
                "replay": Binary(zlib.compress(orjson.dumps(header), 1)),
                "replay_keys": Binary(array("d", keys[0]).tobytes() + array("d", keys[1]).tobytes()),
            }
    return {"replay": Binary(zlib.compress(orjson.dumps({"after_update_id": after_update_id, "diffs": entries}), 1))}


def _words_are_levels(text: str, levels: int) -> bool:
    """Whether the text splits back into exactly its levels' words (no price or quantity holds a space)."""
    return text.count(" ") == 2 * levels - 1 if levels else not text


def _level_text(levels) -> str:
    return " ".join(chain.from_iterable(chain.from_iterable(levels)))


def inflate_span(blob: bytes) -> dict:
    """A stored `replay`, inflated: format 2 has a `format` field (and its keys in `replay_keys`)."""
    return orjson.loads(zlib.decompress(blob))


def unpack_span(blob: bytes) -> tuple[int, list[list]]:
    """(the anchor id, [[U, u, pu, time in ms, bids, asks], ...]) of a pack of either format."""
    packed = inflate_span(blob)
    return packed["after_update_id"], span_entries(packed)


def span_entries(packed: dict) -> list[list]:
    """An inflated pack's diffs, [[U, u, pu, time in ms, bids, asks], ...], of either format."""
    if packed.get("format") != 2:
        return packed["diffs"]
    sides = [iter(_pairs(packed["bids"])), iter(_pairs(packed["asks"]))]
    return [
        [first, final, prev, time_ms, list(islice(sides[0], bids)), list(islice(sides[1], asks))]
        for first, final, prev, time_ms, bids, asks in packed["diffs"]
    ]


def _pairs(text: str) -> list[list[str]]:
    words = text.split(" ") if text else []
    return [list(pair) for pair in zip(words[::2], words[1::2], strict=True)]


def unpack_levels(row: dict) -> dict:
    if "levels" in row:
        row = dict(row)
        row.update(orjson.loads(row.pop("levels")))
    return row


def forget_indexes() -> None:
    _indexed.clear()
