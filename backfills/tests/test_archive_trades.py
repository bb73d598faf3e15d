"""Trades from the archives: aggTrades and raw trades of the recorded captures served as Binance's daily files;
raw trade id gaps (no REST without an API key) filled from them, else unfillable with that reason."""

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from bson.decimal128 import Decimal128

from audits.models import Gap
from audits.services import dataset_audit
from backfills.services import backfill_job_create, backfill_job_run
from backfills.testing.archive_server import AGG_TRADES_HEADER, TRADES_HEADER, publish_rows
from catalog.services import dataset_ensure
from ingestion import store
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import from_ms

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
CRYPTOFEED = "binance/ws/captures/cryptofeed_BINANCE_FUTURES.ws.1.0.txt"
HFT_BTC = "binance/ws/captures/hftbacktest_usdm_btcusdt_20240808.gz"


@pytest.fixture
def archive(start_archive):
    return start_archive()


def _capture_events(path, kind):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as source:
        for line in source:
            start = line.find("{")
            if start < 0:
                continue
            data = json.loads(line[start:]).get("data") or {}
            if data.get("e") == kind:
                yield data


def _trade_row(data):
    return {
        "symbol": data["s"],
        "kind": "trade",
        "trade_id": data["t"],
        "price": Decimal128(data["p"]),
        "quantity": Decimal128(data["q"]),
        "trade_time": from_ms(data["T"]),
        "event_time": from_ms(data["E"]),
        "is_buyer_maker": data["m"],
        "source": "stream",
        "ingested_at": datetime(2024, 8, 9, tzinfo=UTC),
    }


def test_agg_trades_of_a_day_come_from_its_archive_file(shared_data, archive):
    trades = [t for t in _capture_events(shared_data / CRYPTOFEED, "aggTrade") if t["s"] == "CTKUSDT"]
    lines = [(t["T"], f"{t['a']},{t['p']},{t['q']},{t['f']},{t['l']},{t['T']},{str(t['m']).lower()}") for t in trades]
    publish_rows(archive, data_type="trades", symbol="CTKUSDT", lines=lines, header=AGG_TRADES_HEADER)
    day = datetime(2021, 7, 22, tzinfo=UTC)
    job = backfill_job_create(
        symbol="CTKUSDT",
        data_type="trades",
        start=day,
        end=datetime(2021, 7, 23, tzinfo=UTC),
        enqueue=False,
        data_source="archive",
    )
    job = backfill_job_run(job=job)
    assert job.status == "succeeded", job.error
    stored = list(store.collection(series(DataType.TRADES, "CTKUSDT")).find({}, sort=[("trade_id", 1)]))
    assert [
        (r["trade_id"], str(r["price"].to_decimal()), r["first_trade_id"], r["is_buyer_maker"]) for r in stored
    ] == [(t["a"], t["p"], t["f"], t["m"]) for t in sorted(trades, key=lambda t: t["a"])]
    assert {r["source"] for r in stored} == {"archive"} and job.requests_made == 0


@pytest.mark.parametrize("published", [True, False])
def test_raw_trade_id_gaps_are_filled_from_the_trades_archive_else_unfillable(
    shared_data, archive, published, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.AUDIT_REPAIR_ENABLED = True
    events = list(_capture_events(shared_data / HFT_BTC, "trade"))
    if published:
        lines = []
        for t in events:
            quote = Decimal(t["p"]) * Decimal(t["q"])
            lines.append((t["T"], f"{t['t']},{t['p']},{t['q']},{quote},{t['T']},{str(t['m']).lower()}"))
        publish_rows(archive, data_type="raw_trades", symbol="BTCUSDT", lines=lines, header=TRADES_HEADER)
    ids = sorted(t["t"] for t in events)
    lost = set(ids[200:205]) | set(ids[9000:9001])
    ref = series(DataType.TRADES, "BTCUSDT")
    rows = [_trade_row(t) for t in events if t["t"] not in lost]
    for offset in range(0, len(rows), 5000):
        store.write_rows(ref, rows[offset : offset + 5000])
    dataset, _ = dataset_ensure(ref=ref)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = dataset_audit(dataset=dataset, now=datetime(2024, 8, 10, tzinfo=UTC))
    assert outcome.gaps_created == 2 and outcome.jobs_created == 2
    gaps = list(Gap.objects.filter(dataset=dataset).order_by("first_missing_id"))
    stored_ids = [r["trade_id"] for r in store.collection(ref).find({}, {"trade_id": 1}, sort=[("trade_id", 1)])]
    if published:
        assert stored_ids == ids
        assert [g.status for g in gaps] == ["filled", "filled"]
        assert {r["source"] for r in store.collection(ref).find({"trade_id": {"$in": sorted(lost)}})} == {"archive"}
    else:
        assert len(stored_ids) == len(ids) - 6
        assert [g.status for g in gaps] == ["unfillable", "unfillable"]
        assert all("API key" in gap.note and "BTCUSDT-trades-2024-08-08.zip" in gap.note for gap in gaps), gaps[0].note


def test_book_tickers_and_funding_rates_come_from_their_files(shared_data, archive):
    from backfills.archive.layout import MONTHLY

    tickers = [t for t in _capture_events(shared_data / CRYPTOFEED, "bookTicker") if t["s"] == "SUSHIUSDT"]
    lines = [(t["E"], f"{t['u']},{t['b']},{t['B']},{t['a']},{t['A']},{t['T']},{t['E']}") for t in tickers]
    publish_rows(
        archive,
        data_type="book_tickers",
        symbol="SUSHIUSDT",
        lines=lines,
        header="update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time",
    )
    day = datetime(2021, 7, 22, tzinfo=UTC)
    job = backfill_job_run(
        job=backfill_job_create(
            symbol="SUSHIUSDT",
            data_type="book_tickers",
            start=day,
            end=datetime(2021, 7, 23, tzinfo=UTC),
            enqueue=False,
        )
    )
    assert job.status == "succeeded", job.error
    stored = list(store.collection(series(DataType.BOOK_TICKERS, "SUSHIUSDT")).find({}, sort=[("update_id", 1)]))
    assert [
        (r["update_id"], str(r["bid_price"].to_decimal()), str(r["ask_quantity"].to_decimal())) for r in stored
    ] == [(t["u"], t["b"], t["A"]) for t in sorted(tickers, key=lambda t: t["u"])]

    # fundingRate files: monthly only, `calc_time,funding_interval_hours,last_funding_rate`, older ones headerless
    month = datetime(2021, 6, 1, tzinfo=UTC)
    start_ms = int(month.timestamp() * 1000)
    rates = [(start_ms + i * 8 * 3_600_000 + i % 5, f"{(i % 7 - 3) / 10000:.8f}") for i in range(90)]
    publish_rows(
        archive,
        data_type="funding_rates",
        symbol="SUSHIUSDT",
        periods=(MONTHLY,),
        header=None,
        lines=[(ms, f"{ms},8,{rate}") for ms, rate in rates],
    )
    job = backfill_job_run(
        job=backfill_job_create(
            symbol="SUSHIUSDT",
            data_type="funding_rates",
            start=month,
            end=datetime(2021, 7, 1, tzinfo=UTC),
            enqueue=False,
        )
    )
    assert job.status == "succeeded" and job.requests_made == 0, job.error
    stored = list(store.collection(series(DataType.FUNDING_RATES, "SUSHIUSDT")).find({}, sort=[("funding_time", 1)]))
    got = [(int(r["funding_time"].timestamp() * 1000), r["funding_rate"].to_decimal()) for r in stored]
    assert got == [(ms, Decimal(rate)) for ms, rate in rates]
