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
    # issue 19: aggregate-trade id ranges and the data source
    from_id = serializers.IntegerField(
        min_value=0, required=False, default=None, help_text="trades only: first aggregate trade id (with to_id)."
    )
    to_id = serializers.IntegerField(
        min_value=0, required=False, default=None, help_text="trades only: last aggregate trade id, inclusive."
    )
    source = serializers.ChoiceField(
        choices=BackfillJob.DataSource.choices,
        default=BackfillJob.DataSource.AUTO,
        help_text="auto: archives for whole published days and months, REST for the rest; archive; rest.",
    )

    def validate(self, attrs: dict) -> dict:
        attrs = dict(attrs)
        attrs["data_source"] = attrs.pop("source", BackfillJob.DataSource.AUTO)
        try:
            return backfill_job_validate(**attrs)
        except InvalidBackfill as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc


class BackfillJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

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
            "from_id",
            "to_id",
            "data_source",
            "parent",
            "archive_files",
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
