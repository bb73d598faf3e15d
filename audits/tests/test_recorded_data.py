"""The auditor on real recorded Binance data (../shared/data; skipped when absent)."""

import csv
import gzip
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from bson.decimal128 import Decimal128

from audits.models import AuditLog, Gap
from audits.services import dataset_audit
from catalog.models import Dataset
from catalog.services import dataset_ensure
from ingestion import store
from petrosa_dm.market.naming import DataType, series
from petrosa_dm.market.timeutils import from_ms

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mongo_db")]
NOW = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 5000


def audit(ref, **kwargs):
    dataset, _ = dataset_ensure(ref=ref)
    outcome = dataset_audit(dataset=dataset, now=NOW, **kwargs)
    dataset.refresh_from_db()
    return outcome, dataset


def write(ref, rows):
    for offset in range(0, len(rows), BATCH):
        store.write_rows(ref, rows[offset : offset + BATCH])


def kline_row(open_ms, close_ms, prices, volumes, trades, interval):
    open_, high, low, close = (Decimal128(str(value)) for value in prices)
    volume, quote, taker, taker_quote = (Decimal128(str(value)) for value in volumes)
    return {
        "symbol": "LINKUSDT",
        "interval": interval,
        "open_time": from_ms(open_ms),
        "close_time": from_ms(close_ms),
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "quote_volume": quote,
        "taker_buy_volume": taker,
        "taker_buy_quote_volume": taker_quote,
        "trades": trades,
        "closed": True,
        "event_time": from_ms(close_ms + 1),
        "source": "rest",
        "ingested_at": NOW,
    }


def test_link_month_is_complete_and_deleted_ranges_are_exactly_the_gaps(shared_data, mongo_db):
    ref = series(DataType.CANDLES, "LINKUSDT", interval="1m")
    with open(shared_data / "candles" / "futures_um_LINKUSDT-1m-2023-02.csv", newline="") as source:
        rows = [
            kline_row(
                int(line["open_time"]),
                int(line["close_time"]),
                (line["open"], line["high"], line["low"], line["close"]),
                (line["volume"], line["quote_volume"], line["taker_buy_volume"], line["taker_buy_quote_volume"]),
                int(line["count"]),
                "1m",
            )
            for line in csv.DictReader(source)
        ]
    write(ref, rows)
    outcome, dataset = audit(ref)
    assert outcome.rows_read == 40_320
    assert Gap.objects.count() == 0
    assert dataset.health["completeness"] == 100.0
    assert AuditLog.objects.filter(audit_type="validity").count() == 0

    month = datetime(2023, 2, 1, tzinfo=UTC)
    chosen = [  # (first missing, last missing): at the start, inside, one minute, and at the end of the month
        (month, month + timedelta(minutes=4)),
        (month + timedelta(days=3, hours=7), month + timedelta(days=3, hours=9, minutes=29)),
        (month + timedelta(days=14, minutes=1), month + timedelta(days=14, minutes=1)),
        (month + timedelta(days=27, hours=23, minutes=50), month + timedelta(days=27, hours=23, minutes=59)),
    ]
    for first, last in chosen:
        mongo_db[ref.collection].delete_many({"open_time": {"$gte": first, "$lte": last}})
    audit(ref, start=month, end=month + timedelta(days=28))  # the month's window: leading and trailing holes too
    ledger = [(gap.start, gap.end, gap.missing_count) for gap in Gap.objects.order_by("start")]
    assert ledger == [(first, last, int((last - first) / timedelta(minutes=1)) + 1) for first, last in chosen]
    assert [count for *_, count in ledger] == [5, 150, 1, 10]


