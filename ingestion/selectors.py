"""Reads of the time series: pages of rows, counts, bounds and samples, every one of them on an index.

No function here loads a collection: pages are `find` with a time-range filter, a sort on the type's indexed time
field, skip and limit; counts use the same filter (with no filter, the catalog's synced count stands in).
Reads never create collections or indexes (that is the write path's job in `ingestion.store`).
"""

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from catalog.selectors import dataset_record_count
from ingestion import edges
from petrosa_dm import mongo
from petrosa_dm.decimals import decimal_texts
from petrosa_dm.market.intervals import INTERVAL_MS, floor_to_grid, grid_count, interval_delta, next_open_time
from petrosa_dm.market.naming import TIME_FIELDS, DataType, SeriesRef
from petrosa_dm.market.timeutils import ensure_utc, utcnow


@dataclass(frozen=True)
class SeriesPage:
    rows: list[dict]
    has_next: bool
    total: int
    total_exact: bool


@dataclass(frozen=True)
class Completeness:
    """Rows present over rows expected, or None with the reason there is no expectation."""

    ratio: float | None
    scope: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    present: int | None = None
    expected: int | None = None
    reason: str | None = None


def series_collection(*, ref: SeriesRef) -> Collection:
    return mongo.database()[ref.collection]


def series_exists(*, ref: SeriesRef) -> bool:
    return bool(mongo.database().list_collection_names(filter={"name": ref.collection}))


def time_filter(*, field: str, start: datetime | None, end: datetime | None) -> dict:
    """The half-open window [start, end) on `field`."""
    bounds = {}
    if start is not None:
        bounds["$gte"] = start
    if end is not None:
        bounds["$lt"] = end
    return {field: bounds} if bounds else {}


def _find(
    target: Collection,
    query: dict,
    field: str,
    *,
    descending: bool,
    skip: int,
    limit: int,
    projection: dict | None = None,
) -> list[dict]:
    """Rows sorted on `field`. Pages read whole documents: the row formatter picks its fields and skips `_id`, and
    an exclusion projection costs the embedded store about as much as the query itself (docs/benchmarks.md).

    One batch: without a batch size the server answers the first 101 rows and the rest on a second round trip.
    A page is at most 1,001 rows; a batch holds up to 16 MB, and a page of deep depth rows past that goes on in
    further batches as before."""
    direction = DESCENDING if descending else ASCENDING
    cursor = target.find(query, projection=projection, sort=[(field, direction)], skip=skip, limit=limit)
    return list(cursor.batch_size(limit))


def recent_candles_query(*, ref: SeriesRef, query: dict, end: datetime | None, wanted: int) -> dict:
    """`query` narrowed to the grid window that holds the newest `wanted` candles of a live collection.

    The window reaches `wanted` intervals (plus a tenth, for a collection a little behind) before `end` or now.
    """
    ceiling = min(end, utcnow()) if end else utcnow()
    slots = wanted + wanted // 10 + 10
    lower = floor_to_grid(ceiling, ref.interval) - slots * interval_delta(ref.interval)
    return {**query, "open_time": {**query.get("open_time", {}), "$gte": lower}}


def _recent_candles(target: Collection, ref: SeriesRef, query: dict, end: datetime | None, wanted: int) -> list | None:
    """The newest `wanted` candles read from the grid window just before `end` (or now), if they are all there.

    A live collection holds its newest candles in the last `wanted` intervals, so a range on the unique
    `open_time` index answers from about `wanted` index entries instead of walking down from the newest one (and
    engines that do not stop a sorted scan at the limit read no more). Returns None when the window holds fewer
    (a gap or a stale collection): the caller then runs the open-ended query.
    """
    try:
        recent = recent_candles_query(ref=ref, query=query, end=end, wanted=wanted)
    except OverflowError:  # a deep offset of long candles reaches before year 1: no window, the plain query it is
        return None
    rows = _find(target, recent, "open_time", descending=True, skip=0, limit=wanted)
    return rows if len(rows) == wanted else None


def collection_estimate(*, ref: SeriesRef) -> int:
    """The collection's row count as the catalog last synced it, or MongoDB's metadata estimate if not catalogued.

    Both are estimates by contract; the catalog's costs one indexed row read whatever the engine (an embedded
    store may count by scanning).
    """
    count = dataset_record_count(dataset_id=ref.collection)
    return count if count is not None else series_collection(ref=ref).estimated_document_count()


