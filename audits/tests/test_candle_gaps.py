from datetime import UTC, datetime, timedelta

import pytest
from bson.decimal128 import Decimal128

from audits.models import AuditLog, Gap, HealthMetric
from audits.services import dataset_audit
from catalog.models import Dataset
from catalog.services import dataset_ensure
from petrosa_dm.market.naming import DataType, series

from .rows import BASE, candle, minutes, write_candles

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
NOW = datetime(2024, 6, 1, tzinfo=UTC)  # the series is months old: audited up to its newest row


def audit(ref, **kwargs):
    dataset, _ = dataset_ensure(ref=ref)
    outcome = dataset_audit(dataset=dataset, now=kwargs.pop("now", NOW), **kwargs)
    dataset.refresh_from_db()
    return outcome, dataset


def ledger(dataset):
    return [
        (gap.start, gap.end, gap.missing_count, gap.status)
        for gap in Gap.objects.filter(dataset=dataset).order_by("start")
    ]


def test_complete_series_has_no_gaps_and_full_completeness():
    ref = write_candles(minutes(120))
    outcome, dataset = audit(ref)
    assert outcome.rows_read == 120
    assert Gap.objects.count() == 0
    metric = HealthMetric.objects.get(dataset=dataset)
    assert metric.completeness == 100.0
    assert metric.consistency == 100.0
    assert metric.expected_rows == 120
    assert dataset.audit_watermark == BASE + timedelta(minutes=119)
    # Months old: freshness 0, so quality = 0.4 * 100 + 0.4 * 100 + 0.2 * 0.
    assert dataset.health_score == pytest.approx(80.0)


def test_inner_gaps_are_recorded_with_start_end_and_count():
    times = minutes(200)
    removed = set(times[10:15]) | {times[100]}
    ref = write_candles([moment for moment in times if moment not in removed])
    outcome, dataset = audit(ref)
    assert ledger(dataset) == [
        (times[10], times[14], 5, Gap.Status.OPEN),
        (times[100], times[100], 1, Gap.Status.OPEN),
    ]
    assert outcome.gaps_created == 2
    assert dataset.health["completeness"] == pytest.approx(100 * 194 / 200)
    assert AuditLog.objects.filter(dataset=dataset, audit_type="gap").count() == 2


def test_rerun_creates_no_duplicate_gaps_or_findings_and_refreshes_last_checked():
    times = minutes(60)
    ref = write_candles(times[:20] + times[30:])
    # A later event rewrites one candle with a high below its open: a validity finding.
    write_candles([times[40]], high=Decimal128("1.0"), event_time=NOW)
    _, _dataset = audit(ref)
    first_checked = Gap.objects.get().last_checked
    logs = AuditLog.objects.count()
    audit(ref)
    audit(ref, full=True)
    gap = Gap.objects.get()
    assert (gap.start, gap.end, gap.missing_count) == (times[20], times[29], 10)
    assert gap.last_checked > first_checked
    assert AuditLog.objects.count() == logs
    assert AuditLog.objects.filter(audit_type="validity").count() == 1


def test_gap_becomes_filled_when_rows_arrive():
    times = minutes(60)
    ref = write_candles(times[:20] + times[30:])
    audit(ref)
    write_candles(times[20:30])
    outcome, dataset = audit(ref, full=True)
    assert outcome.gaps_filled == 1
    assert ledger(dataset) == [(times[20], times[29], 10, Gap.Status.FILLED)]
    assert dataset.health["completeness"] == 100.0


def test_partly_filled_gap_shrinks_in_place_even_outside_the_incremental_window():
    times = minutes(600)
    ref = write_candles(times[:20] + times[30:])
    audit(ref)
    write_candles(times[20:25])  # late rows, hours before the watermark - overlap
    later = [times[-1] + timedelta(minutes=index + 1) for index in range(5)]
    write_candles(later)
    outcome, dataset = audit(ref)
    assert outcome.rows_read < 100  # incremental: overlap + new rows, not the whole series
    assert ledger(dataset) == [(times[25], times[29], 5, Gap.Status.OPEN)]
    write_candles(times[25:30])
    audit(ref)
    assert ledger(dataset) == [(times[25], times[29], 5, Gap.Status.FILLED)]


def test_incremental_run_connects_to_the_previous_row():
    times = minutes(300)
    ref = write_candles(times)
    audit(ref)
    fresh = [times[-1] + timedelta(minutes=index) for index in range(90, 100)]
    write_candles(fresh)  # 89 minutes missing between the old newest row and the new rows
    _outcome, dataset = audit(ref)
    assert ledger(dataset) == [
        (times[-1] + timedelta(minutes=1), times[-1] + timedelta(minutes=89), 89, Gap.Status.OPEN)
    ]
    assert dataset.audit_watermark == fresh[-1]


