"""Candle and depth rows in the stored shape (ingestion.documents), and frames for the calculators."""

from datetime import UTC, datetime, timedelta

import pandas as pd
from bson import Decimal128

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def ohlc_frame(rows: list[tuple], start: datetime = T0, minutes: int = 1) -> pd.DataFrame:
    """(open, high, low, close[, volume, taker_buy_volume]) tuples as a calculator frame."""
    columns = ["open", "high", "low", "close", "volume", "taker_buy_volume"]
    padded = [tuple(row) + (1.0, 0.5)[len(row) - 4 :] if len(row) < 6 else row for row in rows]
    index = pd.date_range(start, periods=len(rows), freq=f"{minutes}min", name="open_time")
    return pd.DataFrame(padded, columns=columns, index=index, dtype=float)


def candle_row(symbol: str, interval: str, open_time: datetime, close: float, *, step: timedelta, **prices) -> dict:
    open_ = prices.get("open", close)
    high = prices.get("high", max(open_, close) * 1.001)
    low = prices.get("low", min(open_, close) * 0.999)
    volume = prices.get("volume", 10.0)
    return {
        "symbol": symbol,
        "interval": interval,
        "open_time": open_time,
        "close_time": open_time + step - timedelta(milliseconds=1),
        "open": Decimal128(f"{open_:.8f}"),
        "high": Decimal128(f"{high:.8f}"),
        "low": Decimal128(f"{low:.8f}"),
        "close": Decimal128(f"{close:.8f}"),
        "volume": Decimal128(f"{volume:.8f}"),
        "taker_buy_volume": Decimal128(f"{prices.get('taker_buy_volume', volume * 0.6):.8f}"),
        "closed": True,
        "event_time": open_time + step,
        "source": "stream",
        "ingested_at": open_time + step,
    }
