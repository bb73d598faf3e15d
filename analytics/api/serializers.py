"""Response shapes of the analytics API, for the OpenAPI schema (views build plain dicts of these shapes)."""

from rest_framework import serializers

LEVELS = "low | medium | high (null when it could not be measured)"


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


class MetricResultsSerializer(serializers.Serializer):
    pair = serializers.CharField()
    metric = serializers.CharField()
    period = serializers.CharField(allow_null=True, help_text="The period filter applied, if any.")
    window = serializers.IntegerField(allow_null=True, help_text="The window filter applied, if any.")
    method = serializers.CharField(allow_null=True, help_text="The method filter applied, if any.")
    data = AnalyticsResultSerializer(many=True)
    metadata = serializers.JSONField(help_text="timestamp (response time) and collection.")


class RegimeDataSerializer(serializers.Serializer):
    regime = serializers.ChoiceField(choices=["trending_up", "trending_down", "volatile", "ranging", "quiet"])
    volatility_level = serializers.CharField(allow_null=True, help_text=LEVELS)
    volume_level = serializers.CharField(allow_null=True, help_text=LEVELS)
    trend_direction = serializers.ChoiceField(choices=["up", "down", "sideways"])
    confidence = serializers.FloatField(help_text="0-1: coverage fraction times the clarity of the fit.")


class RegimeSerializer(serializers.Serializer):
    pair = serializers.CharField()
    metric = serializers.CharField()
    data = RegimeDataSerializer(allow_null=True)
    metadata = serializers.JSONField(
        help_text="timestamp (the result's as_of, or now when data is null) and collection; with data also the "
        "result's period, window, coverage fraction and reliable flag."
    )


class CorrelationMatrixSerializer(serializers.Serializer):
    pairs = serializers.ListField(child=serializers.CharField())
    metric = serializers.CharField()
    period = serializers.CharField()
    window = serializers.IntegerField()
    data = serializers.JSONField(
        help_text="matrix (pair -> pair -> coefficient), observations (aligned returns), start, end, as_of, "
        "coverage per pair, reliable."
    )
    metadata = serializers.JSONField()
