"""Reads of order books: the book of a symbol at a moment (or update id), from the nearest anchor plus a replay.

The book at time `t` is the latest full anchor (REST snapshot or checkpoint in `books_{SYMBOL}`) at or before `t`,
with the stored diffs after it applied in update-id order up to the last one stamped at or before `t`. It is
`exact` only when we hold every update up to `t`: the first stored diff after `t` must still link to the book
(otherwise the lost updates may lie before `t`). A break makes it `unknown` until the next snapshot; before any
anchor it is `empty`. Where the diff book is not exact, a partial-depth frame at or before `t` (newer than the
break) gives the top levels exactly. Checkpoints bound the replay to `BOOKS_CHECKPOINT_UPDATES` diffs; inside a
span whose checkpoint carries a columnar replay pack, the book is found by array operations instead
(`books.columns`), and the diffs are replayed one by one only where no such pack applies.
"""

import bisect
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from pymongo import ASCENDING, DESCENDING

from petrosa_dm.heap import collector_paused
from petrosa_dm.market.timeutils import format_duration, from_ms, time_text, to_ms, utcnow

from .columns import SpanColumns, book_after
from .reconstruct import EMPTY, EXACT, UNKNOWN, Book, Break, Reconstructor, prepare_levels
from .store import (
    books_readable,
    depth_readable,
    diffs_query,
    inflate_span,
    span_entries,
    spans_readable,
    unpack_levels,
)

# Whole rows: an exclusion projection costs the embedded store about as much as the read itself (issue 16), and
# the reconstructor reads only the fields it knows.
ROW_FIELDS = None
ANCHOR_ID_FIELDS = {"_id": 0, "kind": 1, "final_update_id": 1, "event_time": 1}
# An anchor's book without its checkpoint's replay pack (read on its own, when a replay needs it).
ANCHOR_FIELDS = {"replay": 0, "replay_keys": 0}
# New anchors are found by time from the newest known one, looking back this far: a checkpoint carries the
# exchange time of its last diff, which may be a little older than a REST snapshot stored just before it.
ANCHOR_REFRESH_OVERLAP = timedelta(minutes=5)
REPLAY_BATCH = 500
FOLLOWING_DIFF_WINDOW = timedelta(minutes=1)
# A book this much older than the moment asked, with no update stored after it, says the stream was silent.
STREAM_SILENCE = timedelta(minutes=1)


class _Lru(OrderedDict):
    """Built anchor books and full chunks of diffs never change (stored rows are insert-only and idempotent), so a
    web process keeps the recent ones and a past book costs CPU only. Bounded by the order-book levels held
    (BOOKS_CACHE_LEVELS, about 150 bytes each), least recently used first out."""

    levels = 0

    def get_or(self, key, load, size):
        if key in self:
            self.move_to_end(key)
            return self[key][0]
        with collector_paused():
            value = load()
        if value is not None:
            weight = size(value)
            self[key] = (value, weight)
            self.levels += weight
            while self.levels > settings.BOOKS_CACHE_LEVELS and len(self) > 1:
                _key, (_value, dropped) = self.popitem(last=False)
                self.levels -= dropped
        return value

    def peek(self, key):
        found = self.get(key)
        if found is None:
            return None
        self.move_to_end(key)
        return found[0]

    def clear(self) -> None:
        super().clear()
        self.levels = 0


def _chunk_levels(rows: list) -> int:
    return sum(len(row.bids) + len(row.asks) + 1 for row in rows)


_cache = _Lru()


def forget_cache() -> None:
    _cache.clear()
    _indexes.clear()


@dataclass
class BookAt:
    state: str
    book: Book | None = None
    anchor_kind: str | None = None
    anchor_update_id: int | None = None
    brk: Break | None = None
    resync_time: datetime | None = None
    resync_update_id: int | None = None
    first_book_time: datetime | None = None
    replayed: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return " ".join(self.messages)


