"""Correlation of log returns across pairs.

Returns are computed per pair on its own grid (a return spanning a missing candle is NaN), then joined on open
time keeping only the timestamps where every pair has a return (an inner join), so the Pearson matrix is symmetric
with ones on its diagonal and every coefficient uses the same observations.
"""

import numpy as np
import pandas as pd

from .volatility import log_returns


def aligned_returns(closes: dict[str, pd.Series]) -> pd.DataFrame:
    """One column of log returns per pair, rows only where all pairs have one."""
    returns = {pair: log_returns(close) for pair, close in closes.items()}
    return pd.concat(returns, axis=1, join="inner").dropna(how="any")


def correlation_matrix(returns: pd.DataFrame) -> pd.DataFrame:
    matrix = returns.corr(method="pearson")
    values = matrix.to_numpy(copy=True)
    np.fill_diagonal(values, 1.0)  # a constant series has NaN self-correlation in pandas; it is 1 by definition
    values = (values + values.T) / 2.0  # exact symmetry, whatever the floating-point order of the sums
    np.fill_diagonal(values, 1.0)
    return pd.DataFrame(values, index=matrix.index, columns=matrix.columns)


def rolling_correlation(returns: pd.Series, reference: pd.Series, window: int, min_periods: int | None = None):
    joined = pd.concat({"pair": returns, "reference": reference}, axis=1, join="inner")
    return joined["pair"].rolling(window, min_periods=min_periods).corr(joined["reference"])
