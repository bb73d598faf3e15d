"""Backfill jobs run against the local Binance test server, writing into the embedded MongoDB-compatible server."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from audits.models import Gap
from audits.repair import gaps_link_job
from backfills import services
from backfills.client import BinanceClient
from backfills.models import BackfillJob
from books import selectors
from catalog.models import Dataset, LineageRecord
from ingestion.store import collection, write_rows
from petrosa_dm.market.naming import series
from petrosa_dm.market.timeutils import utcnow

pytestmark = pytest.mark.django_db

START = datetime(2024, 3, 1, tzinfo=UTC)
CANDLES = series("candles", "BTCUSDT", interval="1m")


def _job(*, days: float = 1, symbol: str = "BTCUSDT", data_type: str = "candles", timeframe: str = "1m", **fields):
    end = fields.pop("end", START + timedelta(days=days))
    gaps = fields.pop("gaps", ())
    job = services.backfill_job_create(
        symbol=symbol,
        data_type=data_type,
        timeframe=timeframe,
        start=fields.pop("start", START),
        end=end,
        enqueue=False,
        **fields,
    )
    gaps_link_job(gaps=gaps, job=job)  # the auditor's side links the gaps a job is meant to fill
    return job


def _open_times(ref=CANDLES) -> list[datetime]:
    return [row["open_time"] for row in collection(ref).find({}, {"open_time": 1}).sort("open_time", 1)]


def test_thirty_days_of_minute_candles_are_all_stored_with_the_cheapest_pages_and_no_429(mongo_db, binance, settings):
    # A budget that forces waits for the window reset: 174 weight against 60 per 1-second window.
    server = binance(weight_limit=100, window_seconds=1.0)
    settings.BINANCE_WEIGHT_BUDGET = 60
    job = services.backfill_job_run(job=_job(days=30))

    assert job.status == BackfillJob.Status.SUCCEEDED, job.error
    assert collection(CANDLES).count_documents({}) == 43_200
    open_times = _open_times()
    assert open_times[0] == START and open_times[-1] == START + timedelta(days=30, minutes=-1)
    assert len(set(open_times)) == 43_200
    klines = server.requests_to("/fapi/v1/klines")
    assert server.status_counts() == {200: 87}
    assert sorted(int(r.params["limit"]) for r in klines) == [286] + [499] * 86  # 86 full pages of 499, then 286
    assert {r.weight for r in klines} == {2}
    assert server.max_window_weight() <= 60
    assert (job.rows_fetched, job.rows_inserted, job.rows_duplicate) == (43_200, 43_200, 0)
    assert (job.requests_made, job.weight_used, job.progress) == (87, 174, 1.0)
    assert job.cursor == START + timedelta(days=30)


def test_closed_candles_carry_close_time_plus_one_ms_and_the_open_candle_now(mongo_db, binance):
    binance()
    now = utcnow()
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=5)
    job = services.backfill_job_run(job=_job(start=start, end=start + timedelta(minutes=10)))
    assert job.status == BackfillJob.Status.SUCCEEDED, job.error
    rows = list(collection(CANDLES).find().sort("open_time", 1))
    assert len(rows) == 6  # five closed candles and the one still open
    for row in rows[:-1]:
        assert row["closed"] is True
        assert row["event_time"] == row["close_time"] + timedelta(milliseconds=1)
        assert row["source"] == "rest"
    assert rows[-1]["closed"] is False
    assert rows[-1]["event_time"] >= now.replace(microsecond=0)


def test_a_final_stream_candle_is_not_overwritten_by_rest(mongo_db, binance):
    binance()
    close_time = START + timedelta(seconds=59, milliseconds=999)
    stream_row = {
        "symbol": "BTCUSDT", "interval": "1m", "open_time": START, "close_time": close_time,
        "open": "1", "high": "1", "low": "1", "close": "1", "volume": "1", "closed": True,
        "event_time": close_time + timedelta(milliseconds=7), "source": "stream", "ingested_at": START,
    }  # fmt: skip
    write_rows(CANDLES, [stream_row])
    job = services.backfill_job_run(job=_job(days=0.01))
    assert job.rows_duplicate == 1
    assert collection(CANDLES).find_one({"open_time": START})["source"] == "stream"


def test_a_rerun_adds_no_duplicates(mongo_db, binance):
    binance()
    first = services.backfill_job_run(job=_job(days=1))
    second = services.backfill_job_run(job=_job(days=1))
    assert first.rows_inserted == 1440
    assert (second.status, second.rows_inserted, second.rows_duplicate) == ("succeeded", 0, 1440)
    assert collection(CANDLES).count_documents({}) == 1440


def test_injected_429s_5xx_timeouts_and_malformed_bodies_still_store_every_row(mongo_db, binance, settings):
    settings.BINANCE_MAX_ATTEMPTS = 8  # all six faults hit the first page's request
    server = binance()
    server.inject("429", times=2)
    server.inject("503")
    server.inject("timeout")
    server.inject("500")
    server.inject("malformed")
    job = services.backfill_job_run(job=_job(days=2))
    assert job.status == BackfillJob.Status.SUCCEEDED, job.error
    assert collection(CANDLES).count_documents({}) == 2880
    statuses = server.status_counts()
    assert statuses[429] == 2 and statuses[503] == 1 and statuses[500] == 1
    assert job.requests_made == len(server.requests)  # failed attempts count too (one timeout is not answered)


def test_a_418_fails_the_job_with_the_ban(mongo_db, binance):
    server = binance(ban_seconds=600)
    server.inject("418")
    job = services.backfill_job_run(job=_job(days=1))
    assert job.status == BackfillJob.Status.FAILED
    assert "418" in job.error and "600 s" in job.error
    assert len(server.requests) == 1


def test_a_symbol_unknown_to_binance_fails_the_job_with_its_message(mongo_db, binance):
    binance()
    job = services.backfill_job_run(job=_job(symbol="NOPEUSDT"))
    assert job.status == BackfillJob.Status.FAILED
    assert "Invalid symbol." in job.error and "-1121" in job.error


def test_funding_rates_are_stored_at_their_funding_time(mongo_db, binance):
    server = binance()
    job = services.backfill_job_run(job=_job(days=10, data_type="funding_rates", timeframe=""))
    assert job.status == BackfillJob.Status.SUCCEEDED, job.error
    rows = list(collection(series("funding_rates", "BTCUSDT")).find().sort("funding_time", 1))
    assert len(rows) == 30
    assert all(row["event_time"] == row["funding_time"] for row in rows)
    assert [r.params["limit"] for r in server.requests_to("/fapi/v1/fundingRate")] == ["1000"]


def test_agg_trades_are_found_by_time_then_walked_by_id(mongo_db, binance):
    server = binance(trade_period_ms=500)
    job = _job(data_type="trades", timeframe="", end=START + timedelta(minutes=20))
    job = services.backfill_job_run(job=job)
    assert job.status == BackfillJob.Status.SUCCEEDED, job.error
    ids = [row["trade_id"] for row in collection(series("trades", "BTCUSDT")).find().sort("trade_id", 1)]
    assert len(ids) == 2400 and ids == list(range(ids[0], ids[0] + 2400))
    requests = server.requests_to("/fapi/v1/aggTrades")
    assert "startTime" in requests[0].params
    assert all("fromId" in r.params for r in requests[1:])
    assert job.cursor_id == ids[-1] + 1


def test_a_depth_job_stores_one_snapshot(mongo_db, binance, settings):
    server = binance()
    settings.BACKFILL_DEPTH_LIMIT = 100
    job = services.backfill_job_run(job=_job(data_type="depth", timeframe=""))
    assert job.status == BackfillJob.Status.SUCCEEDED, job.error
    snapshot = collection(series("depth", "BTCUSDT")).find_one()
    assert snapshot["kind"] == "snapshot" and len(snapshot["bids"]) == 100
    anchor = mongo_db["books_BTCUSDT"].find_one()  # and an anchor of the order book
    assert (anchor["kind"], anchor["final_update_id"]) == ("snapshot", snapshot["final_update_id"])
    assert server.requests_to("/fapi/v1/depth")[0].weight == 5


def test_gaps_end_filled_or_unfillable_and_lineage_is_recorded(mongo_db, binance):
    hole = (START + timedelta(hours=3), START + timedelta(hours=4) - timedelta(minutes=1))
    binance(holes=(hole,))
    dataset = Dataset.objects.create(dataset_id=CANDLES.collection, name="BTCUSDT candles 1m", data_type="candles")
    fillable = Gap.objects.create(
        dataset=dataset, start=START + timedelta(hours=1), end=START + timedelta(hours=2), missing_count=61
    )
    empty = Gap.objects.create(dataset=dataset, start=hole[0], end=hole[1], missing_count=60)
    job = _job(days=0.25, gaps=[fillable, empty])
    assert set(Gap.objects.values_list("status", flat=True)) == {Gap.Status.BACKFILLING}

    job = services.backfill_job_run(job=job)

    assert job.status == BackfillJob.Status.SUCCEEDED, job.error
    assert collection(CANDLES).count_documents({}) == 6 * 60 - 60
    fillable.refresh_from_db()
    empty.refresh_from_db()
    assert fillable.status == Gap.Status.FILLED
    assert (empty.status, empty.reason) == (Gap.Status.UNFILLABLE, Gap.Reason.EXCHANGE_NO_DATA)
    lineage = LineageRecord.objects.get(job=job)
    assert (lineage.source_type, lineage.source, lineage.transformation) == (
        "rest_endpoint", "/fapi/v1/klines", "backfill",
    )  # fmt: skip
    assert (lineage.record_count, lineage.dataset_id) == (300, CANDLES.collection)
    assert (lineage.start_time, lineage.end_time) == (job.start, job.end)


def test_a_failed_job_reopens_its_gaps(mongo_db, binance):
    binance()
    dataset = Dataset.objects.create(dataset_id="candles_NOPEUSDT_1m", name="x", data_type="candles")
    gap = Gap.objects.create(dataset=dataset, start=START, end=START + timedelta(minutes=5))
    services.backfill_job_run(job=_job(symbol="NOPEUSDT", gaps=[gap]))
    gap.refresh_from_db()
    assert gap.status == Gap.Status.OPEN


def test_cancelling_stops_the_job_before_its_next_page(mongo_db, binance):
    server = binance()

    def cancel_after_first_page(job):
        services.backfill_job_cancel(job=job)

    job = services.backfill_job_run(job=_job(days=3), on_page=cancel_after_first_page)
    assert job.status == BackfillJob.Status.CANCELLED
    assert len(server.requests) == 1
    assert collection(CANDLES).count_documents({}) == 499


def test_cancelling_a_job_that_is_retrying_a_failing_exchange_stops_it_between_retries(mongo_db, binance, settings):
    server = binance()
    server.inject("503", times=100)
    settings.BINANCE_MAX_ATTEMPTS = 6
    job = _job()

    class CancelledDuringTheFirstRequest(BinanceClient):
        def _send(self, *args, **kwargs):
            if not self.requests_made:  # the operator presses Cancel while the exchange is failing
                services.backfill_job_cancel(job=job)
            return super()._send(*args, **kwargs)

    job = services.backfill_job_run(job=job, client=CancelledDuringTheFirstRequest())

    assert job.status == BackfillJob.Status.CANCELLED
    assert len(server.requests) == 1  # it stopped instead of using up its 6 attempts
    assert job.requests_made == 1  # what it sent still counts


def test_retry_resumes_a_cancelled_job_from_its_cursor(
    mongo_db, binance, eager_celery, django_capture_on_commit_callbacks
):
    server = binance()
    job = services.backfill_job_run(job=_job(days=1), on_page=lambda job: services.backfill_job_cancel(job=job))
    cursor = job.cursor
    with django_capture_on_commit_callbacks(execute=True):
        services.backfill_job_retry(job=job)
    job.refresh_from_db()
    assert job.status == BackfillJob.Status.SUCCEEDED
    starts = [int(r.params["startTime"]) for r in server.requests_to("/fapi/v1/klines")]
    assert len(starts) == len(set(starts)) == 3  # 499 + 499 + 442: no page fetched twice
    assert starts[1] == int(cursor.timestamp() * 1000)
    assert collection(CANDLES).count_documents({}) == 1440
    # Both runs' new rows were counted into the catalog as they were written (before any scheduled sync).
    assert Dataset.objects.get(pk=CANDLES.collection).record_count == 1440


def test_cancel_and_retry_refuse_jobs_in_the_wrong_state(db):
    job = _job()
    with pytest.raises(services.BackfillStateError):
        services.backfill_job_retry(job=job)
    services.backfill_job_cancel(job=job)
    with pytest.raises(services.BackfillStateError):
        services.backfill_job_cancel(job=job)


def test_stale_running_jobs_and_forgotten_pending_jobs_are_resumed(
    mongo_db, binance, eager_celery, django_capture_on_commit_callbacks, settings
):
    binance()
    settings.BACKFILL_STALE_SECONDS = 60
    stale = _job(days=0.1)
    long_ago = utcnow() - timedelta(minutes=5)
    BackfillJob.objects.filter(pk=stale.pk).update(status="running", heartbeat_at=long_ago)
    alive = _job(days=0.1, symbol="ETHUSDT")
    BackfillJob.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=utcnow())
    forgotten = _job(days=0.1, symbol="SUSHIUSDT")
    BackfillJob.objects.filter(pk=forgotten.pk).update(created_at=long_ago)

    from backfills.tasks import resume_stale_jobs

    assert sorted(resume_stale_jobs()) == sorted([stale.pk, forgotten.pk])
    statuses = dict(BackfillJob.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: "succeeded", alive.pk: "running", forgotten.pk: "succeeded"}


def test_validation_names_the_field(db):
    with pytest.raises(services.InvalidBackfill) as caught:
        _job(symbol="btc-usdt")
    assert caught.value.field == "symbol"
    with pytest.raises(services.InvalidBackfill) as caught:
        _job(timeframe="7m")
    assert caught.value.field == "timeframe"
    with pytest.raises(services.InvalidBackfill) as caught:
        _job(end=START)
    assert caught.value.field == "end"
    assert BackfillJob.objects.count() == 0


def test_the_command_takes_a_depth_snapshot_without_a_window(mongo_db, binance, capsys):
    # The book as it is now has no window to give; the job records the minute before now as its own.
    body = {"lastUpdateId": 77, "E": 1723161256501, "bids": [["10.0", "1"]], "asks": [["10.1", "2"]]}
    binance(depth_snapshots={"BTCUSDT": [body]})
    before = utcnow()

    call_command("backfill", "BTCUSDT", "depth", wait=True)

    job = BackfillJob.objects.get()
    assert job.status == BackfillJob.Status.SUCCEEDED, job.error
    assert before - timedelta(minutes=1) <= job.start < job.end <= utcnow()
    assert selectors.book_at("BTCUSDT").book.bids.best() == ("10.0", "1")
    assert "succeeded" in capsys.readouterr().out
