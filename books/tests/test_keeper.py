"""The book keeper over stored rows (as the consumer hands them over), against the local Binance test server, and
the depth gap it heals alongside the auditor's ledger."""

import gc
import itertools
import time
from datetime import UTC, datetime

import pytest

from audits.models import Gap
from audits.services import dataset_audit
from backfills.testing.binance_server import BinanceTestServer
from books import selectors, services
from books.columns import ColumnBook
from books.services import BookKeeper
from books.store import unpack_span
from catalog.services import dataset_ensure, dataset_sync
from console.dataset_page import coverage_picture
from ingestion import store
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import from_ms, utcnow

from .captures import load, row_of, snapshot_after

pytestmark = pytest.mark.django_db
SYMBOL = "BTCUSDT"
REF = series(DataType.DEPTH, SYMBOL)


def stored_rows(events) -> list[dict]:
    rows = [row_of(event) | {"symbol": SYMBOL, "source": "stream", "ingested_at": utcnow()} for event in events]
    store.write_rows(REF, rows)
    return rows


def wait_for(keeper: BookKeeper, count: int) -> None:
    deadline = time.monotonic() + 20
    while keeper.snapshots.qsize() < count:
        assert time.monotonic() < deadline, "no snapshot arrived"
        time.sleep(0.02)


@pytest.fixture
def binance_for_books(settings):
    servers = []

    def start(**options) -> BinanceTestServer:
        server = BinanceTestServer(**options).start()
        servers.append(server)
        settings.BINANCE_FUTURES_BASE_URL = server.url
        settings.BINANCE_BACKOFF_INITIAL = 0.01
        return server

    yield start
    for server in servers:
        server.stop()


def test_the_keeper_snapshots_at_start_after_a_break_and_on_schedule_and_heals_the_gap(
    mongo_db, shared_data, binance_for_books
):
    capture = load(shared_data, SYMBOL)
    events = capture.events
    resync = snapshot_after(capture, 400)
    server = binance_for_books(depth_snapshots={SYMBOL: [capture.snapshot, resync]})
    keeper = BookKeeper(checkpoint_updates=100, checkpoint_seconds=3600, snapshot_interval=3600)

    # The stream starts: its diffs wait, one snapshot is asked for (not one per diff).
    keeper.ingest({REF: stored_rows(events[:20])})
    wait_for(keeper, 1)
    assert len(server.requests_to("/fapi/v1/depth")) == 1
    keeper.ingest({REF: stored_rows(events[20:300])})
    state = keeper.symbols[SYMBOL].reconstructor
    assert (state.state, state.book.update_id) == ("exact", events[299]["u"])
    assert keeper.checkpoints >= 2
    checkpoints = list(mongo_db[f"books_{SYMBOL}"].find({"kind": "checkpoint"}))
    assert all(isinstance(row["levels"], bytes) for row in checkpoints)

    # A run of diffs is lost: the break asks for a resync at once.
    keeper.ingest({REF: stored_rows(events[320:380])})
    assert state.state == "unknown"
    wait_for(keeper, 1)
    assert len(server.requests_to("/fapi/v1/depth")) == 2
    keeper.ingest({REF: stored_rows(events[380:450])})
    assert (state.state, state.book.update_id) == ("exact", events[449]["u"])

    dataset, _ = dataset_ensure(ref=REF)
    gap = Gap.objects.get(dataset=dataset)
    assert (gap.status, gap.first_missing_id, gap.last_missing_id) == (
        Gap.Status.UNFILLABLE, events[299]["u"] + 1, events[320]["pu"],
    )  # fmt: skip
    assert gap.note.startswith(
        f"the exchange keeps no depth history; book re-anchored at {from_ms(resync['E']).isoformat()}"
    )
    # The auditor finds the same hole and keeps the verdict: one ledger row, still unfillable.
    dataset_audit(dataset=dataset, full=True, now=datetime(2025, 1, 1, tzinfo=UTC))
    assert list(Gap.objects.filter(dataset=dataset).values_list("status", "first_missing_id")) == [
        (Gap.Status.UNFILLABLE, events[299]["u"] + 1)
    ]

    # The console's timeline of the dataset draws the unknown span, from the break to the resync.
    assert selectors.unknown_spans(SYMBOL) == [(from_ms(events[299]["E"]), from_ms(resync["E"]))]
    dataset, _ = dataset_sync(ref=REF)
    timeline = coverage_picture(dataset=dataset, now=utcnow())
    assert timeline.svg.count('id="gap-') == 2  # the lost ids (unfillable) and the unknown span

    # On schedule: once the last snapshot is older than the interval, the next batch asks for another.
    keeper.snapshot_interval = 0
    keeper.ingest({REF: stored_rows(events[450:460])})
    wait_for(keeper, 1)
    assert len(server.requests_to("/fapi/v1/depth")) == 3


