import django_filters

from ..models import BackfillJob


class BackfillJobFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(method="filter_symbol", help_text="e.g. BTCUSDT (case-insensitive).")
    created_from = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="from", help_text="Created at or after (ISO-8601)."
    )
    created_to = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="to", help_text="Created before (ISO-8601)."
    )

    class Meta:
        model = BackfillJob
        fields = ("status", "symbol", "data_type")

    def __init__(self, data=None, *args, **kwargs):
        # `from` and `to` are the query's names (Python keywords, so the filters have other names).
        if data is not None:
            data = data.copy()
            for name, field in (("from", "created_from"), ("to", "created_to")):
                if name in data:
                    data[field] = data.pop(name)[-1] if hasattr(data, "getlist") else data.pop(name)
        super().__init__(data, *args, **kwargs)

    def filter_symbol(self, queryset, name, value):
        return queryset.filter(symbol=value.strip().upper())
