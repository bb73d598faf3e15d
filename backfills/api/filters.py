import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from petrosa_dm.market.timeutils import ensure_utc

from ..models import BackfillJob


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO-8601 time converted to UTC here, so that one the database cannot hold is a 400, not a 500
    (`0001-01-01T00:00:00+00:01` is a valid ISO time whose UTC value falls before year 1)."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return ensure_utc(moment)
        except OverflowError as exc:
            raise ValidationError("outside the range of representable times", code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class BackfillJobFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(method="filter_symbol", help_text="e.g. BTCUSDT (case-insensitive).")
    created_from = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="from", help_text="Created at or after (ISO-8601)."
    )
    created_to = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="to", help_text="Created before (ISO-8601)."
    )

    # The query's names of filters named otherwise (`from` and `to` are Python keywords).
    query_names = {"created_from": "from", "created_to": "to"}

    class Meta:
        model = BackfillJob
        fields = ("status", "symbol", "data_type")

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            data = data.copy()
            for field, name in self.query_names.items():
                if name in data:
                    data[field] = data.pop(name)[-1] if hasattr(data, "getlist") else data.pop(name)
        super().__init__(data, *args, **kwargs)

    def filter_symbol(self, queryset, name, value):
        return queryset.filter(symbol=value.strip().upper())
