"""Pure order-book reconstruction, following Binance's documented procedure for a local USD-M book.

1. Start from a snapshot (REST `/fapi/v1/depth`, a stored checkpoint, or a partial-depth frame).
2. Drop diffs whose final update id `u` is below the snapshot's `lastUpdateId`.
3. The first applied diff has `U <= lastUpdateId <= u`.
4. Each next diff has `pu` equal to the previous diff's `u`.
5. Quantities are absolute; quantity 0 removes the level.

A diff that does not chain is a break: the book is `unknown` from then until the next snapshot, never silently
wrong. Diffs seen before any snapshot are not applied to nothing: the state stays `empty` until one arrives.

A partial frame (`@depth5/10/20`) is a full snapshot of the top N levels only: it replaces a book that is not
already kept exact by diffs, and diffs are never applied on top of it (the deeper levels they would uncover are not
known). A diff-kept book ignores partial frames: it is the more complete of the two.

No I/O here: `books.services` and `books.selectors` feed stored rows in update-id order.
"""

import heapq
from dataclasses import dataclass, field
from datetime import datetime

EMPTY = "empty"
EXACT = "exact"
UNKNOWN = "unknown"


def _zero(quantity: str) -> bool:
    return not quantity.strip("0.")


class Side:
    """One side of a book: price -> (price text, quantity text).

    A plain dict, sorted only when read: the keeper applies every level of every diff and reads the whole book only
    for a checkpoint, so upkeep must be cheap and ordering paid for on demand. Keys are the prices as floats:
    exchange prices have far fewer significant digits than a double holds, so two different prices never share a
    key and two spellings of one price (`61800.20`, `61800.2`) do. The texts are kept as sent."""

    __slots__ = ("descending", "journal", "levels")

    def __init__(self, descending: bool) -> None:
        self.levels: dict[float, tuple[str, str]] = {}
        self.descending = descending
        # When a list: every applied level's price key, negated for a removal, in order (the keeper's replay packs
        # carry them, so a web process replays a span without parsing a price again: `books.columns`).
        self.journal: list[float] | None = None

    def replace(self, levels: list) -> None:
        self.levels = {float(price): (price, qty) for price, qty in levels if not _zero(qty)}

    def apply(self, levels: list) -> None:
        book = self.levels
        if self.journal is not None:
            self._apply_journaled(levels)
            return
        for price, qty in levels:
            if qty.strip("0."):
                book[float(price)] = (price, qty)
            else:
                book.pop(float(price), None)

    def _apply_journaled(self, levels: list) -> None:
        book, record = self.levels, self.journal.append
        for price, qty in levels:
            key = float(price)
            if qty.strip("0."):
                book[key] = (price, qty)
                record(key)
            else:
                book.pop(key, None)
                record(-key)

    def apply_ops(self, ops: list) -> None:
        """Prepared levels (`prepare_levels`): (key, (price, qty)) sets, (key, None) removes."""
        book = self.levels
        for key, level in ops:
            if level is None:
                book.pop(key, None)
            else:
                book[key] = level

    def _keys(self, count: int | None) -> list[float]:
        if count is not None and count < len(self.levels) // 8:
            pick = heapq.nlargest if self.descending else heapq.nsmallest
            return pick(count, self.levels)
        return sorted(self.levels, reverse=self.descending)[:count]

    def top(self, count: int | None = None) -> list[list[str]]:
        """The best `count` levels (all when None), best first, as [price, quantity] text pairs."""
        levels = self.levels
        return [list(levels[key]) for key in self._keys(count)]

    def raw(self) -> list[tuple[str, str]]:
        """Every level as stored tuples, in no particular order (for checkpoints: whoever reads one rebuilds a
        dict, so sorting ten thousand levels here would be wasted)."""
        return list(self.levels.values())

    def best(self) -> tuple[str, str] | None:
        if not self.levels:
            return None
        return self.levels[max(self.levels) if self.descending else min(self.levels)]

    def __len__(self) -> int:
        return len(self.levels)


class Book:
    """The levels of one symbol's book as of one update id."""

    __slots__ = ("asks", "bids", "depth_limit", "time", "update_id")

    def __init__(self) -> None:
        self.bids = Side(descending=True)
        self.asks = Side(descending=False)
        self.update_id: int | None = None
        self.time: datetime | None = None
        self.depth_limit: int | None = None  # a partial frame's book: only its top N levels are known

    def load(self, *, update_id: int, time: datetime | None, bids: list, asks: list, depth_limit=None) -> None:
        self.bids.replace(bids)
        self.asks.replace(asks)
        self.update_id, self.time, self.depth_limit = update_id, time, depth_limit

    def apply(self, *, update_id: int, time: datetime | None, bids: list, asks: list) -> None:
        self.bids.apply(bids)
        self.asks.apply(asks)
        self.update_id, self.time = update_id, time

    def copy(self) -> "Book":
        twin = Book()
        twin.bids.levels, twin.asks.levels = dict(self.bids.levels), dict(self.asks.levels)
        twin.update_id, twin.time, twin.depth_limit = self.update_id, self.time, self.depth_limit
        return twin

    def levels(self, count: int | None = None) -> dict:
        return {"bids": self.bids.top(count), "asks": self.asks.top(count)}


def prepare_levels(levels: list) -> tuple:
    """A diff's levels parsed once for repeated replays: ((float price, (price, qty) or None to remove), ...).

    Tuples all the way down, of strings and floats only: the garbage collector stops tracking such tuples after
    its first look, so a web process's cache of replays (a million levels) is not walked by every full collection
    (those passes took 100-300 ms each with the cache held in lists)."""
    return tuple([(float(price), (price, qty) if qty.strip("0.") else None) for price, qty in levels])


