"""The oldest and newest rows of a collection, found without sorting all of it (ingestion/edges.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from ingestion import edges


@pytest.fixture(autouse=True)
def probe_every_collection(monkeypatch):
    """These collections are small; the windows are what is tested (small ones are read by one sorted query)."""
    monkeypatch.setattr(edges, "SMALL_COLLECTION", 0)


class Recording:
    """The collection, noting the filter of every `find` / `find_one` and whether it was sorted."""

    def __init__(self, collection) -> None:
        self.collection = collection
        self.sorted_filters: list[dict] = []

    def find(self, query, *args, **kwargs):
        if kwargs.get("sort"):
            self.sorted_filters.append(query)
        return self.collection.find(query, *args, **kwargs)

    def find_one(self, query, *args, **kwargs):
        if kwargs.get("sort"):
            self.sorted_filters.append(query)
        return self.collection.find_one(query, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.collection, name)


def minutes(start: datetime, count: int) -> list[dict]:
    return [{"_id": start + timedelta(minutes=i), "t": start + timedelta(minutes=i)} for i in range(count)]


def test_the_oldest_row_is_found_when_an_earlier_span_was_stored_later(mongo_db):
    collection = mongo_db["edges_backfilled"]
    start = datetime(2024, 5, 1, tzinfo=UTC)
    collection.insert_many(minutes(start, 100))
    assert edges.oldest(collection, "t")["t"] == start
    collection.insert_many(minutes(start - timedelta(days=3), 10))  # a backfill of an earlier span

    recording = Recording(collection)

    assert edges.oldest(recording, "t")["t"] == start - timedelta(days=3)
    # Every read was a window with an upper bound no wider than WIDEST_WINDOW: none sorted the collection.
    assert all("$lt" in query["t"] for query in recording.sorted_filters)
    windows = [query["t"]["$lt"] - query["t"]["$gte"] for query in recording.sorted_filters if "$gte" in query["t"]]
    assert max(windows) <= edges.WIDEST_WINDOW
    assert edges.oldest(collection, "t", {"t": {"$gte": start}})["t"] == start
    assert edges.oldest(collection, "t", {"t": {"$lt": start}})["t"] == start - timedelta(days=3)
    assert edges.oldest(mongo_db["edges_empty"], "t") is None


def test_rows_stamped_before_the_exchange_opened_are_still_the_oldest(mongo_db):
    collection = mongo_db["edges_ancient"]
    collection.insert_many(minutes(datetime(2024, 5, 1, tzinfo=UTC), 10) + minutes(datetime(2010, 1, 1, tzinfo=UTC), 1))

    assert edges.oldest(collection, "t")["t"] == datetime(2010, 1, 1, tzinfo=UTC)
    assert edges.newest(collection, "t", size=20)[-1]["t"] == datetime(2010, 1, 1, tzinfo=UTC)


def test_the_newest_rows_of_a_live_collection_come_from_the_last_hour(mongo_db):
    collection = mongo_db["edges_live"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    collection.insert_many(minutes(now - timedelta(days=10), 10 * 24 * 60))
    recording = Recording(collection)

    rows = edges.newest(recording, "t", size=3)

    assert [row["t"] for row in rows] == [
        now - timedelta(minutes=1),
        now - timedelta(minutes=2),
        now - timedelta(3 / 1440),
    ]
    assert len(recording.sorted_filters) == 1 and recording.sorted_filters[0]["t"]["$gte"] > now - timedelta(hours=2)


def test_the_newest_rows_of_a_stale_collection_and_of_the_future_are_found(mongo_db):
    stale = mongo_db["edges_stale"]
    old = datetime(2021, 1, 1, tzinfo=UTC)
    stale.insert_many(minutes(old, 50))
    assert [row["t"] for row in edges.newest(stale, "t", size=2)] == [
        old + timedelta(minutes=49),
        old + timedelta(minutes=48),
    ]
    # More rows asked for than the recent ranges hold: they widen until they hold enough.
    assert len(edges.newest(stale, "t", size=50)) == 50
    assert len(edges.newest(stale, "t", size=60)) == 50
    future = datetime.now(UTC) + timedelta(days=400)
    stale.insert_one({"_id": future.replace(microsecond=0), "t": future.replace(microsecond=0)})
    assert edges.newest(stale, "t")[0]["t"] == future.replace(microsecond=0)
    assert edges.newest(mongo_db["edges_empty"], "t") == []


def test_a_lower_bound_of_the_query_stops_the_widening(mongo_db):
    collection = mongo_db["edges_bounded"]
    old = datetime(2021, 1, 1, tzinfo=UTC)
    collection.insert_many(minutes(old, 50))
    recording = Recording(collection)

    assert edges.newest(recording, "t", query={"t": {"$gte": old + timedelta(days=1)}}) == []
    assert recording.sorted_filters[-1]["t"]["$gte"] == old + timedelta(days=1)
    assert edges.newest(collection, "t", query={"t": {"$gte": old}})[0]["t"] == old + timedelta(minutes=49)


def test_a_small_collection_is_read_by_one_sorted_query(mongo_db, monkeypatch):
    monkeypatch.setattr(edges, "SMALL_COLLECTION", 5_000)
    collection = mongo_db["edges_small"]
    start = datetime(2024, 5, 1, tzinfo=UTC)
    collection.insert_many(minutes(start, 100) + minutes(start - timedelta(days=3), 10))
    recording = Recording(collection)

    assert edges.oldest(recording, "t")["t"] == start - timedelta(days=3)
    assert [row["t"] for row in edges.newest(recording, "t", size=2)] == [
        start + timedelta(minutes=99),
        start + timedelta(minutes=98),
    ]
    assert recording.sorted_filters == [{}, {}]


def test_a_collection_seen_large_is_not_counted_again(mongo_db, monkeypatch):
    collection = mongo_db["edges_counted"]
    collection.insert_many(minutes(datetime(2024, 5, 1, tzinfo=UTC), 20))
    counts = []
    monkeypatch.setattr(
        type(collection), "estimated_document_count", lambda self: counts.append(self.name) or self.count_documents({})
    )
    monkeypatch.setattr(edges, "SMALL_COLLECTION", 10)
    for _ in range(3):
        assert edges.newest(collection, "t")[0]["t"] == datetime(2024, 5, 1, 0, 19, tzinfo=UTC)
    assert counts == ["edges_counted"]  # large once, large for the process
    edges.forget_sizes()
    monkeypatch.setattr(edges, "SMALL_COLLECTION", 5_000)
    edges.oldest(collection, "t")
    edges.oldest(collection, "t")
    assert counts == ["edges_counted"] * 3  # a small collection is counted each time: it may grow
