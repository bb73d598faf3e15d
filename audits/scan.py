"""Reading a dataset for an audit: sorted projections streamed in batches and fed to the detectors.

One function per data type. Each reads only the audited window (rows from `since` on, plus the row before it so a
gap across the window's edge is still seen, plus a few more candles as the anomaly baseline), never a whole
collection at once: the cursor streams in batches of BATCH rows. Holes and findings come back in a `ScanResult`.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from ingestion import edges
from ingestion.documents import unique_key
from ingestion.keys import keyed_collection, trade_key_range
from petrosa_dm.market.intervals import INTERVAL_MS, floor_to_grid, next_open_time
from petrosa_dm.market.naming import TIME_FIELDS, DataType, SeriesRef

from .detectors import Finding, FoundGap
from .detectors.anomaly import ReturnAnomalies
from .detectors.sequence import DepthSequence, TradeSequence
from .detectors.timegrid import CandleGaps, FundingGaps, infer_funding_step, previous_open_time
from .detectors.validity import candle_problems, depth_problems, funding_problems, trade_problems

BATCH = 5000
# How often rows of each type are expected when the catalog knows no cadence (seconds); used for freshness.
DEFAULT_CADENCE = {
    DataType.TRADES: 60.0,
    DataType.DEPTH: 10.0,
    DataType.MARK_PRICES: 10.0,
    DataType.TICKERS: 10.0,
    DataType.BOOK_TICKERS: 10.0,
    DataType.LIQUIDATIONS: 3600.0,
}


def time_field(data_type: DataType) -> str:
    """The time field each type is ordered and windowed by."""
    return TIME_FIELDS[data_type]


@dataclass
class Coverage:
    """The span whose holes this scan decides: times (kind `time`) or ids (kind `sequence`), inclusive."""

    kind: str
    low: object
    high: object


@dataclass
class ScanResult:
    gaps: list[FoundGap] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    coverage: Coverage | None = None
    rows_read: int = 0
    rows_new: int = 0
    invalid_rows: int = 0
    invalid_new: int = 0
    anomalies: int = 0
    newest: datetime | None = None
    cadence_seconds: float | None = None
    notes: dict = field(default_factory=dict)


class FindingSink:
    """Keeps at most `limit` findings per audit type (the counts stay exact elsewhere)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[Finding] = []
        self.per_type: dict[str, int] = {}

    def add(self, finding: Finding) -> None:
        seen = self.per_type.get(finding.audit_type, 0)
        self.per_type[finding.audit_type] = seen + 1
        if seen < self.limit:
            self.kept.append(finding)

    def extend(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.add(finding)


def _invalid(key: str, when: datetime, problems: list[str], details: dict | None = None) -> Finding:
    return Finding(
        audit_type="validity",
        severity="error",
        message=f"{when.isoformat()}: {'; '.join(problems)}"[:500],
        key=key,
        details={"time": when.isoformat(), "problems": problems, **(details or {})},
    )


# An empty window doubles the next one, up to this many times the width that last held rows: a hole costs a few
# index probes (a millisecond each) and the first window past it stays bounded.
GALLOP = 16
# The first window of trades and depth updates: a busy symbol sends tens of them a second.
DENSE_WINDOW = timedelta(minutes=10)


def _stream(collection: Collection, query: dict, projection: list[str], sort: list[tuple[str, int]]):
    fields = dict.fromkeys(projection, 1) | {"_id": 0}
    return collection.find(query, fields, sort=sort, batch_size=BATCH)


def _windows(
    collection: Collection,
    query: dict,
    projection: list[str],
    name: str,
    width: timedelta,
    since: datetime | None,
    until: datetime | None,
    sort_by: str | None = None,
):
    """The rows of `query` with `name` in [since, until), read window by window of `name`'s index.

    Each window is bounded on both sides and its width follows the rows found (about BATCH a window). The embedded
    store materializes a query's whole answer before its first batch, range or not: one sorted read of 500,000
    candles outlived its 300 s operation limit. Rows come sorted by `sort_by` (default `name`), which must agree
    with `name`'s order across windows: true of Binance's trade and update ids, which never decrease in time.
    """
    sort = [(sort_by or name, ASCENDING)]
    low, horizon = since, until
    if low is None:  # an open span reads from the oldest row, or to the newest
        first = edges.oldest(collection, name, query)
        low = first[name] if first else None
    if horizon is None and low is not None:
        last = edges.newest(collection, name, query={**query, name: {"$gte": low}})
        horizon = last[0][name] + timedelta(milliseconds=1) if last else None
    if low is None or horizon is None:
        return
    step = width
    while low < horizon:
        high = min(low + step, horizon)
        found = 0
        for row in _stream(collection, {**query, name: {"$gte": low, "$lt": high}}, projection, sort):
            found += 1
            yield row
        if found:
            width = step = max(min(step * (BATCH / found), step * GALLOP), timedelta(milliseconds=1))
        else:
            step = min(step * 2, width * GALLOP)
        low = high


def previous_row(
    collection: Collection, query: dict, field: str, before, span, projection=None, *, key_range=None
) -> dict | None:
    """The last row with `field` below `before`: first looked for within `span` of it, then anywhere.

    The bounded look-up is what keeps an incremental run cheap on stores that sort a range in memory; the
    unbounded one only runs when a hole wider than `span` precedes the window. With `key_range` (`id_key_range`:
    an integer id field held in `_id`), both look-ups walk the `_id` index instead of the unindexed field.
    """
    for low in (before - span, None):
        if key_range is not None:
            bounded, order = {**query, "_id": key_range(low, before - 1)}, "_id"
        else:
            bounds = {"$lt": before} if low is None else {"$gte": low, "$lt": before}
            bounded, order = {**query, field: bounds}, field
        row = collection.find_one(bounded, projection, sort=[(order, DESCENDING)])
        if row:
            return row
    return None


def id_key_range(collection: Collection, data_type: DataType, kind: str):
    """For a trade or depth collection whose rows carry their key as `_id`: ids in [low, high] (either None for
    open) as an `_id` range, which sorts like the id within one kind (`ingestion.keys`). The id fields themselves
    have no index since the key moved into `_id`, so a sorted read on them is a collection scan on MongoDB.
    None for a collection written the old way (its unique key index covers the id field)."""
    if not keyed_collection(collection, data_type):
        return None
    if data_type is DataType.TRADES:
        return partial(trade_key_range, kind)
    return _plain_range


def _plain_range(low: int | None, high: int | None) -> dict:
    return {**({"$gte": low} if low is not None else {}), **({"$lte": high} if high is not None else {})}


def sequence_edge(collection: Collection, query: dict, field: str, key_range, *, below=None, newest=False):
    """The first (or, `newest`, the last) id of a sequence, below `below` when given; None without rows. By the
    `_id` index on a keyed collection (`id_key_range`), else by the id field."""
    direction = DESCENDING if newest else ASCENDING
    if key_range is not None:
        bounded = {**query, "_id": key_range(None, None if below is None else below - 1)}
        found = collection.find_one(bounded, sort=[("_id", direction)])
    else:
        bounded = {**query, field: {"$lt": below}} if below is not None else query
        found = collection.find_one(bounded, sort=[(field, direction)])
    return found[field] if found else None


def _is_new(moment: datetime, watermark: datetime | None) -> bool:
    return watermark is None or moment > watermark


CANDLE_FIELDS = [
    "open_time",
    "close_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "trades",
]


def candles_last_expected(interval: str, newest: datetime, now: datetime) -> datetime:
    """The last candle that must exist: for a live series the last one closed a grace period ago, else the newest."""
    if now - newest > timedelta(seconds=settings.AUDIT_LIVE_SECONDS):
        return floor_to_grid(newest, interval)
    closed_before = floor_to_grid(now - timedelta(seconds=settings.AUDIT_GRACE_SECONDS), interval)
    return max(previous_open_time(closed_before, interval), floor_to_grid(newest, interval))


def scan_candles(
    collection: Collection,
    ref: SeriesRef,
    *,
    since: datetime | None,
    until: datetime | None,
    expect_from: datetime | None,
    last_expected: datetime | None,
    watermark: datetime | None,
) -> ScanResult:
    """Gaps, validity and anomalies of candles opening in [since, until) (either bound may be open)."""
    interval = ref.interval
    result = ScanResult(cadence_seconds=INTERVAL_MS[interval] / 1000)
    sink = FindingSink(settings.AUDIT_MAX_FINDINGS)
    gaps = CandleGaps(interval, expect_from=expect_from)
    anomalies = ReturnAnomalies(window=settings.AUDIT_ANOMALY_WINDOW, sigma=settings.AUDIT_ANOMALY_SIGMA)
    low = expect_from
    if since is not None and expect_from is None:
        fields = {"open_time": 1, "close": 1, "_id": 0}
        span = timedelta(milliseconds=INTERVAL_MS[interval] * (settings.AUDIT_ANOMALY_WINDOW + 1))
        baseline = collection.find({"open_time": {"$gte": since - span, "$lt": since}}, fields)
        rows = list(baseline.sort("open_time", DESCENDING).limit(settings.AUDIT_ANOMALY_WINDOW + 1))
        if not rows:  # a hole wider than the baseline precedes the window: the row before it still connects
            rows = [row for row in [previous_row(collection, {}, "open_time", since, span, fields)] if row]
        for row in reversed(rows):
            anomalies.feed(row["open_time"], row.get("close"), report=False)
        if rows:  # the row before the window connects it, so a hole across the window's edge is seen whole
            gaps.feed(rows[0]["open_time"])
            low = floor_to_grid(rows[0]["open_time"], interval)
    width = timedelta(milliseconds=INTERVAL_MS[interval]) * BATCH
    for row in _windows(collection, {}, CANDLE_FIELDS, "open_time", width, since, until):
        open_time = row["open_time"]
        low = low or floor_to_grid(open_time, interval)
        gaps.feed(open_time)
        anomalies.feed(open_time, row.get("close"))
        _count_row(
            result, sink, row, "open_time", watermark, candle_problems(row, interval), f"candle:{open_time.isoformat()}"
        )
    result.gaps = gaps.finish(last_expected)
    sink.extend(anomalies.findings)
    result.anomalies = anomalies.count
    result.findings = sink.kept
    high = last_expected or (floor_to_grid(result.newest, interval) if result.newest else None)
    result.coverage = Coverage("time", low, high) if low and high else None
    return result


def funding_step(collection: Collection) -> timedelta:
    """The symbol's funding interval, inferred from its most recent funding times."""
    return infer_funding_step([row["funding_time"] for row in edges.newest(collection, "funding_time", 50)])


def funding_last_expected(step: timedelta, newest: datetime, now: datetime) -> datetime:
    """The last funding time that must exist (funding times are whole multiples of the interval from midnight)."""
    if now - newest > timedelta(seconds=settings.AUDIT_LIVE_SECONDS):
        return newest
    passed = now - timedelta(seconds=settings.AUDIT_GRACE_SECONDS)
    midnight = passed.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(midnight + (passed - midnight) // step * step, newest)


def scan_funding(
    collection: Collection,
    *,
    step: timedelta,
    since: datetime | None,
    until: datetime | None,
    expect_from: datetime | None,
    last_expected: datetime | None,
    watermark: datetime | None,
) -> ScanResult:
    result = ScanResult(
        cadence_seconds=step.total_seconds(), notes={"funding_interval_hours": step / timedelta(hours=1)}
    )
    sink = FindingSink(settings.AUDIT_MAX_FINDINGS)
    gaps = FundingGaps(step, expect_from=expect_from)
    tolerance = timedelta(seconds=settings.AUDIT_FUNDING_TOLERANCE_SECONDS)
    low = expect_from
    if since is not None and expect_from is None:
        previous = previous_row(collection, {}, "funding_time", since, timedelta(days=7))
        if previous:
            gaps.feed(previous["funding_time"])
            low = previous["funding_time"]
    fields = ["funding_time", "funding_rate"]
    for row in _windows(collection, {}, fields, "funding_time", step * BATCH, since, until):
        funding_time = row["funding_time"]
        low = low or funding_time
        gaps.feed(funding_time)
        problems = funding_problems(row, tolerance)
        _count_row(result, sink, row, "funding_time", watermark, problems, f"funding:{funding_time.isoformat()}")
    result.gaps = gaps.finish(last_expected)
    result.findings = sink.kept
    high = last_expected or result.newest
    result.coverage = Coverage("time", low, high) if low and high else None
    return result


def trade_kind(collection: Collection) -> str:
    """aggTrade ids when the dataset holds any, else raw trade ids: one id sequence per dataset."""
    return "aggTrade" if collection.find_one({"kind": "aggTrade"}, {"_id": 1}) else "trade"


def scan_trades(
    collection: Collection,
    *,
    since: datetime | None,
    id_range: tuple[int, int] | None,
    expect: tuple[datetime, datetime] | None,
    watermark: datetime | None,
) -> ScanResult:
    """Id continuity of rows traded from `since` on, or of ids in `id_range` (rechecking a known gap)."""
    kind = trade_kind(collection)
    result = ScanResult(notes={"sequence": kind})
    sink = FindingSink(settings.AUDIT_MAX_FINDINGS)
    query: dict = {"kind": kind}
    key_range = id_key_range(collection, DataType.TRADES, kind)
    if id_range:
        query["trade_id"] = {"$gte": id_range[0], "$lte": id_range[1]}
        if key_range is not None:  # the same rows, found on the `_id` index
            query["_id"] = key_range(*id_range)
        detector = TradeSequence(expect_from=(id_range[0], expect[0]), expect_to=(id_range[1], expect[1]))
    else:
        detector = TradeSequence()
    fields = ["trade_id", "trade_time", "first_trade_id", "last_trade_id", "price", "quantity"]
    if id_range:
        rows = _stream(collection, query, fields, [("_id" if key_range else "trade_id", ASCENDING)])
    else:
        rows = _windows(collection, query, fields, "trade_time", DENSE_WINDOW, since, None, sort_by="trade_id")
    low = id_range[0] if id_range else None
    for row in rows:
        if low is None:
            low = _connect_trade(collection, kind, row["trade_id"], detector)
        detector.feed(row["trade_id"], row["trade_time"], row.get("first_trade_id"), row.get("last_trade_id"))
        _count_row(result, sink, row, "trade_time", watermark, trade_problems(row), f"trade:{row['trade_id']}")
        result.notes["last_id"] = row["trade_id"]
    return _close_sequence(result, detector, sink, id_range, low)


def _close_sequence(result: ScanResult, detector, sink, id_range, low: int | None) -> ScanResult:
    """Collect a sequence scan's gaps and findings, and the id span it covered."""
    result.gaps = detector.finish()
    sink.extend(detector.findings)
    result.findings = sink.kept
    high = id_range[1] if id_range else result.notes.get("last_id")
    result.coverage = Coverage("sequence", low, high) if low is not None and high is not None else None
    return result


def _connect_trade(collection: Collection, kind: str, first_id: int, detector: TradeSequence) -> int:
    key_range = id_key_range(collection, DataType.TRADES, kind)
    previous = previous_row(collection, {"kind": kind}, "trade_id", first_id, 100_000, key_range=key_range)
    if not previous:
        return first_id
    detector.feed(
        previous["trade_id"], previous["trade_time"], previous.get("first_trade_id"), previous.get("last_trade_id")
    )
    return previous["trade_id"]


def _count_row(result: ScanResult, sink: FindingSink, row: dict, time_name: str, watermark, problems, key) -> None:
    moment = row[time_name]
    new = _is_new(moment, watermark)
    result.rows_read += 1
    result.rows_new += new
    result.newest = moment if result.newest is None or moment > result.newest else result.newest
    if problems:
        result.invalid_rows += 1
        result.invalid_new += new
        sink.add(_invalid(key, moment, problems))


def depth_kind(collection: Collection) -> str:
    return "diff" if collection.find_one({"kind": "diff"}, {"_id": 1}) else "partial"


def scan_depth(
    collection: Collection,
    *,
    since: datetime | None,
    id_range: tuple[int, int] | None,
    expect_time: datetime | None,
    watermark: datetime | None,
) -> ScanResult:
    """The `pu` chain of updates from `since` on, or around the update ids in `id_range` (rechecking a gap)."""
    kind = depth_kind(collection)
    result = ScanResult(notes={"sequence": kind})
    sink = FindingSink(settings.AUDIT_MAX_FINDINGS)
    query: dict = {"kind": kind}
    key_range = id_key_range(collection, DataType.DEPTH, kind)
    if id_range:
        query["final_update_id"] = {"$gte": id_range[0]}
        if key_range is not None:  # the same rows, found on the `_id` index
            query["_id"] = key_range(id_range[0], None)
        detector = DepthSequence(expect_from=(id_range[0], expect_time))
    else:
        detector = DepthSequence()
    fields = ["final_update_id", "first_update_id", "prev_final_update_id", "event_time"]
    if id_range:
        rows = _stream(collection, query, fields, [("_id" if key_range else "final_update_id", ASCENDING)])
    else:
        rows = _windows(collection, query, fields, "event_time", DENSE_WINDOW, since, None, sort_by="final_update_id")
    low = id_range[0] if id_range else None
    for row in rows:
        if low is None:
            low = _connect_depth(collection, kind, row["final_update_id"], detector)
        detector.feed(
            row["final_update_id"], row["event_time"], row.get("first_update_id"), row.get("prev_final_update_id")
        )
        _count_row(result, sink, row, "event_time", watermark, depth_problems(row), f"depth:{row['final_update_id']}")
        result.notes["last_id"] = row["final_update_id"]
        if id_range and row["final_update_id"] > id_range[1]:
            break  # the update after the known gap closes the chain
    return _close_sequence(result, detector, sink, id_range, low)


def _connect_depth(collection: Collection, kind: str, first_id: int, detector: DepthSequence) -> int:
    key_range = id_key_range(collection, DataType.DEPTH, kind)
    previous = previous_row(collection, {"kind": kind}, "final_update_id", first_id, 10_000_000, key_range=key_range)
    if not previous:
        return first_id
    detector.feed(
        previous["final_update_id"],
        previous["event_time"],
        previous.get("first_update_id"),
        previous.get("prev_final_update_id"),
    )
    return previous["final_update_id"]


def scan_plain(collection: Collection, ref: SeriesRef, *, since: datetime | None, watermark) -> ScanResult:
    """Types without a gap rule (mark prices, tickers, ...): rows read and the newest row, for freshness."""
    name = time_field(ref.data_type)
    cadence = DEFAULT_CADENCE.get(ref.data_type)
    result = ScanResult(cadence_seconds=cadence)
    width = timedelta(seconds=cadence or 60) * BATCH
    for row in _windows(collection, {}, [name], name, width, since, None):
        if isinstance(row.get(name), datetime):
            result.rows_read += 1
            result.rows_new += _is_new(row[name], watermark)
            result.newest = row[name]
    return result


def has_unique_key(collection: Collection, data_type: DataType) -> bool:
    """Whether the collection cannot hold duplicates: its rows carry their key as `_id` (ours), or it has a unique
    index on the key (ours before keys moved into `_id`, or another tool's)."""
    key = unique_key(data_type)
    for index in collection.index_information().values():
        if index.get("unique") and tuple(name for name, _ in index["key"]) == key:
            return True
    return keyed_collection(collection, data_type)


def duplicates(collection: Collection, data_type: DataType, *, after: datetime | None) -> tuple[int, list[Finding]]:
    """Rows sharing the type's key (newer than `after`), for collections written without our keys (other tools).

    Returns (extra rows beyond the first of each key, findings). Grouping runs in the database.
    """
    if has_unique_key(collection, data_type):
        return 0, []
    key = unique_key(data_type)
    match = {time_field(data_type): {"$gt": after}} if after else {}
    pipeline = [
        {"$match": match},
        {"$group": {"_id": {name: f"${name}" for name in key}, "rows": {"$sum": 1}}},
        {"$match": {"rows": {"$gt": 1}}},
        {"$sort": {"_id": 1}},
    ]
    extra, sink = 0, FindingSink(settings.AUDIT_MAX_FINDINGS)
    for group in collection.aggregate(pipeline, allowDiskUse=True):
        extra += group["rows"] - 1
        shown = ", ".join(f"{name}={_show(value)}" for name, value in group["_id"].items())
        sink.add(
            Finding(
                audit_type="duplicate",
                severity="warning",
                message=f"{group['rows']} rows share the key {shown}",
                key=f"duplicate:{shown}",
                details={"key": {name: _show(value) for name, value in group["_id"].items()}, "rows": group["rows"]},
            )
        )
    return extra, sink.kept


def _show(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def candles_grid_span(interval: str, first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """First and one-past-last slot of a span, for counting expected candles."""
    return floor_to_grid(first, interval), next_open_time(floor_to_grid(last, interval), interval)
