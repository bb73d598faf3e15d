"""Writes for order books: REST snapshots, checkpoints, healing depth gaps, and the keeper the consumer feeds.

- `snapshot_take` fetches `/fapi/v1/depth` through the weight-aware backfill client and stores it in `books_{SYMBOL}`.
- `checkpoint_store` stores the full book at an update id, so a past book costs one checkpoint and a bounded replay.
- `depth_gap_heal` closes the auditor's depth sequence gap once a resync snapshot re-anchored the book: the exchange
  keeps no depth history, so the lost updates can never be fetched; the gap becomes `unfillable`.
- `BookKeeper` runs inside the consumer: it follows each symbol's book over the rows just written, asks for a
  snapshot when a diff stream starts without one, after every break and on a schedule, and cuts checkpoints every
  `BOOKS_CHECKPOINT_UPDATES` diffs or `BOOKS_CHECKPOINT_SECONDS` of exchange time.
"""

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from petrosa_dm.market.naming import DataType, SeriesRef, series
from petrosa_dm.market.timeutils import utcnow

from .reconstruct import EMPTY, EXACT, UNKNOWN, Book, Break, Reconstructor
from .store import books_collection, depth_collection, diffs_query, pack_levels, pack_span, span_entry, spans_collection

logger = logging.getLogger(__name__)
WORK_QUEUE_BATCHES = 2  # how far the keeper may trail the consumer (batches)
# Diffs kept in memory per symbol while a snapshot is awaited (about 7 kB each; a 0 ms stream sends a few hundred a
# second, and a snapshot takes a second or two).
RESYNC_BUFFER_ROWS = 5000
HEAL_REASON = "the exchange keeps no depth history; book re-anchored at {time}"


def snapshot_store(*, symbol: str, row: dict) -> dict:
    """Store a snapshot row (`backfills.rows.depth_rows` shape); a second copy of the same snapshot is a no-op."""
    row = dict(row, symbol=symbol, kind="snapshot")
    row.pop("_id", None)
    with contextlib.suppress(DuplicateKeyError):
        books_collection(symbol).insert_one(dict(row))
    return row


def snapshot_take(*, symbol: str, client=None) -> dict:
    """A REST depth snapshot now, stored; `client` defaults to a new weight-aware `BinanceClient`."""
    from backfills import rows as rest_rows
    from backfills.client import BinanceClient

    own = client is None
    client = client or BinanceClient()
    try:
        [row] = client.depth(
            symbol=symbol,
            limit=settings.BOOKS_SNAPSHOT_LIMIT,
            convert=partial(rest_rows.depth_rows, symbol=symbol, now=utcnow()),
        )
    finally:
        if own:
            client.close()
    return snapshot_store(symbol=symbol, row=row)


def checkpoint_store(
    *, symbol: str, book: Book, span: tuple[int, list[list]] | None = None, keys: tuple[list, list] | None = None
) -> None:
    """The full book at its update id; `span` (the anchor id it started from, and the diffs applied since) is
    packed beside it as `replay` for past books in between, with each side's applied price keys when known
    (`keys`, from the book's journals: `books.store.pack_span`)."""
    row = {
        "symbol": symbol,
        "kind": "checkpoint",
        "final_update_id": book.update_id,
        "event_time": book.time,
        "bids": book.bids.raw(),
        "asks": book.asks.raw(),
        "source": "stream",
        "ingested_at": utcnow(),
    }
    row = pack_levels(row)
    if span is not None:
        row.update(pack_span(*span, keys))
    with contextlib.suppress(DuplicateKeyError):
        books_collection(symbol).insert_one(row)


def depth_gap_heal(*, symbol: str, brk: Break, snapshot: dict):
    """Mark the depth sequence gap of `brk` unfillable, re-anchored by `snapshot`; creates the ledger row when the
    auditor has not found the gap yet (it will match it by its first missing id and keep the status)."""
    from audits.detectors import FoundGap
    from audits.ledger import _create
    from audits.models import Gap
    from catalog.services import dataset_ensure

    dataset, _ = dataset_ensure(ref=series(DataType.DEPTH, symbol))
    first = brk.last_update_id + 1
    last = brk.next_prev_update_id if brk.next_prev_update_id is not None else brk.next_update_id - 1
    anchored = snapshot.get("event_time")
    note = (
        HEAL_REASON.format(time=anchored.isoformat() if anchored else "?")
        + f" (snapshot lastUpdateId {snapshot['final_update_id']} in books_{symbol})"
    )
    gap = Gap.objects.filter(dataset=dataset, kind=Gap.Kind.SEQUENCE, first_missing_id=first).first()
    if gap is None:
        start = brk.last_time or brk.next_time
        found = FoundGap(Gap.Kind.SEQUENCE, start, brk.next_time or start, max(0, last - first + 1), first, last)
        gap = _create(dataset, found)
    gap.status = Gap.Status.UNFILLABLE
    gap.reason = Gap.Reason.EXCHANGE_NO_DATA
    gap.note = note
    gap.save(update_fields=["status", "reason", "note", "last_checked"])
    # The unknown span runs on to the resync, past the lost ids the ledger row covers: kept for the console.
    spans_collection().update_one(
        {"symbol": symbol, "last_update_id": brk.last_update_id},
        {
            "$set": {
                "break_time": brk.last_time or brk.next_time,
                "resync_time": anchored,
                "resync_update_id": snapshot["final_update_id"],
                "gap_id": gap.pk,
            }
        },
        upsert=True,
    )
    return gap


