from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import __version__, health
from .market.timeutils import utcnow


class ServiceInfoView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Service information",
        responses=inline_serializer(
            "ServiceInfo",
            {
                "service": serializers.CharField(),
                "version": serializers.CharField(),
                "status": serializers.ChoiceField(choices=["operational"], help_text="The process answers."),
                "timestamp": serializers.DateTimeField(),
                "features": serializers.DictField(child=serializers.BooleanField()),
                "links": serializers.DictField(child=serializers.CharField()),
            },
        ),
    )
    def get(self, request):
        return Response(
            {
                "service": "petrosa-data-manager",
                "version": __version__,
                "status": "operational",
                "timestamp": utcnow(),
                "features": {
                    "auditor": settings.ENABLE_AUDITOR,
                    "backfiller": settings.ENABLE_BACKFILLER,
                    "analytics": settings.ENABLE_ANALYTICS,
                    "api": settings.ENABLE_API,
                },
                "links": {
                    "docs": "/docs",
                    "schema": "/schema",
                    "metrics": "/metrics",
                    "admin": "/admin/",
                    "liveness": "/health/liveness",
                    "readiness": "/health/readiness",
                },
            }
        )


class LivenessView(APIView):
    """The process answers; dependencies are readiness' business, so a store outage never restarts the pod."""

    permission_classes = [AllowAny]
    throttle_classes = []  # probes come from the kubelet's one address, as often as it likes

    @extend_schema(
        summary="Liveness probe",
        responses=inline_serializer(
            "Liveness",
            {
                "status": serializers.CharField(),
                "timestamp": serializers.DateTimeField(),
                "version": serializers.CharField(),
            },
        ),
    )
    def get(self, request):
        return Response({"status": "ok", "timestamp": utcnow(), "version": __version__})


_component = inline_serializer(
    "ComponentState",
    {
        "status": serializers.ChoiceField(choices=["healthy", "unhealthy"]),
        "latency_ms": serializers.FloatField(),
        "required": serializers.BooleanField(),
        "error": serializers.CharField(required=False),
    },
)
_readiness = inline_serializer(
    "Readiness",
    {
        "status": serializers.ChoiceField(choices=["healthy", "unhealthy"]),
        "ready": serializers.BooleanField(),
        "timestamp": serializers.DateTimeField(),
        "components": serializers.DictField(child=_component),
    },
)


class ReadinessView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = []  # probes come from the kubelet's one address; readiness is cached instead

    @extend_schema(
        summary="Readiness probe: real checks of every component", responses={200: _readiness, 503: _readiness}
    )
    def get(self, request):
        ready, states = health.readiness()
        body = {
            "status": "healthy" if ready else "unhealthy",
            "ready": ready,
            "timestamp": utcnow(),
            "components": {name: state.as_dict() for name, state in states.items()},
        }
        return Response(body, status=200 if ready else 503)
