"""Candle and depth rows from MongoDB as float DataFrames on the interval grid.

Stored prices are Decimal128 (exact); analytics works in float, so the conversion happens here, once. Frames are
reindexed on the grid of open times, so a missing candle is a row of NaN rather than an absent row: calculators then
never treat the candles either side of a hole as neighbours.
"""

from datetime import UTC, datetime

import pandas as pd

from petrosa_dm.market.intervals import MONTHLY, interval_delta, next_open_time

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume", "taker_buy_volume")


def grid_index(start: datetime, end: datetime, interval: str) -> pd.DatetimeIndex:
    """Open times on the grid in [start, end); `start` must be on the grid."""
    if interval == MONTHLY:
        times, cursor = [], start
        while cursor < end:
            times.append(cursor)
            cursor = next_open_time(cursor, interval)
        return pd.DatetimeIndex(times, name="open_time").as_unit("ms")
    step = interval_delta(interval)
    return pd.date_range(start, end - step, freq=step, name="open_time", inclusive="both").as_unit("ms")


def window_start(end: datetime, interval: str, bars: int) -> datetime:
    """The open time `bars` candles before the exclusive end `end` (on the grid)."""
    if interval != MONTHLY:
        return end - bars * interval_delta(interval)
    months = end.year * 12 + end.month - 1 - bars
    return end.replace(year=months // 12, month=months % 12 + 1)


def _to_float(values) -> list[float]:
    return [float(str(value)) if value is not None else float("nan") for value in values]


def candle_frame(rows: list[dict], index: pd.DatetimeIndex) -> pd.DataFrame:
    """Rows of the Candle shape as a float frame on `index` (missing candles are NaN rows)."""
    if not rows:
        return pd.DataFrame({column: pd.Series(dtype=float) for column in CANDLE_COLUMNS}).reindex(index)
    open_times = pd.DatetimeIndex([_utc(row["open_time"]) for row in rows], name="open_time").as_unit("ms")
    columns = {column: _to_float(row.get(column) for row in rows) for column in CANDLE_COLUMNS}
    frame = pd.DataFrame(columns, index=open_times)
    frame = frame[~frame.index.duplicated(keep="last")]
    return frame.reindex(index)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
