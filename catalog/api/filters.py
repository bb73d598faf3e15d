import django_filters

from catalog.models import Dataset


class DatasetFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=Dataset.Category.choices)
    data_type = django_filters.CharFilter(help_text="e.g. candles, trades, depth, funding_rates, analytics")
    symbol = django_filters.CharFilter(lookup_expr="iexact", help_text="e.g. BTCUSDT (case-insensitive)")
    timeframe = django_filters.CharFilter(help_text="Candle interval, e.g. 1h")
    status = django_filters.ChoiceFilter(choices=Dataset.Status.choices)

    class Meta:
        model = Dataset
        fields = ["category", "data_type", "symbol", "timeframe", "status"]
