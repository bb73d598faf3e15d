"""Pages read to be shown (`series_page(shown=True)`, what the data API reads) hold the same values as ordinary
reads: decimals as their exchange text, times as the same UTC moments without a tzinfo, and the same completeness."""

from datetime import UTC, timedelta

from bson import Decimal128

from ingestion import selectors, store
from ingestion.api.rows import decimal_text
from petrosa_dm.market.naming import series
from petrosa_dm.market.timeutils import time_text

from .rows import T0, grid, trade_row, write_candles


def _pages(ref, **window):
    return selectors.series_page(ref=ref, limit=50, **window), selectors.series_page(
        ref=ref, limit=50, shown=True, **window
    )


def _assert_same_values(ordinary: list[dict], shown: list[dict]) -> None:
    assert len(ordinary) == len(shown) > 0
    for stored, seen in zip(ordinary, shown, strict=True):
        assert stored.keys() == seen.keys()
        for name, value in stored.items():
            if isinstance(value, Decimal128):
                assert seen[name] == decimal_text(value), name
            elif hasattr(value, "tzinfo"):
                assert value.tzinfo is not None and seen[name].tzinfo is None, name
                assert seen[name].replace(tzinfo=UTC) == value, name
                assert time_text(seen[name]) == time_text(value), name
            else:
                assert seen[name] == value, name


def test_shown_candles_hold_the_stored_values_and_the_same_completeness(mongo_db):
    ref = series("candles", "BTCUSDT", interval="1h")
    write_candles([moment for index, moment in enumerate(grid(T0, 30)) if index not in (20, 21)])

    for window in ({}, {"start": T0 + timedelta(hours=3)}, {"end": T0 + timedelta(hours=25), "descending": False}):
        ordinary, shown = _pages(ref, **window)
        _assert_same_values(ordinary.rows, shown.rows)
        assert (shown.total, shown.has_next) == (ordinary.total, ordinary.has_next)
        completeness = [
            selectors.candle_completeness(ref=ref, rows=page.rows, start=None, end=None, total=page.total)
            for page in (ordinary, shown)
        ]
        assert completeness[0] == completeness[1]
        assert completeness[0].ratio < 1  # the hole is inside every window


def test_shown_trades_give_the_same_id_completeness(mongo_db):
    ref = series("trades", "BTCUSDT")
    store.write_rows(ref, [trade_row(index) for index in range(1, 31) if index != 7])

    ordinary, shown = _pages(ref)
    _assert_same_values(ordinary.rows, shown.rows)
    completeness = [selectors.trade_completeness(rows=page.rows, kind="aggTrade") for page in (ordinary, shown)]
    assert completeness[0] == completeness[1]
    assert completeness[0].start.tzinfo is not None


def test_ordinary_reads_keep_aware_times_and_decimal_objects(mongo_db):
    ref = series("trades", "BTCUSDT")
    store.write_rows(ref, [trade_row(1)])
    selectors.series_page(ref=ref, limit=5, shown=True)  # a shown read before leaves nothing behind

    row = selectors.series_page(ref=ref, limit=5).rows[0]
    assert isinstance(row["price"], Decimal128)
    assert row["trade_time"].tzinfo is not None