def test_btc_maintenance_holes_are_all_in_the_ledger_and_irregular_candles_are_findings(shared_data, settings):
    settings.AUDIT_MAX_FINDINGS = 1000
    frame = pd.read_csv(shared_data / "candles" / "spot_BTCUSDT-1h_2017-08-17_2018-07-06_with_maintenance_gaps.csv")
    ref = series(DataType.CANDLES, "BTCUSDT", interval="1h")
    rows = [
        kline_row(
            int(row.o_t),
            int(row.c_t),
            (row.o_p, row.h_p, row.l_p, row.c_p),
            (row.v, row.qa_v, row.ta_v, row.tq_v),
            int(row.n_t),
            "1h",
        )
        for row in frame.itertuples()
    ]
    write(ref, rows)
    audit(ref)

    # Holes, counted independently: hours of the series' span with no candle opening in them.
    hour = 3_600_000
    covered = set(frame.o_t // hour)
    missing = sorted(set(range(min(covered), max(covered) + 1)) - covered)
    holes, run = [], [missing[0]]
    for slot in missing[1:]:
        if slot == run[-1] + 1:
            run.append(slot)
        else:
            holes.append(run)
            run = [slot]
    holes.append(run)
    expected = [(from_ms(run[0] * hour), from_ms(run[-1] * hour), len(run)) for run in holes]
    ledger = [(gap.start, gap.end, gap.missing_count) for gap in Gap.objects.order_by("start")]
    assert ledger == expected
    assert (datetime(2018, 2, 8, 1, tzinfo=UTC), datetime(2018, 2, 9, 8, tzinfo=UTC), 32) in ledger

    irregular = frame[
        (frame.o_t % hour != 0)
        | (frame.c_t != frame.o_t + hour - 1)
        | (frame.h_p < frame[["o_p", "c_p"]].max(axis=1))
        | (frame.l_p > frame[["o_p", "c_p"]].min(axis=1))
    ]
    found = {entry.details["time"] for entry in AuditLog.objects.filter(audit_type="validity")}
    assert len(irregular) > 40
    assert found == {from_ms(int(open_ms)).isoformat() for open_ms in irregular.o_t}


def _capture_rows(path):
    trades, depth = [], []
    with gzip.open(path, "rt") as source:
        for line in source:
            _, _, payload = line.partition(" ")
            data = json.loads(payload).get("data") or {}
            if data.get("e") == "trade":
                trades.append(_trade(data))
            elif data.get("e") == "depthUpdate":
                depth.append(_depth(data))
    return trades, depth


def _trade(data):
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
        "ingested_at": NOW,
    }


def _depth(data):
    return {
        "symbol": data["s"],
        "kind": "diff",
        "first_update_id": data["U"],
        "final_update_id": data["u"],
        "prev_final_update_id": data["pu"],
        "transaction_time": from_ms(data["T"]),
        "event_time": from_ms(data["E"]),
        "bids": data["b"],
        "asks": data["a"],
        "source": "stream",
        "ingested_at": NOW,
    }


def test_replayed_capture_sequences_untouched_and_with_deletions(shared_data, mongo_db):
    trades, depth = _capture_rows(shared_data / "binance" / "ws" / "captures" / "hftbacktest_usdm_btcusdt_20240808.gz")
    trades_ref, depth_ref = series(DataType.TRADES, "BTCUSDT"), series(DataType.DEPTH, "BTCUSDT")
    write(trades_ref, trades)
    write(depth_ref, depth)
    audit(trades_ref)
    audit(depth_ref)
    assert Gap.objects.count() == 0
    assert AuditLog.objects.filter(audit_type="sequence_gap").count() == 0

    ids = sorted(row["trade_id"] for row in trades)
    lost_trades = [ids[100:103], ids[5000:5001], ids[5002:5004]]  # the last two break within one millisecond or so
    mongo_db[trades_ref.collection].delete_many({"trade_id": {"$in": [i for run in lost_trades for i in run]}})
    depth.sort(key=lambda row: row["final_update_id"])
    lost_depth = depth[300:304]
    mongo_db[depth_ref.collection].delete_many(
        {"final_update_id": {"$in": [row["final_update_id"] for row in lost_depth]}}
    )
    audit(trades_ref, full=True)
    audit(depth_ref, full=True)
    found_trades = Gap.objects.filter(dataset_id=trades_ref.collection).order_by("first_missing_id")
    assert [(gap.first_missing_id, gap.last_missing_id, gap.missing_count) for gap in found_trades] == [
        (run[0], run[-1], len(run)) for run in lost_trades
    ]
    found_depth = Gap.objects.get(dataset_id=depth_ref.collection)
    assert found_depth.first_missing_id == depth[299]["final_update_id"] + 1
    assert found_depth.last_missing_id == lost_depth[-1]["final_update_id"] == depth[304]["prev_final_update_id"]
    # Four lost messages are one break: counted as one missing message, not as the update ids it skipped.
    assert found_depth.missing_count == 1
    assert found_depth.last_missing_id - found_depth.first_missing_id > 1000  # what id arithmetic would have counted
    figures = Dataset.objects.get(pk=depth_ref.collection).health
    stored = len(depth) - len(lost_depth)
    assert (figures["missing_rows"], figures["expected_rows"]) == (1, stored + 1)
    assert figures["completeness"] == pytest.approx(100 * stored / (stored + 1))