@dataclass
class _Symbol:
    reconstructor: Reconstructor = field(default_factory=Reconstructor)
    since_checkpoint: int = 0
    checkpoint_time: datetime | None = None
    requested_at: float | None = None  # monotonic time of the last snapshot request
    last_snapshot_at: float | None = None
    pending_break: Break | None = None  # the break the next anchoring snapshot heals
    # The diffs applied since the anchor `span_after` (None: not since an anchor, e.g. after a break), packed into
    # the next checkpoint.
    span_after: int | None = None
    span: list = field(default_factory=list)
    # The diffs handed over while the book was not exact, for the next snapshot to replay without reading them back
    # from the store; None once more than RESYNC_BUFFER_ROWS arrived (then they are read back).
    unapplied: list | None = field(default_factory=list)

    def hold(self, row: dict) -> None:
        if self.unapplied is None:
            return
        if len(self.unapplied) < RESYNC_BUFFER_ROWS:
            self.unapplied.append(row)
        else:
            self.unapplied = None

    def restart_span(self, after: int | None) -> None:
        self.span_after, self.span = after, []
        # The book's sides journal the price keys of the span's levels (None: nothing is being packed).
        book = self.reconstructor.book
        book.bids.journal, book.asks.journal = ([], []) if after is not None else (None, None)

    def span_keys(self) -> tuple[list, list]:
        book = self.reconstructor.book
        return book.bids.journal, book.asks.journal