@dataclass
class Break:
    """Where the chain broke: the last update applied, and the first stored one that did not link to it."""

    last_update_id: int
    last_time: datetime | None
    next_update_id: int
    next_prev_update_id: int | None
    next_time: datetime | None
    reason: str


@dataclass
class Reconstructor:
    """Feeds rows in update-id order; `state` says whether `book` is exact now."""

    book: Book = field(default_factory=Book)
    state: str = EMPTY
    # After a snapshot, the first diff to apply must straddle its lastUpdateId (U <= id <= u).
    synced: bool = False
    anchor_kind: str | None = None
    anchor_update_id: int | None = None
    anchor_time: datetime | None = None
    breaks: list[Break] = field(default_factory=list)
    applied: int = 0  # diffs applied since the anchor
    waiting: int = 0  # diffs not applied because no snapshot was there yet

    @property
    def last_break(self) -> Break | None:
        return self.breaks[-1] if self.breaks else None

    def snapshot(self, *, update_id: int, time: datetime | None, bids: list, asks: list, kind="snapshot") -> bool:
        """A full book at `update_id` (REST snapshot or checkpoint); True when it became the anchor.

        A book already kept exact by diffs is not replaced: its chain is the truth, and a snapshot taken while
        diffs were in flight may even be older than it."""
        # Before its first diff, a newer snapshot replaces the one in hand (which may predate the stream).
        if self.state == EXACT and self.book.depth_limit is None and (self.synced or update_id <= self.book.update_id):
            return False
        self.book.load(update_id=update_id, time=time, bids=bids, asks=asks)
        self._anchor(kind, update_id, time)
        # A checkpoint was cut right after an applied diff: the next diff links to it by `pu` like any other.
        self.synced = kind == "checkpoint"
        return True

    def resume(self, book: Book, kind: str) -> None:
        """Start from a full anchor book already built (a copy: the caller's stays untouched)."""
        self.book = book.copy()
        self._anchor(kind, book.update_id, book.time)
        self.synced = kind == "checkpoint"

    def partial(self, *, update_id: int, time: datetime | None, bids: list, asks: list, levels: int) -> bool:
        """A partial-depth frame; True when it became the book."""
        if self.state == EXACT and self.book.depth_limit is None:
            return False
        if self.state == EXACT and self.book.update_id is not None and update_id < self.book.update_id:
            return False
        self.book.load(update_id=update_id, time=time, bids=bids, asks=asks, depth_limit=levels)
        self._anchor("partial", update_id, time)
        self.synced = False
        return True

    def _anchor(self, kind: str, update_id: int, time: datetime | None) -> None:
        self.state = EXACT
        self.anchor_kind, self.anchor_update_id, self.anchor_time = kind, update_id, time
        self.applied = 0

    def check(self, *, first_id: int | None, final_id: int, prev_id: int | None) -> str:
        """What `diff` would do with these ids, without doing it: apply, dropped, waiting, ignored or break."""
        if self.state == EMPTY:
            return "waiting"
        if self.state == UNKNOWN or self.book.depth_limit is not None:
            return "ignored"
        book_id = self.book.update_id
        if final_id < book_id or (self.synced and final_id == book_id):
            return "dropped"  # older than the snapshot, or a redelivered diff
        if not self.synced:
            return "break" if (first_id if first_id is not None else final_id) > book_id else "apply"
        linked = prev_id if prev_id is not None else (first_id - 1 if first_id is not None else None)
        return "apply" if linked == book_id else "break"

    def diff(
        self,
        *,
        first_id: int | None,
        final_id: int,
        prev_id: int | None,
        time: datetime | None,
        bids,
        asks,
        prepared: bool = False,
    ) -> str:
        """One diff; returns what happened: applied, dropped, waiting, ignored (unknown or partial book), break."""
        outcome = self.check(first_id=first_id, final_id=final_id, prev_id=prev_id)
        if outcome == "waiting":
            self.waiting += 1
        if outcome == "break":
            reason = (
                "pu does not link to the previous diff's u"
                if self.synced
                else "the first diff starts past the snapshot"
            )
            return self._break(final_id, prev_id, time, reason)
        if outcome != "apply":
            return outcome
        self.synced = True
        if prepared:
            book = self.book
            book.bids.apply_ops(bids)
            book.asks.apply_ops(asks)
            book.update_id, book.time = final_id, time
        else:
            self.book.apply(update_id=final_id, time=time, bids=bids, asks=asks)
        self.applied += 1
        return "applied"

    def _break(self, final_id: int, prev_id: int | None, time: datetime | None, reason: str) -> str:
        self.breaks.append(Break(self.book.update_id, self.book.time, final_id, prev_id, time, reason))
        self.state = UNKNOWN
        self.synced = False
        return "break"

    def feed(self, row: dict) -> str:
        """A stored depth or book row (`ingestion.documents.DepthUpdate` shape, or a `books` snapshot/checkpoint)."""
        kind = row.get("kind")
        if kind in ("snapshot", "checkpoint"):
            taken = self.snapshot(
                update_id=row["final_update_id"],
                time=row.get("event_time"),
                bids=row["bids"],
                asks=row["asks"],
                kind=kind,
            )
            return "anchored" if taken else "ignored"
        if kind == "partial":
            taken = self.partial(
                update_id=row["final_update_id"],
                time=row.get("event_time"),
                bids=row["bids"],
                asks=row["asks"],
                levels=row.get("levels") or max(len(row["bids"]), len(row["asks"])),
            )
            return "anchored" if taken else "ignored"
        return self.diff(
            first_id=row.get("first_update_id"),
            final_id=row["final_update_id"],
            prev_id=row.get("prev_final_update_id"),
            time=row.get("event_time"),
            bids=row["bids"],
            asks=row["asks"],
        )
