from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from ..models import BackfillJob
from ..services import InvalidBackfill, backfill_job_validate

# The earlier version's data type names.
DATA_TYPE_ALIASES = {"funding": BackfillJob.DataType.FUNDING_RATES, "klines": BackfillJob.DataType.CANDLES}


class BackfillStartSerializer(serializers.Serializer):
    """The body of `POST /backfill/start`; validation is the service's, so the API, admin and auditor agree.

    The earlier version's names are accepted too: `start_time` / `end_time` for `start` / `end`, `funding` for
    `funding_rates`, and priority 10 (its lowest; ours is 9).
    """

    symbol = serializers.CharField(max_length=32, help_text="Binance USD-M symbol, e.g. BTCUSDT.")
    data_type = serializers.ChoiceField(
        choices=[*BackfillJob.DataType.values, *DATA_TYPE_ALIASES], help_text="funding = funding_rates."
    )
    timeframe = serializers.CharField(
        max_length=8,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="Kline interval; candles only.",
    )
    start = serializers.DateTimeField(required=False, help_text="Inclusive, ISO-8601 (UTC when no offset is given).")
    end = serializers.DateTimeField(required=False, help_text="Exclusive, after start.")
    start_time = serializers.DateTimeField(required=False, write_only=True, help_text="The earlier name of start.")
    end_time = serializers.DateTimeField(required=False, write_only=True, help_text="The earlier name of end.")
    priority = serializers.IntegerField(
        min_value=0, max_value=10, default=5, help_text="0 (highest) to 9; the earlier version's 10 is 9."
    )
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
        for ours, earlier in (("start", "start_time"), ("end", "end_time")):
            value = attrs.pop(earlier, None)
            attrs.setdefault(ours, value)
            if attrs[ours] is None:
                raise serializers.ValidationError({ours: [f"this field is required ({ours} or {earlier})"]})
        attrs["data_type"] = DATA_TYPE_ALIASES.get(attrs["data_type"], attrs["data_type"])
        attrs["timeframe"] = attrs.get("timeframe") or ""
        attrs["priority"] = min(attrs["priority"], 9)
        attrs["data_source"] = attrs.pop("source", BackfillJob.DataSource.AUTO)
        try:
            return backfill_job_validate(**attrs)
        except InvalidBackfill as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc


class BackfillJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="The operator's username; null for anonymous readers."
    )
    # The earlier version's names, beside ours.
    job_id = serializers.IntegerField(source="id", read_only=True)
    records_fetched = serializers.IntegerField(source="rows_fetched", read_only=True)
    records_inserted = serializers.IntegerField(source="rows_inserted", read_only=True)
    completed_at = serializers.DateTimeField(source="finished_at", read_only=True, allow_null=True)
    request = serializers.SerializerMethodField(help_text="The job's request in the earlier version's names.")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            data["requested_by"] = None  # operators' usernames are not for anonymous readers (issue 15)
        return data

    class Meta:
        model = BackfillJob
        fields = (
            "job_id",
            "request",
            "records_fetched",
            "records_inserted",
            "completed_at",
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

    @extend_schema_field(
        inline_serializer(
            "BackfillRequest",
            {
                "symbol": serializers.CharField(),
                "data_type": serializers.CharField(),
                "timeframe": serializers.CharField(allow_null=True),
                "start_time": serializers.DateTimeField(),
                "end_time": serializers.DateTimeField(),
                "priority": serializers.IntegerField(),
            },
        )
    )
    def get_request(self, job) -> dict:
        return {
            "symbol": job.symbol,
            "data_type": job.data_type,
            "timeframe": job.timeframe or None,
            "start_time": serializers.DateTimeField().to_representation(job.start),
            "end_time": serializers.DateTimeField().to_representation(job.end),
            "priority": job.priority,
        }