class BookKeeper:
    """Follows every symbol's book over the depth rows the consumer writes, in update-id order.

    Snapshots are fetched on a worker thread (a REST call must not stall the batch) and handed back through a
    queue; the keeper anchors on them at its next call, then replays the diffs already stored after them.
    Run it in one consumer replica (`BOOKS_KEEPER_ENABLED`): each replica sees only its share of the messages."""

    def __init__(
        self,
        *,
        checkpoint_updates: int | None = None,
        checkpoint_seconds: float | None = None,
        snapshot_interval: float | None = None,
        retry_seconds: float | None = None,
        client_factory=None,
    ) -> None:
        self.checkpoint_updates = checkpoint_updates or settings.BOOKS_CHECKPOINT_UPDATES
        self.checkpoint_seconds = checkpoint_seconds or settings.BOOKS_CHECKPOINT_SECONDS
        self.snapshot_interval = snapshot_interval or settings.BOOKS_SNAPSHOT_INTERVAL
        self.retry_seconds = retry_seconds if retry_seconds is not None else settings.BOOKS_SNAPSHOT_RETRY_SECONDS
        self.client_factory = client_factory
        self.symbols: dict[str, _Symbol] = {}
        self.snapshots: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.checkpoints = 0
        # Measured for the bench: wall time following books (it includes waiting for the GIL and for the store) and,
        # of it, cutting and writing checkpoints; and the keeper thread's own CPU time.
        self.busy_seconds = 0.0
        self.checkpoint_write_seconds = 0.0
        self.cpu_seconds = 0.0
        self._in_flight: set[str] = set()
        self._work: queue.Queue = queue.Queue(maxsize=WORK_QUEUE_BATCHES)
        self._worker: threading.Thread | None = None

    # --- running beside the consumer ----------------------------------------------------------------------------

    def submit(self, rows_by_series: dict[SeriesRef, list[dict]]) -> None:
        """Hand over a written batch; it is followed on the keeper's own thread, in submission order, while the
        consumer waits on the store (a full queue makes the consumer wait: the keeper never falls far behind)."""
        if not any(ref.data_type is DataType.DEPTH for ref in rows_by_series):
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="book-keeper", daemon=True)
            self._worker.start()
        self._work.put(rows_by_series)

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            try:
                self.ingest(item)
            except Exception:  # a store hiccup costs checkpoints, never the consumer; books are rebuilt from the store
                logger.exception("book keeper failed on a batch")

    def close(self, timeout: float = 30.0) -> None:
        """Finish the batches handed over, then stop the thread."""
        if self._worker is not None:
            self._work.put(None)
            self._worker.join(timeout)
            self._worker = None

    # --- the consumer's entry point ----------------------------------------------------------------------------

    def ingest(self, rows_by_series: dict[SeriesRef, list[dict]]) -> None:
        started, cpu_started = time.perf_counter(), time.thread_time()
        self._take_snapshots()
        for ref, rows in rows_by_series.items():
            if ref.data_type is DataType.DEPTH:
                self._follow(ref.symbol, sorted(rows, key=lambda row: row["final_update_id"]))
        self.busy_seconds += time.perf_counter() - started
        self.cpu_seconds += time.thread_time() - cpu_started

    def _follow(self, symbol: str, rows: list[dict]) -> None:
        state = self.symbols.setdefault(symbol, _Symbol())
        for row in rows:
            self._feed(symbol, state, row)
        if state.last_snapshot_at is not None and time.monotonic() - state.last_snapshot_at > self.snapshot_interval:
            self._request(symbol, state, force=True)

    def _feed(self, symbol: str, state: _Symbol, row: dict) -> None:
        rebuild = state.reconstructor
        outcome = rebuild.feed(row)
        if outcome == "applied":
            state.since_checkpoint += 1
            if state.span_after is not None:
                state.span.append(span_entry(row))
            self._maybe_checkpoint(symbol, state)
        elif outcome == "anchored":
            state.restart_span(rebuild.book.update_id if rebuild.book.depth_limit is None else None)
        elif outcome == "break":
            state.restart_span(None)
            state.unapplied = [row]
            state.pending_break = rebuild.last_break
            logger.warning("depth chain broke; book unknown until a resync snapshot", extra={"symbol": symbol})
            self._request(symbol, state, force=True)
        elif row.get("kind") == "diff" and outcome in ("waiting", "ignored"):
            # No snapshot yet, the book unknown, or only a partial frame's top levels: a full snapshot is needed.
            state.hold(row)
            self._request(symbol, state)

    def _maybe_checkpoint(self, symbol: str, state: _Symbol) -> None:
        book = state.reconstructor.book
        due = state.since_checkpoint >= self.checkpoint_updates
        if not due and state.checkpoint_time is not None and book.time is not None:
            due = book.time - state.checkpoint_time >= timedelta(seconds=self.checkpoint_seconds)
        if state.checkpoint_time is None and book.time is not None:
            state.checkpoint_time = book.time
        if due:
            started = time.perf_counter()
            span = (state.span_after, state.span) if state.span_after is not None else None
            checkpoint_store(symbol=symbol, book=book, span=span, keys=state.span_keys() if span else None)
            state.restart_span(book.update_id)
            self.checkpoint_write_seconds += time.perf_counter() - started
            self.checkpoints += 1
            state.since_checkpoint = 0
            state.checkpoint_time = book.time

    # --- snapshots ---------------------------------------------------------------------------------------------

    def _request(self, symbol: str, state: _Symbol, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and state.requested_at is not None and now - state.requested_at < self.retry_seconds:
            return
        if symbol in self._in_flight:
            return
        state.requested_at = now
        state.last_snapshot_at = now
        self._in_flight.add(symbol)
        # A daemon thread: a REST call retrying with backoff must neither stall the batch nor delay shutdown.
        threading.Thread(target=self._fetch, args=(symbol,), name=f"book-snapshot-{symbol}", daemon=True).start()

    def _fetch(self, symbol: str) -> None:
        from backfills.client import BinanceError

        try:
            client = self.client_factory() if self.client_factory else None
            self.snapshots.put((symbol, snapshot_take(symbol=symbol, client=client)))
        except BinanceError as error:  # unreachable or refused (offline, banned): the reason says it, no traceback
            logger.warning(
                "depth snapshot failed: %s; retried on a later diff",
                error,
                extra={"symbol": symbol, "reason": str(error)},
            )
        except Exception:
            logger.exception("depth snapshot failed; retried on a later diff", extra={"symbol": symbol})
        finally:
            self._in_flight.discard(symbol)

    def _take_snapshots(self) -> None:
        while True:
            try:
                symbol, snapshot = self.snapshots.get_nowait()
            except queue.Empty:
                return
            self._anchor(symbol, snapshot)

    def _anchor(self, symbol: str, snapshot: dict) -> None:
        state = self.symbols.setdefault(symbol, _Symbol())
        rebuild = state.reconstructor
        was = rebuild.state
        if rebuild.feed(snapshot) != "anchored":
            return
        state.restart_span(snapshot["final_update_id"])
        # Diffs that arrived while the snapshot was in flight are replayed: the ones held, or read back from the
        # store when too many arrived to hold.
        held, state.unapplied = state.unapplied, []
        if held is None:
            held = depth_collection(symbol).find(diffs_query(snapshot), sort=[("final_update_id", ASCENDING)])
        else:
            held = sorted(held, key=lambda row: row["final_update_id"])
        for row in held:
            self._feed(symbol, state, row)
            if rebuild.state != EXACT:
                break
        if was == UNKNOWN and state.pending_break is not None and rebuild.state == EXACT:
            try:
                depth_gap_heal(symbol=symbol, brk=state.pending_break, snapshot=snapshot)
            except Exception:
                logger.exception("could not mark the depth gap unfillable", extra={"symbol": symbol})
            state.pending_break = None
        elif was == EMPTY:
            logger.info("book anchored", extra={"symbol": symbol, "update_id": snapshot["final_update_id"]})
