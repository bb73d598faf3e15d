"""Each calculator on its own: published reference values and small cases worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from analytics.calculators import correlation, deviation, regime, seasonality, spread, trend, volatility, volume

from .factories import ohlc_frame

# Four bars, prices chosen so every log is easy to write down.
BARS = [(100, 104, 98, 102), (102, 105, 101, 101), (101, 103, 97, 99), (99, 100, 95, 96)]


@pytest.fixture(scope="module")
def dollar_bars(shared_data):
    path = shared_data / "volatility" / "mlfinlab_dollar_bar_sample.csv"
    return pd.read_csv(path, index_col="date_time", parse_dates=True)


@pytest.mark.shared_data
def test_parkinson_reproduces_the_published_mean(dollar_bars):
    series = volatility.parkinson(dollar_bars, 20)
    assert series.iloc[:19].isna().all()
    assert series.mean() == pytest.approx(0.00149997, abs=1e-6)


@pytest.mark.shared_data
def test_garman_klass_reproduces_the_published_mean(dollar_bars):
    assert volatility.garman_klass(dollar_bars, 20).mean() == pytest.approx(0.001482, abs=1e-6)


@pytest.mark.shared_data
def test_yang_zhang_mlfinlab_convention_reproduces_the_published_mean(dollar_bars):
    series = volatility.yang_zhang(dollar_bars, 20, convention="mlfinlab")
    assert series.iloc[:20].isna().all()  # the first bar has no previous close
    assert series.mean() == pytest.approx(0.00162001, abs=1e-6)


def test_close_to_close_is_the_sample_std_of_log_returns():
    frame = ohlc_frame(BARS)
    returns = [math.log(101 / 102), math.log(99 / 101), math.log(96 / 99)]
    mean = sum(returns) / 3
    expected = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert volatility.close_to_close(frame, 3).iloc[-1] == pytest.approx(expected, rel=1e-12)


def test_parkinson_and_garman_klass_by_hand():
    frame = ohlc_frame(BARS)
    ranges = [math.log(h / low) ** 2 for _, h, low, _ in BARS]
    bodies = [math.log(c / o) ** 2 for o, _, _, c in BARS]
    expected_parkinson = math.sqrt(sum(ranges) / 4 / (4 * math.log(2)))
    gk_terms = [0.5 * r - (2 * math.log(2) - 1) * b for r, b in zip(ranges, bodies, strict=True)]
    assert volatility.parkinson(frame, 4).iloc[-1] == pytest.approx(expected_parkinson, rel=1e-12)
    assert volatility.garman_klass(frame, 4).iloc[-1] == pytest.approx(math.sqrt(sum(gk_terms) / 4), rel=1e-12)


def test_rogers_satchell_and_textbook_yang_zhang_by_hand():
    frame = ohlc_frame(BARS)
    rs = [math.log(h / c) * math.log(h / o) + math.log(low / c) * math.log(low / o) for o, h, low, c in BARS]
    assert volatility.rogers_satchell(frame, 4).iloc[-1] == pytest.approx(math.sqrt(sum(rs) / 4), rel=1e-12)
    # Window 3 over bars 2-4: overnight legs ln(O_t / C_{t-1}), open-to-close legs ln(C_t / O_t).
    overnight = [math.log(BARS[i][0] / BARS[i - 1][3]) for i in (1, 2, 3)]
    body = [math.log(BARS[i][3] / BARS[i][0]) for i in (1, 2, 3)]

    def sample_var(values):
        m = sum(values) / len(values)
        return sum((v - m) ** 2 for v in values) / (len(values) - 1)

    k = 0.34 / (1.34 + 4 / 2)
    expected = math.sqrt(sample_var(overnight) + k * sample_var(body) + (1 - k) * sum(rs[1:]) / 3)
    assert volatility.yang_zhang(frame, 3).iloc[-1] == pytest.approx(expected, rel=1e-12)


def test_returns_across_a_missing_candle_are_not_computed():
    frame = ohlc_frame(BARS)
    frame.iloc[1] = np.nan  # a hole on the grid
    returns = volatility.log_returns(frame["close"])
    assert returns.isna().tolist() == [True, True, True, False]
    assert returns.iloc[3] == pytest.approx(math.log(96 / 99))


def test_annualisation_uses_365_days_around_the_clock():
    assert volatility.periods_per_year("1h") == 365 * 24
    assert volatility.periods_per_year("1m") == 525_600
    info = volatility.annualization("1d")
    assert info["periods_per_year"] == 365
    assert info["basis"] == "365 days, 24/7"
    assert volatility.annualize(0.01, "1d") == pytest.approx(0.01 * math.sqrt(365))


def test_volume_metrics_by_hand():
    rows = [(1, 1, 1, 1, 10, 6), (1, 1, 1, 1, 20, 5), (1, 1, 1, 1, 30, 20), (1, 1, 1, 1, 60, 40)]
    metrics = volume.volume_frame(ohlc_frame(rows), 3).iloc[-1]
    assert metrics["total"] == 110
    assert metrics["sma"] == pytest.approx(110 / 3)
    # delta = buy - (volume - buy): 40 - 20 = 20 on the last bar; 20*2-30=10, 5*2-20=-10 before it.
    assert metrics["delta"] == 20
    assert metrics["delta_total"] == -10 + 10 + 20
    assert metrics["spike_ratio"] == pytest.approx(60 / (110 / 3))
    alpha = 2 / 4  # span 3
    weights = [(1 - alpha) ** 3, (1 - alpha) ** 2, (1 - alpha), 1]
    expected_ema = sum(w * v for w, v in zip(weights, [10, 20, 30, 60], strict=True)) / sum(weights)
    assert metrics["ema"] == pytest.approx(expected_ema)


def test_regression_slope_and_fit_on_log_price():
    closes = [100 * math.exp(0.01 * i) for i in range(6)]  # a perfect exponential trend
    fit = trend.log_regression(pd.Series(closes))
    assert fit["slope_per_bar"] == pytest.approx(0.01)
    assert fit["r_squared"] == pytest.approx(1.0)
    assert trend.direction(fit["slope_per_bar"], fit["r_squared"]) == "up"


def test_regression_keeps_grid_positions_across_a_hole():
    closes = pd.Series([math.exp(0.02 * i) for i in range(6)])
    closes.iloc[2] = np.nan
    fit = trend.log_regression(closes)
    assert fit["points"] == 5
    assert fit["slope_per_bar"] == pytest.approx(0.02)  # not 0.025, which a compacted series would give


def test_noisy_series_is_sideways():
    fit = trend.log_regression(pd.Series([100.0, 103.0, 99.0, 102.0, 100.0, 101.0]))
    assert fit["r_squared"] < 0.3
    assert trend.direction(fit["slope_per_bar"], fit["r_squared"]) == "sideways"


def test_crossover_and_rate_of_change():
    closes = pd.Series([10.0, 10.0, 10.0, 10.0, 9.0, 9.0, 9.0, 12.0])
    sma = trend.crossover(closes, 4, "sma")
    # fast window 2: (9 + 12) / 2 = 10.5; slow window 4: (9 + 9 + 9 + 12) / 4 = 9.75; on the bar before fast 9 < 9.25.
    assert sma["fast"] == pytest.approx(10.5)
    assert sma["slow"] == pytest.approx(9.75)
    assert (sma["state"], sma["cross"], sma["bars_since_cross"]) == ("bullish", "golden", 0)
    assert trend.rate_of_change(pd.Series([100.0, np.nan, 110.0])) == pytest.approx(0.10)


def test_z_score_and_bollinger_by_hand():
    closes = [(c, c, c, c) for c in (1.0, 2.0, 3.0, 6.0)]
    row = deviation.deviation_frame(ohlc_frame(closes), 4).iloc[-1]
    mean = 3.0
    population_sd = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + (6 - 3) ** 2) / 4)
    sample_sd = math.sqrt(14 / 3)
    assert row["z_score"] == pytest.approx((6 - mean) / sample_sd)
    upper, lower = mean + 2 * population_sd, mean - 2 * population_sd
    assert (row["upper"], row["lower"]) == (pytest.approx(upper), pytest.approx(lower))
    assert row["percent_b"] == pytest.approx((6 - lower) / (upper - lower))


def test_seasonality_profiles_by_hour_and_weekday():
    frame = ohlc_frame([(c, c, c, c, v, v / 2) for c, v in ((100, 1), (110, 2), (99, 3), (108.9, 4))], minutes=60)
    profiles = seasonality.seasonality_profiles(frame)
    hours = {row["bucket"]: row for row in profiles["hour_of_day"]}
    assert sorted(hours) == [0, 1, 2, 3]
    assert hours[0]["mean_return"] is None  # no previous bar
    assert hours[1]["mean_return"] == pytest.approx(math.log(1.1))
    assert hours[3]["mean_volume"] == 4
    weekday = profiles["weekday"]
    assert [row["bucket"] for row in weekday] == [0]  # 2024-01-01 was a Monday
    returns = [math.log(1.1), math.log(0.9), math.log(1.1)]
    assert weekday[0]["mean_return"] == pytest.approx(sum(returns) / 3)
    mean = sum(returns) / 3
    assert weekday[0]["volatility"] == pytest.approx(math.sqrt(sum((r - mean) ** 2 for r in returns) / 2))


def test_correlation_uses_only_timestamps_every_pair_shares():
    index = pd.date_range("2024-01-01", periods=6, freq="h")
    btc = pd.Series([100, 101, 103, 102, 104, 107], index=index, dtype=float)
    eth = pd.Series([10, 10.2, np.nan, 10.1, 10.5, 10.6], index=index, dtype=float)
    returns = correlation.aligned_returns({"BTCUSDT": btc, "ETHUSDT": eth})
    assert list(returns.index) == [index[1], index[4], index[5]]  # returns into or out of the hole are dropped
    matrix = correlation.correlation_matrix(returns)
    assert np.allclose(matrix.to_numpy(), matrix.to_numpy().T)
    assert np.diag(matrix.to_numpy()).tolist() == [1.0, 1.0]
    assert matrix.loc["BTCUSDT", "ETHUSDT"] == pytest.approx(np.corrcoef(returns["BTCUSDT"], returns["ETHUSDT"])[0, 1])


def test_book_spread_and_depth_within_the_band():
    bids = [["100.00", "1.0"], ["99.95", "2.0"], ["99.00", "5.0"], ["100.01", "0"]]
    asks = [["100.10", "1.5"], ["100.20", "3.0"]]
    book = spread.book_metrics(bids, asks, band_bps=10)
    assert (book["best_bid"], book["best_ask"]) == (100.0, 100.1)
    assert book["mid"] == pytest.approx(100.05)
    assert book["spread_bps"] == pytest.approx(0.1 / 100.05 * 10_000)
    # band = 100.05 * 0.001 = 0.10005: bids >= 99.94995 and asks <= 100.15005.
    assert book["bid_depth"] == 3.0
    assert book["ask_depth"] == 1.5
    assert book["bid_depth_notional"] == pytest.approx(100.0 + 2 * 99.95)


def test_diff_replay_keeps_the_latest_quantity_per_level():
    updates = [
        {"bids": [["100", "1"], ["99", "2"]], "asks": [["101", "1"]]},
        {"bids": [["100", "0"]], "asks": [["100.5", "3"]]},
    ]
    bids, asks = spread.replay_diffs(updates)
    book = spread.book_metrics(bids, asks)
    assert (book["best_bid"], book["best_ask"]) == (99.0, 100.5)


def test_a_crossed_book_has_no_spread():
    book = spread.book_metrics([["101", "1"]], [["100", "1"]])
    assert book["crossed"] is True
    assert book["spread"] is None


@pytest.mark.parametrize(
    ("volatility", "spike", "change", "expected"),
    [
        (0.6, 0.5, 0.0, "turbulent_illiquidity"),
        (0.1, 2.0, 0.0, "stable_accumulation"),
        (0.6, 2.0, 0.0, "breakout_phase"),
        (0.6, 2.0, 0.05, "bullish_acceleration"),
        (0.6, 2.0, -0.05, "bearish_acceleration"),
        (0.1, 0.5, 0.0, "consolidation"),
        (0.3, 1.0, 0.0, "balanced_market"),
        (0.3, 2.0, 0.0, "transitional"),
        (None, 1.0, 0.0, "unknown"),
        (0.3, None, 0.0, "unknown"),
    ],
)
def test_regime_rules_are_the_earlier_versions_with_acceleration_reachable(volatility, spike, change, expected):
    summary = regime.regime_summary(
        annualized_volatility=volatility, spike_ratio=spike, rate_of_change=change, coverage_fraction=1.0
    )
    assert summary["regime"] == expected
    assert summary["regime"] in regime.REGIMES
    assert summary["volatility_level"] in regime.LEVELS and summary["volume_level"] in regime.LEVELS
    assert 0 <= summary["confidence"] <= 1


def test_regime_levels_trend_and_confidence():
    summary = regime.regime_summary(
        annualized_volatility=0.9, spike_ratio=2.0, rate_of_change=0.021, coverage_fraction=0.5, trend_fit="up"
    )
    assert {key: summary[key] for key in regime.REGIME_KEYS} == {
        "regime": "bullish_acceleration",
        "volatility_level": "high",
        "volume_level": "high",
        "trend_direction": "bullish",
        "confidence": 0.425,
    }
    assert summary["trend_fit"] == "up"
    # Thresholds are strict, as in the earlier version: exactly 0.5 / 1.5 / 2 % are medium / neutral.
    edge = regime.regime_summary(annualized_volatility=0.5, spike_ratio=1.5, rate_of_change=0.02, coverage_fraction=1)
    assert (edge["volatility_level"], edge["volume_level"], edge["trend_direction"]) == ("medium", "medium", "neutral")
    missing = regime.regime_summary(
        annualized_volatility=None, spike_ratio=None, rate_of_change=None, coverage_fraction=1
    )
    assert (missing["regime"], missing["volatility_level"], missing["confidence"]) == ("unknown", "medium", 0.0)
    assert missing["inputs"]["annualized_volatility"] is None
