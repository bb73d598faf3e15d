"""The market regime in the earlier version's vocabulary and rules, which the CIO service validates (CONTRACT.md).

Inputs, measured over the window: the annualised close-to-close volatility, the volume spike ratio (latest bar's
volume / the window's SMA) and the rate of change of the close (C_last / C_first - 1).
- volatility_level: high above 0.5 (50 % a year), low below 0.2, medium between;
- volume_level: high above 1.5, low below 0.7, medium between;
- trend_direction: bullish above +2 % rate of change, bearish below -2 %, neutral between (or unmeasured);
- regime: high vol + low volume -> turbulent_illiquidity; low + high -> stable_accumulation; high + high ->
  bullish_acceleration / bearish_acceleration when the trend says so, else breakout_phase (the earlier version
  tested breakout first and so never reached the two acceleration regimes); low + low -> consolidation;
  medium + medium -> balanced_market; any other mix -> transitional; `unknown` when volatility or volume could not
  be measured (levels are then reported as `medium`, never null, and `inputs` shows which one is missing).
- confidence: the earlier version's confidence of the regime times the window's coverage fraction, in [0, 1].
Our own reading of the trend (the log-price regression: direction up / down / sideways and its R^2) is kept beside
them as `trend_fit` and `r_squared`.
"""

REGIMES = (
    "turbulent_illiquidity",
    "stable_accumulation",
    "breakout_phase",
    "consolidation",
    "bullish_acceleration",
    "bearish_acceleration",
    "balanced_market",
    "transitional",
    "unknown",
)
LEVELS = ("low", "medium", "high")
TREND_DIRECTIONS = ("bullish", "bearish", "neutral")
VOLATILITY_LEVELS = (0.2, 0.5)
VOLUME_LEVELS = (0.7, 1.5)
RATE_OF_CHANGE_TREND = 0.02
REGIME_KEYS = ("regime", "volatility_level", "volume_level", "trend_direction", "confidence")
# The earlier version's confidence in each regime.
BASE_CONFIDENCE = {
    "turbulent_illiquidity": 0.8,
    "stable_accumulation": 0.85,
    "breakout_phase": 0.9,
    "consolidation": 0.75,
    "bullish_acceleration": 0.85,
    "bearish_acceleration": 0.85,
    "balanced_market": 0.7,
    "transitional": 0.6,
    "unknown": 0.0,
}


def level(value: float | None, thresholds: tuple[float, float]) -> str | None:
    """low below the first threshold, high above the second, medium between; None when unmeasured."""
    if value is None:
        return None
    low, high = thresholds
    if value < low:
        return "low"
    return "high" if value > high else "medium"


def trend_direction(rate_of_change: float | None) -> str:
    if rate_of_change is None:
        return "neutral"
    if rate_of_change > RATE_OF_CHANGE_TREND:
        return "bullish"
    return "bearish" if rate_of_change < -RATE_OF_CHANGE_TREND else "neutral"


def classify(volatility_level: str | None, volume_level: str | None, direction: str) -> str:
    if volatility_level is None or volume_level is None:
        return "unknown"
    levels = (volatility_level, volume_level)
    if levels == ("high", "high"):
        if direction == "bullish":
            return "bullish_acceleration"
        return "bearish_acceleration" if direction == "bearish" else "breakout_phase"
    return {
        ("high", "low"): "turbulent_illiquidity",
        ("low", "high"): "stable_accumulation",
        ("low", "low"): "consolidation",
        ("medium", "medium"): "balanced_market",
    }.get(levels, "transitional")


def regime_summary(
    *,
    annualized_volatility: float | None,
    spike_ratio: float | None,
    rate_of_change: float | None,
    coverage_fraction: float,
    trend_fit: str | None = None,
    r_squared: float | None = None,
) -> dict:
    volatility_level = level(annualized_volatility, VOLATILITY_LEVELS)
    volume_level = level(spike_ratio, VOLUME_LEVELS)
    direction = trend_direction(rate_of_change)
    regime = classify(volatility_level, volume_level, direction)
    return {
        "regime": regime,
        "volatility_level": volatility_level or "medium",
        "volume_level": volume_level or "medium",
        "trend_direction": direction,
        "confidence": round(max(0.0, min(1.0, BASE_CONFIDENCE[regime] * coverage_fraction)), 3),
        "inputs": {
            "annualized_volatility": annualized_volatility,
            "volume_spike_ratio": spike_ratio,
            "rate_of_change": rate_of_change,
        },
        "trend_fit": trend_fit,
        "r_squared": r_squared,
    }
