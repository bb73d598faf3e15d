"""The planner: the cheapest source per range."""

from datetime import UTC, datetime, timedelta

from backfills.archive.planner import plan

NOW = datetime(2024, 6, 15, 12, tzinfo=UTC)


def _shape(segments):
    return [(s.kind, s.start, s.end, s.file.period if s.file else None) for s in segments]


def d(*args):
    return datetime(*args, tzinfo=UTC)


def test_auto_uses_months_then_days_then_rest_for_partial_days():
    segments = plan(
        data_type="candles",
        symbol="BTCUSDT",
        interval="1m",
        start=d(2024, 1, 30, 6),
        end=d(2024, 3, 2, 12),
        mode="auto",
        now=NOW,
    )
    assert _shape(segments) == [
        ("rest", d(2024, 1, 30, 6), d(2024, 1, 31), None),
        ("archive", d(2024, 1, 31), d(2024, 2, 1), "daily"),
        ("archive", d(2024, 2, 1), d(2024, 3, 1), "monthly"),
        ("archive", d(2024, 3, 1), d(2024, 3, 2), "daily"),
        ("rest", d(2024, 3, 2), d(2024, 3, 2, 12), None),
    ]
    assert segments[2].file.path == "data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02.zip"


def test_today_and_unpublished_days_are_rest():
    segments = plan(data_type="trades", symbol="BTCUSDT", start=d(2024, 6, 13), end=NOW, mode="auto", now=NOW)
    assert _shape(segments) == [
        ("archive", d(2024, 6, 13), d(2024, 6, 14), "daily"),
        ("rest", d(2024, 6, 14), NOW, None),  # yesterday's file is not out until a day after it ends
    ]


def test_a_candle_gap_ending_at_its_last_close_still_takes_the_whole_day_file():
    end = d(2024, 2, 3) - timedelta(milliseconds=1)  # the auditor's repair ends at the last missing candle's close
    segments = plan(
        data_type="candles", symbol="BTCUSDT", interval="1m", start=d(2024, 2, 2), end=end, mode="auto", now=NOW
    )
    assert _shape(segments) == [("archive", d(2024, 2, 2), end, "daily")]


def test_funding_has_monthly_files_only_and_rest_otherwise():
    auto = plan(
        data_type="funding_rates", symbol="BTCUSDT", start=d(2024, 1, 10), end=d(2024, 3, 1), mode="auto", now=NOW
    )
    assert _shape(auto) == [
        ("rest", d(2024, 1, 10), d(2024, 2, 1), None),
        ("archive", d(2024, 2, 1), d(2024, 3, 1), "monthly"),
    ]
    archive = plan(
        data_type="funding_rates", symbol="BTCUSDT", start=d(2024, 1, 10), end=d(2024, 2, 1), mode="archive", now=NOW
    )
    assert _shape(archive) == [("archive", d(2024, 1, 10), d(2024, 2, 1), "monthly")]


def test_archive_mode_reads_partial_days_from_their_files_and_rest_mode_never_plans_files():
    archive = plan(
        data_type="raw_trades", symbol="BTCUSDT", start=d(2024, 2, 2, 5), end=d(2024, 2, 3, 1), mode="archive", now=NOW
    )
    assert _shape(archive) == [
        ("archive", d(2024, 2, 2, 5), d(2024, 2, 3), "daily"),
        ("archive", d(2024, 2, 3), d(2024, 2, 3, 1), "daily"),
    ]
    assert archive[0].file.path == "data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2024-02-02.zip"
    rest = plan(
        data_type="candles",
        symbol="BTCUSDT",
        interval="1h",
        start=d(2024, 1, 1),
        end=d(2024, 3, 1),
        mode="rest",
        now=NOW,
    )
    assert _shape(rest) == [("rest", d(2024, 1, 1), d(2024, 3, 1), None)]
    book = plan(data_type="book_tickers", symbol="BTCUSDT", start=d(2024, 6, 14), end=NOW, mode="auto", now=NOW)
    assert _shape(book) == [("none", d(2024, 6, 14), NOW, None)]  # no REST history for book tickers