def _anchor_query(at: datetime | None, update_id: int | None) -> tuple[dict, list]:
    if update_id is not None:
        return {"final_update_id": {"$lte": update_id}}, [("final_update_id", DESCENDING)]
    if at is not None:
        return {"event_time": {"$lte": at}}, [("event_time", DESCENDING), ("final_update_id", DESCENDING)]
    return {}, [("final_update_id", DESCENDING)]


@dataclass
class _AnchorIndex:
    """Every anchor's (event_time, update id, kind) of one symbol, sorted, so that finding the one before a past
    moment costs no store round trip. Anchors are appended in time order, so the index only needs reloading for a
    moment past its newest anchor (at most once per ANCHOR_INDEX_TTL seconds)."""

    by_time: list[tuple]
    by_id: list[tuple]
    loaded: float

    @classmethod
    def load(cls, symbol: str) -> "_AnchorIndex":
        index = cls([], [], 0.0)
        index.extend(books_readable(symbol).find({}, ANCHOR_ID_FIELDS))
        return index

    def refresh(self, symbol: str) -> None:
        """Add the anchors stored since the newest known one (read by the time index, not the whole list again)."""
        if not self.by_time:
            self.extend(books_readable(symbol).find({}, ANCHOR_ID_FIELDS))
            return
        since = self.by_time[-1][0] - ANCHOR_REFRESH_OVERLAP
        self.extend(books_readable(symbol).find({"event_time": {"$gte": since}}, ANCHOR_ID_FIELDS))

    def extend(self, rows) -> None:
        entries = set(self.by_time) | {(row["event_time"], row["final_update_id"], row["kind"]) for row in rows}
        # A REST snapshot can carry the id of a checkpoint (nothing changed in between): the book is the same, and
        # only the checkpoint is followed by a diff that links to it (`pu`), not one straddling it. It anchors alone.
        checkpoints = {final_id for _, final_id, kind in entries if kind == "checkpoint"}
        entries = {entry for entry in entries if entry[2] == "checkpoint" or entry[1] not in checkpoints}
        self.by_time = sorted(entries, key=lambda entry: (entry[0], entry[1]))
        self.by_id = sorted(entries, key=lambda entry: entry[1])
        self.loaded = time.monotonic()

    def covers(self, at: datetime | None, update_id: int | None) -> bool:
        if not self.by_time:
            return False
        if update_id is not None:
            return update_id <= self.by_id[-1][1]
        return at is not None and at <= self.by_time[-1][0]

    def before(self, at: datetime | None, update_id: int | None) -> tuple | None:
        if update_id is not None:
            index = bisect.bisect_right(self.by_id, update_id, key=lambda entry: entry[1])
            return self.by_id[index - 1] if index else None
        if at is None:
            return self.by_id[-1] if self.by_id else None
        index = bisect.bisect_right(self.by_time, at, key=lambda entry: entry[0])
        return self.by_time[index - 1] if index else None

    def following(self, at: datetime | None, update_id: int | None) -> tuple | None:
        """The first anchor after the moment (None for the latest book, or past the newest anchor known)."""
        if update_id is not None:
            index = bisect.bisect_right(self.by_id, update_id, key=lambda entry: entry[1])
            return self.by_id[index] if index < len(self.by_id) else None
        if at is None:
            return None
        index = bisect.bisect_right(self.by_time, at, key=lambda entry: entry[0])
        return self.by_time[index] if index < len(self.by_time) else None


_indexes: dict[str, _AnchorIndex] = {}
ANCHOR_INDEX_TTL = 1.0


def _anchor_index(symbol: str, at: datetime | None, update_id: int | None) -> _AnchorIndex:
    index = _indexes.get(symbol)
    stale = index is None or (not index.covers(at, update_id) and time.monotonic() - index.loaded > ANCHOR_INDEX_TTL)
    if index is None:
        index = _indexes[symbol] = _AnchorIndex.load(symbol)
    elif stale:
        index.refresh(symbol)
    return index


