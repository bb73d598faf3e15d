from datetime import UTC, datetime

import pytest

from audits.models import Gap
from audits.services import dataset_audit
from backfills.models import BackfillJob
from backfills.services import backfill_job_run
from backfills.testing.binance_server import BinanceTestServer
from catalog.services import dataset_ensure

from .rows import minutes, write_candles

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
NOW = datetime(2024, 6, 1, tzinfo=UTC)
TIMES = minutes(120)


@pytest.fixture
def binance(settings):
    """The backfiller's local Binance stand-in, with an exchange outage over minutes 60-69."""
    server = BinanceTestServer(window_seconds=2.0, holes=((TIMES[60], TIMES[69]),)).start()
    settings.BINANCE_FUTURES_BASE_URL = server.url
    settings.AUDIT_REPAIR_ENABLED = True
    yield server
    server.stop()


def audit(ref):
    dataset, _ = dataset_ensure(ref=ref)
    return dataset_audit(dataset=dataset, now=NOW)


def test_open_gaps_become_one_backfill_job_each_and_close_after_it(binance):
    ref = write_candles(TIMES[:20] + TIMES[30:60] + TIMES[70:])
    assert audit(ref).jobs_created == 2
    assert audit(ref).jobs_created == 0  # never two jobs for one gap
    jobs = list(BackfillJob.objects.order_by("start"))
    assert [(job.source, job.symbol, job.timeframe, job.start) for job in jobs] == [
        ("auditor", "BTCUSDT", "1m", TIMES[20]),
        ("auditor", "BTCUSDT", "1m", TIMES[60]),
    ]
    assert set(Gap.objects.values_list("status", flat=True)) == {Gap.Status.BACKFILLING}

    for job in jobs:
        backfill_job_run(job=job)
    outcome = audit(ref)
    assert outcome.jobs_created == 0  # the gap the exchange has no data for is not retried
    gaps = {gap.start: gap for gap in Gap.objects.all()}
    assert gaps[TIMES[20]].status == Gap.Status.FILLED
    assert (gaps[TIMES[60]].status, gaps[TIMES[60]].reason) == (Gap.Status.UNFILLABLE, Gap.Reason.EXCHANGE_NO_DATA)
    assert outcome.completeness == 100.0  # slots the exchange never had are not expected
    assert audit(ref).jobs_created == 0


def test_repair_is_bounded_per_gap_and_per_run(binance, settings):
    ref = write_candles(TIMES[:10] + TIMES[12:50] + TIMES[53:80] + TIMES[100:])
    settings.AUDIT_REPAIR_MAX_GAP_ROWS = 5
    settings.AUDIT_REPAIR_MAX_JOBS = 1
    assert audit(ref).jobs_created == 1
    assert audit(ref).jobs_created == 1
    assert audit(ref).jobs_created == 0  # the 20-minute gap is larger than the bound
    assert list(BackfillJob.objects.order_by("start").values_list("start", flat=True)) == [TIMES[10], TIMES[50]]
    assert Gap.objects.get(start=TIMES[80]).status == Gap.Status.OPEN
