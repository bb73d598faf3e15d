"""Time to compute every volatility and volume metric over a year of 1m candles (525,600 bars).

The candles are generated in memory (a geometric random walk with consistent OHLC and taker volume); generating
them is not timed. With MONGODB_URL reachable and --mongo, also times loading them back from the store (the
embedded server in `make bench` is a Python server: expect that figure to be far slower than production MongoDB).

    .venv/bin/python bench/analytics.py [--bars 525600] [--window 20] [--mongo]
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from figures import record  # bench/ is on sys.path when a bench script runs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petrosa_dm.settings")


def synthetic_candles(bars: int, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    log_close = np.log(40_000.0) + np.cumsum(rng.normal(0.0, 0.0008, bars))
    close = np.exp(log_close)
    open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0.0, 0.0001, bars))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.0004, bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.0004, bars)))
    volume = rng.lognormal(3.0, 0.6, bars)
    taker_buy = volume * rng.uniform(0.3, 0.7, bars)
    index = pd.date_range("2023-01-01", periods=bars, freq="1min", tz="UTC", name="open_time")
    columns = {"open": open_, "high": high, "low": low, "close": close, "volume": volume, "taker_buy_volume": taker_buy}
    return pd.DataFrame(columns, index=index)


def time_compute(frame: pd.DataFrame, window: int, repeats: int = 3) -> tuple[float, float]:
    from analytics.calculators import volatility, volume

    best_volatility = best_volume = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        per_bar = volatility.volatility_frame(frame, window)
        volatility.annualize(per_bar, "1m")
        yang_zhang_mlfinlab = volatility.yang_zhang(frame, window, convention="mlfinlab")
        middle = time.perf_counter()
        volume.volume_frame(frame, window)
        end = time.perf_counter()
        best_volatility, best_volume = min(best_volatility, middle - start), min(best_volume, end - middle)
    assert per_bar.notna().sum().min() > 0 and yang_zhang_mlfinlab.notna().any()
    return best_volatility, best_volume


def time_mongo_load(frame: pd.DataFrame) -> float:
    import django

    django.setup()
    from bson import Decimal128

    from analytics import selectors
    from ingestion import store
    from petrosa_dm import mongo
    from petrosa_dm.market.naming import series

    ref = series("candles", "BENCHUSDT", interval="1m")
    mongo.database().drop_collection(ref.collection)
    step = pd.Timedelta(minutes=1)
    rows = [
        {
            "symbol": "BENCHUSDT",
            "interval": "1m",
            "open_time": open_time.to_pydatetime(),
            "close_time": (open_time + step - pd.Timedelta(milliseconds=1)).to_pydatetime(),
            **{column: Decimal128(f"{row[column]:.8f}") for column in frame.columns},
            "closed": True,
            "event_time": (open_time + step).to_pydatetime(),
            "source": "rest",
            "ingested_at": (open_time + step).to_pydatetime(),
        }
        for open_time, row in frame.iterrows()
    ]
    for offset in range(0, len(rows), 10_000):
        store.write_rows(ref, rows[offset : offset + 10_000])
    end = (frame.index[-1] + step).to_pydatetime()
    start = time.perf_counter()
    loaded = selectors.candle_window_load(ref=ref, end=end, bars=len(frame), now=end)
    elapsed = time.perf_counter() - start
    mongo.database().drop_collection(ref.collection)
    assert loaded["close"].notna().all()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--mongo", action="store_true", help="also time loading the candles from MongoDB")
    parser.add_argument("--mongo-bars", type=int, default=20_000, help="candles written for the load timing")
    options = parser.parse_args()
    frame = synthetic_candles(options.bars)
    import django

    django.setup()
    volatility_seconds, volume_seconds = time_compute(frame, options.window)
    total = volatility_seconds + volume_seconds
    print(f"analytics compute: {options.bars:,} 1m candles, window {options.window}")
    print(f"  volatility (5 estimators + vol of vol + annualised + YZ mlfinlab): {volatility_seconds:.3f} s")
    print(f"  volume (total, SMA, EMA, delta, delta total, spike ratio):        {volume_seconds:.3f} s")
    record("analytics: volatility + volume over 525,600 1m candles", total, 1.0, "s", better="lower")
    if options.mongo:
        subset = frame.iloc[: options.mongo_bars]
        seconds = time_mongo_load(subset)
        rate = len(subset) / seconds
        print(f"  load from MongoDB (not part of compute): {len(subset):,} candles in {seconds:.3f} s ({rate:,.0f}/s)")


if __name__ == "__main__":
    main()
