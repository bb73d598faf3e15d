"""The /analysis API over results computed from stored candles."""

from datetime import timedelta

import numpy as np
import pytest

from analytics import services
from analytics.calculators import regime
from books.services import snapshot_store
from ingestion import store
from petrosa_dm.market.naming import series

from .factories import T0, candle_row
from .test_services import HOUR, closes_walk, write_candles

pytestmark = pytest.mark.django_db


@pytest.fixture
def computed(mongo_db):
    """BTCUSDT with 1h results for windows 20 and 50 at two consecutive as_of times."""
    write_candles("BTCUSDT", closes_walk(120))
    services.analytics_compute(symbol="BTCUSDT", interval="1h", windows=[20, 50])
    store.write_rows(
        series("candles", "BTCUSDT", interval="1h"), [candle_row("BTCUSDT", "1h", T0 + 120 * HOUR, 99.0, step=HOUR)]
    )
    services.analytics_compute(symbol="BTCUSDT", interval="1h", windows=[20, 50])
    return mongo_db


def test_nothing_computed_for_the_pair_answers_as_callers_expect(client, mongo_db):
    for metric in ("deviation", "seasonality", "correlation"):
        response = client.get(f"/analysis/{metric}", {"pair": "BTCUSDT"})
        assert response.status_code == 404, metric
        assert "BTCUSDT" in response.json()["detail"]
    for metric in ("deviation", "seasonality"):
        assert f"No {metric} data available" in client.get(f"/analysis/{metric}", {"pair": "BTCUSDT"}).json()["detail"]
    for metric, message in (("spread", "No spread data available"), ("regime", "No regime data")):
        body = client.get(f"/analysis/{metric}", {"pair": "BTCUSDT"}).json()
        assert body["data"] is None
        assert message in body["metadata"]["message"]
    for metric in ("volatility", "volume", "trend"):
        body = client.get(f"/analysis/{metric}", {"pair": "BTCUSDT", "period": "1h"}).json()
        assert (body["values"], body["results"]) == ([], [])
        assert "BTCUSDT" in body["metadata"]["message"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({}, "pair"),
        ({"pair": "BTC/USDT"}, "pair"),
        ({"pair": "BTCUSDT", "period": "7m"}, "period"),
        ({"pair": "BTCUSDT", "window": "abc"}, "window"),
        ({"pair": "BTCUSDT", "window": "1"}, "window"),
        ({"pair": "BTCUSDT", "method": "atr"}, "method"),
        ({"pair": "BTCUSDT", "limit": "0"}, "limit"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, computed, query, parameter):
    response = client.get("/analysis/volatility", query)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{parameter}:")


def test_results_are_latest_first_and_honour_window_and_method(client, computed):
    response = client.get("/analysis/volatility", {"pair": "btcusdt", "period": "1h", "window": "20"})
    assert response.status_code == 200
    body = response.json()
    assert (body["pair"], body["metric"], body["period"], body["window"]) == ("BTCUSDT", "volatility", "1h", "20")
    assert [row["window"] for row in body["results"]] == [20, 20]
    assert [row["as_of"] for row in body["results"]] == ["2024-01-06T01:00:00Z", "2024-01-06T00:00:00Z"]
    assert set(body["results"][0]["values"]["methods"]) == {
        "close_to_close",
        "parkinson",
        "garman_klass",
        "rogers_satchell",
        "yang_zhang",
    }
    assert body["results"][0]["values"]["annualization"]["basis"] == "365 days, 24/7"
    assert body["metadata"]["collection"] == "analytics_BTCUSDT_volatility"

    only_parkinson = client.get("/analysis/volatility", {"pair": "BTCUSDT", "window": "50", "method": "parkinson"})
    data = only_parkinson.json()["results"]
    assert [row["window"] for row in data] == [50, 50]
    assert list(data[0]["values"]["methods"]) == ["parkinson"]
    stored = computed["analytics_BTCUSDT_volatility"].find_one({"window": 50}, sort=[("as_of", -1)])
    assert data[0]["values"]["methods"]["parkinson"] == stored["values"]["methods"]["parkinson"]


def test_limit_and_other_periods(client, computed):
    latest = client.get("/analysis/trend", {"pair": "BTCUSDT", "limit": "1", "method": "ema"}).json()["results"]
    assert len(latest) == 1
    assert "ema" in latest[0]["values"]
    assert "sma" not in latest[0]["values"]
    assert client.get("/analysis/volume", {"pair": "BTCUSDT", "period": "4h"}).json()["results"] == []


def test_regime_shape_is_the_contract(client, computed):
    response = client.get("/analysis/regime", {"pair": "BTCUSDT"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"pair", "metric", "data", "metadata"}
    assert (body["pair"], body["metric"]) == ("BTCUSDT", "regime")
    assert set(body["data"]) >= {"regime", "volatility_level", "volume_level", "trend_direction", "confidence"}
    assert body["data"]["regime"] in regime.REGIMES
    assert body["data"]["volatility_level"] in ("low", "medium", "high")
    assert body["data"]["volume_level"] in ("low", "medium", "high")
    assert body["data"]["trend_direction"] in ("bullish", "bearish", "neutral")
    assert 0 <= body["data"]["confidence"] <= 1
    assert body["metadata"]["collection"] == "analytics_BTCUSDT_regime"
    assert body["metadata"]["timestamp"] == "2024-01-06T01:00:00Z"
    empty = client.get("/analysis/regime", {"pair": "BTCUSDT", "period": "1d"}).json()
    assert empty["data"] is None
    assert set(empty["metadata"]) >= {"timestamp", "collection"}
    assert "No regime data" in empty["metadata"]["message"]


def test_correlation_matrix_on_demand_over_aligned_timestamps(client, mongo_db):
    write_candles("BTCUSDT", closes_walk(40, seed=3))
    write_candles("ETHUSDT", closes_walk(40, seed=4), skip=(35,))
    write_candles("SOLUSDT", closes_walk(39, seed=5))  # ends an hour earlier
    response = client.get("/analysis/correlation", {"pairs": "BTCUSDT,ETHUSDT,SOLUSDT", "period": "1h", "window": 10})
    assert response.status_code == 200
    body = response.json()
    matrix = body["data"]["matrix"]
    pairs = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    values = np.array([[matrix[a][b] for b in pairs] for a in pairs])
    assert np.allclose(values, values.T)
    assert np.diag(values).tolist() == [1.0, 1.0, 1.0]
    # Window: bars 29-38 (SOLUSDT ends at 38); ETHUSDT lacks bar 35, so returns into 35 and 36 drop out.
    assert body["data"]["observations"] == 8
    assert body["data"]["as_of"] == "2024-01-02T15:00:00Z"
    assert body["data"]["coverage"]["ETHUSDT"]["rows_present"] == 10
    assert (T0 + 39 * HOUR).isoformat().replace("+00:00", "Z") == body["data"]["as_of"]
    assert -1 <= matrix["BTCUSDT"]["ETHUSDT"] <= 1


def test_correlation_needs_candles_for_every_pair_and_two_pairs(client, mongo_db):
    write_candles("BTCUSDT", closes_walk(20))
    missing = client.get("/analysis/correlation", {"pairs": "BTCUSDT,ETHUSDT", "period": "1h"})
    assert missing.status_code == 404
    assert "ETHUSDT" in missing.json()["detail"]
    one = client.get("/analysis/correlation", {"pairs": "BTCUSDT", "period": "1h"})
    assert one.status_code == 400
    assert one.json()["detail"].startswith("pairs:")
    no_period = client.get("/analysis/correlation", {"pairs": "BTCUSDT,ETHUSDT"})
    assert no_period.json()["detail"].startswith("period:")
    empty = client.get("/analysis/correlation", {"pairs": "", "period": "1h"})
    assert (empty.status_code, empty.json()["parameter"]) == (400, "pairs")


def test_stored_correlation_against_the_reference(client, mongo_db):
    write_candles("BTCUSDT", closes_walk(60, seed=1))
    write_candles("ETHUSDT", closes_walk(60, seed=2))
    services.analytics_compute(symbol="ETHUSDT", interval="1h", windows=[20], metrics=["correlation"])
    body = client.get("/analysis/correlation", {"pair": "ETHUSDT"}).json()
    assert body["results"][0]["values"]["reference_pair"] == "BTCUSDT"
    assert body["results"][0]["as_of"] == (T0 + 60 * HOUR).isoformat().replace("+00:00", "Z")


def test_spread_endpoint_serves_stored_spread(client, mongo_db):
    books = []
    for minute, ask in enumerate(("100.04", "100.02")):
        moment = T0 + timedelta(minutes=minute, seconds=10)
        book = {"symbol": "BTCUSDT", "kind": "snapshot", "final_update_id": minute, "event_time": moment}
        books.append(book | {"bids": [["100", "1"]], "asks": [[ask, "1"]], "source": "rest", "ingested_at": moment})
    store.write_rows(series("depth", "BTCUSDT"), books)
    for book in books:  # as a backfill depth job stores them: rows, and anchors of the order book
        snapshot_store(symbol="BTCUSDT", row=book)
    services.analytics_compute_spread(symbol="BTCUSDT", windows=[2, 5])
    stored = mongo_db["analytics_BTCUSDT_spread"].find_one({"window": 2})
    assert stored["values"]["latest"]["spread"] == pytest.approx(0.02)
    assert stored["values"]["book_source"] == "book"
    assert stored["values"]["mean_spread_bps"] == pytest.approx((0.04 / 100.02 + 0.02 / 100.01) / 2 * 10_000)
    assert stored["reliable"] is True
    body = client.get("/analysis/spread", {"pair": "BTCUSDT"}).json()
    assert body["data"]["bid_ask_spread"] == pytest.approx(0.02)
    assert body["data"]["spread_percentage"] == pytest.approx(0.02 / 100.01 * 100)
    assert body["data"]["liquidity_ratio"] == pytest.approx(1.0)
    assert (body["metadata"]["window"], body["metadata"]["reliable"]) == (5, False)  # 2 of 5 bars have a book


def test_a_spread_result_without_a_spread_says_so(client, mongo_db):
    # A crossed book (bid above ask) has no spread: the stored result's latest bar holds none (CONTRACT.md: data null
    # with "No spread data available" in metadata.message).
    moment = T0 + timedelta(seconds=10)
    book = {"symbol": "BTCUSDT", "kind": "snapshot", "final_update_id": 1, "event_time": moment}
    book |= {"bids": [["100.05", "1"]], "asks": [["100.04", "1"]], "source": "rest", "ingested_at": moment}
    store.write_rows(series("depth", "BTCUSDT"), [book])
    snapshot_store(symbol="BTCUSDT", row=book)
    services.analytics_compute_spread(symbol="BTCUSDT", windows=[2])
    assert mongo_db["analytics_BTCUSDT_spread"].count_documents({}) >= 1
    body = client.get("/analysis/spread", {"pair": "BTCUSDT"}).json()
    assert body["data"] is None
    assert body["metadata"]["message"].startswith("No spread data available for BTCUSDT")


def test_without_a_period_the_stored_results_are_the_reported_periods(client, mongo_db):
    write_candles("BTCUSDT", closes_walk(60))
    services.analytics_compute(symbol="BTCUSDT", interval="1h", windows=[20], metrics=["volatility"])
    results = mongo_db["analytics_BTCUSDT_volatility"]
    other = results.find_one({"timeframe": "1h"})
    other.pop("_id")
    results.insert_one(other | {"timeframe": "4h"})  # another period's result, e.g. from a 4h schedule
    body = client.get("/analysis/volatility", {"pair": "BTCUSDT"}).json()
    assert body["period"] == "1h" and body["values"]
    assert body["results"] and {result["timeframe"] for result in body["results"]} == {"1h"}
