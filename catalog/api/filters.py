import django_filters
from django.db.models import Q

from catalog.models import Dataset

# Every dataset is this service's: the earlier version's `owner` filter matches this name (or nothing).
OWNER = "petrosa-data-manager"


class DatasetFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=Dataset.Category.choices)
    data_type = django_filters.CharFilter(help_text="e.g. candles, trades, depth, funding_rates, analytics")
    symbol = django_filters.CharFilter(lookup_expr="iexact", help_text="e.g. BTCUSDT (case-insensitive)")
    timeframe = django_filters.CharFilter(help_text="Candle interval, e.g. 1h")
    status = django_filters.ChoiceFilter(choices=Dataset.Status.choices)
    owner = django_filters.CharFilter(method="filter_owner", help_text=f"Every dataset's owner is {OWNER}.")
    search = django_filters.CharFilter(method="filter_search", help_text="In the id, name and description.")

    class Meta:
        model = Dataset
        fields = ["category", "data_type", "symbol", "timeframe", "status"]

    def filter_owner(self, queryset, name, value):
        return queryset if value.strip().lower() == OWNER else queryset.none()

    def filter_search(self, queryset, name, value):
        text = value.strip()
        return queryset.filter(Q(dataset_id__icontains=text) | Q(name__icontains=text) | Q(description__icontains=text))
