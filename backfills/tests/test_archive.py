"""Backfills from Binance's archives, against a local archive server built from the real candles in ../shared/data
and a local REST server: zero REST for published files, REST only for what has no file, bad files refused whole."""

import csv
from datetime import UTC, datetime, timedelta

import pytest

from backfills.archive.layout import DAILY, MONTHLY, archive_file
from backfills.services import backfill_job_create, backfill_job_run
from backfills.testing.archive_server import kline_lines, publish_rows
from catalog.models import LineageRecord
from ingestion import store
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import from_ms

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
LINK_CSV = "candles/futures_um_LINKUSDT-1m-2023-02.csv"
FEB = datetime(2023, 2, 1, tzinfo=UTC)
MAR = datetime(2023, 3, 1, tzinfo=UTC)
REF = series(DataType.CANDLES, "LINKUSDT", interval="1m")
FIELDS = ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume")


@pytest.fixture
def archive(start_archive):
    return start_archive


@pytest.fixture
def link_csv(shared_data):
    with open(shared_data / LINK_CSV, newline="") as source:
        return {int(row["open_time"]): row for row in csv.DictReader(source)}


def _run(start, end, **fields):
    job = backfill_job_create(
        symbol="LINKUSDT", data_type="candles", timeframe="1m", start=start, end=end, enqueue=False, **fields
    )
    return backfill_job_run(job=job)


def _assert_rows_equal_csv(rows, expected):
    for row in rows:
        line = expected[int(row["open_time"].timestamp() * 1000)]
        assert row["close_time"] == from_ms(int(line["close_time"]))
        assert [str(row[name].to_decimal()) for name in FIELDS] == [
            line[name] for name in ("open", "high", "low", "close", "volume", "quote_volume")
        ] + [line["taker_buy_volume"], line["taker_buy_quote_volume"]]
        assert row["trades"] == int(line["count"]) and row["closed"] is True and row["source"] == "archive"


def test_a_month_of_1m_candles_comes_from_its_monthly_file_with_zero_rest_requests(
    shared_data, link_csv, archive, binance
):
    rest = binance(symbols=("LINKUSDT",))
    server = archive()
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=None,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(MONTHLY,),
    )  # an old file: no header row
    job = _run(FEB, MAR)
    assert job.status == "succeeded", job.error
    assert rest.requests == [] and job.requests_made == 0 and job.weight_used == 0
    monthly = archive_file("candles", MONTHLY, "LINKUSDT", FEB, "1m")
    assert [r.path for r in server.zip_requests()] == ["/" + monthly.path]
    rows = list(store.collection(REF).find({}, sort=[("open_time", 1)]))
    assert len(rows) == len(link_csv) == 40_320 == job.rows_inserted
    _assert_rows_equal_csv(rows, link_csv)
    lineage = LineageRecord.objects.get(job=job)
    assert lineage.source_type == "archive_file" and lineage.source.endswith(monthly.path)
    assert len(lineage.details["sha256"]) == 64 and lineage.record_count == 40_320

    again = _run(FEB, MAR)  # idempotent: a rerun stores nothing new
    assert (again.rows_inserted, again.rows_duplicate) == (0, 40_320)
    assert store.collection(REF).count_documents({}) == 40_320


