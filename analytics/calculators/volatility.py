"""Volatility estimators, per bar (not annualised) unless a function says otherwise.

Conventions (those of mlfinlab, whose published figures the tests reproduce):
- close-to-close: sample standard deviation (ddof 1) of log returns ln(C_t / C_{t-1});
- Parkinson: sqrt(mean(ln(H/L)^2) / (4 ln 2));
- Garman-Klass: sqrt(mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2));
- Rogers-Satchell: sqrt(mean(ln(H/C) ln(H/O) + ln(L/C) ln(L/O)));
- Yang-Zhang: sigma_o^2 + k sigma_c^2 + (1 - k) sigma_rs^2 with k = 0.34 / (1.34 + (n + 1) / (n - 1)).
  `textbook` (the default): sigma_o^2 the sample variance of ln(O_t / C_{t-1}), sigma_c^2 that of ln(C_t / O_t),
  sigma_rs^2 the Rogers-Satchell mean. `mlfinlab`: zero-mean sums divided by n - 1, and the close leg taken as
  ln(C_t / O_{t-1}); this is the variant behind the published 0.00162001 on the dollar-bar sample.
- volatility of volatility: sample standard deviation, over the window, of the close-to-close volatility measured
  on a shorter inner window.
A rolling value needs `min_periods` valid inputs in its window (default: the whole window, so results are NaN-padded).
"""

import math

import numpy as np
import pandas as pd

from petrosa_dm.market.intervals import INTERVAL_MS, MONTHLY

METHODS = ("close_to_close", "parkinson", "garman_klass", "rogers_satchell", "yang_zhang")
DAYS_PER_YEAR = 365  # crypto trades around the clock, every day of the year
_LN2 = math.log(2.0)


def log_returns(close: pd.Series) -> pd.Series:
    """ln(C_t / C_{t-1}); NaN wherever either candle is missing."""
    return np.log(close / close.shift(1))


def close_to_close(frame: pd.DataFrame, window: int, min_periods: int | None = None) -> pd.Series:
    return log_returns(frame["close"]).rolling(window, min_periods=min_periods).std(ddof=1)


def parkinson(frame: pd.DataFrame, window: int, min_periods: int | None = None) -> pd.Series:
    squared_range = np.log(frame["high"] / frame["low"]) ** 2
    return np.sqrt(squared_range.rolling(window, min_periods=min_periods).mean() / (4.0 * _LN2))


def garman_klass(frame: pd.DataFrame, window: int, min_periods: int | None = None) -> pd.Series:
    log_range = np.log(frame["high"] / frame["low"])
    log_body = np.log(frame["close"] / frame["open"])
    estimator = 0.5 * log_range**2 - (2.0 * _LN2 - 1.0) * log_body**2
    return np.sqrt(estimator.rolling(window, min_periods=min_periods).mean())


def _rogers_satchell_terms(frame: pd.DataFrame) -> pd.Series:
    high, low, open_, close = frame["high"], frame["low"], frame["open"], frame["close"]
    return np.log(high / close) * np.log(high / open_) + np.log(low / close) * np.log(low / open_)


def rogers_satchell(frame: pd.DataFrame, window: int, min_periods: int | None = None) -> pd.Series:
    return np.sqrt(_rogers_satchell_terms(frame).rolling(window, min_periods=min_periods).mean())


def yang_zhang_k(window: int) -> float:
    return 0.34 / (1.34 + (window + 1) / (window - 1))


def yang_zhang(
    frame: pd.DataFrame, window: int, min_periods: int | None = None, *, convention: str = "textbook"
) -> pd.Series:
    k = yang_zhang_k(window)
    open_, close = frame["open"], frame["close"]
    overnight = np.log(open_ / close.shift(1))
    rs_terms = _rogers_satchell_terms(frame)
    if convention == "mlfinlab":
        close_leg = np.log(close / open_.shift(1))
        sigma_open = (overnight**2).rolling(window, min_periods=min_periods).sum() / (window - 1)
        sigma_close = (close_leg**2).rolling(window, min_periods=min_periods).sum() / (window - 1)
        sigma_rs = rs_terms.rolling(window, min_periods=min_periods).sum() / (window - 1)
    elif convention == "textbook":
        sigma_open = overnight.rolling(window, min_periods=min_periods).var(ddof=1)
        sigma_close = np.log(close / open_).rolling(window, min_periods=min_periods).var(ddof=1)
        sigma_rs = rs_terms.rolling(window, min_periods=min_periods).mean()
    else:
        raise ValueError(f"unknown Yang-Zhang convention {convention!r}")
    return np.sqrt(sigma_open + k * sigma_close + (1.0 - k) * sigma_rs)


ESTIMATORS = {
    "close_to_close": close_to_close,
    "parkinson": parkinson,
    "garman_klass": garman_klass,
    "rogers_satchell": rogers_satchell,
    "yang_zhang": yang_zhang,
}


def inner_window(window: int) -> int:
    """The window the volatility-of-volatility's underlying volatility is measured on."""
    return max(2, window // 4)


def vol_of_vol(frame: pd.DataFrame, window: int, min_periods: int | None = None) -> pd.Series:
    inner = inner_window(window)
    volatility = close_to_close(frame, inner, min_periods=None if min_periods is None else min(inner, min_periods))
    return volatility.rolling(window, min_periods=min_periods).std(ddof=1)


def periods_per_year(interval: str) -> float:
    """Bars a year for a market open 24/7 (a `1M` bar is a calendar month: 12 a year)."""
    if interval == MONTHLY:
        return 12.0
    return DAYS_PER_YEAR * 86_400_000 / INTERVAL_MS[interval]


def annualization(interval: str) -> dict:
    periods = periods_per_year(interval)
    return {"periods_per_year": periods, "factor": math.sqrt(periods), "basis": f"{DAYS_PER_YEAR} days, 24/7"}


def volatility_frame(frame: pd.DataFrame, window: int, min_periods: int | None = None) -> pd.DataFrame:
    """Every estimator plus volatility of volatility, per bar, as rolling columns."""
    columns = {name: estimator(frame, window, min_periods) for name, estimator in ESTIMATORS.items()}
    columns["vol_of_vol"] = vol_of_vol(frame, window, min_periods)
    return pd.DataFrame(columns, index=frame.index)


def annualize(per_bar, interval: str):
    """Volatility scales with the square root of time: multiply by sqrt(periods per year)."""
    return per_bar * math.sqrt(periods_per_year(interval))
