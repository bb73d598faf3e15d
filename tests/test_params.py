from datetime import UTC, datetime

import pytest
from rest_framework.exceptions import ValidationError

from petrosa_dm import params


def detail(exc_info) -> str:
    return exc_info.value.detail["detail"]


def test_pair_is_upper_cased_and_validated():
    assert params.pair_param({"pair": "btcusdt"}) == "BTCUSDT"
    with pytest.raises(ValidationError) as exc_info:
        params.pair_param({"pair": "BTC/USDT"})
    assert detail(exc_info).startswith("pair:")


def test_missing_required_parameter_is_named():
    with pytest.raises(ValidationError) as exc_info:
        params.period_param({})
    assert detail(exc_info) == "period: this parameter is required"


def test_times_accept_iso_and_milliseconds():
    expected = datetime(2024, 1, 1, tzinfo=UTC)
    assert params.time_param({"start": "2024-01-01T00:00:00+00:00Z"}, "start") == expected
    assert params.time_param({"start": "1704067200000"}, "start") == expected


def test_range_must_be_ordered():
    with pytest.raises(ValidationError) as exc_info:
        params.time_range({"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"})
    assert detail(exc_info) == "start: must be before end"


def test_limits_are_bounded():
    assert params.int_param({}, "limit", default=100, minimum=1, maximum=1000) == 100
    with pytest.raises(ValidationError) as exc_info:
        params.int_param({"limit": "5000"}, "limit", default=100, minimum=1, maximum=1000)
    assert "between 1 and 1000" in detail(exc_info)


def test_pairs_list_is_deduplicated():
    assert params.pairs_param({"pairs": "BTCUSDT,ethusdt,BTCUSDT"}) == ["BTCUSDT", "ETHUSDT"]


@pytest.mark.parametrize(
    ("window", "period", "bars"),
    [("20", "1h", 20), ("30d", "1h", 720), ("24h", "1m", 1440), ("90m", "1m", 90), ("2w", "1d", 14), ("7d", "4h", 42)],
)
def test_window_is_bars_or_a_duration_converted_by_the_period(window, period, bars):
    assert params.window_param({"window": window}, period, default=None, maximum=100_000) == (window, bars)


def test_window_default_and_absence():
    assert params.window_param({}, "1h", default="30d", maximum=100_000) == ("30d", 720)
    assert params.window_param({}, "1h", default=None, maximum=100_000) == (None, None)


@pytest.mark.parametrize(
    ("window", "period", "why"),
    [
        ("30x", "1h", "expected a bar count"),
        ("-5", "1h", "expected a bar count"),
        ("90m", "1h", "not a whole number of 1h bars"),
        ("1h", "1h", "must be 2 to"),
        ("7d", "1M", "cannot be converted to 1M bars"),
        ("200000", "1m", "must be 2 to"),
    ],
)
def test_a_bad_window_is_named(window, period, why):
    with pytest.raises(ValidationError) as exc_info:
        params.window_param({"window": window}, period, default=None, maximum=100_000)
    assert detail(exc_info).startswith("window:")
    assert why in detail(exc_info)
