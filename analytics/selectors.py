"""Reads for analytics: candle windows, order books per bar, stored results and what has new data."""

from datetime import datetime, timedelta

import pandas as pd
from pymongo import ASCENDING, DESCENDING

from ingestion.selectors import series_page
from petrosa_dm import mongo
from petrosa_dm.market.intervals import floor_to_grid, next_open_time
from petrosa_dm.market.naming import DataType, SeriesRef, parse_collection, series
from petrosa_dm.market.timeutils import ensure_utc

from . import frames
from .calculators import correlation
from .coverage import coverage_measure
from .metrics import clean

CANDLE_FIELDS = {"_id": 0, "open_time": 1, **dict.fromkeys(frames.CANDLE_COLUMNS, 1)}
WINDOW_FIELDS = {**CANDLE_FIELDS, "closed": 1, "close_time": 1}


def _finished(now: datetime) -> dict:
    # A candle still open (closed false and its close time not yet passed) would change under us: leave it out.
    return {"$or": [{"closed": True}, {"close_time": {"$lt": now}}]}


def _is_finished(row: dict, now: datetime) -> bool:
    close_time = row.get("close_time")
    return bool(row.get("closed")) or (close_time is not None and ensure_utc(close_time) < now)


def candle_latest_open_time(*, ref: SeriesRef, now: datetime) -> datetime | None:
    """The open time of the newest finished candle of a series.

    Only the newest candle can still be open, so the newest two rows hold the answer; they are read as the data
    endpoints read a page (an index range just before now for a live collection, which engines answer without
    walking the index). Anything else (clock skew, candles left unclosed) takes the full query.
    """
    page = series_page(ref=ref, limit=2, descending=True)
    for row in page.rows if page else []:
        if _is_finished(row, now):
            return row["open_time"]
    if page is None or not page.has_next:
        return None
    row = mongo.database()[ref.collection].find_one(
        _finished(now), projection={"open_time": 1}, sort=[("open_time", DESCENDING)]
    )
    return row["open_time"] if row else None


def candle_window_end(*, ref: SeriesRef, now: datetime) -> datetime | None:
    """The exclusive end of the newest complete window: the open time after the newest finished candle."""
    latest = candle_latest_open_time(ref=ref, now=now)
    return next_open_time(latest, ref.interval) if latest else None


def candle_window_load(*, ref: SeriesRef, end: datetime, bars: int, now: datetime) -> pd.DataFrame:
    """The `bars` candles before `end` on the grid, missing ones as NaN rows."""
    start = frames.window_start(end, ref.interval, bars)
    # A range on the open-time index only; unfinished candles are dropped here (an `$or` in the query keeps some
    # engines off the index).
    query = {"open_time": {"$gte": start, "$lt": end}}
    cursor = mongo.database()[ref.collection].find(query, projection=WINDOW_FIELDS).sort("open_time", ASCENDING)
    rows = [row for row in cursor if _is_finished(row, now)]
    return frames.candle_frame(rows, frames.grid_index(start, end, ref.interval))


def candle_exists_before(*, ref: SeriesRef, moment: datetime) -> bool:
    """Whether the series holds a candle opening before `moment` (a range on the index, no sort)."""
    query = {"open_time": {"$lt": moment}}
    return mongo.database()[ref.collection].find_one(query, projection={"_id": 1}) is not None


def candle_series_list() -> list[SeriesRef]:
    """Every candle series in the store, by the naming rules."""
    refs = (parse_collection(name) for name in mongo.database().list_collection_names())
    return sorted((ref for ref in refs if ref and ref.data_type is DataType.CANDLES), key=lambda ref: ref.collection)


def depth_series_list() -> list[SeriesRef]:
    refs = (parse_collection(name) for name in mongo.database().list_collection_names())
    return sorted((ref for ref in refs if ref and ref.data_type is DataType.DEPTH), key=lambda ref: ref.collection)


def depth_latest_event_time(*, ref: SeriesRef) -> datetime | None:
    row = mongo.database()[ref.collection].find_one({}, projection={"event_time": 1}, sort=[("event_time", -1)])
    return row["event_time"] if row else None


def _bar(moment: datetime, interval: str) -> pd.Timestamp:
    return pd.Timestamp(floor_to_grid(moment, interval)).as_unit("ms")


