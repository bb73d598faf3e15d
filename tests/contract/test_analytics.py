"""CONTRACT.md, "Analytics": the callers' requests against analytics computed from recorded candles that were
loaded through the real consumer; expected figures are recomputed here from the recorded files with pandas."""

import json
import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from analytics import services

from . import recorded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.shared_data]

# BTCUSDT's recorded hours up to 2021-10-06 12:00, the end of a rally (20-bar window: high volatility, a volume
# spike and +2 % or more): a trending pair.
TRENDING = slice(0, 133)
# The same file's hours up to 2022-03-19 21:00 (low volatility, thin volume): a quiet pair. The recorded data
# hold one 1h pair, so these hours are stored under a second symbol.
QUIET = slice(3945, 4078)
REGIMES = {
    "turbulent_illiquidity", "stable_accumulation", "breakout_phase", "consolidation", "bullish_acceleration",
    "bearish_acceleration", "balanced_market", "transitional", "unknown",
}  # fmt: skip


def frame(rows: list[dict]) -> pd.DataFrame:
    data = pd.DataFrame(rows)
    data.index = pd.to_datetime(data["open_time"].astype("int64"), unit="ms", utc=True)
    return data[["open", "high", "low", "close", "volume"]].astype(float)


@pytest.fixture
def hours(load):
    """BTCUSDT (trending) and QUIETUSDT (quiet) 1h candles, loaded and analysed with a 20-bar window."""
    load(
        recorded.klines(recorded.BTC_1H, symbol="BTCUSDT", interval="1h", rows=TRENDING),
        recorded.klines(recorded.BTC_1H, symbol="QUIETUSDT", interval="1h", rows=QUIET),
    )
    for symbol in ("BTCUSDT", "QUIETUSDT"):
        services.analytics_compute(symbol=symbol, interval="1h", windows=[20])
    return {
        "BTCUSDT": frame(recorded.kline_rows(recorded.BTC_1H, TRENDING)),
        "QUIETUSDT": frame(recorded.kline_rows(recorded.BTC_1H, QUIET)),
    }


def cio_validate(body: dict) -> dict | None:
    """The CIO service's strict validation of a regime answer."""
    assert body["metric"] == "regime"
    datetime.fromisoformat(body["metadata"]["timestamp"])
    data = body["data"]
    if data is None:
        assert "No regime data" in body["metadata"]["message"]
        return None
    assert data["regime"] in REGIMES
    assert data["volatility_level"] in ("low", "medium", "high")
    assert data["volume_level"] in ("low", "medium", "high")
    assert 0 <= float(data["confidence"]) <= 1
    assert isinstance(data["trend_direction"], str)
    return data


def earlier_rules(volatility: float, spike: float, change: float) -> str:
    """CONTRACT.md's rules, written out independently of the service."""
    vol = "high" if volatility > 0.5 else "low" if volatility < 0.2 else "medium"
    volume = "high" if spike > 1.5 else "low" if spike < 0.7 else "medium"
    if (vol, volume) == ("high", "low"):
        return "turbulent_illiquidity"
    if (vol, volume) == ("low", "high"):
        return "stable_accumulation"
    if (vol, volume) == ("high", "high"):
        return (
            "bullish_acceleration" if change > 0.02 else "bearish_acceleration" if change < -0.02 else "breakout_phase"
        )
    return {("low", "low"): "consolidation", ("medium", "medium"): "balanced_market"}.get((vol, volume), "transitional")


def window_inputs(candles: pd.DataFrame, window: int = 20) -> tuple[float, float, float]:
    returns = np.log(candles["close"] / candles["close"].shift(1)).iloc[-window:]
    volatility = returns.std(ddof=1) * math.sqrt(365 * 24)
    spike = candles["volume"].iloc[-1] / candles["volume"].iloc[-window:].mean()
    change = candles["close"].iloc[-1] / candles["close"].iloc[-window] - 1
    return volatility, spike, change


def test_regime_of_a_trending_a_quiet_and_an_unknown_pair_validates(client, hours):
    answers = {pair: client.get("/analysis/regime", {"pair": pair}) for pair in ("BTCUSDT", "QUIETUSDT", "ETHUSDT")}

    assert {pair: response.status_code for pair, response in answers.items()} == dict.fromkeys(answers, 200)
    trending = cio_validate(answers["BTCUSDT"].json())
    quiet = cio_validate(answers["QUIETUSDT"].json())
    assert cio_validate(answers["ETHUSDT"].json()) is None
    assert (trending["regime"], trending["trend_direction"]) == ("bullish_acceleration", "bullish")
    assert (quiet["regime"], quiet["volatility_level"], quiet["volume_level"]) == ("consolidation", "low", "low")
    for pair, data in (("BTCUSDT", trending), ("QUIETUSDT", quiet)):
        volatility, spike, change = window_inputs(hours[pair])
        assert data["regime"] == earlier_rules(volatility, spike, change)
        assert data["inputs"]["annualized_volatility"] == pytest.approx(volatility)
        assert data["inputs"]["volume_spike_ratio"] == pytest.approx(spike)
        assert data["inputs"]["rate_of_change"] == pytest.approx(change)
    last_open = hours["BTCUSDT"].index[-1]
    timestamp = pd.to_datetime(answers["BTCUSDT"].json()["metadata"]["timestamp"], utc=True)
    assert timestamp == last_open + pd.Timedelta(hours=1)  # the window's end