def latest_anchor(symbol: str, *, at: datetime | None = None, update_id: int | None = None) -> dict | None:
    """The latest snapshot or checkpoint at or before the moment: `kind`, `final_update_id`, `event_time` (its
    levels come from `_anchor_book`)."""
    entry = _anchor_index(symbol, at, update_id).before(at, update_id)
    if entry is None:
        return None
    event_time, final_id, kind = entry
    return {"kind": kind, "final_update_id": final_id, "event_time": event_time}


def _anchor_book(symbol: str, anchor: dict) -> Book:
    """The anchor's levels read and built into a book once per process (copied for every replay)."""

    def build() -> Book:
        identity = {"kind": anchor["kind"], "final_update_id": anchor["final_update_id"]}
        rebuild = Reconstructor()
        rebuild.feed(unpack_levels(books_readable(symbol).find_one(identity, ANCHOR_FIELDS)))
        return rebuild.book

    key = (symbol, "book", anchor["kind"], anchor["final_update_id"])
    return _cache.get_or(key, build, lambda book: len(book.bids) + len(book.asks))


def latest_partial(symbol: str, *, at: datetime | None = None, update_id: int | None = None) -> dict | None:
    query, sort = _anchor_query(at, update_id)
    return depth_readable(symbol).find_one({"kind": "partial", **query}, ROW_FIELDS, sort=sort)


def next_anchor(symbol: str, *, at: datetime | None = None, update_id: int | None = None) -> dict | None:
    """The first snapshot or checkpoint after the moment: the diffs a past book needs end there (or soon after)."""
    entry = _anchor_index(symbol, at, update_id).following(at, update_id)
    if entry is None:
        return None
    event_time, final_id, kind = entry
    return {"kind": kind, "final_update_id": final_id, "event_time": event_time}


def _chunks_after(symbol: str, anchor: dict, chunk: int, *, until: datetime | None = None, prepared: bool = False):
    """Stored diffs after the anchor in update-id order, `chunk` at a time: a bounded query per round trip (an
    open-ended sorted query makes the store gather every later diff before returning the first).

    Read first up to `until` (the next anchor's time): a range of the time index, answered without touching later
    diffs. Past it (a caller still wanting diffs), reading goes on without that bound. `prepared` chunks are parsed
    for replays, and full ones cached in that form (stored diffs never change)."""
    collection = depth_readable(symbol)
    low, inclusive, bounded = anchor["final_update_id"], anchor["kind"] == "snapshot", until is not None
    while True:
        key = (symbol, "prepared", inclusive, low, chunk)
        rows = _cache.peek(key) if prepared else None
        if rows is None:
            query = diffs_query(anchor, after_id=low, inclusive=inclusive, until=until if bounded else None)
            rows = list(collection.find(query, ROW_FIELDS, sort=[("final_update_id", ASCENDING)], limit=chunk))
            if prepared:
                rows = _prepare(rows)
                if len(rows) == chunk:  # a full chunk is final; the newest may still grow
                    _cache.get_or(key, lambda rows=rows: rows, _chunk_levels)
        yield rows
        if rows:
            low, inclusive = rows[-1].final_id if prepared else rows[-1]["final_update_id"], False
        if len(rows) < chunk:
            if not bounded:
                return
            bounded = False


def _diffs_after(symbol: str, anchor: dict, chunk: int, *, until: datetime | None = None):
    for rows in _chunks_after(symbol, anchor, chunk, until=until):
        yield from rows


