"""Past books from a columnar replay pack equal the reconstructor's book after the same diffs (pure: no store)."""

import random

import pytest

from books.columns import SpanColumns, book_after
from books.reconstruct import Reconstructor
from books.store import inflate_span, pack_span, unpack_span

from .test_reconstruct import T0, diff, snapshot


def kept_span(anchor: dict, diffs: list[dict]) -> tuple[Reconstructor, list[list], tuple, list]:
    """Feed the diffs as the keeper does, journaling keys; returns the anchor book, the pack entries and the
    reconstructor's state after each diff (copies)."""
    keeper = Reconstructor()
    keeper.feed(anchor)
    start = Reconstructor()
    start.feed(anchor)
    keeper.book.bids.journal, keeper.book.asks.journal = [], []
    entries, after_each = [], []
    for row in diffs:
        assert keeper.feed(row) == "applied"
        entries.append(
            [row["first_update_id"], row["final_update_id"], row["prev_final_update_id"], 0, row["bids"], row["asks"]]
        )
        after_each.append(keeper.book.copy())
    keys = (keeper.book.bids.journal, keeper.book.asks.journal)
    return start, entries, keys, after_each


def columns_of(after: int, entries: list[list], keys) -> SpanColumns:
    fields = pack_span(after, entries, keys)
    return SpanColumns(inflate_span(fields["replay"]), fields["replay_keys"])


def test_levels_set_removed_and_set_again_read_as_the_reconstructor_keeps_them():
    anchor = snapshot(10, bids=[("100.0", "1"), ("99.5", "2"), ("99.0", "5")], asks=[("100.5", "3"), ("101.0", "4")])
    diffs = [
        diff(9, 11, 8, bids=[("100.0", "0.000"), ("98.5", "7")], asks=[("100.5", "2")]),
        diff(12, 12, 11, bids=[("100.0", "1.5"), ("99.0", "0")], asks=[("100.25", "1")]),
        # Another spelling of a price already held replaces it; removing a level never held changes nothing.
        diff(13, 14, 12, bids=[("99.50", "9"), ("97.0", "0")], asks=[("100.25", "0"), ("100.5", "0")]),
    ]
    start, entries, keys, after_each = kept_span(anchor, diffs)
    span = columns_of(10, entries, keys)
    assert span.chained_from(10, "snapshot")
    for applied in range(len(diffs) + 1):
        book = book_after(start.book, span, applied)
        expected = after_each[applied - 1] if applied else start.book
        assert book.levels() == expected.levels(), applied
        assert book.levels(2) == expected.levels(2)
        assert (book.bids.best(), book.asks.best()) == (expected.bids.best(), expected.asks.best())
        assert (len(book.bids), len(book.asks)) == (len(expected.bids), len(expected.asks))
        assert book.update_id == expected.update_id
    assert book_after(start.book, span, 3).levels()["bids"][1] == ["99.50", "9"]


def test_a_random_walk_of_updates_matches_at_every_diff():
    rng = random.Random(7)
    prices = [f"{100 + tick / 10:.1f}" for tick in range(60)]
    anchor = snapshot(100, bids=[(price, "1") for price in prices[:30]], asks=[(price, "1") for price in prices[30:]])
    diffs, final = [], 100
    for step in range(80):
        bids = [(rng.choice(prices[:35]), rng.choice(["0", "0.5", "2", "3.25"])) for _ in range(rng.randint(0, 6))]
        asks = [(rng.choice(prices[25:]), rng.choice(["0.000", "1", "4"])) for _ in range(rng.randint(0, 6))]
        # The first diff straddles the snapshot's id; each next one links by pu.
        diffs.append(diff(final + (0 if step == 0 else 1), final + 2, final, bids=bids, asks=asks, ms=step))
        final += 2
    start, entries, keys, after_each = kept_span(anchor, diffs)
    span = columns_of(100, entries, keys)
    assert span.chained_from(100, "snapshot") and not span.chained_from(99, "checkpoint")
    for applied in range(1, len(diffs) + 1):
        assert book_after(start.book, span, applied).levels(5) == after_each[applied - 1].levels(5), applied
        assert book_after(start.book, span, applied).levels() == after_each[applied - 1].levels(), applied


@pytest.mark.parametrize(
    ("anchor_id", "kind", "chained"),
    [(11, "checkpoint", True), (10, "checkpoint", False), (11, "snapshot", True), (13, "snapshot", False)],
)
def test_a_pack_is_used_only_from_the_anchor_it_chains_to(anchor_id, kind, chained):
    entries = [[11, 12, 11, 0, [], []], [13, 14, 12, 0, [("1.0", "1")], []]]
    span = columns_of(11, entries, ([1.0], []))
    assert span.chained_from(anchor_id, kind) is chained


def test_a_moment_counts_the_diffs_stamped_up_to_it():
    ms = int(T0.timestamp() * 1000)
    entries = [[1, 2, 0, ms + 5, [], []], [3, 4, 2, ms + 5, [], []], [5, 6, 4, ms + 9, [], []]]
    span = columns_of(0, entries, ([], []))
    assert [span.applied_by_time(ms + offset) for offset in (4, 5, 8, 9, 10)] == [0, 2, 2, 3, 3]
    assert [span.applied_by_id(update_id) for update_id in (1, 2, 5, 6)] == [0, 1, 2, 3]


def test_a_pack_without_matching_keys_is_written_in_the_first_format():
    entries = [[1, 2, 0, 0, [["1.0", "1"]], []]]
    assert set(pack_span(0, entries, ([], []))) == {"replay"}  # one key short: the texts alone
    assert inflate_span(pack_span(0, entries)["replay"]) == {"after_update_id": 0, "diffs": entries}


def test_a_level_text_holding_a_space_is_written_in_the_first_format():
    # Format 2 joins the texts with spaces; a text with one of its own would shift every later pair.
    entries = [[1, 2, 0, 0, [[" 1.0", "1"], ["2.0", "3"]], [["4.0", "1"]]]]
    packed = pack_span(0, entries, ([1.0, 2.0], [4.0]))
    assert set(packed) == {"replay"}
    assert unpack_span(packed["replay"]) == (0, entries)
    clean = [[1, 2, 0, 0, [["1.0", "1"], ["2.0", "3"]], [["4.0", "1"]]]]
    assert set(pack_span(0, clean, ([1.0, 2.0], [4.0]))) == {"replay", "replay_keys"}
    assert unpack_span(pack_span(0, clean, ([1.0, 2.0], [4.0]))["replay"]) == (0, clean)
