from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from petrosa_dm import params
from petrosa_dm.errors import ErrorSerializer
from petrosa_dm.market.timeutils import utcnow

from .. import selectors
from . import serializers


class HealthSummaryView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health of every dataset at a glance",
        description=(
            "Datasets per health band (healthy >= AUDIT_HEALTHY_SCORE, degraded >= AUDIT_DEGRADED_SCORE, else "
            "unhealthy), the worst datasets, gaps in the ledger and the ingestion rate. Before the first audit "
            "`audited` is false and `message` says so; no figure is invented."
        ),
        responses={200: serializers.HealthSummarySerializer},
    )
    def get(self, request):
        return Response(serializers.HealthSummarySerializer(selectors.health_summary(now=utcnow())).data)


class PairHealthView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Latest audit figures of a pair",
        description="All market-data datasets of the pair, or only its candles of `period` when given.",
        parameters=[
            OpenApiParameter("pair", str, required=True, description="Symbol, e.g. BTCUSDT (case-insensitive)."),
            OpenApiParameter("period", str, required=False, description="Kline interval, e.g. 1m, 1h, 1M."),
        ],
        responses={
            200: serializers.PairHealthSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A parameter is missing or invalid."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown pair (or no candles of period)."),
        },
    )
    def get(self, request):
        pair = params.pair_param(request.query_params)
        period = params.period_param(request.query_params, required=False)
        try:
            body = selectors.pair_health(pair=pair, period=period)
        except selectors.UnknownPair as exc:
            raise NotFound(str(exc)) from exc
        return Response(serializers.PairHealthSerializer(body).data)