def book_at(symbol: str, *, at: datetime | None = None, update_id: int | None = None) -> BookAt:
    """The book at `at` (a time) or after `update_id`; the latest known book when both are None."""
    anchor = latest_anchor(symbol, at=at, update_id=update_id)
    if anchor:
        following = next_anchor(symbol, at=at, update_id=update_id)
        result = _from_columns(symbol, anchor, at, update_id, following)
        if result is None:
            result = _replay(symbol, anchor, at, update_id, following)
    else:
        result = BookAt(state=EMPTY)
    if result.state == EXACT:
        _note_silence(symbol, result, at)
        return result
    partial = latest_partial(symbol, at=at, update_id=update_id)
    since = result.brk.last_update_id if result.brk else None
    if partial and (since is None or partial["final_update_id"] > since):
        rebuild = Reconstructor()
        rebuild.feed(partial)
        return BookAt(
            state=EXACT,
            book=rebuild.book,
            anchor_kind="partial",
            anchor_update_id=partial["final_update_id"],
            messages=[f"only the top {rebuild.book.depth_limit} levels are known (a partial-depth frame)."],
        )
    if result.state == EMPTY:
        first = books_readable(symbol).find_one({}, {"event_time": 1}, sort=[("event_time", ASCENDING)])
        result.first_book_time = first["event_time"] if first else None
        if first:
            said = f"no book before {time_text(first['event_time'])}: the first snapshot of {symbol} was taken then."
        elif depth_readable(symbol).find_one({}, {"_id": 1}) is not None:
            said = f"no book of {symbol} is stored yet: its depth updates wait for a snapshot."
        else:
            said = f"no depth updates of {symbol} are stored."
        result.messages.append(said)
    elif result.state == UNKNOWN:
        _resync(symbol, result)
    return result


def _note_silence(symbol: str, result: BookAt, at: datetime | None) -> None:
    """The book is the one after the last update applied. When that update is more than STREAM_SILENCE before
    the moment and no later update is stored, say so: updates sent in between (a stopped stream or consumer) were
    not received, so the book may have changed since. (A later stored update that links to it would prove it did
    not: then the book is exact at the moment and nothing is said.)"""
    book_time = result.book.time if result.book is not None else None
    moment = at or utcnow()
    if book_time is None or moment - book_time <= STREAM_SILENCE:
        return
    after = {"kind": "checkpoint", "final_update_id": result.book.update_id, "event_time": book_time}
    if depth_readable(symbol).find_one(diffs_query(after), {"_id": 1}) is not None:
        return
    silence = format_duration(moment - book_time)
    result.messages.append(
        f"no depth update of {symbol} is stored after {time_text(book_time)}, {silence} before "
        f"{'the moment asked' if at else 'now'}: the book is the one after that update, and later changes, if "
        f"any, were not received."
    )


class _Prepared(NamedTuple):
    """A stored diff parsed once for replays (cached in this form)."""

    first_id: int | None
    final_id: int
    prev_id: int | None
    time: datetime
    bids: list
    asks: list


def _prepare(rows: list[dict]) -> list[_Prepared]:
    return [
        _Prepared(
            row.get("first_update_id"),
            row["final_update_id"],
            row.get("prev_final_update_id"),
            row["event_time"],
            prepare_levels(row["bids"]),
            prepare_levels(row["asks"]),
        )
        for row in rows
    ]


def _prepared_after(symbol: str, anchor: dict, chunk: int, until: datetime | None):
    for rows in _chunks_after(symbol, anchor, chunk, until=until, prepared=True):
        yield from rows


class _Pack:
    """A checkpoint's replay pack: the diffs applied after the anchor `after` up to the checkpoint, parsed for
    replays at once. The parsed JSON (lists, which the garbage collector walks at every full collection) is not
    kept: only the prepared tuples, which it stops tracking (`prepare_levels`)."""

    def __init__(self, after: int, entries: list[list]) -> None:
        self.after = after
        self.prepared = tuple(
            _Prepared(first, final, prev, from_ms(time_ms), prepare_levels(bids), prepare_levels(asks))
            for first, final, prev, time_ms, bids, asks in entries
        )
        self.levels = sum(len(row.bids) + len(row.asks) + 1 for row in self.prepared)

    def rows(self):
        return iter(self.prepared)

    def last(self) -> dict | None:
        if not self.prepared:
            return None
        final = self.prepared[-1]
        return {"kind": "checkpoint", "final_update_id": final.final_id, "event_time": final.time}


