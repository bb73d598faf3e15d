from datetime import UTC, datetime

import pytest

from petrosa_dm.market.intervals import floor_to_grid, grid_count, next_open_time
from petrosa_dm.market.timeutils import InvalidTime, from_ms, parse_time, to_ms

MOMENT = datetime(2024, 8, 8, 12, 30, 15, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-08-08T12:30:15.123Z",
        "2024-08-08T12:30:15.123+00:00",
        "2024-08-08T12:30:15.123+00:00Z",
        "2024-08-08T14:30:15.123+02:00",
        "1723120215123",
        1723120215123,
    ],
)
def test_every_time_form_parses_to_the_same_utc_moment(text):
    assert parse_time(text) == MOMENT


@pytest.mark.parametrize("bad", ["", "yesterday", "2024-13-01", None, 1.5, True])
def test_bad_times_are_refused(bad):
    with pytest.raises(InvalidTime):
        parse_time(bad)


def test_milliseconds_round_trip_exactly():
    for ms in (0, 1, 1723120215123, 1723120215999):
        assert to_ms(from_ms(ms)) == ms


def test_monthly_candles_step_by_calendar_month():
    jan = datetime(2024, 1, 1, tzinfo=UTC)
    assert next_open_time(jan, "1M") == datetime(2024, 2, 1, tzinfo=UTC)
    assert next_open_time(datetime(2024, 12, 1, tzinfo=UTC), "1M") == datetime(2025, 1, 1, tzinfo=UTC)
    assert grid_count(jan, datetime(2025, 1, 1, tzinfo=UTC), "1M") == 12


def test_grid_counts_candles_opening_in_a_half_open_range():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert grid_count(start, datetime(2024, 1, 2, tzinfo=UTC), "1m") == 1440
    assert grid_count(start, datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC), "1m") == 1
    assert grid_count(datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC), datetime(2024, 1, 1, 0, 2, tzinfo=UTC), "1m") == 1


def test_weekly_grid_is_anchored_on_monday():
    assert floor_to_grid(datetime(2024, 8, 8, 15, tzinfo=UTC), "1w") == datetime(2024, 8, 5, tzinfo=UTC)
