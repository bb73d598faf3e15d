import django_filters

from ..models import BackfillJob


class BackfillJobFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(method="filter_symbol", help_text="e.g. BTCUSDT (case-insensitive).")

    class Meta:
        model = BackfillJob
        fields = ("status", "symbol", "data_type")

    def filter_symbol(self, queryset, name, value):
        return queryset.filter(symbol=value.strip().upper())