def _span_pack(symbol: str, checkpoint: dict) -> SpanColumns | _Pack | None:
    """The replay pack stored with a checkpoint, once per process: columns (format 2), or parsed diffs (format 1,
    written before the keeper journaled its price keys); None for checkpoints written without one."""

    def load() -> SpanColumns | _Pack | None:
        identity = {"kind": "checkpoint", "final_update_id": checkpoint["final_update_id"]}
        row = books_readable(symbol).find_one(identity, {"replay": 1, "replay_keys": 1})
        if not row or "replay" not in row:
            return None
        packed = inflate_span(row["replay"])
        if packed.get("format") == 2 and "replay_keys" in row:
            return SpanColumns(packed, row["replay_keys"])
        return _Pack(packed["after_update_id"], span_entries(packed))

    key = (symbol, "pack", checkpoint["final_update_id"])
    return _cache.get_or(key, load, lambda pack: pack.levels)


def _from_columns(
    symbol: str, anchor: dict, at: datetime | None, update_id: int | None, following: dict | None
) -> BookAt | None:
    """The book at the moment from the next checkpoint's columnar pack, when it holds every diff from an anchor at
    or before the moment to the first diff after it; None otherwise (the caller replays diffs instead).

    The pack starts at the anchor the keeper had then: this one, or an earlier one when this is a snapshot the
    keeper did not need (its book was exact already); either is a full book at the pack's start."""
    if following is None or following["kind"] != "checkpoint":
        return None
    span = _span_pack(symbol, following)
    if not isinstance(span, SpanColumns) or span.after > anchor["final_update_id"]:
        return None
    if update_id is not None and update_id == anchor["final_update_id"]:
        return None  # the anchor itself is the book asked for
    start = anchor if span.after == anchor["final_update_id"] else _anchor_at(symbol, span.after)
    if start is None or not span.chained_from(start["final_update_id"], start["kind"]):
        return None
    applied = span.applied_by_id(update_id) if update_id is not None else span.applied_by_time(to_ms(at))
    if applied >= span.count:
        return None  # the first diff after the moment is past the pack: whether it links is read from the store
    if span.final_id(applied) < anchor["final_update_id"]:
        # A snapshot the keeper did not need lies between the pack's last applied diff and the moment: it is the
        # newer book, as the row replay answers.
        return None
    book = book_after(_anchor_book(symbol, start), span, applied)
    # As in `_replay`: no stored diff ends at that id, so the book between two updates is not defined.
    state = UNKNOWN if update_id is not None and book.update_id != update_id else EXACT
    return BookAt(
        state=state, book=book, anchor_kind=start["kind"], anchor_update_id=start["final_update_id"], replayed=applied
    )


def _anchor_at(symbol: str, update_id: int) -> dict | None:
    entry = _anchor_index(symbol, None, update_id).before(None, update_id)
    if entry is None or entry[1] != update_id:
        return None
    event_time, final_id, kind = entry
    return {"kind": kind, "final_update_id": final_id, "event_time": event_time}


def _replay_rows(symbol: str, anchor: dict, following: dict | None, chunk: int):
    """The diffs after the anchor, in update-id order, as far as the caller reads: from the next checkpoint's replay
    pack when it covers the span (older diffs in it are dropped by the reconstructor), then from the stored rows."""
    pack = _span_pack(symbol, following) if following and following["kind"] == "checkpoint" else None
    if pack is None or pack.after > anchor["final_update_id"]:
        yield from _prepared_after(symbol, anchor, chunk, following["event_time"] if following else None)
        return
    if isinstance(pack, SpanColumns):  # the columnar path declined this moment: its diffs as rows (not cached)
        pack = _Pack(pack.after, span_entries(pack.packed()))
    yield from pack.rows()
    yield from _prepared_after(symbol, pack.last() or anchor, chunk, None)


