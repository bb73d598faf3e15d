"""Deviation from the mean: z-score and Bollinger bands.

- z-score: (C - SMA_n) / s_n with s_n the sample standard deviation (ddof 1) of the window's closes.
- Bollinger bands: SMA_n +- k sigma_n with sigma_n the population standard deviation (ddof 0, Bollinger's own
  definition) and k = 2; %b = (C - lower) / (upper - lower); bandwidth = (upper - lower) / SMA_n.
"""

import pandas as pd

BOLLINGER_K = 2.0


def deviation_frame(frame: pd.DataFrame, window: int, min_periods: int | None = None, k: float = BOLLINGER_K):
    close = frame["close"]
    rolling = close.rolling(window, min_periods=min_periods)
    mean = rolling.mean()
    sigma = rolling.std(ddof=0)
    upper, lower = mean + k * sigma, mean - k * sigma
    width = upper - lower
    return pd.DataFrame(
        {
            "close": close,
            "mean": mean,
            "z_score": (close - mean) / rolling.std(ddof=1),
            "upper": upper,
            "lower": lower,
            "percent_b": (close - lower) / width.where(width != 0),
            "bandwidth": width / mean,
        },
        index=frame.index,
    )
