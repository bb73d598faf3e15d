from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics

from catalog import selectors
from catalog.models import Dataset
from ingestion.api.serializers import error_serializer

from .filters import DatasetFilter
from .serializers import DatasetSerializer, LineageSerializer, SchemaSerializer

READ_ERRORS = {401: error_serializer, 403: error_serializer}
NOT_FOUND = {404: error_serializer, **READ_ERRORS}
DATASET_ID = OpenApiParameter(
    "dataset_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The dataset id: its MongoDB collection name.",
    examples=[OpenApiExample("1h candles", value="candles_BTCUSDT_1h")],
)


@extend_schema(
    summary="Datasets (one per time-series collection)",
    responses={200: DatasetSerializer, 400: error_serializer, **READ_ERRORS},
)
class DatasetListView(generics.ListAPIView):
    queryset = selectors.dataset_list()
    serializer_class = DatasetSerializer
    filterset_class = DatasetFilter


@extend_schema(summary="One dataset", parameters=[DATASET_ID], responses={200: DatasetSerializer, **NOT_FOUND})
class DatasetDetailView(generics.RetrieveAPIView):
    queryset = Dataset.objects.all()
    serializer_class = DatasetSerializer
    lookup_field = "dataset_id"


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
