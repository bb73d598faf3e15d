"""Gaps by time: candles on the interval grid (month-aware for 1M) and funding rows on the funding interval."""

from datetime import datetime, timedelta
from itertools import pairwise

from petrosa_dm.market.intervals import floor_to_grid, grid_count, next_open_time
from petrosa_dm.market.timeutils import from_ms, to_ms

from . import FoundGap

ONE_MS = timedelta(milliseconds=1)
HOUR_MS = 3_600_000


def previous_open_time(open_time: datetime, interval: str) -> datetime:
    """The open time of the candle before `open_time` (month-aware)."""
    return floor_to_grid(open_time - ONE_MS, interval)


class CandleGaps:
    """Missing grid slots between consecutive candles.

    A candle counts for the slot its open time falls in, so an off-grid candle (Binance has some after maintenance)
    still covers its hour; the validity check reports it as off-grid. `expect_from` makes a slot before the first
    row expected (a leading gap); `finish(last_expected)` reports a trailing gap up to that slot.
    """

    def __init__(self, interval: str, *, expect_from: datetime | None = None) -> None:
        self.interval = interval
        self.expected_next = expect_from
        self.gaps: list[FoundGap] = []
        self.slots = 0

    def feed(self, open_time: datetime) -> None:
        slot = floor_to_grid(open_time, self.interval)
        if self.expected_next is not None and slot < self.expected_next:
            return  # a second row in a slot already seen (duplicate or off-grid twin)
        if self.expected_next is not None and slot > self.expected_next:
            self._gap(self.expected_next, previous_open_time(slot, self.interval))
        self.slots += 1
        self.expected_next = next_open_time(slot, self.interval)

    def finish(self, last_expected: datetime | None) -> list[FoundGap]:
        if last_expected is not None and self.expected_next is not None and self.expected_next <= last_expected:
            self._gap(self.expected_next, last_expected)
        return self.gaps

    def _gap(self, first: datetime, last: datetime) -> None:
        count = grid_count(first, next_open_time(last, self.interval), self.interval)
        self.gaps.append(FoundGap(kind="time", start=first, end=last, missing_count=count))


def snap_to_hour(moment: datetime) -> datetime:
    """The nearest whole hour: funding times are on the hour give or take milliseconds of jitter."""
    ms = to_ms(moment)
    return from_ms((ms + HOUR_MS // 2) // HOUR_MS * HOUR_MS)


def infer_funding_step(funding_times: list[datetime], default_hours: int = 8) -> timedelta:
    """The most common distance between consecutive funding times (8 h for most symbols, 4 h or 1 h for some)."""
    snapped = sorted({snap_to_hour(moment) for moment in funding_times})
    steps = [later - earlier for earlier, later in pairwise(snapped)]
    if not steps:
        return timedelta(hours=default_hours)
    return max(set(steps), key=lambda step: (steps.count(step), -step))


class FundingGaps:
    """Missing funding times: consecutive rows further apart than the funding interval.

    A shorter distance is not a gap (the exchange moved the symbol to a shorter interval). Missing times are the
    grid points after the previous row, one interval apart.
    """

    def __init__(self, step: timedelta, *, expect_from: datetime | None = None) -> None:
        self.step = step
        self.previous = expect_from - step if expect_from is not None else None
        self.gaps: list[FoundGap] = []

    def feed(self, funding_time: datetime) -> None:
        current = snap_to_hour(funding_time)
        if self.previous is not None and current <= self.previous:
            return
        if self.previous is not None:
            self._between(self.previous, current)
        self.previous = current

    def finish(self, last_expected: datetime | None) -> list[FoundGap]:
        last_expected = snap_to_hour(last_expected) if last_expected is not None else None
        if last_expected is not None and self.previous is not None and last_expected > self.previous:
            self._between(self.previous, last_expected + self.step)
        return self.gaps

    def _between(self, previous: datetime, current: datetime) -> None:
        missing = (current - previous - ONE_MS) // self.step
        if missing > 0:
            first = previous + self.step
            self.gaps.append(FoundGap("time", first, first + (missing - 1) * self.step, missing))
