"""Seasonality: hour-of-day (UTC) and weekday (0 = Monday) profiles of log return, volume and volatility.

Each bucket holds the mean log return, the mean volume, the volatility (sample standard deviation of the log
returns that fall in it) and how many bars it was measured on. Returns spanning a missing candle are NaN and do
not count.
"""

import numpy as np
import pandas as pd

from .volatility import log_returns


def seasonality_profiles(frame: pd.DataFrame) -> dict:
    bars = pd.DataFrame({"log_return": log_returns(frame["close"]), "volume": frame["volume"]}, index=frame.index)
    return {
        "hour_of_day": _profile(bars, bars.index.hour),
        "weekday": _profile(bars, bars.index.day_of_week),
    }


def _profile(bars: pd.DataFrame, keys) -> list[dict]:
    grouped = bars.groupby(keys)
    table = pd.DataFrame(
        {
            "mean_return": grouped["log_return"].mean(),
            "volatility": grouped["log_return"].std(ddof=1),
            "mean_volume": grouped["volume"].mean(),
            "bars": grouped["volume"].count(),
        }
    )
    rows = []
    for bucket, row in table.iterrows():
        rows.append(
            {
                "bucket": int(bucket),
                "mean_return": _number(row["mean_return"]),
                "volatility": _number(row["volatility"]),
                "mean_volume": _number(row["mean_volume"]),
                "bars": int(row["bars"]),
            }
        )
    return rows


def _number(value) -> float | None:
    return float(value) if np.isfinite(value) else None
