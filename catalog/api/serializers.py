from rest_framework import serializers

from catalog.models import Dataset, LineageRecord

from .filters import OWNER


class DatasetSerializer(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField(help_text="Always this service.")

    class Meta:
        model = Dataset
        fields = [
            "dataset_id",
            "owner",
            "name",
            "description",
            "category",
            "data_type",
            "symbol",
            "timeframe",
            "storage_type",
            "status",
            "record_count",
            "first_timestamp",
            "last_timestamp",
            "expected_cadence_seconds",
            "health_score",
            "health",
            "audited_at",
            "synced_at",
            "created_at",
            "updated_at",
        ]

    def get_owner(self, dataset) -> str:
        return OWNER


class SchemaSerializer(serializers.ModelSerializer):
    fields = serializers.DictField(
        source="schema", child=serializers.CharField(), help_text="Field -> BSON type name, from a sample of rows."
    )

    class Meta:
        model = Dataset
        fields = ["dataset_id", "data_type", "fields", "record_count", "synced_at"]


class LineageRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = LineageRecord
        fields = [
            "id",
            "source_type",
            "source",
            "input_dataset",
            "transformation",
            "start_time",
            "end_time",
            "record_count",
            "job",
            "details",
            "created_at",
        ]


class UpstreamSourceSerializer(serializers.Serializer):
    source_type = serializers.ChoiceField(choices=LineageRecord.SourceType.choices)
    source = serializers.CharField(help_text="NATS subject, REST endpoint or input dataset id.")
    transformation = serializers.ChoiceField(choices=LineageRecord.Transformation.choices)
    input_dataset = serializers.CharField(allow_null=True)
    records = serializers.IntegerField(help_text="Lineage records with this source.")
    record_count = serializers.IntegerField(allow_null=True, help_text="Rows they produced.")
    start_time = serializers.DateTimeField(allow_null=True)
    end_time = serializers.DateTimeField(allow_null=True)
    last_recorded_at = serializers.DateTimeField()


class DownstreamDatasetSerializer(serializers.Serializer):
    dataset_id = serializers.CharField()
    transformation = serializers.ChoiceField(choices=LineageRecord.Transformation.choices)
    records = serializers.IntegerField()
    last_recorded_at = serializers.DateTimeField()


class LineageSerializer(serializers.Serializer):
    dataset_id = serializers.CharField()
    upstream = UpstreamSourceSerializer(many=True)
    downstream = DownstreamDatasetSerializer(many=True)
    recent = LineageRecordSerializer(many=True, help_text="The latest lineage records of the dataset, newest first.")
