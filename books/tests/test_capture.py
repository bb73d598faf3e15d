"""The acceptance tests: recorded Binance captures replayed through the real consumer (NATS -> store), the book
reconstructed from the store and compared with the exchange's own best bid and ask (bookTicker)."""

import asyncio
import json
from datetime import timedelta

import pytest

from audits.models import Gap
from backfills.testing.binance_server import BinanceTestServer
from books import selectors
from books.reconstruct import EMPTY, EXACT, UNKNOWN, Reconstructor
from petrosa_dm.market.timeutils import from_ms

from .captures import best, load, replay, row_of, snapshot_after, snapshot_row

pytestmark = pytest.mark.django_db(transaction=True)
CHECKPOINT_UPDATES = 200


@pytest.fixture
def books_settings(settings):
    settings.BOOKS_CHECKPOINT_UPDATES = CHECKPOINT_UPDATES
    settings.BOOKS_CHECKPOINT_SECONDS = 3600
    settings.BINANCE_BACKOFF_INITIAL = 0.01
    return settings


def compare_with_tickers(symbol: str, capture) -> tuple[int, list]:
    """(comparisons, mismatches) of the stored book after every diff whose u a bookTicker carries."""
    compared, wrong = 0, []
    for row, _outcome, rebuild in selectors.book_timeline(symbol):
        ticker = capture.tickers.get(row["final_update_id"])
        if ticker is None or rebuild.state != EXACT:
            continue
        compared += 1
        found = (rebuild.book.bids.best(), rebuild.book.asks.best())
        if found != best(ticker):
            wrong.append((row["final_update_id"], found, best(ticker)))
    return compared, wrong


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_the_reconstructed_book_equals_every_book_ticker_of_the_capture(
    symbol, shared_data, jetstream, mongo_db, books_settings
):
    capture = load(shared_data, symbol)
    with BinanceTestServer(depth_snapshots={symbol: [capture.snapshot]}) as binance:
        books_settings.BINANCE_FUTURES_BASE_URL = binance.url
        phases = [(capture.diffs[: capture.snapshot_position], 0), (capture.diffs[capture.snapshot_position :], 1)]
        consumer = asyncio.run(replay(jetstream, phases, mongo_db, symbol))
        assert len(binance.requests_to("/fapi/v1/depth", status=200)) == 1

    assert mongo_db[f"depth_{symbol}"].count_documents({"kind": "diff"}) == len(capture.diffs)
    compared, wrong = compare_with_tickers(symbol, capture)
    print(f"{symbol}: {compared} bookTicker comparisons, {len(wrong)} different")
    assert compared == len(capture.tickers) > 500
    assert wrong == []

    # The keeper cut checkpoints, so a past book is one checkpoint plus at most CHECKPOINT_UPDATES diffs.
    assert consumer.books.checkpoints >= len(capture.diffs) // CHECKPOINT_UPDATES - 2
    sample = sorted(capture.tickers)[:: len(capture.tickers) // 20]
    for update_id in sample:
        found = selectors.book_at(symbol, update_id=update_id)
        assert found.state == EXACT
        assert (found.book.bids.best(), found.book.asks.best()) == best(capture.tickers[update_id])
        assert found.replayed <= CHECKPOINT_UPDATES

    # By time: the book after the last diff stamped at or before the moment.
    expected = Reconstructor()
    expected.feed(snapshot_row(capture.snapshot))
    events = sorted(capture.events, key=lambda event: event["u"])
    for position, event in enumerate(events):
        expected.feed(row_of(event))
        following = events[position + 1] if position + 1 < len(events) else None
        if (
            position % 500
            or event["u"] < capture.snapshot["lastUpdateId"]
            or (following and following["E"] == event["E"])
        ):
            continue
        found = selectors.book_at(symbol, at=from_ms(event["E"]))
        assert (found.state, found.book.update_id) == (EXACT, event["u"])
        assert found.book.levels(50) == expected.book.levels(50)

    before = selectors.book_at(symbol, at=from_ms(capture.snapshot["E"] - 1))
    assert before.state == EMPTY and "no book before" in before.message


def test_a_lost_run_of_diffs_makes_the_book_unknown_exactly_until_the_resync_snapshot(
    shared_data, jetstream, mongo_db, books_settings
):
    symbol = "BTCUSDT"
    capture = load(shared_data, symbol)
    lost = range(3000, 3050)
    resync_at = 3200
    resync = snapshot_after(capture, resync_at)
    diffs = capture.diffs
    with BinanceTestServer(depth_snapshots={symbol: [capture.snapshot, resync]}) as binance:
        books_settings.BINANCE_FUTURES_BASE_URL = binance.url
        phases = [
            (diffs[: capture.snapshot_position], 0),
            (diffs[capture.snapshot_position : lost.start] + diffs[lost.stop : lost.stop + 10], 1),
            (diffs[lost.stop + 10 :], 2),
        ]
        asyncio.run(replay(jetstream, phases, mongo_db, symbol))

    last_good, after_gap = capture.events[lost.start - 1], capture.events[lost.stop]
    break_time, resync_time = from_ms(last_good["E"]), from_ms(resync["E"])
    # Before the break: exact; from the last update we hold before it until the resync: unknown; then exact.
    assert selectors.book_at(symbol, at=break_time - timedelta(milliseconds=1)).state == EXACT
    for moment in (break_time, break_time + (resync_time - break_time) / 2, resync_time - timedelta(milliseconds=1)):
        found = selectors.book_at(symbol, at=moment)
        assert found.state == UNKNOWN, moment
        assert (found.brk.last_update_id, found.brk.next_prev_update_id) == (last_good["u"], after_gap["pu"])
        assert (found.resync_time, found.resync_update_id) == (resync_time, resync["lastUpdateId"])
        assert "unknown" in found.message and resync_time.isoformat() in found.message
    after = selectors.book_at(symbol, at=resync_time)
    assert after.state == EXACT and after.anchor_kind in ("snapshot", "checkpoint")

    compared, wrong = compare_with_tickers(symbol, capture)
    in_gap = [u for u in capture.tickers if last_good["u"] < u < resync["lastUpdateId"]]
    assert wrong == [] and compared == len(capture.tickers) - len(in_gap)
    assert [u for u in capture.tickers if u > resync["lastUpdateId"]], "the capture goes on after the resync"

    gap = Gap.objects.get(dataset_id=f"depth_{symbol}", kind=Gap.Kind.SEQUENCE)
    assert (gap.first_missing_id, gap.last_missing_id) == (last_good["u"] + 1, after_gap["pu"])
    assert gap.status == Gap.Status.UNFILLABLE and gap.reason == Gap.Reason.EXCHANGE_NO_DATA
    assert gap.note.startswith(f"the exchange keeps no depth history; book re-anchored at {resync_time.isoformat()}")


def test_a_recorded_partial_depth_frame_is_the_book_of_its_top_levels(shared_data, jetstream, mongo_db, client):
    raw = (shared_data / "binance/ws/depthUpdate_partial.json").read_bytes()
    frame = json.loads(raw)["data"]
    asyncio.run(replay(jetstream, [([raw], 0)], mongo_db, "ETHUSDT"))

    found = selectors.book_at("ETHUSDT")
    assert (found.state, found.book.depth_limit, found.anchor_kind) == (EXACT, 20, "partial")
    assert found.book.levels() == {"bids": frame["b"], "asks": frame["a"]}
    body = client.get("/data/depth?pair=ETHUSDT").json()
    assert body["data"] == {"bids": frame["b"], "asks": frame["a"], "last_update_id": frame["u"]}
    assert body["metadata"]["levels_known"] == 20 and "top 20 levels" in body["metadata"]["message"]
    assert selectors.book_at("ETHUSDT", at=from_ms(frame["E"] - 1)).state == EMPTY
