"""Sequence look-ups of keyed trade and depth collections walk the `_id` index, never the unindexed id fields.

Since the key moved into `_id`, `trade_id` and `final_update_id` have no index: a sorted read or range on them is a
collection scan on MongoDB, once per incremental audit. These tests log every read the auditor's look-ups make.
"""

from datetime import timedelta

import pytest

from audits import scan
from ingestion import store
from petrosa_dm.market.naming import DataType, series

from .rows import BASE, agg_trade

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
TRADES = series(DataType.TRADES, "BTCUSDT")


class ReadLog:
    """The collection, noting the filter and sort of every read."""

    def __init__(self, collection) -> None:
        self.collection = collection
        self.reads: list[tuple[dict, list]] = []

    def _log(self, query, kwargs) -> None:
        self.reads.append((query or {}, list(kwargs.get("sort") or [])))

    def find(self, query=None, *args, **kwargs):
        self._log(query, kwargs)
        return self.collection.find(query, *args, **kwargs)

    def find_one(self, query=None, *args, **kwargs):
        self._log(query, kwargs)
        return self.collection.find_one(query, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.collection, name)

    def unindexed(self, field: str, indexed=("_id", "trade_time")) -> list:
        """Reads filtering or sorting on `field` with no bound on an indexed field to walk instead (a window of the
        time index sorted by id is fine: MongoDB sorts the window's few thousand rows)."""
        return [
            (query, sort)
            for query, sort in self.reads
            if (field in query or any(name == field for name, _ in sort)) and not set(indexed) & set(query)
        ]


@pytest.fixture
def keyed_trades():
    ids = [*range(0, 200), *range(260, 400)]  # a gap: 200..259
    store.write_rows(TRADES, [agg_trade(trade_id) for trade_id in ids])
    return store.collection(TRADES)


def test_an_incremental_trade_scan_connects_to_the_previous_trade_by_the_id_index(keyed_trades):
    log = ReadLog(keyed_trades)
    since = BASE + timedelta(milliseconds=100 * 300)
    result = scan.scan_trades(log, since=since, id_range=None, expect=None, watermark=since)
    assert result.coverage.low == 299 and result.notes["last_id"] == 399  # connected to the trade before `since`
    assert log.unindexed("trade_id") == []

    # Across the gap: the previous trade lies 61 ids back.
    log = ReadLog(keyed_trades)
    since = BASE + timedelta(milliseconds=100 * 260)
    result = scan.scan_trades(log, since=since, id_range=None, expect=None, watermark=since)
    assert result.coverage.low == 199 and [(gap.first_missing_id, gap.last_missing_id) for gap in result.gaps] == [
        (200, 259)
    ]
    assert log.unindexed("trade_id") == []


def test_the_first_and_last_ids_and_a_gap_recheck_read_by_the_id_index(keyed_trades):
    log = ReadLog(keyed_trades)
    key_range = scan.id_key_range(log, DataType.TRADES, "aggTrade")
    assert key_range is not None
    query = {"kind": "aggTrade"}
    assert scan.sequence_edge(log, query, "trade_id", key_range) == 0
    assert scan.sequence_edge(log, query, "trade_id", key_range, newest=True) == 399
    assert scan.sequence_edge(log, query, "trade_id", key_range, below=0) is None
    assert scan.previous_row(log, query, "trade_id", 260, 10, key_range=key_range)["trade_id"] == 199
    again = scan.scan_trades(log, since=None, id_range=(200, 259), expect=(BASE, BASE), watermark=BASE)
    assert [(gap.first_missing_id, gap.last_missing_id) for gap in again.gaps] == [(200, 259)]
    assert log.unindexed("trade_id") == []
    # The same answers read by the field itself, as for a collection written the old way.
    assert scan.sequence_edge(keyed_trades, query, "trade_id", None) == 0
    assert scan.sequence_edge(keyed_trades, query, "trade_id", None, newest=True) == 399
    assert scan.previous_row(keyed_trades, query, "trade_id", 260, 10)["trade_id"] == 199


def test_a_collection_written_the_old_way_is_read_by_its_id_field(mongo_db):
    collection = mongo_db["trades_OLDUSDT"]
    collection.insert_many([agg_trade(trade_id, symbol="OLDUSDT") for trade_id in range(50)])  # ObjectId `_id`s
    assert scan.id_key_range(collection, DataType.TRADES, "aggTrade") is None
    assert scan.sequence_edge(collection, {"kind": "aggTrade"}, "trade_id", None, below=10) == 0
