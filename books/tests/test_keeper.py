"""The book keeper over stored rows (as the consumer hands them over), against the local Binance test server, and
the depth gap it heals alongside the auditor's ledger."""

import time
from datetime import UTC, datetime

import pytest

from audits.models import Gap
from audits.services import dataset_audit
from backfills.testing.binance_server import BinanceTestServer
from books import selectors
from books.services import BookKeeper
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
    mongo_db, shared_data, binance_for_books, settings
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
