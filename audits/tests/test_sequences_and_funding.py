from datetime import UTC, datetime, timedelta

import pytest

from audits.models import AuditLog, Gap
from audits.services import dataset_audit
from catalog.models import Dataset
from catalog.services import dataset_ensure
from ingestion import store
from petrosa_dm.market.naming import DataType, series

from .rows import agg_trade, depth_update, funding

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
NOW = datetime(2024, 6, 1, tzinfo=UTC)
TRADES = series(DataType.TRADES, "BTCUSDT")
DEPTH = series(DataType.DEPTH, "BTCUSDT")
FUNDING = series(DataType.FUNDING_RATES, "BTCUSDT")


def audit(ref, **kwargs):
    dataset, _ = dataset_ensure(ref=ref)
    outcome = dataset_audit(dataset=dataset, now=NOW, **kwargs)
    dataset.refresh_from_db()
    return outcome, dataset


def sequence_ledger():
    return [
        (gap.first_missing_id, gap.last_missing_id, gap.missing_count, gap.status)
        for gap in Gap.objects.filter(kind=Gap.Kind.SEQUENCE).order_by("first_missing_id")
    ]


def test_untouched_trade_ids_have_no_gaps():
    store.write_rows(TRADES, [agg_trade(trade_id) for trade_id in range(1000, 1500)])
    _, dataset = audit(TRADES)
    assert Gap.objects.count() == 0
    assert AuditLog.objects.filter(audit_type="sequence_gap").count() == 0
    assert dataset.health["completeness"] == 100.0


def test_deleted_trades_are_found_with_their_exact_ids():
    kept = [trade_id for trade_id in range(1000, 1500) if not (1100 <= trade_id <= 1104 or trade_id == 1300)]
    store.write_rows(TRADES, [agg_trade(trade_id) for trade_id in kept])
    _, dataset = audit(TRADES)
    assert sequence_ledger() == [(1100, 1104, 5, Gap.Status.OPEN), (1300, 1300, 1, Gap.Status.OPEN)]
    gap = Gap.objects.get(first_missing_id=1100)
    assert gap.start == agg_trade(1099)["trade_time"] and gap.end == agg_trade(1105)["trade_time"]
    assert gap.note == "raw trade ids 11000..11049 missing"
    assert dataset.health["completeness"] == pytest.approx(100 * (1 - 6 / 500))


def test_trade_gap_rerun_is_idempotent_and_fills_when_ids_arrive():
    store.write_rows(TRADES, [agg_trade(trade_id) for trade_id in range(1000, 1500) if trade_id not in (1200, 1201)])
    audit(TRADES)
    logs = AuditLog.objects.count()
    audit(TRADES)
    assert sequence_ledger() == [(1200, 1201, 2, Gap.Status.OPEN)]
    assert AuditLog.objects.count() == logs
    store.write_rows(TRADES, [agg_trade(1200)])
    audit(TRADES, full=True)
    assert sequence_ledger() == [(1201, 1201, 1, Gap.Status.OPEN)]
    store.write_rows(TRADES, [agg_trade(1201)])
    outcome, _ = audit(TRADES)
    assert outcome.gaps_filled == 1
    assert sequence_ledger() == [(1201, 1201, 1, Gap.Status.FILLED)]


def test_broken_raw_trade_chain_is_a_finding():
    rows = [agg_trade(trade_id) for trade_id in range(1, 50)]
    rows[20]["first_trade_id"] += 3  # aggTrade 21 starts 3 raw trades late
    store.write_rows(TRADES, rows)
    audit(TRADES)
    finding = AuditLog.objects.get(audit_type="sequence_gap")
    assert finding.details["trade_id"] == 21 and finding.details["first_trade_id"] == 213
    assert Gap.objects.count() == 0


def test_depth_chain_breaks_name_the_missing_update_ids_and_count_one_lost_message_each():
    store.write_rows(DEPTH, [depth_update(index) for index in range(300) if index not in (50, 51, 52, 200)])
    audit(DEPTH)
    # Update 49 ended at u=5000; update 53 links back (pu) to 5300, the u of the last lost update (52).
    assert sequence_ledger() == [(5001, 5300, 1, Gap.Status.OPEN), (20001, 20100, 1, Gap.Status.OPEN)]
    health = Dataset.objects.get(pk=DEPTH.collection).health
    assert (health["missing_rows"], health["expected_rows"]) == (2, 296 + 2)  # messages, not update ids
    store.write_rows(DEPTH, [depth_update(index) for index in (50, 51, 52)])
    audit(DEPTH)
    assert sequence_ledger()[0][3] == Gap.Status.FILLED


def test_untouched_depth_chain_has_no_gaps():
    store.write_rows(DEPTH, [depth_update(index) for index in range(300)])
    audit(DEPTH)
    assert Gap.objects.count() == 0


def funding_times(count, *, hours=8, start=datetime(2024, 1, 1, tzinfo=UTC)):
    # Real funding times carry millisecond jitter (00:00:00.017, 08:00:00.004, ...).
    return [start + timedelta(hours=hours * index, milliseconds=(index * 7) % 20) for index in range(count)]


def test_funding_with_jitter_and_no_holes_has_no_gaps():
    store.write_rows(FUNDING, [funding(moment) for moment in funding_times(60)])
    _, dataset = audit(FUNDING)
    assert Gap.objects.count() == 0
    assert AuditLog.objects.filter(audit_type="validity").count() == 0
    assert dataset.health["funding_interval_hours"] == 8
    assert dataset.health["completeness"] == 100.0


def test_missing_funding_times_are_gaps_on_the_inferred_interval():
    times = funding_times(60, hours=4)
    store.write_rows(FUNDING, [funding(moment) for index, moment in enumerate(times) if index not in (10, 11, 40)])
    _, dataset = audit(FUNDING)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert [(gap.start, gap.end, gap.missing_count) for gap in Gap.objects.order_by("start")] == [
        (start + timedelta(hours=40), start + timedelta(hours=44), 2),
        (start + timedelta(hours=160), start + timedelta(hours=160), 1),
    ]
    assert dataset.health["funding_interval_hours"] == 4
    store.write_rows(FUNDING, [funding(times[40])])
    audit(FUNDING)
    assert Gap.objects.get(start=start + timedelta(hours=160)).status == Gap.Status.FILLED


def test_funding_time_far_from_the_hour_is_invalid():
    times = funding_times(10)
    times[5] += timedelta(minutes=7)
    store.write_rows(FUNDING, [funding(moment) for moment in times])
    audit(FUNDING)
    assert AuditLog.objects.filter(audit_type="validity").count() == 1
