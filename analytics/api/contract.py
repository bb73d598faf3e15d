"""The earlier version's `data` objects of `/analysis/spread|deviation|seasonality`, built from our stored results.

Each function takes the `values` of one stored result and returns the object callers read (CONTRACT.md). Figures
we do not compute are null, as the earlier version sent them when it had none.
"""

import math


def _ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def spread_data(values: dict) -> dict | None:
    """From a spread result's latest bar: spread, spread in percent of the mid, depth within the band, bid/ask
    depth ratio, and the slippage of a market order crossing half the spread (percent)."""
    latest = values.get("latest") or {}
    if latest.get("spread") is None:
        return None
    percentage = _ratio(latest["spread"], latest.get("mid"))
    percentage = None if percentage is None else percentage * 100
    return {
        "bid_ask_spread": latest["spread"],
        "spread_percentage": percentage,
        "market_depth_bid": latest.get("bid_depth"),
        "market_depth_ask": latest.get("ask_depth"),
        "liquidity_ratio": _ratio(latest.get("bid_depth"), latest.get("ask_depth")),
        "slippage_estimate": None if percentage is None else percentage / 2,
        "spread_bps": latest.get("spread_bps"),
        "mid": latest.get("mid"),
    }


def deviation_data(values: dict) -> dict:
    """Bollinger's sigma (population) recovered from the upper band: (upper - mean) / k."""
    mean, upper, k = values.get("mean"), values.get("upper"), values.get("bollinger_k") or 2.0
    sigma = None if mean is None or upper is None else (upper - mean) / k
    return {
        "standard_deviation": sigma,
        "variance": None if sigma is None else sigma * sigma,
        "z_score": values.get("z_score"),
        "bollinger_upper": upper,
        "bollinger_lower": values.get("lower"),
        "price_range_index": values.get("percent_b"),
        "autocorrelation": None,
        "mean": mean,
        "bandwidth": values.get("bandwidth"),
    }


def _pattern(rows: list[dict], buckets: int) -> dict:
    by_bucket = {row["bucket"]: row.get("mean_return") for row in rows}
    return {str(bucket): by_bucket.get(bucket) for bucket in range(buckets)}


def _entropy(weights: list[float]) -> float | None:
    """Shannon entropy of the distribution, normalised to [0, 1] (1: spread evenly over the buckets)."""
    weights = [weight for weight in weights if weight and weight > 0]
    total = sum(weights)
    if len(weights) < 2 or not total:
        return None
    return -sum(w / total * math.log(w / total) for w in weights) / math.log(len(weights))


def seasonality_data(values: dict) -> dict:
    """Hour-of-day (0-23, UTC) and weekday (0 = Monday) mean log returns; the spread of the hourly means; the
    entropy of volume over the hours; the most volatile hour as the dominant cycle."""
    hours, days = values.get("hour_of_day") or [], values.get("weekday") or []
    hourly = [row["mean_return"] for row in hours if row.get("mean_return") is not None]
    mean = sum(hourly) / len(hourly) if hourly else None
    deviation = math.sqrt(sum((x - mean) ** 2 for x in hourly) / (len(hourly) - 1)) if len(hourly) > 1 else None
    volatile = [row for row in hours if row.get("volatility") is not None]
    return {
        "hourly_pattern": _pattern(hours, 24),
        "daily_pattern": _pattern(days, 7),
        "seasonal_deviation": deviation,
        "entropy_index": _entropy([row.get("mean_volume") for row in hours]),
        "dominant_cycle": max(volatile, key=lambda row: row["volatility"])["bucket"] if volatile else None,
    }
