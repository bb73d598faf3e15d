from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from petrosa_dm.errors import ErrorSerializer
from petrosa_dm.pagination import BoundedPagination
from petrosa_dm.params import choice_param

from .. import selectors, services
from .filters import BackfillJobFilter
from .serializers import BackfillJobSerializer, BackfillStartSerializer

ERROR = OpenApiResponse(ErrorSerializer, description='`{"detail": "<message>"}`')


class BackfillStartView(generics.GenericAPIView):
    """Start a backfill job; it runs on a worker and its progress shows at `/backfill/jobs/{id}`."""

    queryset = selectors.backfill_job_list()  # DjangoModelPermissions: POST needs backfills.add_backfilljob
    serializer_class = BackfillStartSerializer

    @extend_schema(
        operation_id="backfill_start",
        request=BackfillStartSerializer,
        responses={
            201: BackfillJobSerializer,
            200: OpenApiResponse(BackfillJobSerializer, description="An identical pending or running job."),
            400: OpenApiResponse(description="A field is invalid; `detail` names it."),
            401: ERROR,
            403: ERROR,
        },
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.backfill_job_create(**serializer.validated_data, requested_by=request.user, source="api")
        # An identical pending or running job is returned as it is (200) rather than queued twice.
        created = not getattr(job, "reused", False)
        return Response(
            BackfillJobSerializer(job, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


SORT_FIELDS = ("created_at", "started_at", "finished_at", "priority", "status", "symbol")
FILTER_NAMES = ("status", "symbol", "data_type", "from", "to")


class BackfillPagination(BoundedPagination):
    schema_extras = {
        "filters_applied": {"type": "object", "additionalProperties": {"type": "string"}},
        "sort": {"type": "object", "properties": {"by": {"type": "string"}, "order": {"type": "string"}}},
    }


@extend_schema_view(
    get=extend_schema(
        operation_id="backfill_jobs_list",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="Created at or after."),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="Created before."),
            OpenApiParameter("sort_by", {"type": "string", "enum": list(SORT_FIELDS), "default": "created_at"}),
            OpenApiParameter("sort_order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
        ],
        responses={200: BackfillJobSerializer(many=True), 400: ERROR},
    )
)
class BackfillJobListView(generics.ListAPIView):
    """Backfill jobs, newest first by default."""

    serializer_class = BackfillJobSerializer
    filterset_class = BackfillJobFilter
    pagination_class = BackfillPagination

    def get_queryset(self):
        query = self.request.query_params
        sort_by = choice_param(query, "sort_by", choices=SORT_FIELDS, default="created_at")
        order = choice_param(query, "sort_order", choices=("asc", "desc"), default="desc")
        sign = "-" if order == "desc" else ""
        return selectors.backfill_job_list().order_by(sign + sort_by, sign + "id")

    def list_extras(self, request) -> dict:
        query = request.query_params
        return {
            "filters_applied": {name: query[name] for name in FILTER_NAMES if query.get(name)},
            "sort": {"by": query.get("sort_by") or "created_at", "order": query.get("sort_order") or "desc"},
        }


@extend_schema_view(
    get=extend_schema(operation_id="backfill_jobs_retrieve", responses={200: BackfillJobSerializer, 404: ERROR})
)
class BackfillJobDetailView(generics.RetrieveAPIView):
    queryset = selectors.backfill_job_list()
    serializer_class = BackfillJobSerializer
