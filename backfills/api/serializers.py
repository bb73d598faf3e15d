from rest_framework import serializers

from ..models import BackfillJob
from ..services import InvalidBackfill, backfill_job_validate


class BackfillStartSerializer(serializers.Serializer):
    """The body of `POST /backfill/start`; validation is the service's, so the API, admin and auditor agree."""

    symbol = serializers.CharField(max_length=32, help_text="Binance USD-M symbol, e.g. BTCUSDT.")
    data_type = serializers.ChoiceField(choices=BackfillJob.DataType.choices)
    timeframe = serializers.CharField(
        max_length=8, required=False, allow_blank=True, default="", help_text="Kline interval; candles only."
    )
    start = serializers.DateTimeField(help_text="Inclusive, ISO-8601 (UTC when no offset is given).")
    end = serializers.DateTimeField(help_text="Exclusive, after start.")
    priority = serializers.IntegerField(min_value=0, max_value=9, default=5, help_text="0 (highest) to 9.")

    def validate(self, attrs: dict) -> dict:
        try:
            return backfill_job_validate(**attrs)
        except InvalidBackfill as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc


class BackfillJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="The operator's username; null for anonymous readers."
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            data["requested_by"] = None  # operators' usernames are not for anonymous readers (issue 15)
        return data

    class Meta:
        model = BackfillJob
        fields = (
            "id",
            "symbol",
            "data_type",
            "timeframe",
            "start",
            "end",
            "priority",
            "status",
            "progress",
            "cursor",
            "cursor_id",
            "rows_fetched",
            "rows_inserted",
            "rows_duplicate",
            "requests_made",
            "weight_used",
            "error",
            "requested_by",
            "source",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        )
        read_only_fields = fields
