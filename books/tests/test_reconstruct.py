"""Binance's local-book procedure, rule by rule, on small hand-made books (pure: no store)."""

from datetime import UTC, datetime, timedelta

import pytest

from books.reconstruct import EMPTY, EXACT, UNKNOWN, Reconstructor

T0 = datetime(2024, 8, 8, tzinfo=UTC)


def snapshot(update_id, bids=(("100.0", "1"), ("99.5", "2")), asks=(("100.5", "3"), ("101.0", "4"))):
    return {"kind": "snapshot", "final_update_id": update_id, "event_time": T0, "bids": bids, "asks": asks}


def diff(first, final, prev, bids=(), asks=(), ms=1):
    return {
        "kind": "diff",
        "first_update_id": first,
        "final_update_id": final,
        "prev_final_update_id": prev,
        "event_time": T0 + timedelta(milliseconds=ms),
        "bids": list(bids),
        "asks": list(asks),
    }


def test_diffs_before_any_snapshot_wait_and_are_never_applied_to_nothing():
    book = Reconstructor()
    assert book.feed(diff(1, 5, 0, bids=[("100", "1")])) == "waiting"
    assert (book.state, book.waiting, len(book.book.bids)) == (EMPTY, 1, 0)


def test_diffs_older_than_the_snapshot_are_dropped_and_the_first_applied_straddles_it():
    book = Reconstructor()
    book.feed(snapshot(10))
    assert book.feed(diff(1, 9, 0)) == "dropped"
    assert book.feed(diff(8, 12, 7, bids=[("100.0", "5")])) == "applied"  # U=8 <= 10 <= u=12
    assert book.book.levels() == {"bids": [["100.0", "5"], ["99.5", "2"]], "asks": [["100.5", "3"], ["101.0", "4"]]}
    assert (book.state, book.book.update_id) == (EXACT, 12)


def test_a_first_diff_starting_past_the_snapshot_is_a_break():
    book = Reconstructor()
    book.feed(snapshot(10))
    assert book.feed(diff(11, 15, 10)) == "break"  # U=11 > 10: updates between are not in the snapshot... nor here
    assert book.state == UNKNOWN


def test_quantities_are_absolute_and_zero_removes_a_level_whatever_its_spelling():
    book = Reconstructor()
    book.feed(snapshot(10))
    book.feed(diff(9, 11, 8, bids=[("100.00", "0.000"), ("99.7", "0.5")], asks=[("100.5", "7")]))
    assert book.book.levels() == {"bids": [["99.7", "0.5"], ["99.5", "2"]], "asks": [["100.5", "7"], ["101.0", "4"]]}
    assert book.book.bids.best() == ("99.7", "0.5") and book.book.asks.best() == ("100.5", "7")


def test_pu_must_link_to_the_previous_u_and_a_break_stays_unknown_until_the_next_snapshot():
    book = Reconstructor()
    book.feed(snapshot(10))
    book.feed(diff(9, 11, 8))
    assert book.feed(diff(12, 13, 11, ms=2)) == "applied"
    assert book.feed(diff(16, 18, 15, ms=3)) == "break"  # 14..15 lost
    brk = book.last_break
    assert (brk.last_update_id, brk.next_update_id, brk.next_prev_update_id) == (13, 18, 15)
    assert book.feed(diff(19, 20, 18, bids=[("1", "1")], ms=4)) == "ignored"
    assert book.state == UNKNOWN
    assert book.feed(snapshot(19, bids=[("98", "1")])) == "anchored"
    assert book.feed(diff(19, 20, 18, ms=5)) == "applied"
    assert (book.state, book.book.bids.best()) == (EXACT, ("98", "1"))


def test_a_redelivered_diff_is_dropped_not_applied_twice():
    book = Reconstructor()
    book.feed(snapshot(10))
    book.feed(diff(9, 11, 8))
    assert book.feed(diff(9, 11, 8)) == "dropped"


def test_a_newer_snapshot_replaces_one_not_yet_linked_but_never_a_book_kept_by_diffs():
    book = Reconstructor()
    book.feed(snapshot(5))
    assert book.feed(snapshot(10)) == "anchored"
    book.feed(diff(9, 11, 8))
    assert book.feed(snapshot(30, bids=[("1", "1")])) == "ignored"
    assert book.book.update_id == 11


def test_a_partial_frame_is_a_top_n_book_that_diffs_never_extend():
    book = Reconstructor()
    frame = {"kind": "partial", "final_update_id": 50, "event_time": T0, "levels": 5, "bids": [("10", "1")], "asks": []}
    assert book.feed(frame) == "anchored"
    assert (book.state, book.book.depth_limit) == (EXACT, 5)
    assert book.feed(diff(51, 52, 50, bids=[("11", "1")])) == "ignored"
    assert book.book.bids.best() == ("10", "1")
    # A full snapshot takes over from a partial book, and then partial frames no longer replace it.
    assert book.feed(snapshot(60)) == "anchored"
    assert book.book.depth_limit is None
    assert book.feed(frame | {"final_update_id": 70}) == "ignored"


@pytest.mark.parametrize("count", [None, 1, 10])
def test_levels_are_best_first(count):
    book = Reconstructor()
    book.feed(snapshot(1, bids=[("9", "1"), ("10", "1"), ("9.5", "1")], asks=[("12", "1"), ("11", "1")]))
    levels = book.book.levels(count)
    assert [price for price, _ in levels["bids"]] == ["10", "9.5", "9"][:count]
    assert [price for price, _ in levels["asks"]] == ["11", "12"][:count]
