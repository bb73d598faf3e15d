"""Computing, storing and scheduling analytics against the real stores."""

import math
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command

from analytics import services, tasks
from audits.models import Gap
from catalog.models import Dataset, LineageRecord
from ingestion import store
from petrosa_dm.market.naming import series

from .factories import T0, candle_row

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def closes_walk(count: int, seed: int = 7) -> list[float]:
    steps = np.random.default_rng(seed).normal(0, 0.01, count)
    return [round(float(close), 8) for close in 100 * np.exp(np.cumsum(steps))]  # the stored precision


def write_candles(symbol: str, closes: list[float], *, skip: tuple[int, ...] = (), interval: str = "1h") -> None:
    rows = [
        candle_row(symbol, interval, T0 + i * HOUR, close, step=HOUR) for i, close in enumerate(closes) if i not in skip
    ]
    store.write_rows(series("candles", symbol, interval=interval), rows)


def test_a_hole_in_the_window_is_reported_and_not_bridged(mongo_db):
    closes = closes_walk(60)
    write_candles("BTCUSDT", closes, skip=(50, 51))
    summary = services.analytics_compute(symbol="BTCUSDT", interval="1h", windows=[20], metrics=["volatility"])
    assert summary.results == 1
    assert summary.unreliable == 1
    result = mongo_db["analytics_BTCUSDT_volatility"].find_one({"window": 20})
    coverage = result["coverage"]
    # volatility reads the window plus its inner window (20 + 5 bars), ending after the newest candle (bar 59).
    assert (coverage["rows_present"], coverage["rows_expected"]) == (23, 25)
    assert coverage["fraction"] == pytest.approx(23 / 25)
    assert result["reliable"] is False
    assert result["as_of"] == T0 + 60 * HOUR
    assert [(gap["start"], gap["end"], gap["missing"], gap["source"]) for gap in coverage["gaps"]] == [
        (T0 + 50 * HOUR, T0 + 51 * HOUR, 2, "grid")
    ]
    # The last 20 returns (bars 40-59) minus the three that start or end in the hole (50, 51, 52).
    returns = [math.log(closes[i] / closes[i - 1]) for i in range(40, 60) if i not in (50, 51, 52)]
    mean = sum(returns) / len(returns)
    expected = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    assert result["values"]["methods"]["close_to_close"]["per_bar"] == pytest.approx(expected, rel=1e-9)


def test_a_ledger_gap_is_named_in_the_coverage(mongo_db):
    write_candles("BTCUSDT", closes_walk(60), skip=(55,))
    dataset = Dataset.objects.create(dataset_id="candles_BTCUSDT_1h", name="x", data_type="candles", symbol="BTCUSDT")
    gap = Gap.objects.create(dataset=dataset, start=T0 + 55 * HOUR, end=T0 + 55 * HOUR, missing_count=1)
    services.analytics_compute(symbol="BTCUSDT", interval="1h", windows=[20], metrics=["volume"])
    coverage = mongo_db["analytics_BTCUSDT_volume"].find_one()["coverage"]
    assert coverage["fraction"] == pytest.approx(19 / 20)
    assert coverage["reliable"] is True  # 0.95 meets the default threshold
    assert coverage["gaps"][0] | {"start": None, "end": None} == {
        "start": None,
        "end": None,
        "missing": 1,
        "source": "ledger",
        "gap_id": gap.pk,
        "status": "open",
        "reason": "unknown",
    }