def _replay(symbol: str, anchor: dict, at: datetime | None, update_id: int | None, following: dict | None) -> BookAt:
    rebuild = Reconstructor()
    rebuild.resume(_anchor_book(symbol, anchor), anchor["kind"])
    replayed = 0
    chunk = min(REPLAY_BATCH, settings.BOOKS_CHECKPOINT_UPDATES + 2)
    for row in _replay_rows(symbol, anchor, following, chunk):
        past = row.final_id > update_id if update_id is not None else at is not None and row.time > at
        if past:
            # The first update after the moment must still link: otherwise what was lost may lie before it.
            verdict = rebuild.check(first_id=row.first_id, final_id=row.final_id, prev_id=row.prev_id)
            if verdict == "dropped":
                continue
            if verdict == "break":
                rebuild.diff(
                    first_id=row.first_id, final_id=row.final_id, prev_id=row.prev_id, time=row.time, bids=[], asks=[]
                )
            break
        outcome = rebuild.diff(
            first_id=row.first_id,
            final_id=row.final_id,
            prev_id=row.prev_id,
            time=row.time,
            bids=row.bids,
            asks=row.asks,
            prepared=True,
        )
        replayed += 1
        if outcome == "break":
            break
    if update_id is not None and rebuild.state == EXACT and rebuild.book.update_id != update_id:
        rebuild.state = UNKNOWN  # no stored diff ends at that id: the book between two updates is not defined
    return BookAt(
        state=rebuild.state,
        book=rebuild.book,
        anchor_kind=anchor["kind"],
        anchor_update_id=anchor["final_update_id"],
        brk=rebuild.last_break,
        replayed=replayed,
    )


def _resync(symbol: str, result: BookAt) -> None:
    brk = result.brk
    if brk is None:
        result.messages.append("the book is not known at that moment.")
        return
    snapshot = books_readable(symbol).find_one(
        {"kind": "snapshot", "final_update_id": {"$gt": brk.last_update_id}},
        {"event_time": 1, "final_update_id": 1},
        sort=[("final_update_id", ASCENDING)],
    )
    since = brk.last_time.isoformat() if brk.last_time else "?"
    if snapshot:
        result.resync_time, result.resync_update_id = snapshot["event_time"], snapshot["final_update_id"]
        until = f"until the resync snapshot at {snapshot['event_time'].isoformat()}"
    else:
        until = "and no resync snapshot has been taken since"
    result.messages.append(
        f"the depth stream broke after update {brk.last_update_id} ({since}): updates up to {brk.next_prev_update_id} "
        f"were lost, so the book is unknown from then {until}."
    )


def book_timeline(symbol: str, *, anchors: tuple[str, ...] = ("snapshot",)):
    """Every stored diff in update-id order with the book after it: yields (diff row, outcome, reconstructor).

    REST snapshots join the stream at their update id (before the diffs ending at or after it), so the book
    re-anchors after a break exactly as the live keeper does. One pass: for analytics over time and for checking
    the stored data against the exchange's own best bid and ask."""
    pending = [
        unpack_levels(row)
        for row in books_readable(symbol).find(
            {"kind": {"$in": list(anchors)}}, ROW_FIELDS, sort=[("final_update_id", 1)]
        )
    ]
    rebuild = Reconstructor()
    rows = depth_readable(symbol).find({"kind": "diff"}, ROW_FIELDS, sort=[("final_update_id", ASCENDING)])
    for row in rows.batch_size(REPLAY_BATCH):
        while pending and pending[0]["final_update_id"] <= row["final_update_id"]:
            rebuild.feed(pending.pop(0))
        yield row, rebuild.feed(row), rebuild