def test_a_failing_snapshot_is_retried_on_a_later_diff_without_flooding_the_exchange(
    mongo_db, shared_data, binance_for_books, settings, caplog
):
    settings.BINANCE_MAX_ATTEMPTS = 1
    capture = load(shared_data, SYMBOL)
    server = binance_for_books(symbols=("ETHUSDT",))  # BTCUSDT is an invalid symbol here: every snapshot fails
    keeper = BookKeeper(retry_seconds=0.2)
    keeper.ingest({REF: stored_rows(capture.events[:5])})
    deadline = time.monotonic() + 10
    while keeper._in_flight:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    keeper.ingest({REF: stored_rows(capture.events[5:10])})  # within the retry pause: no new request
    assert len(server.requests_to("/fapi/v1/depth")) == 1
    time.sleep(0.25)
    keeper.ingest({REF: stored_rows(capture.events[10:12])})
    deadline = time.monotonic() + 10
    while len(server.requests_to("/fapi/v1/depth")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert keeper.symbols[SYMBOL].reconstructor.state == "empty"
    # The exchange's refusal is one warning line with its reason each time, not an error with a traceback.
    failures = [record for record in caplog.records if record.name == "books.services"]
    assert failures and all(record.levelname == "WARNING" and record.exc_info is None for record in failures)
    assert "Invalid symbol" in failures[0].getMessage()


def keep_from_start(shared_data, binance_for_books, *, before_snapshot: int, after: int, every: int):
    """The capture's first diffs through a keeper (checkpoints every `every`): `before_snapshot` of them arrive
    before the snapshot is in, the rest up to `after` once it is. Returns (the capture's events, the keeper)."""
    capture = load(shared_data, SYMBOL)
    events = capture.events
    binance_for_books(depth_snapshots={SYMBOL: [capture.snapshot]})
    keeper = BookKeeper(checkpoint_updates=every, checkpoint_seconds=3600, snapshot_interval=3600)
    keeper.ingest({REF: stored_rows(events[:before_snapshot])})
    wait_for(keeper, 1)
    keeper.ingest({REF: stored_rows(events[before_snapshot:after])})
    return events, keeper


@pytest.mark.parametrize("held", [5000, 5], ids=["held in memory", "read back from the store"])
def test_diffs_that_arrive_before_the_snapshot_are_replayed_onto_it(
    mongo_db, shared_data, binance_for_books, monkeypatch, held
):
    monkeypatch.setattr(services, "RESYNC_BUFFER_ROWS", held)
    events, keeper = keep_from_start(shared_data, binance_for_books, before_snapshot=40, after=60, every=1000)
    kept = keeper.symbols[SYMBOL].reconstructor
    assert (kept.state, kept.book.update_id) == ("exact", events[59]["u"])
    replayed = selectors.book_at(SYMBOL, update_id=events[59]["u"])
    assert replayed.book.levels() == kept.book.levels()


def test_a_checkpoint_packs_the_diffs_since_the_previous_anchor_and_past_books_read_them(
    mongo_db, shared_data, binance_for_books
):
    events, _keeper = keep_from_start(shared_data, binance_for_books, before_snapshot=20, after=300, every=100)

    books = mongo_db[f"books_{SYMBOL}"]
    anchors = list(books.find({}, sort=[("final_update_id", 1)]))
    assert [row["kind"] for row in anchors[:3]] == ["snapshot", "checkpoint", "checkpoint"]
    depth = mongo_db[REF.collection]
    by_id = {event["u"]: event for event in events}
    for previous, checkpoint in itertools.pairwise(anchors):
        after, diffs = unpack_span(checkpoint["replay"])
        assert after == previous["final_update_id"]
        span = {"kind": "diff", "final_update_id": {"$gt": after, "$lte": checkpoint["final_update_id"]}}
        stored = [row["final_update_id"] for row in depth.find(span, sort=[("final_update_id", 1)])]
        assert [entry[1] for entry in diffs if entry[1] > after] == stored
        # The columnar pack gives back every diff's levels as sent.
        assert all([entry[4], entry[5]] == [by_id[entry[1]]["b"], by_id[entry[1]]["a"]] for entry in diffs)

    # Moments and update ids across the spans: the book from the packs equals the one replayed from stored rows.
    moments = [from_ms(event["E"]) for event in events[20:300:7]]
    update_ids = [event["u"] for event in events[20:300:11]] + [events[150]["u"] + 1]
    from_pack = [selectors.book_at(SYMBOL, at=moment) for moment in moments]
    by_update = [selectors.book_at(SYMBOL, update_id=update_id) for update_id in update_ids]
    assert any(found.replayed and isinstance(found.book, ColumnBook) for found in from_pack)
    books.update_many({}, {"$unset": {"replay": 1}})
    selectors.forget_cache()
    for moment, found in zip(moments, from_pack, strict=True):
        replayed = selectors.book_at(SYMBOL, at=moment)
        assert (found.state, found.book.update_id, found.book.time) == (
            replayed.state,
            replayed.book.update_id,
            replayed.book.time,
        )
        assert found.book.levels(50) == replayed.book.levels(50), moment
        assert (found.book.bids.best(), found.book.asks.best()) == (
            replayed.book.bids.best(),
            replayed.book.asks.best(),
        )
    assert from_pack[10].book.levels() == selectors.book_at(SYMBOL, at=moments[10]).book.levels()
    for update_id, found in zip(update_ids, by_update, strict=True):
        replayed = selectors.book_at(SYMBOL, update_id=update_id)
        assert (found.state, found.book.update_id) == (replayed.state, replayed.book.update_id), update_id
        if found.state == "exact":
            assert found.book.levels(20) == replayed.book.levels(20)
    assert by_update[-1].state == "unknown"  # no diff ends at that id


def test_packs_written_before_price_keys_were_journaled_still_answer(
    mongo_db, shared_data, binance_for_books, monkeypatch
):
    # Format 1 (the diffs as JSON only), as stores written before the columnar packs hold them.
    monkeypatch.setattr(services._Symbol, "span_keys", lambda _state: None)
    events, _keeper = keep_from_start(shared_data, binance_for_books, before_snapshot=20, after=300, every=100)
    moment = from_ms(events[150]["E"])
    selectors.forget_cache()
    from_pack = selectors.book_at(SYMBOL, at=moment)
    assert isinstance(selectors._span_pack(SYMBOL, selectors.next_anchor(SYMBOL, at=moment)), selectors._Pack)
    mongo_db[f"books_{SYMBOL}"].update_many({}, {"$unset": {"replay": 1}})
    selectors.forget_cache()
    from_rows = selectors.book_at(SYMBOL, at=moment)
    assert from_pack.state == from_rows.state == "exact"
    assert from_pack.book.update_id == from_rows.book.update_id >= events[150]["u"]
    assert from_pack.book.levels() == from_rows.book.levels()


def test_a_past_books_cached_replay_is_left_out_of_the_garbage_collectors_passes(
    mongo_db, shared_data, binance_for_books, monkeypatch
):
    # A web process caches thousands of parsed diffs; held in lists, every full collection walked them (100-300 ms
    # pauses on the BTCUSDT capture). Prepared as tuples of strings and floats, the collector stops tracking them
    # after its first passes. (Format 1 packs; the columnar ones hold arrays and two strings a side.)
    monkeypatch.setattr(services._Symbol, "span_keys", lambda _state: None)
    events, _keeper = keep_from_start(shared_data, binance_for_books, before_snapshot=20, after=300, every=100)
    selectors.forget_cache()
    assert selectors.book_at(SYMBOL, at=from_ms(events[150]["E"])).state == "exact"
    packs = [value for value, _weight in selectors._cache.values() if isinstance(value, selectors._Pack)]
    assert packs and sum(len(pack.prepared) for pack in packs) >= 50
    assert gc.isenabled()  # the collector was paused while the pack was built, and is back
    gc.collect()  # a pass untracks a tuple whose items it has already untracked: nested ones take a second
    gc.collect()
    levels = [side for pack in packs for row in pack.prepared for side in (row.bids, row.asks)]
    assert levels and not any(gc.is_tracked(side) for side in levels)
