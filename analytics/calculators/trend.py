"""Trend: moving-average crossover, rate of change and a least-squares line through log price.

- Moving averages: fast window = max(2, window // 4), slow window = window. `bullish` when fast > slow; a cross on
  the latest bar is a `golden` (fast rises through slow) or `death` cross.
- Rate of change: C_last / C_first - 1 over the window's first and last present closes.
- The crossover reads the frame it is given (callers pass two windows, so a cross has history to be seen in).
- Regression: ln(close) against the bar's position on the grid (missing bars leave no point, not a shifted one);
  slope is per bar, R^2 the share of variance the line explains.
- Direction: `up` / `down` when R^2 >= 0.3 and the slope has that sign, otherwise `sideways`; strength = R^2.
"""

import numpy as np
import pandas as pd

MIN_R_SQUARED_FOR_TREND = 0.3
MA_METHODS = ("sma", "ema")


def fast_window(window: int) -> int:
    return max(2, window // 4)


def moving_average(close: pd.Series, window: int, method: str, min_periods: int | None = None) -> pd.Series:
    if method == "sma":
        return close.rolling(window, min_periods=min_periods).mean()
    if method == "ema":
        return close.ewm(span=window, min_periods=min_periods or window, ignore_na=True).mean()
    raise ValueError(f"unknown moving average {method!r}")


def crossover(close: pd.Series, window: int, method: str, min_periods: int | None = None) -> dict:
    fast = moving_average(close, fast_window(window), method, min_periods)
    slow = moving_average(close, window, method, min_periods)
    above = (fast - slow).dropna() > 0
    state = None if above.empty else ("bullish" if above.iloc[-1] else "bearish")
    changes = above.ne(above.shift()).to_numpy()[1:]
    cross = "none"
    bars_since_cross = None
    if changes.any():
        last_change = len(changes) - 1 - int(np.argmax(changes[::-1]))
        bars_since_cross = len(changes) - 1 - last_change
        if bars_since_cross == 0:
            cross = "golden" if above.iloc[-1] else "death"
    return {
        "fast": _last(fast),
        "slow": _last(slow),
        "fast_window": fast_window(window),
        "slow_window": window,
        "state": state,
        "cross": cross,
        "bars_since_cross": bars_since_cross,
    }


def rate_of_change(close: pd.Series) -> float | None:
    present = close.dropna()
    if len(present) < 2:
        return None
    return float(present.iloc[-1] / present.iloc[0] - 1.0)


def log_regression(close: pd.Series) -> dict:
    """Least squares of ln(close) on grid position; None values when fewer than 3 points."""
    position = np.arange(len(close), dtype=float)
    log_price = np.log(close.to_numpy(dtype=float))
    valid = np.isfinite(log_price)
    x, y = position[valid], log_price[valid]
    if len(x) < 3:
        return {"slope_per_bar": None, "intercept": None, "r_squared": None, "points": len(x)}
    x_centred, y_centred = x - x.mean(), y - y.mean()
    sxx, syy = float(x_centred @ x_centred), float(y_centred @ y_centred)
    slope = float(x_centred @ y_centred) / sxx
    r_squared = 1.0 if syy == 0 else (slope * slope * sxx) / syy
    return {
        "slope_per_bar": slope,
        "intercept": float(y.mean() - slope * x.mean()),
        "r_squared": float(r_squared),
        "points": len(x),
    }


def direction(slope: float | None, r_squared: float | None) -> str:
    if slope is None or r_squared is None or r_squared < MIN_R_SQUARED_FOR_TREND or slope == 0:
        return "sideways"
    return "up" if slope > 0 else "down"


def trend_summary(frame: pd.DataFrame, window: int, min_periods: int | None = None) -> dict:
    """The trend at the frame's last bar: crossovers read the whole frame (their history), the rate of change and
    the regression only the last `window` bars."""
    close = frame["close"]
    recent = close.iloc[-window:]
    regression = log_regression(recent)
    return {
        "sma": crossover(close, window, "sma", min_periods),
        "ema": crossover(close, window, "ema", min_periods),
        "rate_of_change": rate_of_change(recent),
        "regression": regression,
        "direction": direction(regression["slope_per_bar"], regression["r_squared"]),
        "strength": regression["r_squared"],
    }


def _last(series: pd.Series) -> float | None:
    present = series.dropna()
    return None if present.empty else float(present.iloc[-1])