@dataclass
class BookMoment:
    """The book at one moment of a forward pass (`books_at_times`)."""

    at: datetime
    state: str
    bids: list = field(default_factory=list)
    asks: list = field(default_factory=list)
    update_id: int | None = None
    source: str | None = None  # "book" (diff-kept) or "partial"


def books_at_times(symbol: str, moments: list[datetime], levels: int | None = None) -> list[BookMoment]:
    """The book at each of `moments` (ascending) in one forward pass: the anchor before the first moment, then
    every stored diff up to the last one, re-anchoring on REST snapshots after a break like the keeper does.
    Where the diff book is not exact, a partial-depth frame newer than the break stands in (top levels only)."""
    if not moments:
        return []
    anchor = latest_anchor(symbol, at=moments[0])
    rebuild = Reconstructor()
    pending: list[dict] = []
    if anchor:
        rebuild.resume(_anchor_book(symbol, anchor), anchor["kind"])
        query = {"kind": "snapshot", "final_update_id": {"$gt": anchor["final_update_id"]}}
    else:
        query = {"kind": "snapshot"}
    query["event_time"] = {"$lte": moments[-1]}
    pending = list(books_readable(symbol).find(query, ROW_FIELDS, sort=[("final_update_id", ASCENDING)]))
    out: list[BookMoment] = []
    index = 0

    def emit(moment: datetime, following: dict | None) -> None:
        # A snapshot taken by then re-anchors the book even if no diff was stamped since.
        while (
            pending
            and pending[0]["event_time"] <= moment
            and (following is None or pending[0]["final_update_id"] <= following["final_update_id"])
        ):
            rebuild.feed(unpack_levels(pending.pop(0)))
        state = rebuild.state
        if state == EXACT and following is not None:
            ids = {
                "first_id": following.get("first_update_id"),
                "final_id": following["final_update_id"],
                "prev_id": following.get("prev_final_update_id"),
            }
            state = UNKNOWN if rebuild.check(**ids) == "break" else state
        if state == EXACT:
            book = rebuild.book.levels(levels)
            source = "partial" if rebuild.book.depth_limit else "book"
            out.append(BookMoment(moment, EXACT, book["bids"], book["asks"], rebuild.book.update_id, source))
        else:
            out.append(_partial_moment(symbol, moment, rebuild, state, levels))

    start = anchor or {"kind": "snapshot", "final_update_id": 0}
    # The first diff after the last moment tells whether the book then was still exact; it is seldom far.
    for row in _diffs_after(symbol, start, REPLAY_BATCH, until=moments[-1] + FOLLOWING_DIFF_WINDOW):
        while index < len(moments) and row["event_time"] > moments[index]:
            emit(moments[index], row)
            index += 1
        if index == len(moments):
            break
        while pending and pending[0]["final_update_id"] <= row["final_update_id"]:
            rebuild.feed(unpack_levels(pending.pop(0)))
        rebuild.feed(row)
    while index < len(moments):
        emit(moments[index], None)
        index += 1
    return out


def _partial_moment(symbol: str, moment: datetime, rebuild: Reconstructor, state: str, levels) -> BookMoment:
    brk = rebuild.last_break
    partial = latest_partial(symbol, at=moment)
    if partial and (brk is None or partial["final_update_id"] > brk.last_update_id):
        frame = Reconstructor()
        frame.feed(partial)
        book = frame.book.levels(levels)
        return BookMoment(moment, EXACT, book["bids"], book["asks"], frame.book.update_id, "partial")
    return BookMoment(moment, state if rebuild.state != EMPTY else EMPTY)


def unknown_spans(symbol: str) -> list[tuple[datetime, datetime]]:
    """(break time, resync time) of every healed break of the symbol's book, oldest first."""
    rows = spans_readable().find({"symbol": symbol}, {"_id": 0, "break_time": 1, "resync_time": 1})
    return sorted((row["break_time"], row["resync_time"]) for row in rows if row.get("resync_time"))
