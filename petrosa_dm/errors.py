"""One JSON error shape at the API edge: `{"detail": "<message>"}`."""

import logging

from django.http import HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse
from pymongo.errors import ConnectionFailure, PyMongoError
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler

from . import mongo

logger = logging.getLogger(__name__)


class BadParameter(exceptions.ValidationError):
    """A query parameter failed validation; the message names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__({"detail": f"{parameter}: {message}", "parameter": parameter})


def _flatten(detail: object) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)


def _store_unavailable(exc: Exception) -> Response | None:
    """A store that timed out or cannot be reached is a 503 in the one error shape, never a 500 or a hung thread."""
    if not isinstance(exc, PyMongoError) or not (exc.timeout or isinstance(exc, ConnectionFailure)):
        return None
    if not isinstance(exc, mongo.StoreUnavailable):
        mongo.mark_unavailable()  # the next requests answer at once, keeping threads free for liveness
    logger.warning("store unavailable: %s", exc)
    return Response({"detail": "the market-data store is unavailable; retry shortly"}, status=503)


def api_exception_handler(exc, context):
    unavailable = _store_unavailable(exc)
    if unavailable is not None:
        return unavailable
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and set(data) <= {"detail", "parameter"} and isinstance(data.get("detail"), str):
        return response
    response.data = {"detail": _flatten(data)}
    if isinstance(data, dict):
        response.data["errors"] = data
    return response


class ErrorSerializer(serializers.Serializer):
    """The one error shape every endpoint answers with (documentation only: errors are built above)."""

    detail = serializers.CharField()
    parameter = serializers.CharField(required=False, help_text="The query parameter at fault (400 only).")
    errors = serializers.DictField(required=False, help_text="Per-field messages of a failed body or filter.")


def error_responses(**descriptions: str) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for error statuses, e.g. `error_responses(e400="A bad parameter", e404="Unknown pair")`."""
    return {int(code[1:]): OpenApiResponse(ErrorSerializer, description=text) for code, text in descriptions.items()}


def _json_or_default(request, status: int, detail: str, default) -> HttpResponse:
    # The admin keeps Django's pages; everything else is API and answers in the one JSON shape.
    if request.path.startswith("/admin/"):
        return default()
    return JsonResponse({"detail": detail}, status=status)


def not_found(request, exception=None) -> HttpResponse:
    return _json_or_default(
        request, 404, f"not found: {request.path}", lambda: defaults.page_not_found(request, exception)
    )


def server_error(request) -> HttpResponse:
    return _json_or_default(request, 500, "internal server error", lambda: defaults.server_error(request))
