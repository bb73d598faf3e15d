"""Past books read the stored diffs by a range of the time index (`books.store.diffs_query`), bounded by the anchors
around the moment: these cases check that the bounds never cut a diff the book needs."""

from datetime import UTC, datetime, timedelta

import pytest

from books import selectors, services
from ingestion import store
from petrosa_dm.market.naming import DataType, series

pytestmark = [pytest.mark.django_db]
SYMBOL = "BOUNDSUSDT"
T0 = datetime(2024, 8, 8, 12, tzinfo=UTC)


def diff(first: int, final: int, prev: int, seconds: float, price: str) -> dict:
    return {
        "symbol": SYMBOL,
        "kind": "diff",
        "first_update_id": first,
        "final_update_id": final,
        "prev_final_update_id": prev,
        "event_time": T0 + timedelta(seconds=seconds),
        "bids": [[price, "1.000"]],
        "asks": [],
        "source": "stream",
    }


def snapshot(update_id: int, seconds: float) -> dict:
    return {
        "final_update_id": update_id,
        "event_time": T0 + timedelta(seconds=seconds),
        "bids": [["100.0", "5.000"]],
        "asks": [["101.0", "5.000"]],
        "source": "rest",
    }


def write(*rows: dict) -> None:
    store.write_rows(series(DataType.DEPTH, SYMBOL), list(rows))


def test_the_diff_straddling_a_snapshot_is_found_though_stamped_before_it(mongo_db):
    # The snapshot's lastUpdateId 100 falls inside a diff (95..105) sent 2 s before the snapshot's own time.
    write(diff(95, 105, 94, 8, "99.0"), diff(106, 110, 105, 11, "98.0"))
    services.snapshot_store(symbol=SYMBOL, row=snapshot(100, 10))
    found = selectors.book_at(SYMBOL, at=T0 + timedelta(seconds=12))
    assert found.state == "exact", found.message
    assert found.book.update_id == 110
    assert [price for price, _ in found.book.bids.top()] == ["100.0", "99.0", "98.0"]


def test_a_diff_that_breaks_the_chain_after_the_next_snapshot_is_still_seen(mongo_db):
    # Anchors at 10 s (id 100) and 30 s (id 300); the moment's following diff comes only after the second anchor
    # and does not link: the book at 20 s is exact up to 110 but what follows was lost, so it is unknown.
    services.snapshot_store(symbol=SYMBOL, row=snapshot(100, 10))
    services.snapshot_store(symbol=SYMBOL, row=snapshot(300, 30))
    write(diff(95, 110, 94, 11, "99.0"), diff(290, 310, 280, 31, "98.0"))
    found = selectors.book_at(SYMBOL, at=T0 + timedelta(seconds=20))
    assert found.state == "unknown"
    assert found.brk.last_update_id == 110


def test_a_book_replays_the_diffs_up_to_the_moment_from_its_anchor(mongo_db):
    services.snapshot_store(symbol=SYMBOL, row=snapshot(100, 10))
    chain = [diff(95, 110, 94, 10, "90.0")]  # straddles the snapshot's id
    chain += [
        diff(101 + 10 * step, 110 + 10 * step, 100 + 10 * step, 10 + step, f"{90 + step}.0") for step in range(1, 6)
    ]
    write(*chain)
    found = selectors.book_at(SYMBOL, at=T0 + timedelta(seconds=13.5))
    assert (found.state, found.book.update_id, found.replayed) == ("exact", 140, 4)


def test_anchors_stored_after_the_first_read_are_found(mongo_db, monkeypatch):
    monkeypatch.setattr(selectors, "ANCHOR_INDEX_TTL", 0.0)
    services.snapshot_store(symbol=SYMBOL, row=snapshot(100, 10))
    assert selectors.book_at(SYMBOL, at=T0 + timedelta(seconds=12)).anchor_update_id == 100
    services.snapshot_store(symbol=SYMBOL, row=snapshot(300, 30))
    later = selectors.book_at(SYMBOL, at=T0 + timedelta(seconds=31))
    assert (later.state, later.anchor_update_id) == ("exact", 300)
    assert selectors.book_at(SYMBOL).anchor_update_id == 300  # the latest book