def test_every_metric_is_stored_with_lineage_and_recomputing_replaces_it(mongo_db):
    write_candles("BTCUSDT", closes_walk(250, seed=1))
    write_candles("ETHUSDT", closes_walk(250, seed=2))
    summary = services.analytics_compute(symbol="ETHUSDT", interval="1h", windows=[20, 100])
    assert sorted(summary.metrics) == sorted(
        ["volatility", "volume", "trend", "deviation", "seasonality", "regime", "correlation"]
    )
    assert summary.unreliable == 0
    volatility = mongo_db["analytics_ETHUSDT_volatility"]
    assert sorted(row["window"] for row in volatility.find()) == [20, 100]
    seasonality = mongo_db["analytics_ETHUSDT_seasonality"].find_one()
    assert seasonality["window"] == 168  # ANALYTICS_SEASONALITY_DAYS = 7 days of 1h bars
    assert len(seasonality["values"]["hour_of_day"]) == 24
    correlation = mongo_db["analytics_ETHUSDT_correlation"].find_one({"window": 20})
    assert correlation["values"]["reference_pair"] == "BTCUSDT"
    assert correlation["values"]["observations"] == 20
    assert -1 <= correlation["values"]["pearson"] <= 1
    lineage = LineageRecord.objects.filter(dataset_id="analytics_ETHUSDT_correlation")
    assert sorted(lineage.values_list("input_dataset_id", flat=True)) == ["candles_BTCUSDT_1h", "candles_ETHUSDT_1h"]
    assert (
        LineageRecord.objects.filter(dataset_id="analytics_ETHUSDT_volatility", transformation="compute").count() == 1
    )
    # The catalog counts the new rows at once (the console showed 0 until the next scheduled sync).
    catalogued = Dataset.objects.get(pk="analytics_ETHUSDT_volatility")
    assert catalogued.record_count == 2 and catalogued.last_timestamp == max(row["as_of"] for row in volatility.find())
    services.analytics_compute(symbol="ETHUSDT", interval="1h", windows=[20, 100])
    assert volatility.count_documents({}) == 2
    assert Dataset.objects.get(pk="analytics_ETHUSDT_volatility").record_count == 2  # replaced, not added


def test_the_schedule_computes_only_series_with_new_data(mongo_db, settings):
    settings.ANALYTICS_WINDOWS = [20]
    write_candles("BTCUSDT", closes_walk(50))
    assert tasks.compute_all() == 1
    assert tasks.compute_all() == 0
    store.write_rows(
        series("candles", "BTCUSDT", interval="1h"), [candle_row("BTCUSDT", "1h", T0 + 50 * HOUR, 101.0, step=HOUR)]
    )
    assert tasks.compute_all() == 1
    as_ofs = sorted(row["as_of"] for row in mongo_db["analytics_BTCUSDT_volatility"].find())
    assert as_ofs == [T0 + 50 * HOUR, T0 + 51 * HOUR]
    # On demand: the same window again, replaced in place (6 candle metrics; no correlation for the reference pair).
    assert tasks.compute_series("BTCUSDT", "1h") == 6
    assert mongo_db["analytics_BTCUSDT_volatility"].count_documents({}) == 2
    settings.ENABLE_ANALYTICS = False
    store.write_rows(
        series("candles", "BTCUSDT", interval="1h"), [candle_row("BTCUSDT", "1h", T0 + 51 * HOUR, 102.0, step=HOUR)]
    )
    assert tasks.compute_all() == 0


def test_spread_from_full_books_per_bar(mongo_db, settings):
    settings.ANALYTICS_SPREAD_PERIOD = "1m"
    rows = []
    for minute in range(5):
        moment = T0 + timedelta(minutes=minute, seconds=30)
        rows.append(
            {
                "symbol": "BTCUSDT",
                "kind": "partial",
                "final_update_id": minute + 1,
                "event_time": moment,
                "bids": [["100.0", "2"], ["99.0", "4"]],
                "asks": [[f"{100.01 + 0.01 * minute:.2f}", "3"]],
                "source": "stream",
                "ingested_at": moment,
            }
        )
    store.write_rows(series("depth", "BTCUSDT"), rows)
    summary = services.analytics_compute_spread(symbol="BTCUSDT", windows=[5, 10])
    assert summary.results == 2
    five = mongo_db["analytics_BTCUSDT_spread"].find_one({"window": 5})
    assert five["as_of"] == T0 + timedelta(minutes=5)
    assert five["values"]["latest"]["best_ask"] == pytest.approx(100.05)
    assert five["values"]["latest"]["bid_depth"] == 2.0  # 99.0 is more than 10 bps below the mid
    spreads_bps = [(0.01 * (m + 1)) / (100 + (0.01 * (m + 1)) / 2) * 10_000 for m in range(5)]
    assert five["values"]["mean_spread_bps"] == pytest.approx(sum(spreads_bps) / 5)
    assert five["reliable"] is True
    ten = mongo_db["analytics_BTCUSDT_spread"].find_one({"window": 10})
    assert (ten["coverage"]["rows_present"], ten["coverage"]["rows_expected"], ten["reliable"]) == (5, 10, False)


