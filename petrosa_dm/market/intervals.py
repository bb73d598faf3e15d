"""Binance kline intervals: the list, their lengths, and stepping along the grid (month-aware for `1M`)."""

from datetime import UTC, datetime, timedelta

_MINUTE = 60_000
INTERVAL_MS: dict[str, int] = {
    "1m": _MINUTE,
    "3m": 3 * _MINUTE,
    "5m": 5 * _MINUTE,
    "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE,
    "1h": 60 * _MINUTE,
    "2h": 120 * _MINUTE,
    "4h": 240 * _MINUTE,
    "6h": 360 * _MINUTE,
    "8h": 480 * _MINUTE,
    "12h": 720 * _MINUTE,
    "1d": 1440 * _MINUTE,
    "3d": 3 * 1440 * _MINUTE,
    "1w": 7 * 1440 * _MINUTE,
    "1M": 30 * 1440 * _MINUTE,  # nominal only; use next_open_time for the calendar month
}
INTERVALS: tuple[str, ...] = tuple(INTERVAL_MS)
MONTHLY = "1M"


def is_interval(value: str) -> bool:
    return value in INTERVAL_MS


def interval_delta(interval: str) -> timedelta:
    return timedelta(milliseconds=INTERVAL_MS[interval])


def next_open_time(open_time: datetime, interval: str) -> datetime:
    """The open time of the candle after `open_time`."""
    if interval == MONTHLY:
        year, month = divmod(open_time.month, 12)
        return open_time.replace(year=open_time.year + year, month=month + 1)
    return open_time + interval_delta(interval)


def floor_to_grid(moment: datetime, interval: str) -> datetime:
    """The open time of the candle that contains `moment` (Binance's grid is anchored at the epoch, weeks on Monday)."""
    moment = moment.astimezone(UTC)
    if interval == MONTHLY:
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    step = INTERVAL_MS[interval]
    epoch_ms = int(moment.timestamp() * 1000)
    offset = 4 * 86_400_000 if interval == "1w" else 0  # 1970-01-05 was a Monday
    floored = (epoch_ms - offset) // step * step + offset
    return datetime.fromtimestamp(floored / 1000, tz=UTC)


def grid_count(start: datetime, end: datetime, interval: str) -> int:
    """How many candles open in [start, end) on the interval grid."""
    if end <= start:
        return 0
    if interval == MONTHLY:
        count, cursor = 0, floor_to_grid(start, interval)
        if cursor < start:
            cursor = next_open_time(cursor, interval)
        while cursor < end:
            count, cursor = count + 1, next_open_time(cursor, interval)
        return count
    first = floor_to_grid(start, interval)
    if first < start:
        first = next_open_time(first, interval)
    if first >= end:
        return 0
    return int((end - first).total_seconds() * 1000 - 1) // INTERVAL_MS[interval] + 1