def depth_books_by_bar(*, ref: SeriesRef, start: datetime, end: datetime, interval: str) -> tuple[pd.Series, dict]:
    """The real order book at the end of each bar in [start, end), rebuilt from the stored snapshots, checkpoints
    and diffs (`books.selectors.books_at_times`). Returns (the full (bids, asks) per bar, NaN where no book is
    known; each bar's source: `book`, `partial` (a partial-depth frame's top levels), `unknown` (inside a break in
    the depth stream), absent before the first book)."""
    from books.selectors import books_at_times

    index = frames.grid_index(start, end, interval)
    moments = [next_open_time(bar.to_pydatetime(), interval) - timedelta(milliseconds=1) for bar in index]
    books, sources = {}, {}
    for bar, found in zip(index, books_at_times(ref.symbol, moments), strict=True):
        if found.state == "exact":
            books[bar], sources[bar] = (found.bids, found.asks), found.source
        elif found.state == "unknown":
            sources[bar] = "unknown"
    return pd.Series(books, index=index, dtype=object), sources


def analytics_ref(*, symbol: str, metric: str) -> SeriesRef:
    return series(DataType.ANALYTICS, symbol, metric=metric)


def result_latest_as_of(*, ref: SeriesRef, timeframe: str) -> datetime | None:
    row = mongo.database()[ref.collection].find_one({"timeframe": timeframe}, sort=[("as_of", DESCENDING)])
    return row["as_of"] if row else None


def result_latest_book_time(*, ref: SeriesRef) -> datetime | None:
    """The newest order-book time a stored spread result has read."""
    row = mongo.database()[ref.collection].find_one(
        {}, projection={"values.latest_book_time": 1}, sort=[("as_of", DESCENDING)]
    )
    return row["values"].get("latest_book_time") if row else None


def result_exists(*, ref: SeriesRef) -> bool:
    return mongo.database()[ref.collection].find_one({}, projection={"_id": 1}) is not None


def result_list(*, ref: SeriesRef, timeframe: str | None, window: int | None, limit: int) -> list[dict]:
    """Stored results, latest `as_of` first (then the larger window, for a stable order)."""
    query: dict = {}
    if timeframe:
        query["timeframe"] = timeframe
    if window:
        query["window"] = window
    cursor = mongo.database()[ref.collection].find(query, projection={"_id": 0})
    return list(cursor.sort([("as_of", DESCENDING), ("window", DESCENDING), ("timeframe", ASCENDING)]).limit(limit))


class NoCandles(LookupError):
    """A pair has no finished candles for the requested interval."""

    def __init__(self, symbol: str, interval: str) -> None:
        super().__init__(f"no {interval} candles stored for {symbol}")
        self.symbol = symbol


def correlation_matrix_get(*, pairs: list[str], interval: str, window: int, now: datetime) -> dict:
    """Pearson correlation of log returns over the last `window` bars all pairs share (computed on demand).

    The window ends where the pair with the oldest newest candle ends, so no pair is read past its data; only
    timestamps where every pair has a return (its candle and the one before it) enter the matrix.
    """
    refs = [series(DataType.CANDLES, pair, interval=interval) for pair in pairs]
    ends = {}
    for ref in refs:
        ends[ref.symbol] = candle_window_end(ref=ref, now=now)
        if ends[ref.symbol] is None:
            raise NoCandles(ref.symbol, interval)
    end = min(ends.values())
    loaded = {ref.symbol: candle_window_load(ref=ref, end=end, bars=window + 1, now=now) for ref in refs}
    returns = correlation.aligned_returns({symbol: frame["close"] for symbol, frame in loaded.items()})
    matrix = correlation.correlation_matrix(returns).reindex(index=pairs, columns=pairs)
    coverages = {
        ref.symbol: coverage_measure(
            dataset_id=ref.collection, interval=interval, present=loaded[ref.symbol]["close"].notna()
        )
        for ref in refs
    }
    return {
        "matrix": {row: {column: clean(matrix.loc[row, column]) for column in pairs} for row in pairs},
        "observations": len(returns),
        "start": returns.index[0].to_pydatetime() if len(returns) else None,
        "end": returns.index[-1].to_pydatetime() if len(returns) else None,
        "as_of": end,
        "coverage": {
            symbol: {key: value for key, value in coverage.items() if key != "gaps"}
            for symbol, coverage in coverages.items()
        },
        "reliable": all(coverage["reliable"] for coverage in coverages.values()),
    }