def test_a_range_reaching_into_a_day_without_a_file_uses_rest_only_for_that_day(
    shared_data, link_csv, archive, binance
):
    rest = binance(symbols=("LINKUSDT",))
    server = archive()
    missing = datetime(2023, 2, 27, tzinfo=UTC)
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
        skip_days=[missing],
    )
    start = datetime(2023, 2, 25, tzinfo=UTC)
    job = _run(start, MAR)
    assert job.status == "succeeded", job.error
    asked = [(int(r.params["startTime"]), int(r.params["endTime"])) for r in rest.requests_to("/fapi/v1/klines")]
    assert asked and all(
        missing.timestamp() * 1000 <= a < b < (missing + timedelta(days=1)).timestamp() * 1000 for a, b in asked
    )
    rows = list(store.collection(REF).find({}, sort=[("open_time", 1)]))
    assert len(rows) == 4 * 1440
    from_rest = [row for row in rows if row["source"] == "rest"]
    assert len(from_rest) == 1440 and all(
        missing <= row["open_time"] < missing + timedelta(days=1) for row in from_rest
    )
    _assert_rows_equal_csv([row for row in rows if row["source"] == "archive"], link_csv)
    outcomes = [(entry["file"].rsplit("/", 1)[-1], entry["outcome"]) for entry in job.archive_files]
    assert ("LINKUSDT-1m-2023-02-27.zip", "missing") in outcomes
    # Lineage counts each source's rows: the three files' and the REST day's.
    counts = {record.source_type: [] for record in job.lineage.all()}
    for record in job.lineage.all():
        counts[record.source_type].append(record.record_count)
    assert counts == {"archive_file": [1440, 1440, 1440], "rest_endpoint": [1440]}


KLINES_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
)


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda server, file: server.corrupt_checksum(file), "checksum mismatch"),
        (lambda server, file: server.truncate(file, checksum_matches=True), "corrupt zip"),
        (lambda server, file: server.truncate(file, checksum_matches=False), "checksum mismatch"),
    ],
)
def test_a_bad_file_is_rejected_whole_and_the_job_names_it(shared_data, archive, binance, spoil, reason):
    binance(symbols=("LINKUSDT",))
    server = archive()
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
    )
    bad = archive_file("candles", DAILY, "LINKUSDT", datetime(2023, 2, 11, tzinfo=UTC), "1m")
    spoil(server, bad)
    job = _run(datetime(2023, 2, 10, tzinfo=UTC), datetime(2023, 2, 13, tzinfo=UTC))
    assert job.status == "failed"
    assert bad.name in job.error and reason in job.error
    stored = store.collection(REF)
    assert stored.count_documents({"open_time": {"$gte": bad.start, "$lt": bad.end}}) == 0
    assert stored.count_documents({}) == 2 * 1440  # the good days are in


def test_a_row_that_does_not_parse_rejects_its_file_naming_the_line(archive, binance):
    binance(symbols=("LINKUSDT",))
    server = archive()
    day = datetime(2023, 2, 1, tzinfo=UTC)
    good = f"{int(day.timestamp() * 1000)},6.9,7.0,6.8,6.95,100,{int(day.timestamp() * 1000) + 59999},695,10,50,347.5,0"
    file = archive_file("candles", DAILY, "LINKUSDT", day, "1m")
    server.add(
        file, f"{KLINES_HEADER}\n{good}\n1675209660000,6.9,oops,6.8,6.95,100,1675209719999,695,10,50,347.5,0\n".encode()
    )
    job = _run(day, day + timedelta(days=1), data_source="archive")
    assert job.status == "failed" and file.name in job.error and "line 3" in job.error
    assert store.collection(REF).count_documents({}) == 0


def test_5xx_and_timeouts_are_retried_with_backoff(shared_data, archive, binance):
    rest = binance(symbols=("LINKUSDT",))
    server = archive(slow_seconds=1.0)
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
    )
    server.inject("503", times=2, path=".zip")
    server.inject("timeout", times=1, path=".zip")
    job = _run(datetime(2023, 2, 3, tzinfo=UTC), datetime(2023, 2, 4, tzinfo=UTC))
    assert job.status == "succeeded", job.error
    assert [r.status for r in server.zip_requests()] == [503, 503, 200, 200]
    assert rest.requests == [] and store.collection(REF).count_documents({}) == 1440


class Killed(BaseException):
    """Stands for the worker process dying: nothing in the job's code catches it."""


