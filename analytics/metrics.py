"""Window summaries: which candles each metric reads and the values it stores for the window's last bar.

Each metric reads `lookback(window)` candles ending at the window's end: the window itself plus the warm-up its
rolling inputs need (the bar before the first return, the volatility-of-volatility's inner window, a second
window of moving-average history for crossovers). Coverage is measured over exactly those candles. Values at the
last bar need only two valid inputs (`MIN_PERIODS`): holes are then skipped, not bridged, and the coverage flag
says how far to trust the figure.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calculators import deviation, seasonality, trend, volatility, volume
from .calculators.regime import regime_summary

MIN_PERIODS = 2


@dataclass(frozen=True)
class CandleMetric:
    name: str
    lookback: Callable[[int], int]
    summarize: Callable[[pd.DataFrame, int, str, dict], dict]
    method: str | None = None


def last_row(frame: pd.DataFrame) -> dict:
    return {column: clean(value) for column, value in frame.iloc[-1].items()}


def clean(value):
    """JSON- and BSON-safe numbers: NaN and infinities become None, numpy scalars plain Python."""
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def volatility_values(frame: pd.DataFrame, window: int, interval: str, coverage: dict) -> dict:
    per_bar = last_row(volatility.volatility_frame(frame, window, MIN_PERIODS))
    factor = volatility.annualization(interval)["factor"]
    vov = per_bar.pop("vol_of_vol")
    return {
        "methods": {
            name: {"per_bar": value, "annualized": None if value is None else value * factor}
            for name, value in per_bar.items()
        },
        "vol_of_vol": {
            "per_bar": vov,
            "annualized": None if vov is None else vov * factor,
            "inner_window": volatility.inner_window(window),
        },
        "annualization": volatility.annualization(interval),
        "yang_zhang_convention": "textbook",
    }


def volume_values(frame: pd.DataFrame, window: int, interval: str, coverage: dict) -> dict:
    values = last_row(volume.volume_frame(frame, window, MIN_PERIODS))
    values["latest"] = clean(frame["volume"].iloc[-1])
    return values


def trend_values(frame: pd.DataFrame, window: int, interval: str, coverage: dict) -> dict:
    return clean(trend.trend_summary(frame, window, MIN_PERIODS))


def deviation_values(frame: pd.DataFrame, window: int, interval: str, coverage: dict) -> dict:
    values = last_row(deviation.deviation_frame(frame, window, MIN_PERIODS))
    values["bollinger_k"] = deviation.BOLLINGER_K
    return values


def seasonality_values(frame: pd.DataFrame, window: int, interval: str, coverage: dict) -> dict:
    return clean(seasonality.seasonality_profiles(frame))


def regime_values(frame: pd.DataFrame, window: int, interval: str, coverage: dict) -> dict:
    recent = frame.iloc[-(window + 1) :]
    per_bar = volatility.close_to_close(recent, window, MIN_PERIODS).iloc[-1]
    sma = recent["volume"].iloc[-window:].mean()
    summary = trend.trend_summary(frame, window, MIN_PERIODS)
    return regime_summary(
        annualized_volatility=clean(volatility.annualize(per_bar, interval)),
        spike_ratio=clean(recent["volume"].iloc[-1] / sma if sma else np.nan),
        rate_of_change=clean(summary["rate_of_change"]),
        coverage_fraction=coverage["fraction"],
        trend_fit=summary["direction"],
        r_squared=clean(summary["regression"]["r_squared"]),
    )


CANDLE_METRICS = {
    "volatility": CandleMetric("volatility", lambda w: w + volatility.inner_window(w), volatility_values, "all"),
    "volume": CandleMetric("volume", lambda w: w, volume_values),
    "trend": CandleMetric("trend", lambda w: 2 * w, trend_values, "all"),
    "deviation": CandleMetric("deviation", lambda w: w, deviation_values),
    "seasonality": CandleMetric("seasonality", lambda w: w, seasonality_values),
    "regime": CandleMetric("regime", lambda w: 2 * w, regime_values),
}