def series_page(
    *,
    ref: SeriesRef,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int,
    offset: int = 0,
    descending: bool = True,
    anchor_newest: bool = False,
    match: dict | None = None,
    shown: bool = False,
) -> SeriesPage | None:
    """One page of a series, newest first unless `descending` is False; None when the collection does not exist.

    With `anchor_newest` the page is taken from the newest end whatever the order (`offset` counts back from the
    newest row) and only then put in the requested order: an ascending page is the latest rows, oldest-first.

    `shown` rows are read only to be shown (the data API): decimals decode straight to their text
    (`decimal_texts`) and times to naive UTC datetimes (`mongo.shown`), which spares pymongo attaching a tzinfo
    to each (about 4 ms of a 1,000-candle page: five times a row). Such rows must never be written back.
    """
    field = TIME_FIELDS[ref.data_type]
    target = series_collection(ref=ref)
    query = {**(match or {}), **time_filter(field=field, start=start, end=end)}
    newest_first = descending or anchor_newest
    wanted = offset + limit + 1  # one more than the page tells whether a next page exists
    rows = None
    reader = mongo.shown(target) if shown else target
    with decimal_texts() if shown else nullcontext():
        if newest_first and start is None and ref.data_type is DataType.CANDLES:
            recent = _recent_candles(reader, ref, query, end, wanted)
            rows = recent[offset:] if recent is not None else None
        if rows is None:
            rows = _find(reader, query, field, descending=newest_first, skip=offset, limit=limit + 1)
    if not rows and not series_exists(ref=ref):
        return None
    has_next = len(rows) > limit
    rows = rows[:limit]
    if newest_first and not descending:
        rows.reverse()
    if not has_next and (rows or offset == 0):
        return SeriesPage(rows, has_next, offset + len(rows), True)
    if query:
        return SeriesPage(rows, has_next, target.count_documents(query), True)
    return SeriesPage(rows, has_next, collection_estimate(ref=ref), False)


def candle_completeness(
    *, ref: SeriesRef, rows: list[dict], start: datetime | None, end: datetime | None, total: int
) -> Completeness:
    """Candles present over candles expected on the interval grid.

    With both `start` and `end` the scope is the requested window [start, end) and `total` is the count in it;
    otherwise it is the span the returned page covers (its oldest to its newest candle), so a hole inside the
    page shows as a ratio below 1 without a second query.
    """
    interval = ref.interval
    if start is not None and end is not None:
        return _ratio("window", start, end, total, grid_count(start, end, interval))
    if not rows:
        return Completeness(None, reason="no candles in the requested range")
    times = [ensure_utc(rows[0]["open_time"]), ensure_utc(rows[-1]["open_time"])]  # shown rows hold naive UTC
    first, last = min(times), max(times)
    span_end = next_open_time(last, interval)
    return _ratio("page", first, span_end, len(rows), grid_count(first, span_end, interval))


def trade_completeness(*, rows: list[dict], kind: str | None) -> Completeness:
    """Aggregate-trade ids are contiguous: rows present over ids spanned by the page."""
    if kind != "aggTrade":
        return Completeness(None, reason="trade ids are contiguous only within kind=aggTrade; pass kind=aggTrade")
    if not rows:
        return Completeness(None, reason="no trades in the requested range")
    ids = [row["trade_id"] for row in rows]
    times = [row["trade_time"] for row in rows]
    first, last = ensure_utc(min(times)), ensure_utc(max(times))  # shown rows hold naive UTC
    return _ratio("page", first, last, len(rows), max(ids) - min(ids) + 1)


def _ratio(scope: str, start: datetime, end: datetime, present: int, expected: int) -> Completeness:
    if expected <= 0:
        return Completeness(None, scope, start, end, present, expected, reason="no rows expected in the window")
    return Completeness(round(present / expected, 6), scope, start, end, present, expected)


def series_bounds(*, ref: SeriesRef) -> tuple[datetime | None, datetime | None]:
    """The first and last time of the series (`edges`: neither sorts the whole collection on the embedded store)."""
    field = TIME_FIELDS[ref.data_type]
    target = series_collection(ref=ref)
    first, last = edges.oldest(target, field), edges.newest(target, field)
    return (first[field] if first else None), (last[0][field] if last else None)


def series_newest(*, ref: SeriesRef, size: int) -> list[dict]:
    """The newest `size` rows (a sample for schema inference and cadence)."""
    field = TIME_FIELDS[ref.data_type]
    # Without `_id`: the sample describes the row fields (catalog schemas), and `_id` is the key, not a field.
    return edges.newest(series_collection(ref=ref), field, size, projection={"_id": False})


def nominal_cadence_seconds(interval: str) -> float:
    return INTERVAL_MS[interval] / 1000


def series_rows_by_source(*, ref: SeriesRef) -> dict[str, dict]:
    """Rows stored per origin (`stream`: the consumer, `rest`: backfills) with the time span each covers: what the
    lineage page counts, since the ingest lineage record is written once per dataset, not per batch."""
    field = TIME_FIELDS[ref.data_type]
    rows = series_collection(ref=ref).aggregate(
        [
            {
                "$group": {
                    "_id": "$source",
                    "rows": {"$sum": 1},
                    "first": {"$min": f"${field}"},
                    "last": {"$max": f"${field}"},
                }
            }
        ]
    )
    return {row["_id"]: {"rows": row["rows"], "first": row["first"], "last": row["last"]} for row in rows}