def test_leading_and_trailing_gaps_inside_an_explicit_window():
    times = minutes(100)
    ref = write_candles(times[10:90])
    _, dataset = audit(ref, start=times[0], end=times[99] + timedelta(minutes=1))
    assert ledger(dataset) == [
        (times[0], times[9], 10, Gap.Status.OPEN),
        (times[90], times[99], 10, Gap.Status.OPEN),
    ]
    assert dataset.audit_watermark is None  # a window audit does not move the watermark


def test_live_series_reports_a_trailing_gap_after_the_grace_period():
    now = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)
    ref = write_candles(minutes(700))  # newest 11:39; 11:40 .. 11:57 closed more than 2 minutes ago
    _, dataset = audit(ref, now=now)
    assert ledger(dataset) == [
        (datetime(2024, 3, 1, 11, 40, tzinfo=UTC), datetime(2024, 3, 1, 11, 57, tzinfo=UTC), 18, Gap.Status.OPEN)
    ]
    write_candles(minutes(21, datetime(2024, 3, 1, 11, 40, tzinfo=UTC)))  # up to the 12:00 candle
    _, dataset = audit(ref, now=now + timedelta(minutes=1))
    assert ledger(dataset)[0][3] == Gap.Status.FILLED
    assert dataset.health["freshness_score"] == 100.0


def test_monthly_candles_follow_the_calendar():
    months = [datetime(2023, month, 1, tzinfo=UTC) for month in range(1, 13)]
    ref = write_candles([m for m in months if m.month not in (2, 3)], interval="1M")
    _, dataset = audit(ref)
    assert ledger(dataset) == [(months[1], months[2], 2, Gap.Status.OPEN)]
    assert AuditLog.objects.filter(audit_type="validity").count() == 0  # month-aware close times are valid


def test_irregular_candles_are_validity_findings():
    times = minutes(10)
    ref = write_candles(times[:3])
    rows = [
        candle(times[3], high="99.5"),  # below open
        candle(times[4], low="100.5", volume="-1"),
        candle(times[5], close_time=times[5] + timedelta(seconds=30)),
        candle(times[6] + timedelta(seconds=17)),  # off the grid
        candle(times[7], trades=-3),
    ]
    from ingestion import store

    for row in rows:
        for name in ("high", "low", "volume"):
            row[name] = Decimal128(str(row[name]))
    store.write_rows(ref, rows)
    _outcome, dataset = audit(ref)
    problems = {
        entry.details["time"]: " ".join(entry.details["problems"])
        for entry in AuditLog.objects.filter(audit_type="validity")
    }
    assert len(problems) == 5
    assert "high below" in problems[times[3].isoformat()]
    assert "low above" in problems[times[4].isoformat()] and "volume negative" in problems[times[4].isoformat()]
    assert "close time" in problems[times[5].isoformat()]
    assert "off the interval grid" in problems[(times[6] + timedelta(seconds=17)).isoformat()]
    assert "trade count negative" in problems[times[7].isoformat()]
    assert dataset.health["invalid_rows"] == 5
    assert dataset.health["consistency"] == pytest.approx(100 * (1 - 5 / 8))
    assert Gap.objects.count() == 0  # the off-grid candle still covers its minute


def test_duplicates_found_where_the_collection_has_no_unique_index(mongo_db):
    ref = series(DataType.CANDLES, "ETHUSDT", interval="1h")
    hours = [BASE + timedelta(hours=index) for index in range(24)]
    mongo_db[ref.collection].insert_many([candle(moment, "1h") for moment in hours + hours[5:7] + hours[5:6]])
    _, dataset = audit(ref)
    duplicates = AuditLog.objects.filter(audit_type="duplicate").order_by("message")
    assert sorted(entry.details["rows"] for entry in duplicates) == [2, 3]
    assert dataset.health["duplicate_rows"] == 3
    assert Gap.objects.count() == 0
    audit(ref, full=True)
    assert AuditLog.objects.filter(audit_type="duplicate").count() == 2


def test_price_jump_is_reported_as_an_anomaly():
    times = minutes(200)
    closes = [f"{100 + (index % 2) * 0.1:.1f}" for index in range(200)]
    closes[150] = "130.0"
    ref = series(DataType.CANDLES, "BTCUSDT", interval="1m")
    from ingestion import store

    store.write_rows(
        ref, [candle(moment, close=close, high="131.0") for moment, close in zip(times, closes, strict=True)]
    )
    _, dataset = audit(ref)
    anomalies = AuditLog.objects.filter(audit_type="anomaly")
    assert {entry.details["open_time"] for entry in anomalies} >= {times[150].isoformat()}
    assert dataset.health["anomalies"] >= 1
    assert dataset.health["invalid_rows"] == 0


def test_watermark_limits_what_an_incremental_run_reads():
    ref = write_candles(minutes(3000))
    first, _ = audit(ref)
    write_candles(minutes(10, BASE + timedelta(minutes=3000)))
    second, dataset = audit(ref)
    assert first.rows_read == 3000
    assert second.rows_read == 71  # the watermark's row, 60 minutes of overlap and 10 new rows
    assert dataset.health["rows_checked_total"] == 3010
    assert Dataset.objects.get().audit_watermark == BASE + timedelta(minutes=3009)