def test_a_job_killed_mid_file_resumes_at_its_file_and_row_and_ends_with_exactly_the_rows(
    shared_data, link_csv, archive, binance, settings
):
    settings.ARCHIVE_CHUNK_ROWS = 5000
    binance(symbols=("LINKUSDT",))
    server = archive()
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(MONTHLY,),
    )
    job = backfill_job_create(symbol="LINKUSDT", data_type="candles", timeframe="1m", start=FEB, end=MAR, enqueue=False)
    saves = []

    def die_after_three_chunks(current):
        saves.append(current.archive_cursor["row"])
        if len(saves) == 3:
            raise Killed

    with pytest.raises(Killed):
        backfill_job_run(job=job, on_page=die_after_three_chunks)
    job.refresh_from_db()
    assert job.status == "running" and job.archive_cursor["segment"] == 0 and job.archive_cursor["row"] == 15_000
    assert store.collection(REF).count_documents({}) == 15_000

    resumed_at = []
    job = backfill_job_run(job=job, force=True, on_page=lambda current: resumed_at.append(current.archive_cursor))
    assert job.status == "succeeded", job.error
    assert resumed_at[0]["row"] == 20_000  # the next chunk after the last one saved, not the file's start
    assert (job.rows_fetched, job.rows_inserted, job.rows_duplicate) == (40_320, 40_320, 0)
    rows = list(store.collection(REF).find({}, sort=[("open_time", 1)]))
    assert [int(row["open_time"].timestamp() * 1000) for row in rows] == sorted(link_csv)
    _assert_rows_equal_csv(rows, link_csv)


def test_the_command_takes_source(shared_data, archive, binance):
    from django.core.management import call_command

    rest = binance(symbols=("LINKUSDT",))
    server = archive()
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
    )
    day = "2023-02-05T00:00:00Z"
    call_command(
        "backfill",
        "LINKUSDT",
        "candles",
        timeframe="1m",
        start=day,
        end="2023-02-06T00:00:00Z",
        source="rest",
        wait=True,
    )
    assert server.zip_requests() == [] and len(rest.requests) > 0
    store.collection(REF).drop()
    store.forget_indexes()
    rest.requests.clear()
    call_command("backfill", "LINKUSDT", "candles", timeframe="1m", start=day, end="2023-02-06T00:00:00Z", wait=True)
    assert len(server.zip_requests()) == 1 and rest.requests == []
    assert store.collection(REF).count_documents({"source": "archive"}) == 1440


def test_a_job_over_many_files_splits_into_per_file_parts_whose_progress_sums_into_the_parent(
    shared_data, link_csv, archive, binance, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.ARCHIVE_SPLIT_MIN_FILES = 4
    rest = binance(symbols=("LINKUSDT",))
    server = archive()
    missing = datetime(2023, 2, 6, tzinfo=UTC)
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
        skip_days=[missing],
    )
    start, end = datetime(2023, 2, 3, tzinfo=UTC), datetime(2023, 2, 8, 12, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        job = backfill_job_create(symbol="LINKUSDT", data_type="candles", timeframe="1m", start=start, end=end)
    job.refresh_from_db()
    parts = list(job.parts.order_by("start"))
    assert [(p.start.day, p.end.day, p.data_source) for p in parts] == [
        (3, 4, "auto"),
        (4, 5, "auto"),
        (5, 6, "auto"),
        (6, 7, "auto"),
        (7, 8, "auto"),
        (8, 8, "rest"),
    ]
    assert all(part.status == "succeeded" for part in parts)
    assert (job.status, job.progress) == ("succeeded", 1.0)
    assert job.rows_inserted == sum(p.rows_inserted for p in parts) == 5 * 1440 + 720
    assert job.requests_made == sum(p.requests_made for p in parts) > 0  # the missing day and the half day
    rest_days = {int(r.params["startTime"]) // 86_400_000 for r in rest.requests_to("/fapi/v1/klines")}
    assert rest_days == {
        int(missing.timestamp()) // 86_400,
        int(datetime(2023, 2, 8, tzinfo=UTC).timestamp()) // 86_400,
    }
    assert store.collection(REF).count_documents({"source": "archive"}) == 4 * 1440


def test_retrying_a_job_with_a_rejected_file_fetches_that_file_again(shared_data, archive, binance):
    from backfills.services import backfill_job_retry

    binance(symbols=("LINKUSDT",))
    server = archive()
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
    )
    bad = archive_file("candles", DAILY, "LINKUSDT", datetime(2023, 2, 11, tzinfo=UTC), "1m")
    server.corrupt_checksum(bad)
    job = _run(datetime(2023, 2, 11, tzinfo=UTC), datetime(2023, 2, 12, tzinfo=UTC))
    assert job.status == "failed" and bad.name in job.error
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
    )  # the mirror is repaired
    job = backfill_job_run(job=backfill_job_retry(job=job))
    assert job.status == "succeeded", job.error
    assert store.collection(REF).count_documents({}) == 1440


