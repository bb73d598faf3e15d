"""Past books over columnar replay packs when snapshots and checkpoints meet: a REST snapshot carrying a checkpoint's
id, a snapshot the keeper did not need inside a pack's span, and packs stored without their keys."""

from datetime import datetime, timedelta

import pytest

from books import selectors, services
from books.reconstruct import EXACT, Reconstructor
from books.store import books_collection, span_entry
from ingestion import store
from petrosa_dm.market.naming import DataType, series

from . import test_past_reads as past

pytestmark = [pytest.mark.django_db]
SYMBOL = "TIESUSDT"


def at(seconds: float) -> datetime:
    return past.T0 + timedelta(seconds=seconds)


def diff(first: int, final: int, prev: int, seconds: float, bid: str) -> dict:
    """A new bid level, the snapshot's bid removed, and the ask's quantity changed."""
    row = past.diff(first, final, prev, seconds, bid)
    return {**row, "symbol": SYMBOL, "bids": [*row["bids"], ["100.0", "0.000"]], "asks": [["101.0", f"{final}.0"]]}


def snapshot(update_id: int, seconds: float, bid: str = "100.0") -> dict:
    return {**past.snapshot(update_id, seconds), "bids": [[bid, "5.000"]]}


class Keeper:
    """What the keeper stores: a checkpoint every few diffs with its columnar pack (its journaled keys)."""

    def __init__(self, first: dict) -> None:
        services.snapshot_store(symbol=SYMBOL, row=first)
        self.rebuild = Reconstructor()
        self.rebuild.feed({**first, "kind": "snapshot"})
        self.restart()

    def restart(self) -> None:
        book = self.rebuild.book
        self.after, self.entries = book.update_id, []
        book.bids.journal, book.asks.journal = [], []

    def follow(self, *diffs: dict) -> None:
        store.write_rows(series(DataType.DEPTH, SYMBOL), list(diffs))
        for row in diffs:
            assert self.rebuild.feed(row) == "applied"
            self.entries.append(span_entry(row))

    def checkpoint(self) -> None:
        book = self.rebuild.book
        keys = (book.bids.journal, book.asks.journal)
        services.checkpoint_store(symbol=SYMBOL, book=book, span=(self.after, self.entries), keys=keys)
        self.restart()


@pytest.fixture
def kept(mongo_db) -> Keeper:
    """Snapshot 100 (10 s), diffs to 120 (11 s) and checkpoint 120, diffs to 140 (13 s) and checkpoint 140."""
    keeper = Keeper(snapshot(100, 10))
    keeper.follow(diff(95, 110, 94, 10.5, "99.0"), diff(111, 120, 110, 11, "98.0"))
    keeper.checkpoint()
    keeper.follow(diff(121, 130, 120, 12, "97.0"), diff(131, 140, 130, 13, "96.0"))
    keeper.checkpoint()
    return keeper


def bids(found) -> list[str]:
    return [price for price, _ in found.book.bids.top()]


def test_a_snapshot_with_a_checkpoints_id_reads_as_the_checkpoint(kept):
    # The scheduled snapshot came with nothing new since the checkpoint: the same id, 0.5 s later.
    services.snapshot_store(symbol=SYMBOL, row=snapshot(120, 11.5, bid="98.0"))
    found = selectors.book_at(SYMBOL, at=at(12.5))
    assert (found.state, found.book.update_id, found.anchor_kind) == (EXACT, 130, "checkpoint"), found.message
    assert bids(found) == ["99.0", "98.0", "97.0"]
    by_id = selectors.book_at(SYMBOL, update_id=120)
    assert (by_id.state, by_id.book.update_id, bids(by_id)) == (EXACT, 120, ["99.0", "98.0"])
    # Between the snapshot and the next diff: the book at 120, whichever anchor read it.
    between = selectors.book_at(SYMBOL, at=at(11.7))
    assert (between.state, between.book.update_id) == (EXACT, 120), between.message


def test_a_snapshot_the_keeper_did_not_need_is_the_book_until_the_next_diff(kept):
    # Taken inside the second pack's span (id 125, between the diffs ending at 120 and 130), ignored by the keeper.
    services.snapshot_store(symbol=SYMBOL, row=snapshot(125, 11.6, bid="77.0"))
    found = selectors.book_at(SYMBOL, at=at(11.8))
    assert (found.state, found.book.update_id, found.anchor_kind) == (EXACT, 125, "snapshot"), found.message
    assert bids(found) == ["77.0"]
    by_id = selectors.book_at(SYMBOL, update_id=125)
    assert (by_id.state, by_id.book.update_id, bids(by_id)) == (EXACT, 125, ["77.0"])
    # After the next diff the chain the keeper followed answers, as a whole book.
    later = selectors.book_at(SYMBOL, at=at(12.5))
    assert (later.state, later.book.update_id, bids(later)) == (EXACT, 130, ["99.0", "98.0", "97.0"])


@pytest.mark.parametrize("moment", [10.7, 11.0, 12.0, 12.9])
def test_a_pack_stored_without_its_keys_replays_the_same_book(kept, moment):
    with_keys = selectors.book_at(SYMBOL, at=at(moment))
    books_collection(SYMBOL).update_many({"kind": "checkpoint"}, {"$unset": {"replay_keys": ""}})
    selectors.forget_cache()
    without = selectors.book_at(SYMBOL, at=at(moment))
    assert with_keys.state == without.state == EXACT
    assert without.book.update_id == with_keys.book.update_id
    assert without.book.levels() == with_keys.book.levels()
