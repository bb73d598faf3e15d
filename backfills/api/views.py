from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from petrosa_dm.errors import ErrorSerializer

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


@extend_schema_view(
    get=extend_schema(operation_id="backfill_jobs_list", responses={200: BackfillJobSerializer(many=True), 400: ERROR})
)
class BackfillJobListView(generics.ListAPIView):
    """Backfill jobs, newest first."""

    queryset = selectors.backfill_job_list()
    serializer_class = BackfillJobSerializer
    filterset_class = BackfillJobFilter


@extend_schema_view(
    get=extend_schema(operation_id="backfill_jobs_retrieve", responses={200: BackfillJobSerializer, 404: ERROR})
)
class BackfillJobDetailView(generics.RetrieveAPIView):
    queryset = selectors.backfill_job_list()
    serializer_class = BackfillJobSerializer