@pytest.mark.parametrize("method", ["rolling_stddev", "annualized", "parkinson", "garman_klass", "vov"])
def test_volatility_takes_the_earlier_method_names_and_a_duration_window(client, hours, method):
    response = client.get(
        "/analysis/volatility", {"pair": "BTCUSDT", "period": "1h", "method": method, "window": "24h"}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["pair"], body["period"], body["metric"], body["method"], body["window"]) == (
        "BTCUSDT", "1h", "volatility", method, "24h",
    )  # fmt: skip
    assert body["window_bars"] == 24
    values = body["values"]
    assert 0 < len(values) <= 10
    stamps = [datetime.fromisoformat(value["timestamp"]) for value in values]
    assert stamps == sorted(stamps, reverse=True)
    for value in values:
        for key in ("rolling_stddev", "annualized", "parkinson", "garman_klass", "vov"):
            float(value[key])
    candles = hours["BTCUSDT"]
    returns = np.log(candles["close"] / candles["close"].shift(1))
    assert stamps[0] == candles.index[-1].to_pydatetime()
    assert float(values[0]["rolling_stddev"]) == pytest.approx(returns.iloc[-24:].std(ddof=1))
    assert float(values[0]["annualized"]) == pytest.approx(returns.iloc[-24:].std(ddof=1) * math.sqrt(8760))
    assert float(values[1]["rolling_stddev"]) == pytest.approx(returns.iloc[-25:-1].std(ddof=1))


def test_a_window_longer_than_the_history_is_200_and_coverage_says_so(client, hours):
    body = client.get("/analysis/volatility", {"pair": "BTCUSDT", "period": "1h", "window": "30d"}).json()

    assert body["window_bars"] == 720
    assert body["values"]
    coverage = body["metadata"]["coverage"]
    assert coverage["window_longer_than_history"] is True
    assert (coverage["rows_present"], coverage["rows_expected"]) == (133, 720)


def test_volume_with_a_duration_window_on_minutes(client, load):
    rows = recorded.kline_rows(recorded.LINK_1M, slice(0, 300))
    load(recorded.klines(recorded.LINK_1M, symbol="LINKUSDT", interval="1m", rows=slice(0, 300)))

    body = client.get("/analysis/volume", {"pair": "LINKUSDT", "period": "1m", "window": "90m"}).json()

    assert body["window_bars"] == 90
    latest = body["values"][0]
    volumes = [float(row["volume"]) for row in rows]
    taker = [float(row["taker_buy_volume"]) for row in rows]
    for key in ("total_volume", "volume_sma", "volume_ema", "volume_delta", "volume_spike_ratio"):
        float(latest[key])
    assert float(latest["total_volume"]) == pytest.approx(sum(volumes[-90:]))
    assert float(latest["volume_sma"]) == pytest.approx(sum(volumes[-90:]) / 90)
    assert float(latest["volume_spike_ratio"]) == pytest.approx(volumes[-1] / (sum(volumes[-90:]) / 90))
    delta = sum(2 * buy - volume for buy, volume in zip(taker[-90:], volumes[-90:], strict=True))
    assert float(latest["volume_delta"]) == pytest.approx(delta)
    assert len(body["values"]) == 10


def test_trend_with_a_bar_window(client, hours):
    body = client.get("/analysis/trend", {"pair": "BTCUSDT", "period": "1h", "window": "20"}).json()

    latest = body["values"][0]
    close = hours["BTCUSDT"]["close"]
    for key in ("sma", "ema", "wma", "rate_of_change", "directional_strength"):
        float(latest[key])
    assert float(latest["sma"]) == pytest.approx(close.iloc[-20:].mean())
    weights = np.arange(1, 21)
    assert float(latest["wma"]) == pytest.approx((close.iloc[-20:] * weights).sum() / weights.sum())
    assert float(latest["rate_of_change"]) == pytest.approx((close.iloc[-1] / close.iloc[-20] - 1) * 100)
    assert latest["crossover_signal"] in ("bullish", "bearish")


