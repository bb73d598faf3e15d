"""Whole-collection scans read bounded windows of the time index, never one unbounded sorted answer.

The embedded store materializes a query's whole answer before its first batch, so a single sorted read of a large
collection outlived its operation limit. These tests count what each windowed read the scan streams would match.
"""

from datetime import UTC, datetime, timedelta

import pytest

from audits import scan
from ingestion import store
from petrosa_dm.market.naming import DataType, series

from .rows import BASE, agg_trade, write_candles

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]


class RecordingCollection:
    """The collection, noting the filter of every batched `find` the scan streams rows from."""

    def __init__(self, collection) -> None:
        self.collection = collection
        self.filters: list[dict] = []

    def find(self, query, *args, **kwargs):
        if "batch_size" in kwargs:  # not the look-ups of the oldest and newest row (ingestion/tests/test_edges.py)
            self.filters.append(query)
        return self.collection.find(query, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.collection, name)

    def largest_read(self) -> int:
        return max(self.collection.count_documents(query) for query in self.filters)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(scan, "BATCH", 50)
    return 50


def scan_all_candles(collection):
    return scan.scan_candles(
        collection,
        series(DataType.CANDLES, "BTCUSDT", interval="1m"),
        since=None,
        until=None,
        expect_from=None,
        last_expected=None,
        watermark=None,
    )


def test_a_full_candle_scan_reads_every_row_in_bounded_windows(small_batches):
    # Streamed first, then an earlier span backfilled (stored after it), a 40-day hole, and one more span.
    streamed = [BASE + timedelta(minutes=index) for index in range(600)]
    backfilled = [BASE - timedelta(minutes=index) for index in range(1, 401)]
    later = [BASE + timedelta(days=40, minutes=index) for index in range(300)]
    ref = write_candles(streamed)
    write_candles(backfilled)
    write_candles(later)
    recording = RecordingCollection(store.collection(ref))

    result = scan_all_candles(recording)

    assert result.rows_read == 1300
    assert result.coverage.low == min(backfilled)
    assert [(gap.start, gap.end) for gap in result.gaps] == [
        (streamed[-1] + timedelta(minutes=1), later[0] - timedelta(minutes=1))
    ]
    # One window holds at most a gallop's worth of batches: the widest reads are the ones past the hole.
    assert recording.largest_read() <= scan.GALLOP * small_batches


def test_rows_stamped_in_the_future_are_still_read(small_batches):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ref = write_candles([now - timedelta(minutes=index) for index in range(100)])
    write_candles([now + timedelta(days=30)])

    result = scan_all_candles(store.collection(ref))

    assert result.rows_read == 101
    assert result.newest == now + timedelta(days=30)


def test_a_full_trade_scan_keeps_id_order_across_windows(small_batches, monkeypatch):
    monkeypatch.setattr(scan, "DENSE_WINDOW", timedelta(seconds=5))  # 50 trades, one every 100 ms
    ref = series(DataType.TRADES, "BTCUSDT")
    store.write_rows(ref, [agg_trade(trade_id) for trade_id in range(2000) if trade_id not in (700, 701, 1500)])
    recording = RecordingCollection(store.collection(ref))

    result = scan.scan_trades(recording, since=None, id_range=None, expect=None, watermark=None)

    assert result.rows_read == 1997
    assert [(gap.first_missing_id, gap.last_missing_id) for gap in result.gaps] == [(700, 701), (1500, 1500)]
    assert recording.largest_read() <= scan.GALLOP * small_batches