def test_compute_analytics_command_prints_a_summary(mongo_db, capsys):
    write_candles("BTCUSDT", closes_walk(30))
    write_candles("ETHUSDT", closes_walk(30), interval="1h")
    call_command("compute_analytics", "--pair", "btcusdt", "--period", "1h", "--window", "10", verbosity=0)
    output = capsys.readouterr().out
    # Seasonality reads 7 days (168 bars) and only 30 exist: that one result is flagged.
    assert "computed 6 results (1 flagged unreliable) for 1 candle series and 0 depth series" in output
    assert mongo_db["analytics_ETHUSDT_volatility"].count_documents({}) == 0
    assert mongo_db["analytics_BTCUSDT_trend"].find_one()["window"] == 10


def test_spread_reads_the_real_book_and_flags_bars_inside_an_unknown_span(mongo_db, settings):
    from books.services import snapshot_store

    settings.BOOKS_SLIPPAGE_NOTIONAL = 150.0

    def update(first: int, final: int, prev: int, seconds: int, bids: list, asks: list) -> dict:
        moment = T0 + timedelta(seconds=seconds)
        return {
            "symbol": "BTCUSDT",
            "kind": "diff",
            "first_update_id": first,
            "final_update_id": final,
            "prev_final_update_id": prev,
            "event_time": moment,
            "bids": bids,
            "asks": asks,
            "source": "stream",
            "ingested_at": moment,
        }

    snapshot_store(
        symbol="BTCUSDT",
        row={"final_update_id": 10, "event_time": T0 + timedelta(seconds=5), "bids": [["100", "1"], ["99.5", "3"]],
             "asks": [["101", "1"], ["102", "5"]], "source": "rest", "ingested_at": T0},
    )  # fmt: skip
    rows = [
        update(9, 11, 8, 70, [["100.5", "2"]], [["100.9", "1"]]),  # minute 1: the book keeps 100 and 99.5 too
        update(12, 13, 11, 80, [["100.5", "0"], ["100.4", "1"]], []),
        update(14, 15, 13, 125, [], [["100.9", "2"]]),  # minute 2 links on, then 16..19 are lost -> unknown
        update(20, 21, 19, 130, [["100.6", "1"]], []),
    ]
    store.write_rows(series("depth", "BTCUSDT"), rows)
    services.analytics_compute_spread(symbol="BTCUSDT", windows=[2, 3])
    two = mongo_db["analytics_BTCUSDT_spread"].find_one({"window": 2})
    three = mongo_db["analytics_BTCUSDT_spread"].find_one({"window": 3})
    # Minute 2 is unknown: the latest known book is minute 1's, from the snapshot plus two diffs.
    assert (two["values"]["latest"]["best_bid"], two["values"]["latest"]["best_ask"]) == (100.4, 100.9)
    assert two["values"]["book_source"] == "book" and two["values"]["unknown_bars"] == 1
    assert two["reliable"] is False and "unknown-book span" in two["values"]["unreliable_reason"]
    liquidity = two["values"]["liquidity"]
    # Within 1 % of the mid 100.65: bids 100.4 and 100 (not 99.5), asks 100.9 and 101; within 0.1 %: none.
    assert (liquidity["bid_depth_1pct"], liquidity["ask_depth_1pct"], liquidity["ask_depth_0.1pct"]) == (2, 2, 0)
    # 150 USDT at market: 1 at 100.9, then 49.1 / 101 at 101.
    average = 150 / (1 + 49.1 / 101)
    assert liquidity["slippage_buy_bps"] == pytest.approx((average - 100.65) / 100.65 * 10_000)
    assert three["values"]["latest"]["best_bid"] == 100.4 and three["values"]["unknown_bars"] == 1
    assert three["coverage"]["rows_present"] == 2  # minute 0 (the snapshot's book) and minute 1


def test_a_window_under_two_bars_is_refused(mongo_db):
    write_candles("BTCUSDT", closes_walk(10))
    with pytest.raises(ValueError, match="at least 2"):
        services.analytics_compute(symbol="BTCUSDT", interval="1h", windows=[1])
