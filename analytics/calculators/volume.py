"""Volume: total, simple and exponential averages, taker delta and the spike ratio.

Delta is the taker buy volume minus the taker sell volume of each kline, where taker sell = volume - taker buy,
so delta = 2 * taker_buy - volume. The spike ratio compares the latest bar's volume with the window's SMA.
The EMA uses span = window (alpha = 2 / (window + 1)) and skips missing bars rather than treating them as zero.
"""

import pandas as pd


def taker_delta(frame: pd.DataFrame) -> pd.Series:
    taker_buy = frame["taker_buy_volume"]
    return taker_buy - (frame["volume"] - taker_buy)


def volume_frame(frame: pd.DataFrame, window: int, min_periods: int | None = None) -> pd.DataFrame:
    """Rolling volume metrics per bar."""
    volume = frame["volume"]
    sma = volume.rolling(window, min_periods=min_periods).mean()
    delta = taker_delta(frame)
    return pd.DataFrame(
        {
            "total": volume.rolling(window, min_periods=min_periods).sum(),
            "sma": sma,
            "ema": volume.ewm(span=window, min_periods=min_periods or window, ignore_na=True).mean(),
            "delta": delta,
            "delta_total": delta.rolling(window, min_periods=min_periods).sum(),
            "spike_ratio": volume / sma,
        },
        index=frame.index,
    )
