"""The oldest and newest rows of a time-series collection, found by bounded ranges of its time index.

A sorted read with a limit is one index step on MongoDB, but the embedded store (SecantusDB) gathers everything a
filter matches before it returns the first row, sorted or not, at about 40 us a row: on 200,000 candles an
unfiltered `find_one` took 7 s, the oldest by a sorted read 9 s, the newest of 500,000 over a minute. A range that
matches nothing costs it a millisecond. Both look-ups below therefore probe windows of the time index that hold
few rows: from now backwards for the newest, from the exchange's opening forwards for the oldest, each window
twice the last up to WIDEST_WINDOW, so that the window that finds the edge holds little besides it.
"""

from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

# No Binance row predates the exchange (July 2017); rows stamped earlier (another tool's) are read in one range.
EPOCH = datetime(2017, 7, 1, tzinfo=UTC)
FIRST_WINDOW = timedelta(hours=1)
OLDEST_WINDOW = timedelta(days=1)
WIDEST_WINDOW = timedelta(days=16)
# A collection this small is read by one sorted query: cheap on any engine (the embedded store's 40 us a row make
# 0.2 s at most), where the probes cost a round trip each (100-150 ms for a dataset that starts in 2024).
SMALL_COLLECTION = 5_000
# Rows stamped up to this far in the future are in the newest's first window (clocks disagree by less).
FUTURE = timedelta(days=1)


def _bounded(query: dict, field: str, gte: datetime | None = None, lt: datetime | None = None) -> dict:
    """`query` with `field` also in [gte, lt): the narrower of each bound wins."""
    bounds = dict(query.get(field, {}))
    if gte is not None:
        bounds["$gte"] = max(gte, bounds.get("$gte", gte))
    if lt is not None:
        bounds["$lt"] = min(lt, bounds.get("$lt", lt))
    return {**query, field: bounds}


# Collections seen larger than SMALL_COLLECTION by this process are not counted again: the embedded store counts
# by scanning (about 1 s per 200,000 candles, five times per audit), and market data collections do not shrink.
_large: set[tuple[str, str]] = set()


def _small(collection: Collection) -> bool:
    marker = (collection.database.name, collection.name)
    if marker in _large:
        return False
    if collection.estimated_document_count() <= SMALL_COLLECTION:
        return True
    _large.add(marker)
    return False


def forget_sizes() -> None:
    """Forget which collections were seen large (after collections are dropped, e.g. between tests)."""
    _large.clear()


def oldest(
    collection: Collection,
    field: str,
    query: dict | None = None,
    projection: dict | None = None,
    width: timedelta = OLDEST_WINDOW,
) -> dict | None:
    """The row of `query` with the smallest `field`: the first window from EPOCH on that holds any row, sorted."""
    query, projection = query or {}, projection or {field: 1, "_id": 0}
    if _small(collection):
        return collection.find_one(query, projection, sort=[(field, ASCENDING)])
    first = collection.find_one(_bounded(query, field, lt=EPOCH), projection, sort=[(field, ASCENDING)])
    if first:
        return first
    low, step, end = max(EPOCH, query.get(field, {}).get("$gte", EPOCH)), width, datetime.now(UTC) + FUTURE
    while low < end:
        window = _bounded(query, field, gte=low, lt=low + step)
        first = collection.find_one(window, projection, sort=[(field, ASCENDING)])
        if first:
            return first
        low, step = low + step, min(step * 2, max(width, WIDEST_WINDOW))
    return collection.find_one(_bounded(query, field, gte=end), projection, sort=[(field, ASCENDING)])


def newest(
    collection: Collection,
    field: str,
    size: int = 1,
    query: dict | None = None,
    projection: dict | None = None,
    width: timedelta = FIRST_WINDOW,
) -> list[dict]:
    """The `size` rows of `query` with the largest `field`, newest first: windows from now backwards.

    The first window reaches into the future (rows stamped ahead of our clock). Windows stop at the query's own
    lower bound on `field` if it has one, else at EPOCH, past which the rest is read in one range.
    """
    query, projection = query or {}, projection or {field: 1, "_id": 0}
    if _small(collection):
        return list(collection.find(query, projection, sort=[(field, DESCENDING)], limit=size))
    floor = query.get(field, {}).get("$gte", EPOCH)
    high, step = datetime.now(UTC) - width, width
    recent = _bounded(query, field, gte=max(high, floor))
    rows = list(collection.find(recent, projection, sort=[(field, DESCENDING)], limit=size))
    while len(rows) < size and high > floor:
        low = max(high - step, floor)
        window = _bounded(query, field, gte=low, lt=high)
        rows += collection.find(window, projection, sort=[(field, DESCENDING)], limit=size - len(rows))
        high, step = low, min(step * 2, max(width, WIDEST_WINDOW))
    if len(rows) < size and "$gte" not in query.get(field, {}):
        before = _bounded(query, field, lt=EPOCH)
        rows += collection.find(before, projection, sort=[(field, DESCENDING)], limit=size - len(rows))
    return rows
