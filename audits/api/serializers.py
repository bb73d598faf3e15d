"""Response shapes of the health endpoints (documentation and rendering)."""

from rest_framework import serializers


class DatasetCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    audited = serializers.IntegerField()
    unaudited = serializers.IntegerField()
    healthy = serializers.IntegerField()
    degraded = serializers.IntegerField()
    unhealthy = serializers.IntegerField()


class GapCountsSerializer(serializers.Serializer):
    open = serializers.IntegerField()
    backfilling = serializers.IntegerField()
    unfillable = serializers.IntegerField()
    missing_rows = serializers.IntegerField()


class IngestionRateSerializer(serializers.Serializer):
    rows_last_hour = serializers.IntegerField()
    rows_per_minute = serializers.FloatField()
    datasets_measured = serializers.IntegerField()
    basis = serializers.CharField()


class WorstDatasetSerializer(serializers.Serializer):
    dataset_id = serializers.CharField()
    health_score = serializers.FloatField()
    band = serializers.CharField()
    completeness = serializers.FloatField(allow_null=True)
    consistency = serializers.FloatField(allow_null=True)
    freshness_seconds = serializers.FloatField(allow_null=True)
    open_gaps = serializers.IntegerField()
    audited_at = serializers.DateTimeField()


class EarlierHealthSerializer(serializers.Serializer):
    """The earlier version's figures, read by dashboards (null before the first audit)."""

    completeness = serializers.FloatField(allow_null=True)
    freshness_sec = serializers.FloatField(allow_null=True)
    gaps = serializers.IntegerField(help_text="Open gaps.")
    duplicates = serializers.IntegerField()
    consistency_score = serializers.FloatField(allow_null=True)
    quality_score = serializers.FloatField(allow_null=True)


class EarlierSummarySerializer(EarlierHealthSerializer):
    total_datasets = serializers.IntegerField()
    healthy_datasets = serializers.IntegerField()
    degraded_datasets = serializers.IntegerField()
    unhealthy_datasets = serializers.IntegerField()
    overall_score = serializers.FloatField(allow_null=True, help_text="The weakest dataset's health score.")


class HealthSummarySerializer(serializers.Serializer):
    data = EarlierSummarySerializer()
    audited = serializers.BooleanField()
    message = serializers.CharField(required=False)
    timestamp = serializers.DateTimeField()
    last_audit_at = serializers.DateTimeField(allow_null=True)
    bands = serializers.DictField(child=serializers.CharField())
    datasets = DatasetCountsSerializer()
    gaps = GapCountsSerializer()
    worst = WorstDatasetSerializer(many=True)
    ingestion = IngestionRateSerializer()


class DatasetHealthSerializer(serializers.Serializer):
    dataset_id = serializers.CharField()
    data_type = serializers.CharField()
    timeframe = serializers.CharField()
    audited = serializers.BooleanField()
    audited_at = serializers.DateTimeField(allow_null=True)
    band = serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy", "unaudited"])
    open_gaps = serializers.IntegerField()
    missing_rows = serializers.IntegerField()
    unfillable_gaps = serializers.IntegerField()
    health_score = serializers.FloatField(required=False)
    completeness = serializers.FloatField(required=False)
    consistency = serializers.FloatField(required=False)
    freshness_score = serializers.FloatField(required=False)
    freshness_seconds = serializers.FloatField(required=False, allow_null=True)
    invalid_rows = serializers.IntegerField(required=False)
    duplicate_rows = serializers.IntegerField(required=False)
    rows_checked = serializers.IntegerField(required=False)
    window_start = serializers.DateTimeField(required=False, allow_null=True)
    window_end = serializers.DateTimeField(required=False, allow_null=True)


class PairHealthSerializer(serializers.Serializer):
    pair = serializers.CharField()
    period = serializers.CharField(allow_null=True)
    audited = serializers.BooleanField()
    message = serializers.CharField(required=False)
    health_score = serializers.FloatField(allow_null=True)
    band = serializers.CharField()
    datasets = DatasetHealthSerializer(many=True)
    health = EarlierHealthSerializer()