def test_the_auditors_automatic_repair_takes_a_missing_day_from_its_archive_file(
    shared_data, link_csv, archive, binance, eager_celery, django_capture_on_commit_callbacks, settings
):
    from audits.models import Gap
    from audits.services import dataset_audit
    from catalog.services import dataset_ensure

    settings.AUDIT_REPAIR_ENABLED = True
    rest = binance(symbols=("LINKUSDT",))
    server = archive()
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
    )
    assert _run(datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 2, 4, tzinfo=UTC)).status == "succeeded"
    lost = datetime(2023, 2, 2, tzinfo=UTC)
    store.collection(REF).delete_many({"open_time": {"$gte": lost, "$lt": lost + timedelta(days=1)}})
    server.requests.clear()
    dataset, _ = dataset_ensure(ref=REF)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = dataset_audit(dataset=dataset, now=datetime(2023, 2, 4, tzinfo=UTC))
    assert outcome.jobs_created == 1
    gap = Gap.objects.get(dataset=dataset)
    assert (gap.start, gap.missing_count, gap.status) == (lost, 1440, "filled")
    assert [r.path.rsplit("/", 1)[-1] for r in server.zip_requests()] == ["LINKUSDT-1m-2023-02-02.zip"]
    assert rest.requests == [] and gap.backfill_job.requests_made == 0
    rows = list(store.collection(REF).find({"open_time": {"$gte": lost, "$lt": lost + timedelta(days=1)}}))
    assert len(rows) == 1440
    _assert_rows_equal_csv(rows, link_csv)


def test_the_next_files_download_while_the_current_one_is_written_at_most_the_prefetch_depth_ahead(
    shared_data, archive, binance, settings
):
    import time

    settings.ARCHIVE_CHUNK_ROWS = 360
    settings.ARCHIVE_PREFETCH_FILES = 2
    binance(symbols=("LINKUSDT",))
    server = archive()
    publish_rows(
        server,
        data_type="candles",
        symbol="LINKUSDT",
        interval="1m",
        header=KLINES_HEADER,
        lines=kline_lines(shared_data / LINK_CSV),
        periods=(DAILY,),
    )
    writes = []  # (segment being written, time)
    job = backfill_job_create(
        symbol="LINKUSDT",
        data_type="candles",
        timeframe="1m",
        start=datetime(2023, 2, 1, tzinfo=UTC),
        end=datetime(2023, 2, 7, tzinfo=UTC),
        enqueue=False,
    )
    job = backfill_job_run(job=job, on_page=lambda j: writes.append((j.archive_cursor["segment"], time.monotonic())))
    assert job.status == "succeeded"
    fetched = {int(r.path.rsplit("-", 1)[-1].removesuffix(".zip")) - 1: r.at for r in server.zip_requests()}
    assert sorted(fetched) == list(range(6))
    first_write_of = {}
    for segment, at in writes:
        first_write_of.setdefault(segment, at)
    # File 2 (index 1) was being downloaded before file 1's rows were all written ...
    last_write_of_first = max(at for segment, at in writes if segment == 0)
    assert fetched[1] < last_write_of_first
    # ... but never more than two files ahead of the one being written: file k+3 only once file k is done
    # (the first save with segment k+1 is the one that ends file k).
    for segment in range(3):
        assert fetched[segment + 3] > first_write_of[segment + 1]
