"""Past books by array operations over a columnar replay pack (format 2 of `books.store.pack_span`).

A past book between two checkpoints is the earlier one's levels with the span's diffs applied up to the moment.
Applied one level at a time in Python, a 500-diff BTCUSDT span (about 30,000 levels) cost a web process 15-30 ms
to parse and prepare on first touch, and the collector walked the prepared tuples afterwards. The keeper already
parses every price once (its own book is keyed by them), so it stores the keys beside the texts; here the book at
any moment of the span is found with a few sorts over those arrays: for each price the last of its updates up to
the moment (a set, or a removal), and the anchor's levels that no update touched. Texts are looked up only for the
levels a response shows.

No I/O: `books.selectors` loads packs and anchor books and calls `book_after`.
"""

from datetime import datetime

import numpy as np

from petrosa_dm.market.timeutils import from_ms

from .reconstruct import Side

_MISSING = -1  # an id the exchange did not send (U or pu)


class SideOps:
    """One side's applied levels over a span: `ends[i]` levels belong to the first i + 1 diffs; `keys` are the
    prices as floats, negated for removals; the texts are one string of `price quantity` words."""

    __slots__ = ("_words", "ends", "keys", "text")

    def __init__(self, ends: np.ndarray, keys: np.ndarray, text: str) -> None:
        self.ends, self.keys, self.text = ends, keys, text
        self._words: list[str] | None = None

    def count(self, applied: int) -> int:
        return int(self.ends[applied - 1]) if applied else 0

    def pair(self, position: int) -> list[str]:
        if self._words is None:
            self._words = self.text.split(" ") if self.text else []
        return self._words[2 * position : 2 * position + 2]


class SpanColumns:
    """A checkpoint's replay pack in columns: the diffs applied after the anchor `after`, in order."""

    def __init__(self, header: dict, keys: bytes) -> None:
        diffs = header["diffs"]
        self.after: int = header["after_update_id"]
        self.count = len(diffs)
        table = np.array(
            [[_MISSING if value is None else value for value in diff] for diff in diffs], dtype=np.int64
        ).reshape(self.count, 6)
        self.table = table  # one array, not 500 lists for the collector to walk while the pack is cached
        self.first_ids, self.final_ids, self.prev_ids = table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()
        self.times_ms = table[:, 3].copy()
        every_key = np.frombuffer(keys, dtype=np.float64)
        bid_ends, ask_ends = np.cumsum(table[:, 4]), np.cumsum(table[:, 5])
        split = int(bid_ends[-1]) if self.count else 0
        self.bids = SideOps(bid_ends, every_key[:split], header["bids"])
        self.asks = SideOps(ask_ends, every_key[split:], header["asks"])
        self.levels = len(every_key) + self.count

    def chained_from(self, anchor_id: int, anchor_kind: str) -> bool:
        """Whether every diff links to the one before (by `pu`, else `U - 1`) and the first to the anchor, as the
        reconstructor requires: a checkpoint is followed by the diff whose `pu` is its id, a REST snapshot by the
        one straddling its id (`U <= lastUpdateId <= u`)."""
        if not self.count:
            return False
        links = np.where(self.prev_ids != _MISSING, self.prev_ids, self.first_ids - 1)
        if not np.array_equal(links[1:], self.final_ids[:-1]):
            return False
        if anchor_kind == "checkpoint":
            return int(links[0]) == anchor_id
        start = int(self.first_ids[0]) if self.first_ids[0] != _MISSING else int(self.final_ids[0])
        return start <= anchor_id <= int(self.final_ids[0])

    def applied_by_time(self, at_ms: int) -> int:
        """How many diffs are applied at a moment: up to the first one stamped after it."""
        past = self.times_ms > at_ms
        return int(np.argmax(past)) if past.any() else self.count

    def applied_by_id(self, update_id: int) -> int:
        return int(np.searchsorted(self.final_ids, update_id, side="right"))

    def time_of(self, applied: int) -> datetime:
        return from_ms(int(self.times_ms[applied - 1]))

    def packed(self) -> dict:
        """The pack as `books.store.inflate_span` reads it (for a row replay: `books.store.span_entries`)."""
        diffs = [[None if value == _MISSING else value for value in row] for row in self.table.tolist()]
        sides = {"bids": self.bids.text, "asks": self.asks.text}
        return {"after_update_id": self.after, "format": 2, "diffs": diffs, **sides}

    def final_id(self, applied: int) -> int:
        """The update id of the book after `applied` diffs (the anchor's for none)."""
        return int(self.final_ids[applied - 1]) if applied else self.after


