import re
from datetime import UTC, datetime, timedelta

import numpy as np

from console.charts import GapSpan, coverage_timeline_svg, price_volatility_svg

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_coverage_timeline_draws_each_unfilled_gap_and_labels_time():
    gaps = [
        GapSpan(T0 + timedelta(days=3), T0 + timedelta(days=4), "open"),
        GapSpan(T0 + timedelta(days=10), T0 + timedelta(days=11), "unfillable"),
        GapSpan(T0 + timedelta(days=20), T0 + timedelta(days=21), "filled"),
    ]
    svg = coverage_timeline_svg(start=T0, end=T0 + timedelta(days=30), gaps=gaps, title="candles_BTCUSDT_1h")
    assert svg.startswith("<svg")
    assert 'id="gap-0"' in svg and 'id="gap-1"' in svg
    assert 'id="gap-2"' not in svg  # a filled gap is data present again
    assert svg.count('id="present-') == 3  # present before, between and after the two missing gaps
    assert "time (UTC)" in svg and "<script" not in svg
    # Nothing is fetched: no links, images or stylesheets from elsewhere (xmlns URIs are names, not fetches).
    assert 'href="http' not in svg and "@import" not in svg and "<image" not in svg


def test_a_span_of_seconds_is_labelled_with_clock_times():
    start = datetime(2024, 8, 8, 23, 54, 15, tzinfo=UTC)  # the hftbacktest capture: under two minutes
    svg = coverage_timeline_svg(start=start, end=start + timedelta(seconds=85), gaps=[], title="depth_BTCUSDT")
    labels = re.findall(r">([^<>]+)</text>", svg)
    assert "23:54:20" in labels and "23:55:30" in labels
    assert not [label for label in labels if label.endswith(" s")]  # microseconds, as "20.000000 s" read before


def test_price_and_volatility_chart_has_both_series_with_units():
    times = [T0 + timedelta(hours=i) for i in range(500)]
    close = list(100 + np.cumsum(np.sin(np.arange(500) / 10)))
    volatility = list(np.abs(np.sin(np.arange(500) / 25)) * 80)
    svg = price_volatility_svg(times=times, close=close, volatility=volatility, pair="BTCUSDT", interval="1h")
    assert 'id="price"' in svg and 'id="volatility"' in svg
    assert "close price (quote currency)" in svg
    assert "annualised volatility (%)" in svg
