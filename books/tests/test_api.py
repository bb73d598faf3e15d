"""`GET /data/depth` over the start of the recorded BTCUSDT capture, written to the store as the consumer would."""

from datetime import datetime, timedelta

import pytest

from books import selectors, services
from ingestion import store
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import from_ms, time_text, utcnow

from .captures import load, row_of, snapshot_row

pytestmark = [pytest.mark.django_db]
SYMBOL = "BTCUSDT"


@pytest.fixture
def capture(shared_data):
    return load(shared_data, SYMBOL)


def store_capture(capture, *, count: int, skip: range = range(0)) -> list[dict]:
    """The recorded snapshot and the first `count` diffs (less `skip`), in the stored row shape."""
    selectors.forget_cache()
    events = [event for index, event in enumerate(capture.events[:count]) if index not in skip]
    rows = [row_of(event) | {"symbol": SYMBOL, "source": "stream", "ingested_at": utcnow()} for event in events]
    store.write_rows(series(DataType.DEPTH, SYMBOL), rows)
    services.snapshot_store(symbol=SYMBOL, row=snapshot_row(capture.snapshot) | {"source": "rest"})
    return events


def test_the_latest_book_in_the_contract_shape(client, mongo_db, capture):
    events = store_capture(capture, count=400)
    body = client.get(f"/data/depth?pair={SYMBOL.lower()}").json()
    data, metadata = body["data"], body["metadata"]
    assert set(data) == {"bids", "asks", "last_update_id"}
    assert data["last_update_id"] == max(event["u"] for event in events) == metadata["update_id"]
    assert len(data["bids"]) == len(data["asks"]) == 20
    assert all(isinstance(price, str) and isinstance(qty, str) for price, qty in data["bids"] + data["asks"])
    assert [float(price) for price, _ in data["bids"]] == sorted((float(p) for p, _ in data["bids"]), reverse=True)
    assert float(data["bids"][0][0]) < float(data["asks"][0][0])
    assert metadata["state"] == "exact" and metadata["collection"] == f"depth_{SYMBOL}"
    assert metadata["timestamp"] == time_text(from_ms(max(event["E"] for event in events)))
    # Recorded in 2024: nothing stored since, which the book says (it is still the book after its last update).
    assert metadata["message"].startswith(f"no depth update of {SYMBOL} is stored after {metadata['book_time']}")
    five = client.get(f"/data/depth?pair={SYMBOL}&levels=5").json()["data"]
    assert five["bids"] == data["bids"][:5] and five["asks"] == data["asks"][:5]


@pytest.mark.parametrize(("query", "name"), [("levels=0", "levels"), ("levels=1001", "levels"), ("levels=x", "levels"),
                                             ("at=yesterday", "at"), ("", "pair")])  # fmt: skip
def test_bad_parameters_are_400_naming_them(client, mongo_db, query, name):
    pair = "" if name == "pair" else f"pair={SYMBOL}&"
    response = client.get(f"/data/depth?{pair}{query}")
    assert response.status_code == 400
    assert name in response.json()["detail"]


def test_before_the_first_snapshot_and_for_a_pair_without_books_the_book_is_empty_and_says_why(
    client, mongo_db, capture
):
    store_capture(capture, count=50)
    before = from_ms(capture.snapshot["E"] - 1).replace(tzinfo=None).isoformat()  # naive means UTC
    body = client.get(f"/data/depth?pair={SYMBOL}&at={before}").json()
    assert body["data"] == {"bids": [], "asks": [], "last_update_id": 0}
    assert body["metadata"]["state"] == "empty" and body["metadata"]["book_time"] is None
    # The moment asked about, parseable by callers.
    assert datetime.fromisoformat(body["metadata"]["timestamp"]) == from_ms(capture.snapshot["E"] - 1)
    first = time_text(from_ms(capture.snapshot["E"]))
    assert f"no book before {first}: the first snapshot" in body["metadata"]["message"]
    other = client.get("/data/depth?pair=ETHUSDT")
    assert other.status_code == 200 and other.json()["metadata"]["state"] == "empty"
    assert other.json()["metadata"]["message"] == "no depth updates of ETHUSDT are stored."
    store.write_rows(series(DataType.DEPTH, "ETHUSDT"), [row_of(capture.events[0]) | {"symbol": "ETHUSDT"}])
    waiting = client.get("/data/depth?pair=ETHUSDT").json()["metadata"]["message"]
    assert waiting == "no book of ETHUSDT is stored yet: its depth updates wait for a snapshot."


def test_a_book_long_after_the_last_stored_update_says_the_stream_was_silent(client, mongo_db, capture):
    events = store_capture(capture, count=100)
    last = from_ms(events[-1]["E"])
    soon = client.get("/data/depth", {"pair": SYMBOL, "at": (last + timedelta(seconds=30)).isoformat()}).json()
    later = client.get("/data/depth", {"pair": SYMBOL, "at": (last + timedelta(minutes=5)).isoformat()}).json()
    latest = client.get("/data/depth", {"pair": SYMBOL}).json()
    inside = client.get("/data/depth", {"pair": SYMBOL, "at": from_ms(events[50]["E"]).isoformat()}).json()

    assert all(body["metadata"]["state"] == "exact" for body in (soon, later, latest, inside))
    assert "message" not in soon["metadata"] and "message" not in inside["metadata"]
    said = f"no depth update of {SYMBOL} is stored after {time_text(from_ms(events[-1]['E']))}"
    assert later["metadata"]["message"].startswith(said)
    assert "5 min before the moment asked" in later["metadata"]["message"]
    assert latest["metadata"]["message"].startswith(said) and "before now" in latest["metadata"]["message"]


def test_inside_a_break_without_resync_the_book_is_unknown_with_the_break(client, mongo_db, capture):
    events = store_capture(capture, count=600, skip=range(300, 320))
    last_good = capture.events[299]
    at = from_ms(events[-1]["E"]) + timedelta(seconds=1)
    body = client.get("/data/depth", {"pair": SYMBOL, "at": at.isoformat()}).json()
    metadata = body["metadata"]
    assert body["data"]["bids"] == [] and metadata["state"] == "unknown"
    assert metadata["break"]["update_id"] == last_good["u"]
    assert metadata["break"]["lost_to_update_id"] == capture.events[320]["pu"]
    assert metadata["break"]["time"] == time_text(from_ms(last_good["E"]))
    assert metadata["resync"] is None and "no resync snapshot" in metadata["message"]
    earlier = client.get("/data/depth", {"pair": SYMBOL, "at": from_ms(last_good["E"] - 1).isoformat()}).json()
    assert earlier["metadata"]["state"] == "exact"


def test_the_stored_updates_moved_to_depth_updates(client, mongo_db, capture):
    store_capture(capture, count=30)
    body = client.get(f"/data/depth/updates?pair={SYMBOL}&limit=1").json()
    assert body["data"][0]["final_update_id"] == max(event["u"] for event in capture.events[:30])


def test_reading_an_unknown_pairs_book_creates_nothing(client, mongo_db):
    before = set(mongo_db.list_collection_names())
    for query in ({"pair": "FOOBAR"}, {"pair": "FOOBAR", "at": "2024-08-08T00:00:00Z"}):
        body = client.get("/data/depth", query).json()
        assert body["data"] == {"bids": [], "asks": [], "last_update_id": 0} and body["metadata"]["state"] == "empty"
    assert client.get("/data/depth/updates", {"pair": "FOOBAR"}).status_code == 200
    assert set(mongo_db.list_collection_names()) == before  # no depth_FOOBAR / books_FOOBAR for the catalog to list
