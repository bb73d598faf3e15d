"""The `values` series of `/analysis/volatility|volume|trend` (CONTRACT.md): the metric's rolling values at each of
the latest bars (at most 10, latest first), computed on demand from the stored candles for the requested window.

Each entry is the metric over the `window` bars ending at that bar (`timestamp` is the bar's open time). The
earlier version's keys come first; ours follow. An entry whose headline value cannot be measured (fewer than two
candles in its window) is left out, so every number the callers `float()` is present.
"""

from datetime import datetime

import numpy as np
import pandas as pd

from petrosa_dm.market.naming import DataType, series

from . import selectors
from .calculators import trend, volatility, volume
from .coverage import coverage_measure
from .metrics import MIN_PERIODS, clean

MAX_ENTRIES = 10


def _weighted_moving_average(close: pd.Series, window: int) -> pd.Series:
    weights = np.arange(1, window + 1, dtype=float)

    def weighted(values: np.ndarray) -> float:
        present = np.isfinite(values)
        if present.sum() < MIN_PERIODS:
            return np.nan
        return float(
            (values[present] * weights[-len(values) :][present]).sum() / weights[-len(values) :][present].sum()
        )

    return close.rolling(window, min_periods=MIN_PERIODS).apply(weighted, raw=True)


def volatility_columns(frame: pd.DataFrame, window: int, interval: str) -> pd.DataFrame:
    per_bar = volatility.volatility_frame(frame, window, MIN_PERIODS)
    factor = volatility.annualization(interval)["factor"]
    return pd.DataFrame(
        {
            "rolling_stddev": per_bar["close_to_close"],
            "annualized": per_bar["close_to_close"] * factor,
            "parkinson": per_bar["parkinson"],
            "garman_klass": per_bar["garman_klass"],
            "vov": per_bar["vol_of_vol"],
            "rogers_satchell": per_bar["rogers_satchell"],
            "yang_zhang": per_bar["yang_zhang"],
            "annualization_factor": factor,
        }
    )


def volume_columns(frame: pd.DataFrame, window: int, interval: str) -> pd.DataFrame:
    metrics = volume.volume_frame(frame, window, MIN_PERIODS)
    return pd.DataFrame(
        {
            "total_volume": metrics["total"],
            "volume_sma": metrics["sma"],
            "volume_ema": metrics["ema"],
            "volume_delta": metrics["delta_total"],
            "volume_spike_ratio": metrics["spike_ratio"],
            "bar_volume": frame["volume"],
            "bar_delta": metrics["delta"],
        }
    )


def trend_columns(frame: pd.DataFrame, window: int, interval: str) -> pd.DataFrame:
    close = frame["close"]
    fast = trend.moving_average(close, trend.fast_window(window), "sma", MIN_PERIODS)
    slow = trend.moving_average(close, window, "sma", MIN_PERIODS)
    up_bars = (close > frame["open"]).where(close.notna() & frame["open"].notna())
    crossover = pd.Series(np.where(fast > slow, "bullish", "bearish"), index=frame.index).where(
        fast.notna() & slow.notna()
    )
    return pd.DataFrame(
        {
            "sma": slow,
            "ema": trend.moving_average(close, window, "ema", MIN_PERIODS),
            "wma": _weighted_moving_average(close, window),
            # Percent over the window, as the earlier version reported it.
            "rate_of_change": (close / close.shift(window - 1) - 1.0) * 100.0,
            # Percent of bars that closed above their open.
            "directional_strength": up_bars.astype(float).rolling(window, min_periods=MIN_PERIODS).mean() * 100.0,
            "crossover_signal": crossover,
            "fast_sma": fast,
        }
    )


COLUMNS = {"volatility": volatility_columns, "volume": volume_columns, "trend": trend_columns}
# Entries without these are left out (the callers float() them).
REQUIRED = {
    "volatility": ("rolling_stddev", "annualized"),
    "volume": ("total_volume", "volume_sma", "volume_ema", "volume_spike_ratio"),
    "trend": ("sma", "ema", "wma", "rate_of_change", "directional_strength", "crossover_signal"),
}


def _lookback(metric: str, window: int) -> int:
    warm_up = volatility.inner_window(window) if metric == "volatility" else 1
    return window + warm_up + MAX_ENTRIES - 1


def metric_series(*, metric: str, symbol: str, interval: str, window: int, now: datetime) -> dict:
    """{"values": latest-first entries, "coverage": of the candles read, "as_of": window end or None}."""
    ref = series(DataType.CANDLES, symbol, interval=interval)
    end = selectors.candle_window_end(ref=ref, now=now)
    if end is None:
        return {"values": [], "coverage": None, "as_of": None, "collection": ref.collection}
    frame = selectors.candle_window_load(ref=ref, end=end, bars=_lookback(metric, window), now=now)
    columns = COLUMNS[metric](frame, window, interval)
    latest = columns.iloc[-MAX_ENTRIES:].iloc[::-1]
    latest = latest.dropna(subset=list(REQUIRED[metric]))
    values = []
    for moment, row in latest.iterrows():
        entry = {"timestamp": moment.to_pydatetime()}
        entry.update({key: clean(value) if not isinstance(value, str) else value for key, value in row.items()})
        values.append(entry)
    window_frame = frame.iloc[-window:]
    coverage = coverage_measure(dataset_id=ref.collection, interval=interval, present=window_frame["close"].notna())
    coverage = {key: value for key, value in coverage.items() if key != "gaps"}
    # Only a window whose first bar is missing can start before the history (one more indexed lookup then).
    first_missing = not bool(window_frame["close"].notna().iloc[0])
    coverage["window_longer_than_history"] = first_missing and not selectors.candle_exists_before(
        ref=ref, moment=window_frame.index[0].to_pydatetime()
    )
    return {"values": values, "coverage": coverage, "as_of": end, "collection": ref.collection}
