"""How each data type is paged through the REST API: where a job starts, what the next request is, where it ends.

A `Position` is exactly what a job saves after every page (`cursor`, `cursor_id`), so a resumed job asks for the
page after the last one stored and never refetches a completed page.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings

from petrosa_dm.market.intervals import floor_to_grid, grid_count, next_open_time
from petrosa_dm.market.naming import SeriesRef, series
from petrosa_dm.market.timeutils import to_ms, utcnow

from . import rows as rest_rows
from . import weights
from .client import BinanceClient

ONE_MS = timedelta(milliseconds=1)
# Binance answers an aggTrades time query only for windows shorter than an hour.
AGG_TRADES_WINDOW = timedelta(hours=1) - ONE_MS


@dataclass(frozen=True)
class Position:
    cursor: datetime
    cursor_id: int | None = None
    done: bool = False


@dataclass
class Page:
    rows: list[dict]
    position: Position


class Fetcher:
    """Pages of one series over [start, end)."""

    endpoint: str
    time_field: str

    def __init__(self, *, symbol: str, start: datetime, end: datetime, timeframe: str = "") -> None:
        self.symbol, self.start, self.end, self.timeframe = symbol, start, end, timeframe

    @property
    def ref(self) -> SeriesRef:
        return series(self.data_type, self.symbol)

    def first_position(self) -> Position:
        return Position(cursor=self.start)

    def resume(self, cursor: datetime, cursor_id: int | None) -> Position:
        """The position a job saved (its cursor), to continue from."""
        return Position(cursor=cursor, cursor_id=cursor_id, done=cursor >= self.end)

    def fetch(self, client: BinanceClient, position: Position) -> Page:
        raise NotImplementedError

    def progress(self, position: Position) -> float:
        if position.done:
            return 1.0
        span = (self.end - self.start).total_seconds()
        return min(1.0, max(0.0, (position.cursor - self.start).total_seconds() / span)) if span > 0 else 0.0


class CandleFetcher(Fetcher):
    data_type = "candles"
    endpoint = weights.KLINES
    time_field = "open_time"

    @property
    def ref(self) -> SeriesRef:
        return series(self.data_type, self.symbol, interval=self.timeframe)

    def first_position(self) -> Position:
        first = floor_to_grid(self.start, self.timeframe)
        return Position(cursor=first if first >= self.start else next_open_time(first, self.timeframe))

    def fetch(self, client: BinanceClient, position: Position) -> Page:
        wanted = grid_count(position.cursor, self.end, self.timeframe)
        if wanted == 0:
            return Page([], replace(position, done=True))
        limit = weights.page_limit(self.endpoint, wanted)
        convert = partial(rest_rows.candle_rows, symbol=self.symbol, interval=self.timeframe, now=utcnow())
        rows = client.klines(
            symbol=self.symbol,
            interval=self.timeframe,
            start_ms=to_ms(position.cursor),
            end_ms=to_ms(self.end) - 1,
            limit=limit,
            convert=convert,
        )
        rows = [row for row in rows if position.cursor <= row["open_time"] < self.end]
        # A short page means the range is exhausted (the exchange skips candles it does not have).
        if len(rows) < limit:
            return Page(rows, Position(cursor=self.end, done=True))
        return Page(rows, Position(cursor=next_open_time(rows[-1]["open_time"], self.timeframe)))


class FundingFetcher(Fetcher):
    data_type = "funding_rates"
    endpoint = weights.FUNDING_RATE
    time_field = "funding_time"

    def fetch(self, client: BinanceClient, position: Position) -> Page:
        limit = weights.max_limit(self.endpoint)
        rows = client.funding_rates(
            symbol=self.symbol,
            start_ms=to_ms(position.cursor),
            end_ms=to_ms(self.end) - 1,
            limit=limit,
            convert=partial(rest_rows.funding_rows, symbol=self.symbol, now=utcnow()),
        )
        rows = [row for row in rows if position.cursor <= row["funding_time"] < self.end]
        if len(rows) < limit:
            return Page(rows, Position(cursor=self.end, done=True))
        return Page(rows, Position(cursor=rows[-1]["funding_time"] + ONE_MS))


class AggTradeFetcher(Fetcher):
    """Finds the first trade by time (hour by hour), then walks the contiguous ids with `fromId` until `end`."""

    data_type = "trades"
    endpoint = weights.AGG_TRADES
    time_field = "trade_time"

    def fetch(self, client: BinanceClient, position: Position) -> Page:
        limit = weights.max_limit(self.endpoint)
        convert = partial(rest_rows.agg_trade_rows, symbol=self.symbol, now=utcnow())
        if position.cursor_id is None:
            window_end = min(position.cursor + AGG_TRADES_WINDOW, self.end - ONE_MS)
            rows = client.agg_trades(
                symbol=self.symbol,
                start_ms=to_ms(position.cursor),
                end_ms=to_ms(window_end),
                limit=limit,
                convert=convert,
            )
            if not rows:
                next_cursor = window_end + ONE_MS
                return Page([], Position(cursor=next_cursor, done=next_cursor >= self.end))
        else:
            rows = client.agg_trades(symbol=self.symbol, from_id=position.cursor_id, limit=limit, convert=convert)
        in_range = [row for row in rows if position.cursor <= row["trade_time"] < self.end]
        if not in_range:
            return Page([], Position(cursor=self.end, cursor_id=position.cursor_id, done=True))
        last = in_range[-1]
        done = len(in_range) < len(rows) or (position.cursor_id is not None and len(rows) < limit)
        return Page(in_range, Position(cursor=last["trade_time"], cursor_id=last["trade_id"] + 1, done=done))


class AggTradeIdFetcher(Fetcher):
    """Exactly the aggregate trade ids `from_id..to_id` (a sequence gap): `fromId` pages, stopping at `to_id`.

    The cursor id is the next id wanted; the job is done once it passes `to_id`, or when the exchange has no more
    trades after the last one it returned (ids it never had stay missing, and the gap says so)."""

    data_type = "trades"
    endpoint = weights.AGG_TRADES
    time_field = "trade_time"

    def __init__(self, *, from_id: int, to_id: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.from_id, self.to_id = from_id, to_id

    def first_position(self) -> Position:
        return Position(cursor=self.start, cursor_id=self.from_id)

    def resume(self, cursor: datetime, cursor_id: int | None) -> Position:
        cursor_id = self.from_id if cursor_id is None else cursor_id
        return Position(cursor=cursor, cursor_id=cursor_id, done=cursor_id > self.to_id)

    def fetch(self, client: BinanceClient, position: Position) -> Page:
        wanted = self.to_id - position.cursor_id + 1
        limit = weights.page_limit(self.endpoint, wanted)
        rows = client.agg_trades(
            symbol=self.symbol,
            from_id=position.cursor_id,
            limit=limit,
            convert=partial(rest_rows.agg_trade_rows, symbol=self.symbol, now=utcnow()),
        )
        in_range = [row for row in rows if position.cursor_id <= row["trade_id"] <= self.to_id]
        if not in_range:
            return Page([], replace(position, cursor_id=self.to_id + 1, done=True))
        last = in_range[-1]
        done = last["trade_id"] >= self.to_id or len(rows) < limit
        next_id = self.to_id + 1 if done else last["trade_id"] + 1
        return Page(in_range, Position(cursor=last["trade_time"], cursor_id=next_id, done=done))

    def progress(self, position: Position) -> float:
        if position.done:
            return 1.0
        span = self.to_id - self.from_id + 1
        return min(1.0, max(0.0, (position.cursor_id - self.from_id) / span))


class DepthFetcher(Fetcher):
    """Binance keeps no order-book history: a depth job stores one snapshot of the book as it is now."""

    data_type = "depth"
    endpoint = weights.DEPTH
    time_field = "event_time"

    def fetch(self, client: BinanceClient, position: Position) -> Page:
        rows = client.depth(
            symbol=self.symbol,
            limit=settings.BACKFILL_DEPTH_LIMIT,
            convert=partial(rest_rows.depth_rows, symbol=self.symbol, now=utcnow()),
        )
        from books.services import snapshot_store

        for row in rows:  # also an anchor of the order book (books_{SYMBOL}): it re-anchors a broken book
            snapshot_store(symbol=self.symbol, row=row)
        return Page(rows, Position(cursor=self.end, done=True))


FETCHERS: dict[str, type[Fetcher]] = {
    fetcher.data_type: fetcher for fetcher in (CandleFetcher, FundingFetcher, AggTradeFetcher, DepthFetcher)
}


def fetcher_for(
    *,
    data_type: str,
    symbol: str,
    start: datetime,
    end: datetime,
    timeframe: str = "",
    from_id: int | None = None,
    to_id: int | None = None,
) -> Fetcher:
    if from_id is not None and to_id is not None:
        return AggTradeIdFetcher(symbol=symbol, start=start, end=end, from_id=from_id, to_id=to_id)
    return FETCHERS[data_type](symbol=symbol, start=start, end=end, timeframe=timeframe)
