"""The market regime: a five-key summary of volatility, volume and trend (DESIGN section 9's contract).

Thresholds:
- volatility_level from the annualised close-to-close volatility: low below 0.40 (40 %), high above 0.80,
  medium between (crypto-scale levels; the same for every timeframe, since annualising puts them on one scale).
- volume_level from the spike ratio (latest bar's volume / the window's SMA): low below 0.75, high above 1.5.
- trend_direction from the log-price regression: up / down when R^2 >= 0.3 and the slope has that sign, else
  sideways.
- regime: `trending_up` / `trending_down` when there is a direction; otherwise `volatile` when volatility is high,
  `quiet` when volatility and volume are both low, `ranging` else.
- confidence in [0, 1]: the coverage fraction times how clearly the fit says what the regime says (R^2 for a
  trending regime, 1 - R^2 for the others), rounded to 3 places.
"""

VOLATILITY_LEVELS = (0.40, 0.80)
VOLUME_LEVELS = (0.75, 1.5)
REGIME_KEYS = ("regime", "volatility_level", "volume_level", "trend_direction", "confidence")


def level(value: float | None, thresholds: tuple[float, float]) -> str | None:
    if value is None:
        return None
    low, high = thresholds
    if value < low:
        return "low"
    return "high" if value > high else "medium"


def regime_summary(
    *,
    annualized_volatility: float | None,
    spike_ratio: float | None,
    trend_direction: str,
    r_squared: float | None,
    coverage_fraction: float,
) -> dict:
    volatility_level = level(annualized_volatility, VOLATILITY_LEVELS)
    volume_level = level(spike_ratio, VOLUME_LEVELS)
    if trend_direction in ("up", "down"):
        regime, clarity = f"trending_{trend_direction}", r_squared or 0.0
    else:
        clarity = 1.0 - (r_squared or 0.0)
        if volatility_level == "high":
            regime = "volatile"
        elif volatility_level == "low" and volume_level == "low":
            regime = "quiet"
        else:
            regime = "ranging"
    return {
        "regime": regime,
        "volatility_level": volatility_level,
        "volume_level": volume_level,
        "trend_direction": trend_direction,
        "confidence": round(max(0.0, min(1.0, coverage_fraction * clarity)), 3),
    }
