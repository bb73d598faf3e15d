from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics

from catalog import selectors
from catalog.models import Dataset
from ingestion.api.serializers import error_serializer
from petrosa_dm.pagination import BoundedPagination
from petrosa_dm.params import choice_param

from .filters import DatasetFilter
from .serializers import DatasetSerializer, LineageSerializer, SchemaSerializer

READ_ERRORS = {401: error_serializer, 403: error_serializer}
NOT_FOUND = {404: error_serializer, **READ_ERRORS}
DATASET_ID = OpenApiParameter(
    "dataset_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The dataset id: its MongoDB collection name (the earlier docs' `candles_1h_btcusdt` resolves too).",
    examples=[OpenApiExample("1h candles", value="candles_BTCUSDT_1h")],
)


SORT_FIELDS = ("dataset_id", "name", "symbol", "data_type", "category", "record_count", "last_timestamp", "updated_at")
FILTER_NAMES = ("category", "owner", "search", "data_type", "symbol", "timeframe", "status")


class CatalogPagination(BoundedPagination):
    max_limit = 500
    schema_extras = {
        "filters_applied": {"type": "object", "additionalProperties": {"type": "string"}},
        "sort": {"type": "object", "properties": {"by": {"type": "string"}, "order": {"type": "string"}}},
        "last_updated": {"type": "string", "format": "date-time", "nullable": True},
    }


@extend_schema(
    summary="Datasets (one per time-series collection)",
    parameters=[
        OpenApiParameter("sort_by", {"type": "string", "enum": list(SORT_FIELDS), "default": "dataset_id"}),
        OpenApiParameter("sort_order", {"type": "string", "enum": ["asc", "desc"], "default": "asc"}),
    ],
    responses={200: DatasetSerializer, 400: error_serializer, **READ_ERRORS},
)
class DatasetListView(generics.ListAPIView):
    serializer_class = DatasetSerializer
    filterset_class = DatasetFilter
    pagination_class = CatalogPagination

    def get_queryset(self):
        query = self.request.query_params
        sort_by = choice_param(query, "sort_by", choices=SORT_FIELDS, default="dataset_id")
        order = choice_param(query, "sort_order", choices=("asc", "desc"), default="asc")
        return selectors.dataset_list().order_by(("-" if order == "desc" else "") + sort_by, "dataset_id")

    def list_extras(self, request) -> dict:
        query = request.query_params
        return {
            "filters_applied": {name: query[name] for name in FILTER_NAMES if query.get(name)},
            "sort": {"by": query.get("sort_by") or "dataset_id", "order": query.get("sort_order") or "asc"},
            "last_updated": selectors.catalog_last_updated(),
        }


@extend_schema(summary="One dataset", parameters=[DATASET_ID], responses={200: DatasetSerializer, **NOT_FOUND})
class DatasetDetailView(generics.RetrieveAPIView):
    queryset = Dataset.objects.all()
    serializer_class = DatasetSerializer
    lookup_field = "dataset_id"

    def get_object(self):
        # The earlier docs spelled ids lower-case and in another order (candles_1h_btcusdt): same dataset.
        self.kwargs[self.lookup_field] = selectors.dataset_id_resolve(self.kwargs[self.lookup_field])
        return super().get_object()


@extend_schema(
    summary="A dataset's inferred schema", parameters=[DATASET_ID], responses={200: SchemaSerializer, **NOT_FOUND}
)
class SchemaView(DatasetDetailView):
    serializer_class = SchemaSerializer


@extend_schema(
    summary="Where a dataset's data came from and what is computed from it",
    parameters=[DATASET_ID],
    responses={200: LineageSerializer, **NOT_FOUND},
)
class LineageView(DatasetDetailView):
    serializer_class = LineageSerializer

    def get_object(self):
        return selectors.dataset_lineage(dataset=super().get_object())