class ColumnSide:
    """One side of a past book: the anchor's levels overlaid with the last update of each price among the first
    `count` of the span's (a removal drops the level). Merged on first use."""

    def __init__(self, anchor: Side, ops: SideOps, count: int) -> None:
        self.anchor, self.ops, self.op_count = anchor, ops, count
        self.descending = anchor.descending
        self._keys: np.ndarray | None = None
        self._sources: np.ndarray | None = None

    def _merge(self) -> None:
        anchor_keys = np.fromiter(self.anchor.levels, dtype=np.float64, count=len(self.anchor.levels))
        signed = self.ops.keys[: self.op_count]
        # The last update of each price: its first occurrence in the reversed order.
        prices, first_reversed = np.unique(np.abs(signed)[::-1], return_index=True)
        last = len(signed) - 1 - first_reversed
        alive = signed[last] > 0
        untouched = np.ones(len(anchor_keys), dtype=bool)
        if len(prices):
            found = np.minimum(np.searchsorted(prices, anchor_keys), len(prices) - 1)
            untouched = prices[found] != anchor_keys
        self._keys = np.concatenate([anchor_keys[untouched], prices[alive]])
        # A level's text: a non-negative source is the anchor's level at that position, a negative one the update
        # at position -1 - source.
        self._sources = np.concatenate([np.flatnonzero(untouched), -1 - last[alive]])

    def _order(self, count: int | None) -> np.ndarray:
        if self._keys is None:
            self._merge()
        keys = -self._keys if self.descending else self._keys
        if count is None or count >= len(keys):
            return np.argsort(keys, kind="stable")
        picked = np.argpartition(keys, count - 1)[:count] if count > 0 else np.empty(0, dtype=np.int64)
        return picked[np.argsort(keys[picked], kind="stable")]

    def top(self, count: int | None = None) -> list[list[str]]:
        """The best `count` levels (all when None), best first, as [price, quantity] text pairs."""
        order = self._order(count)
        texts = list(self.anchor.levels.values()) if len(order) else []
        out = []
        for source in self._sources[order].tolist():
            out.append(list(texts[source]) if source >= 0 else self.ops.pair(-1 - source))
        return out

    def best(self) -> tuple[str, str] | None:
        top = self.top(1)
        return tuple(top[0]) if top else None

    def __len__(self) -> int:
        if self._keys is None:
            self._merge()
        return len(self._keys)


class ColumnBook:
    """A past book from an anchor book and a columnar span; reads like `books.reconstruct.Book`."""

    __slots__ = ("asks", "bids", "depth_limit", "time", "update_id")

    def __init__(self, bids: ColumnSide, asks: ColumnSide, update_id: int, time: datetime | None) -> None:
        self.bids, self.asks, self.update_id, self.time = bids, asks, update_id, time
        self.depth_limit = None

    def levels(self, count: int | None = None) -> dict:
        return {"bids": self.bids.top(count), "asks": self.asks.top(count)}


def book_after(anchor, span: SpanColumns, applied: int) -> ColumnBook:
    """The book after the first `applied` diffs of the span, from the anchor book (a `Book`) it starts at."""
    bids = ColumnSide(anchor.bids, span.bids, span.bids.count(applied))
    asks = ColumnSide(anchor.asks, span.asks, span.asks.count(applied))
    if applied:
        return ColumnBook(bids, asks, int(span.final_ids[applied - 1]), span.time_of(applied))
    return ColumnBook(bids, asks, anchor.update_id, anchor.time)
