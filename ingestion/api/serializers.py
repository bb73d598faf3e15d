"""Response shapes of the data endpoints, for the OpenAPI schema only.

The views build rows as plain dicts (`ingestion.api.rows`) for speed; these serializers describe the same fields,
derived from the same document classes, so the documented schema and the served rows cannot drift apart.
"""

import mongoengine as me
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from ingestion.documents import DOCUMENTS
from petrosa_dm.errors import ErrorSerializer
from petrosa_dm.market.naming import DataType

from .rows import OMITTED_FIELDS


def _field(field: me.fields.BaseField) -> serializers.Field:
    nullable = not field.required
    if isinstance(field, me.Decimal128Field):
        return serializers.CharField(allow_null=nullable, help_text="Decimal string, exactly as stored.")
    if isinstance(field, me.DateTimeField):
        return serializers.DateTimeField(allow_null=nullable, help_text="ISO-8601 UTC, millisecond precision.")
    if isinstance(field, me.BooleanField):
        return serializers.BooleanField(allow_null=nullable)
    if isinstance(field, me.IntField):
        return serializers.IntegerField(allow_null=nullable)
    if isinstance(field, me.ListField):
        return serializers.ListField(
            child=serializers.ListField(child=serializers.CharField()),
            allow_null=nullable,
            help_text="Order-book levels as the exchange's [price, quantity] string pairs.",
        )
    if isinstance(field, me.DictField):
        return serializers.DictField(allow_null=nullable)
    if field.choices:
        return serializers.ChoiceField(choices=list(field.choices), allow_null=nullable)
    return serializers.CharField(allow_null=nullable)


# Fields the rows carry beyond the stored document's, in the earlier version's names (CONTRACT.md).
EXTRA_ROW_FIELDS = {
    DataType.CANDLES: {
        "trades_count": serializers.IntegerField(allow_null=True, help_text="Trades in the candle (= `trades`).")
    },
    DataType.TRADES: {
        "side": serializers.ChoiceField(
            choices=["buy", "sell"], allow_null=True, help_text="The taker's side: sell when the buyer was the maker."
        )
    },
}


def row_serializer(data_type: DataType, name: str, **kwargs) -> serializers.Serializer:
    fields = {"timestamp": serializers.DateTimeField(help_text="The row's indexed time (e.g. a candle's open time).")}
    for field_name, field in DOCUMENTS[data_type]._fields.items():
        if field_name not in OMITTED_FIELDS:
            fields[field_name] = _field(field)
    fields.update(EXTRA_ROW_FIELDS.get(data_type, {}))
    return inline_serializer(f"{name}Row", fields, **kwargs)


error_serializer = ErrorSerializer

PAGINATION_FIELDS = {
    "total": serializers.IntegerField(help_text="Rows matching the filter."),
    "limit": serializers.IntegerField(),
    "offset": serializers.IntegerField(),
    "page": serializers.IntegerField(help_text="offset // limit + 1 (pages numbered from 1)."),
    "pages": serializers.IntegerField(help_text="ceil(total / limit)."),
    "has_next": serializers.BooleanField(),
    "has_previous": serializers.BooleanField(),
}
# The ecosystem's common pagination object, on every list (catalog, backfill jobs).
common_pagination_serializer = inline_serializer("Pagination", PAGINATION_FIELDS)

sort_serializer = inline_serializer(
    "DataSort", {"by": serializers.CharField(), "order": serializers.ChoiceField(choices=["asc", "desc"])}
)

pagination_serializer = inline_serializer(
    "DataPagination",
    {
        **PAGINATION_FIELDS,
        "total": serializers.IntegerField(
            help_text="Rows matching the filter (an estimate when total_exact is false)."
        ),
        "total_exact": serializers.BooleanField(
            help_text="False when no filter applies: total is then the catalog's last synced record count "
            "(MongoDB's collection estimate for a collection not catalogued yet)."
        ),
        "has_next": serializers.BooleanField(help_text="Exact: one row past the page was looked for."),
        "next_offset": serializers.IntegerField(allow_null=True),
    },
)

completeness_serializer = inline_serializer(
    "CompletenessDetail",
    {
        "scope": serializers.ChoiceField(choices=["window", "page"], allow_null=True),
        "start": serializers.DateTimeField(allow_null=True),
        "end": serializers.DateTimeField(allow_null=True, help_text="Exclusive."),
        "present": serializers.IntegerField(allow_null=True),
        "expected": serializers.IntegerField(allow_null=True),
        "reason": serializers.CharField(allow_null=True, help_text="Why completeness is null, when it is."),
    },
)


def metadata_serializer(name: str, extra: dict | None = None) -> serializers.Serializer:
    fields = {
        "collection": serializers.CharField(help_text="The MongoDB collection read."),
        "source": serializers.CharField(help_text="Where the rows were read from (mongodb)."),
        "records_returned": serializers.IntegerField(),
        "data_completeness": serializers.FloatField(
            allow_null=True, help_text="completeness in percent (the earlier version's field)."
        ),
        "last_updated": serializers.DateTimeField(help_text="The newest returned row's time (now when none)."),
        "message": serializers.CharField(required=False, help_text="Why `data` is empty, when it is."),
        "data_type": serializers.CharField(),
        "time_field": serializers.CharField(help_text="The indexed field start/end filter and rows are sorted by."),
        "sort_order": serializers.ChoiceField(choices=["asc", "desc"]),
        "start": serializers.DateTimeField(allow_null=True),
        "end": serializers.DateTimeField(allow_null=True),
        "completeness": serializers.FloatField(
            allow_null=True, help_text="Rows present / rows expected (see completeness_detail); null with a reason."
        ),
        "completeness_detail": completeness_serializer,
        "generated_at": serializers.DateTimeField(),
        **(extra or {}),
    }
    return inline_serializer(f"{name}Metadata", fields)


def page_serializer(data_type: DataType, name: str, *, period: bool = False, metadata_extra: dict | None = None):
    fields = {"pair": serializers.CharField()}
    if period:
        fields["period"] = serializers.CharField()
    fields["data"] = row_serializer(data_type, name, many=True)
    fields["pagination"] = pagination_serializer
    fields["sort"] = sort_serializer
    fields["metadata"] = metadata_serializer(name, metadata_extra)
    parameters = {"pair": serializers.CharField()}
    if period:
        parameters["period"] = serializers.CharField()
    parameters["start"] = serializers.DateTimeField(allow_null=True)
    parameters["end"] = serializers.DateTimeField(allow_null=True)
    fields["parameters"] = inline_serializer(f"{name}Parameters", parameters)
    return inline_serializer(f"{name}Page", fields)
