"""Response shapes of the analytics API, for the OpenAPI schema (views build plain dicts of these shapes)."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from ..calculators.regime import LEVELS, REGIMES, TREND_DIRECTIONS


class AnalyticsResultSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(help_text="Exclusive end of the window: the open time after its last bar.")
    timeframe = serializers.CharField()
    window = serializers.IntegerField(help_text="Window length in bars.")
    values = serializers.JSONField(help_text="The metric's figures (see the README's Analytics section).")
    coverage = serializers.JSONField(
        help_text="rows_present, rows_expected, fraction, threshold, gap_count and the gaps inside the window."
    )
    reliable = serializers.BooleanField(help_text="False when coverage is below ANALYTICS_MIN_COVERAGE.")
    computed_at = serializers.DateTimeField()


def _number(help_text: str = "", **kwargs) -> serializers.FloatField:
    return serializers.FloatField(help_text=help_text, **kwargs)


VALUE_FIELDS = {
    "volatility": {
        "rolling_stddev": _number("Per-bar close-to-close volatility (sample std of log returns)."),
        "annualized": _number("rolling_stddev annualised (365 days, 24/7)."),
        "parkinson": _number(allow_null=True),
        "garman_klass": _number(allow_null=True),
        "vov": _number("Volatility of volatility.", allow_null=True),
        "rogers_satchell": _number(allow_null=True),
        "yang_zhang": _number(allow_null=True),
        "annualization_factor": _number(),
    },
    "volume": {
        "total_volume": _number(),
        "volume_sma": _number(),
        "volume_ema": _number(),
        "volume_delta": _number("Taker buy - taker sell volume over the window.", allow_null=True),
        "volume_spike_ratio": _number("The bar's volume / the window's SMA."),
        "bar_volume": _number(allow_null=True),
        "bar_delta": _number(allow_null=True),
    },
    "trend": {
        "sma": _number(),
        "ema": _number(),
        "wma": _number(),
        "rate_of_change": _number("Percent change of the close over the window."),
        "directional_strength": _number("Percent of bars in the window closing above their open."),
        "crossover_signal": serializers.ChoiceField(choices=["bullish", "bearish"]),
        "fast_sma": _number(allow_null=True),
    },
}


def metric_values_serializer(metric: str) -> serializers.Serializer:
    name = metric.title()
    value = inline_serializer(
        f"{name}Value",
        {"timestamp": serializers.DateTimeField(help_text="The bar's open time."), **VALUE_FIELDS[metric]},
    )
    return inline_serializer(
        f"{name}Values",
        {
            "pair": serializers.CharField(),
            "period": serializers.CharField(),
            "metric": serializers.CharField(),
            "method": serializers.CharField(),
            "window": serializers.CharField(help_text="As requested: bars or a duration."),
            "window_bars": serializers.IntegerField(),
            "values": value.__class__(many=True, help_text="At most 10, latest first."),
            "results": AnalyticsResultSerializer(many=True, help_text="Our stored results, latest first."),
            "metadata": serializers.JSONField(
                help_text="timestamp, collection, source, records_returned, last_updated, data_completeness "
                "(percent), coverage (of the window; window_longer_than_history), as_of, message when empty."
            ),
        },
    )


OBJECT_FIELDS = {
    "spread": {
        name: _number(allow_null=True)
        for name in (
            "bid_ask_spread",
            "spread_percentage",
            "market_depth_bid",
            "market_depth_ask",
            "liquidity_ratio",
            "slippage_estimate",
            "spread_bps",
            "mid",
        )
    },
    "deviation": {
        name: _number(allow_null=True)
        for name in (
            "standard_deviation",
            "variance",
            "z_score",
            "bollinger_upper",
            "bollinger_lower",
            "price_range_index",
            "autocorrelation",
            "mean",
            "bandwidth",
        )
    },
    "seasonality": {
        "hourly_pattern": serializers.DictField(child=_number(allow_null=True), help_text='"0".."23" (UTC).'),
        "daily_pattern": serializers.DictField(child=_number(allow_null=True), help_text='"0" (Monday)..."6".'),
        "seasonal_deviation": _number(allow_null=True),
        "entropy_index": _number(allow_null=True),
        "dominant_cycle": serializers.IntegerField(allow_null=True, help_text="The most volatile hour."),
    },
}


def latest_object_serializer(metric: str) -> serializers.Serializer:
    name = metric.title()
    return inline_serializer(
        f"{name}Latest",
        {
            "pair": serializers.CharField(),
            "metric": serializers.CharField(),
            "data": inline_serializer(f"{name}Data", OBJECT_FIELDS[metric], allow_null=True),
            "metadata": serializers.JSONField(help_text="timestamp, source, collection; message when data is null."),
        },
    )


class RegimeDataSerializer(serializers.Serializer):
    regime = serializers.ChoiceField(choices=list(REGIMES))
    volatility_level = serializers.ChoiceField(choices=list(LEVELS), help_text="Never null.")
    volume_level = serializers.ChoiceField(choices=list(LEVELS), help_text="Never null.")
    trend_direction = serializers.ChoiceField(choices=list(TREND_DIRECTIONS))
    confidence = serializers.FloatField(min_value=0, max_value=1)
    inputs = serializers.JSONField(
        help_text="annualized_volatility, volume_spike_ratio, rate_of_change (null: missing)."
    )
    trend_fit = serializers.ChoiceField(choices=["up", "down", "sideways"], allow_null=True)
    r_squared = serializers.FloatField(allow_null=True)


class RegimeSerializer(serializers.Serializer):
    pair = serializers.CharField()
    metric = serializers.CharField()
    data = RegimeDataSerializer(allow_null=True)
    metadata = serializers.JSONField(
        help_text="timestamp (the result's as_of, or now when data is null), collection, period; with data also "
        'window, coverage fraction and reliable; message "No regime data ..." when data is null.'
    )


class CorrelationMatrixSerializer(serializers.Serializer):
    pairs = serializers.ListField(child=serializers.CharField())
    metric = serializers.CharField()
    method = serializers.CharField()
    period = serializers.CharField()
    window = serializers.CharField()
    window_bars = serializers.IntegerField()
    correlation_matrix = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField(allow_null=True))
    )
    data = serializers.JSONField(
        help_text="matrix, observations (aligned returns), start, end, as_of, coverage per pair, reliable."
    )
    metadata = serializers.JSONField()


class StoredCorrelationSerializer(serializers.Serializer):
    pair = serializers.CharField()
    metric = serializers.CharField()
    period = serializers.CharField(allow_null=True)
    window = serializers.CharField(allow_null=True)
    results = AnalyticsResultSerializer(many=True)
    metadata = serializers.JSONField()