def test_deviation_and_seasonality_objects(client, hours):
    deviation = client.get("/analysis/deviation", {"pair": "BTCUSDT", "period": "1h"}).json()
    seasonality = client.get("/analysis/seasonality", {"pair": "BTCUSDT", "period": "1h"}).json()

    data = deviation["data"]
    close = hours["BTCUSDT"]["close"].iloc[-20:]
    assert float(data["standard_deviation"]) == pytest.approx(close.std(ddof=0))
    assert float(data["variance"]) == pytest.approx(close.var(ddof=0))
    assert float(data["z_score"]) == pytest.approx((close.iloc[-1] - close.mean()) / close.std(ddof=1))
    assert float(data["bollinger_upper"]) == pytest.approx(close.mean() + 2 * close.std(ddof=0))
    assert float(data["bollinger_lower"]) == pytest.approx(close.mean() - 2 * close.std(ddof=0))
    float(data["price_range_index"])
    pattern = seasonality["data"]
    assert set(pattern["hourly_pattern"]) == {str(hour) for hour in range(24)}
    assert set(pattern["daily_pattern"]) == {str(day) for day in range(7)}
    for key in ("seasonal_deviation", "entropy_index"):
        float(pattern[key])
    assert 0 <= pattern["dominant_cycle"] <= 23


def test_deviation_and_seasonality_of_an_unknown_pair_are_404(client, mongo_db):
    for metric in ("deviation", "seasonality"):
        response = client.get(f"/analysis/{metric}", {"pair": "ETHUSDT", "period": "1h"})
        assert response.status_code == 404
        assert f"No {metric} data available" in response.json()["detail"]


def test_spread_from_a_recorded_book_and_null_when_none(client, load):
    load([recorded.message("depthUpdate_partial.json")])
    services.analytics_compute_spread(symbol="ETHUSDT", windows=[2])
    book = json.loads(recorded.message("depthUpdate_partial.json"))["data"]

    body = client.get("/analysis/spread", {"pair": "ETHUSDT"}).json()
    none = client.get("/analysis/spread", {"pair": "BTCUSDT"})

    assert body["metric"] == "spread"
    best_bid, best_ask = float(book["b"][0][0]), float(book["a"][0][0])
    assert float(body["data"]["bid_ask_spread"]) == pytest.approx(best_ask - best_bid)
    mid = (best_bid + best_ask) / 2
    assert float(body["data"]["spread_percentage"]) == pytest.approx((best_ask - best_bid) / mid * 100)
    for key in ("market_depth_bid", "market_depth_ask", "liquidity_ratio", "slippage_estimate"):
        float(body["data"][key])
    assert none.status_code == 200
    assert none.json()["data"] is None
    assert "No spread data available" in none.json()["metadata"]["message"]


def test_correlation_is_over_the_requested_pairs(client, load):
    btc = recorded.minute_klines_from_trades(recorded.BTC_CAPTURE, symbol="BTCUSDT")
    eth = recorded.minute_klines_from_trades(recorded.ETH_CAPTURE, symbol="ETHUSDT")
    load(btc + eth)

    body = client.get("/analysis/correlation", {"pairs": "BTCUSDT,ETHUSDT", "period": "1m", "window": "3"}).json()

    assert (body["pairs"], body["metric"], body["method"], body["window"]) == (
        ["BTCUSDT", "ETHUSDT"], "correlation", "pearson", "3",
    )  # fmt: skip
    matrix = body["correlation_matrix"]
    assert set(matrix) == {"BTCUSDT", "ETHUSDT"} and all(set(row) == set(matrix) for row in matrix.values())
    assert float(matrix["BTCUSDT"]["BTCUSDT"]) == 1.0
    closes = {
        symbol: pd.Series(
            [float(json.loads(m)["data"]["k"]["c"]) for m in messages],
            index=[json.loads(m)["data"]["k"]["t"] for m in messages],
        )
        for symbol, messages in (("BTCUSDT", btc), ("ETHUSDT", eth))
    }
    shared = closes["BTCUSDT"].index.intersection(closes["ETHUSDT"].index)[-4:]
    returns = {symbol: np.log(series[shared]).diff().dropna() for symbol, series in closes.items()}
    expected = np.corrcoef(returns["BTCUSDT"], returns["ETHUSDT"])[0, 1]
    assert float(matrix["BTCUSDT"]["ETHUSDT"]) == pytest.approx(expected)
    assert float(matrix["ETHUSDT"]["BTCUSDT"]) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [
        ("volatility", {"pair": "BTCUSDT", "period": "1h", "method": "atr"}, "method"),
        ("volatility", {"pair": "BTCUSDT", "period": "1h", "window": "30x"}, "window"),
        ("volume", {"pair": "BTCUSDT", "period": "1h", "window": "90m"}, "window"),  # 1.5 hourly bars
        ("trend", {"pair": "BTCUSDT", "period": "1h", "window": "1"}, "window"),
        ("correlation", {"pairs": "BTCUSDT,ETHUSDT,SOLUSDT", "period": "1h"}, "pairs"),  # beyond the cap of 2
    ],
)
def test_bad_analytics_input_is_400_naming_the_parameter(client, mongo_db, settings, path, query, parameter):
    settings.ANALYTICS_CORRELATION_MAX_PAIRS = 2

    response = client.get(f"/analysis/{path}", query)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{parameter}:")
